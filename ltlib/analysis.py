"""Analyses shared by the notebooks: sampler statistics, summary tables over seeds, per-class views."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ltlib.claims import Markdown
from ltlib.data import long_tail_counts
from ltlib.inference import DeviceData, classifier_norms, predict, resolve_device
from ltlib.metrics import shot_groups
from ltlib.reference import published, published_acc
from ltlib.runs import Run
from ltlib.samplers import build_sampler, class_irregularity
from ltlib.stats import fmt_mean_std, mean_std as _mean_std, spearman, welch_interval

GROUPS = ["acc", "many", "medium", "few", "head", "mid", "tail"]


def profile_table(num_classes: int, n_max: float, ratios: Iterable[float] = (100, 50, 10)) -> pd.DataFrame:
    """Per-class counts for several imbalance ratios (rows classes, columns 'IR=..')."""
    return pd.DataFrame({f"IR={r:g}": long_tail_counts(n_max, num_classes, r) for r in ratios})


def sampler_draws(counts: Sequence[int], samplers: Iterable[str], seed: int = 0, epoch: int = 0,
                  epochs: int = 1, batch_size: int = 128) -> pd.DataFrame:
    """Images drawn per class in one epoch by each sampler (long format: sampler, class, draws, expected)."""
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.as_tensor(counts))
    rows = []
    for name in samplers:
        s = build_sampler(name, labels, len(counts))
        idx = s.indices(torch.Generator().manual_seed(seed), epoch, epochs, batch_size)
        drawn = torch.bincount(labels[idx], minlength=len(counts))
        expected = s.class_probs(epoch, epochs) * len(labels)
        rows += [{"sampler": name, "class": c, "draws": int(drawn[c]), "expected": float(expected[c])}
                 for c in range(len(counts))]
    return pd.DataFrame(rows)


def report_table(reports: dict[str, dict | Sequence[dict]], percent: bool = True) -> pd.DataFrame:
    """Rows x GROUPS from accuracy reports; a list of reports (seeds) gives mean and *_std columns."""
    rows = []
    scale = 100.0 if percent else 1.0
    for name, reps in reports.items():
        reps = [reps] if isinstance(reps, dict) else list(reps)
        vals = pd.DataFrame([{g: r.get(g) for g in GROUPS} for r in reps]).astype(float)
        row = {"method": name, "seeds": len(reps)}
        for g in GROUPS:
            row[g] = scale * vals[g].mean()
            if len(reps) > 1:
                row[f"{g}_std"] = scale * vals[g].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def summary(runs: dict[str, Run | Sequence[Run]], which: str = "last", percent: bool = True) -> pd.DataFrame:
    """Methods x (acc, many, medium, few, head, mid, tail): mean, and std over seeds where there are several.

    which='last' reports the last epoch, 'best_val' the epoch chosen on the held-out split (never test).
    """
    reports = {name: [r.metrics[which]["test"] for r in ([rs] if isinstance(rs, Run) else rs)]
               for name, rs in runs.items()}
    return report_table(reports, percent)


def mean_std(table: pd.DataFrame, cols: Sequence[str] = ("acc", "many", "medium", "few")) -> pd.DataFrame:
    """Format 'mean ± std' strings (or 'mean' for one seed) for display."""
    out = pd.DataFrame(index=table.index)
    for c in cols:
        stds = table[f"{c}_std"] if f"{c}_std" in table else [None] * len(table)
        out[c] = [fmt_mean_std(m, s) for m, s in zip(table[c], stds)]
    return out


def per_class(runs: dict[str, Run], which: str = "last") -> dict[str, list]:
    """Per-class test accuracy of each run."""
    return {k: r.metrics[which]["test"]["per_class"] for k, r in runs.items()}


def weight_norms(run: Run) -> np.ndarray:
    """Per-class L2 norms of a run's classifier weights (the weights its method predicts with)."""
    method, model, _ = run.load()
    return classifier_norms(method.classifier_weight(model))


# ------------------------------------------------------------------ t-SNE and feature quality (docs/protocol.md §5)

def spread_classes(counts: Sequence[int], k: int = 10) -> list[int]:
    """k classes spread evenly over the frequency order (all classes when there are <= k)."""
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    if len(order) <= k:
        return sorted(order)
    return sorted(order[i] for i in np.linspace(0, len(order) - 1, k).round().astype(int))


def fixed_subset(labels: np.ndarray, classes: Sequence[int], per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` images of each class (seeded, sorted by class): the same images for every method."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    idx = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        idx.append(np.sort(rng.choice(pool, min(per_class, len(pool)), replace=False)))
    return np.concatenate(idx) if idx else np.zeros(0, dtype=int)


def run_outputs(run: Run, idx: Optional[np.ndarray] = None, device: str = "auto", features: bool = False,
                data: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(test-set logits or penultimate features, labels) of a run's final model, optionally on a subset.

    data: the run's LTData, when the caller already has it (several runs of one profile), to skip reloading.
    """
    dev = resolve_device(device)
    method, model, data = run.load(dev, data)
    x, y = data.test.x, data.test.y
    if idx is not None:
        x, y = x[torch.as_tensor(idx)], y[torch.as_tensor(idx)]
    dd = DeviceData(data, dev)
    out = predict(method, model, x.to(dev), dd, precision=run.config.precision, features=features)
    return out.cpu().numpy(), y.numpy()


def tsne_embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (sklearn, PCA init) of standardised features."""
    from sklearn.manifold import TSNE

    from threadpoolctl import threadpool_limits

    f = (features - features.mean(0)) / (features.std(0) + 1e-8)
    perplexity = min(perplexity, max(2.0, (len(f) - 1) / 3))
    with threadpool_limits(1):  # OpenMP threads beside torch's oversubscribe small CPUs (10x slower)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(f)


def feature_quality(features: np.ndarray, labels: np.ndarray, counts: Sequence[int], k: int = 10,
                    seed: int = 0) -> pd.DataFrame:
    """k-NN accuracy (5-fold, cosine) and silhouette score (cosine) of features, overall and per head/mid/tail.

    Both are computed on the features, not the t-SNE picture; per group = over the images of its classes.
    """
    from sklearn.metrics import silhouette_samples
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    folds = min(5, int(np.bincount(labels).max(initial=0)), int(np.min(np.bincount(labels)[np.unique(labels)])))
    knn = KNeighborsClassifier(n_neighbors=min(k, len(labels) - 1), metric="cosine")
    cv = StratifiedKFold(max(2, folds), shuffle=True, random_state=seed)
    hit = cross_val_predict(knn, features, labels, cv=cv) == labels
    sil = silhouette_samples(features, labels, metric="cosine") if len(np.unique(labels)) > 1 else np.zeros(len(labels))
    groups = {"all": list(range(len(counts)))}
    groups.update({g: c for g, c in shot_groups(counts).items() if g in ("head", "mid", "tail")})
    rows = []
    for g, cls in groups.items():
        m = np.isin(labels, cls)
        rows.append({"group": g, "images": int(m.sum()),
                     "knn_acc": float(hit[m].mean()) if m.any() else np.nan,
                     "silhouette": float(sil[m].mean()) if m.any() else np.nan})
    return pd.DataFrame(rows).set_index("group")


# ------------------------------------------------------------------ bias / variance of 0-1 loss (docs/protocol.md §5)

def bias_variance(preds: np.ndarray, y: np.ndarray, num_classes: Optional[int] = None) -> dict[str, float]:
    """Domingos' 0-1 decomposition over K models: preds (K, N) predicted labels, y (N,) true labels.

    main y_m(x) = mode_k preds (ties: smallest label); bias²(x) = 1[y_m ≠ y]; variance(x) = mean_k 1[pred_k ≠ y_m];
    total = bias² + variance (Table 13's columns); error = mean_k 1[pred_k ≠ y] = bias² + net variance,
    net variance = mean (1 − B)·V − mean B·P(pred = y) (Domingos: variance adds on unbiased, subtracts on biased).
    """
    preds, y = np.asarray(preds), np.asarray(y)
    k, n = preds.shape
    c = int(num_classes or max(preds.max(initial=0), y.max(initial=0)) + 1)
    votes = np.zeros((n, c), dtype=np.int64)
    for row in preds:
        votes[np.arange(n), row] += 1
    main = votes.argmax(1)
    bias = (main != y).astype(float)
    var = (preds != main).mean(0)
    p_true = (preds == y).mean(0)
    var_u = ((1 - bias) * var).mean() if n else np.nan
    var_b = (bias * p_true).mean() if n else np.nan
    return {"models": k, "images": n, "acc": float(p_true.mean()) if n else np.nan,
            "bias2": float(bias.mean()) if n else np.nan, "variance": float(var.mean()) if n else np.nan,
            "total": float(bias.mean() + var.mean()) if n else np.nan, "error": float(1 - p_true.mean()) if n else np.nan,
            "var_unbiased": float(var_u), "var_biased": float(var_b), "net_variance": float(var_u - var_b)}


def bias_variance_table(preds: dict[str, np.ndarray], y: np.ndarray, counts: Sequence[int]) -> pd.DataFrame:
    """bias_variance per method, overall and per head/mid/tail (long format: method, group, ...)."""
    groups = {"all": list(range(len(counts)))}
    groups.update({g: c for g, c in shot_groups(counts).items() if g in ("head", "mid", "tail")})
    rows = []
    for name, p in preds.items():
        for g, cls in groups.items():
            m = np.isin(y, cls)
            rows.append({"method": name, "group": g, **bias_variance(np.asarray(p)[:, m], y[m], len(counts))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ learned / forgetting events (docs/protocol.md §5)

NOT_DRAWN = 255


def event_counts(events: np.ndarray) -> pd.DataFrame:
    """Per training sample, from (epochs, N) events (1 correct, 0 wrong, 255 not drawn), over drawn epochs only.

    correct = Σ_t acc_t (the class-reversed paper's cumulative learned events L, eq. 17);
    learned = number of 0→1 transitions (Toneva's learning events); forgotten = number of 1→0 transitions
    (forgetting events F, eq. 18); drawn = epochs in which the sample was seen; first_correct = first such epoch (−1: never).
    """
    ev = np.asarray(events)
    e, n = ev.shape
    prev = np.full(n, NOT_DRAWN, dtype=np.uint8)
    out = {k: np.zeros(n, dtype=np.int64) for k in ("drawn", "correct", "learned", "forgotten")}
    first = np.full(n, -1, dtype=np.int64)
    for t in range(e):
        cur = ev[t]
        drawn = cur != NOT_DRAWN
        out["drawn"] += drawn
        out["correct"] += drawn & (cur == 1)
        out["learned"] += drawn & (prev == 0) & (cur == 1)
        out["forgotten"] += drawn & (prev == 1) & (cur == 0)
        first[(first < 0) & drawn & (cur == 1)] = t
        prev = np.where(drawn, cur, prev)
    return pd.DataFrame({**out, "first_correct": first})


def irregularity(L: np.ndarray, F: np.ndarray, labels: np.ndarray, num_classes: int) -> pd.DataFrame:
    """Per class j: n_j, ||C_j||_F with C_j the (population) covariance of (L, F) over its samples, I_j = ||C_j||_F / n_j."""
    L, F, labels = np.asarray(L, float), np.asarray(F, float), np.asarray(labels)
    fnorm, irr = class_irregularity(torch.as_tensor(L), torch.as_tensor(F), torch.as_tensor(labels), num_classes)
    rows = []
    for j in range(num_classes):
        m = labels == j
        rows.append({"class": j, "n": int(m.sum()), "fnorm": float(fnorm[j]), "irregularity": float(irr[j]),
                     "mean_L": float(L[m].mean()) if m.any() else np.nan,
                     "mean_F": float(F[m].mean()) if m.any() else np.nan})
    return pd.DataFrame(rows).set_index("class")


# ------------------------------------------------------------ re-balancing diagnosis (BBN §3) and baselines

def _runs(rs: Run | Sequence[Run]) -> list[Run]:
    """One run or several seeds as a list."""
    return [rs] if hasattr(rs, "metrics") else list(rs)


def error_rate(rs: Run | Sequence[Run], group: str = "acc", which: str = "last") -> float:
    """Test error (%) over a class group, mean over seeds."""
    return float(np.mean([100.0 * (1.0 - r.metrics[which]["test"][group]) for r in _runs(rs)]))


def diagnosis_grid(runs: dict[tuple[str, str], Run | Sequence[Run]], group: str = "acc",
                   which: str = "last") -> pd.DataFrame:
    """Test error (%) grid of BBN Fig. 2: rows representation manner, columns classifier manner."""
    rows = list(dict.fromkeys(r for r, _ in runs))
    cols = list(dict.fromkeys(c for _, c in runs))
    grid = pd.DataFrame(np.nan, index=pd.Index(rows, name="representation"),
                        columns=pd.Index(cols, name="classifier"))
    for (r, c), rs in runs.items():
        grid.loc[r, c] = error_rate(rs, group, which)
    return grid


def diagnosis_groups(runs: dict[tuple[str, str], Run | Sequence[Run]],
                     groups: Sequence[str] = ("acc", "head", "mid", "tail"), which: str = "last") -> pd.DataFrame:
    """Test error (%) per class group for every (representation, classifier) cell."""
    index = pd.MultiIndex.from_tuples(list(runs), names=["representation", "classifier"])
    data = [[error_rate(rs, g, which) for g in groups] for rs in runs.values()]
    return pd.DataFrame(data, index=index, columns=[("overall" if g == "acc" else g) for g in groups])


def diagnosis_note(grid: pd.DataFrame, plain: str = "CE") -> str:
    """Markdown lines describing an error grid (no verdict: the claims are judged in ltlib.claims)."""
    best = grid.stack().idxmin()
    return "\n".join([
        "- Mean error by representation: " + ", ".join(f"{k} {v:.2f}" for k, v in grid.mean(axis=1).items())
        + "; by classifier: " + ", ".join(f"{k} {v:.2f}" for k, v in grid.mean(axis=0).items()) + " (%).",
        f"- Lowest error: {best[0]} representation + {best[1]} classifier ({grid.loc[best]:.2f}%); BBN's lowest "
        f"is {plain} representation + RS classifier, which {'matches' if best == (plain, 'RS') else 'does not match'}.",
    ])


def report_samples(reports: dict[str, Sequence[dict]], metrics: Sequence[str] = GROUPS) -> dict[str, dict[str, list[float]]]:
    """Per-seed accuracy reports -> ltlib.claims samples: key -> metric -> per-seed values in % (NaN when absent)."""
    return {str(k): {g: [100.0 * float(np.nan if r.get(g) is None else r[g]) for r in reps] for g in metrics}
            for k, reps in reports.items()}


def run_samples(runs: dict[Any, Run | Sequence[Run]], which: str = "last",
                key: Any = None) -> dict[str, dict[str, list[float]]]:
    """Runs (one or several seeds per key) -> ltlib.claims samples of their test accuracy (%); key(k) names a key
    (default: str, tuples joined with '+', so the diagnosis cell ('CE', 'RS') is 'CE+RS')."""
    name = key or (lambda k: "+".join(map(str, k)) if isinstance(k, tuple) else str(k))
    return report_samples({name(k): [r.metrics[which]["test"] for r in _runs(rs)] for k, rs in runs.items()})


def effect_table(pairs: dict[str, tuple[Sequence[Run], Sequence[Run]]], labels: tuple[str, str] = ("before", "after"),
                 groups: Sequence[str] = ("acc", "head", "mid", "tail")) -> pd.DataFrame:
    """Each (before runs, after runs) pair over seeds, per class group: both means ± std, after − before with its
    95 % Welch interval, and whether that interval holds 0 ("within noise") or not ("changes")."""
    rows = []
    for name, (before, after) in pairs.items():
        a, b = run_samples({0: before})["0"], run_samples({0: after})["0"]
        for g in groups:
            iv = welch_interval(b[g], a[g])
            if np.isnan(iv.diff):
                continue
            rows.append({"change": name, "group": g, labels[0]: fmt_mean_std(*_mean_std(a[g])[:2]),
                         labels[1]: fmt_mean_std(*_mean_std(b[g])[:2]), "seeds": min(iv.n_a, iv.n_b),
                         "difference": round(iv.diff, 2), "95% CI": f"[{iv.lo:+.2f}, {iv.hi:+.2f}]",
                         "reading": "within noise" if iv.lo <= 0 <= iv.hi else "changes"})
    return pd.DataFrame(rows)


def with_published(table: pd.DataFrame, dataset: str, imbalance_ratio: float, col: str = "acc") -> pd.DataFrame:
    """Published top-1 (%) for each method (row) beside the measured `col`, and measured − published."""
    pub = pd.Series({m: published_acc(m, dataset, imbalance_ratio) for m in table.index}, dtype=float)
    return pd.DataFrame({"measured": table[col], "published": pub, "difference": table[col] - pub},
                        index=table.index)


def per_class_mean(runs: dict[str, Run | Sequence[Run]], which: str = "last") -> dict[str, list[float]]:
    """Per-class test accuracy of each method, mean over its seeds."""
    out = {}
    for name, rs in runs.items():
        pc = np.array([[np.nan if a is None else a for a in r.metrics[which]["test"]["per_class"]]
                       for r in _runs(rs)], dtype=float)
        out[name] = np.nanmean(pc, axis=0).tolist() if len(pc) else []
    return out


def effect_vs(table: pd.DataFrame, plain: str = "CE", groups: Sequence[str] = ("acc", "head", "mid", "tail")
              ) -> pd.DataFrame:
    """Accuracy change (points) of every method against a plain one, per class group."""
    return table[list(groups)] - table.loc[plain, list(groups)]


def rank_agreement(a: pd.Series, b: pd.Series) -> float:
    """Spearman rank correlation of two score series over the index labels they both have (NaN if < 3)."""
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    return spearman(both.iloc[:, 0], both.iloc[:, 1])


def baselines_note(table: pd.DataFrame, dataset: str, imbalance_ratio: float, plain: str = "CE") -> str:
    """Markdown lines describing a baseline summary table (percent, from `summary`) and how it sits against the
    papers' numbers (no verdict: the claims are judged in ltlib.claims)."""
    acc = table["acc"].sort_values(ascending=False)
    best = acc.index[0]
    lines = [f"- **Best overall:** {best} at {acc[best]:.2f}%. Order: {' > '.join(acc.index)}."]
    if plain in table.index:
        eff = effect_vs(table, plain)
        lines.append(f"- **Tail third vs {plain}:** " + ", ".join(f"{m} {eff.loc[m, 'tail']:+.1f}" for m in acc.index
                                                               if m != plain)
                     + "; head third: " + ", ".join(f"{m} {eff.loc[m, 'head']:+.1f}" for m in acc.index if m != plain)
                     + " (points, difference of means).")
    pub = with_published(table, dataset, imbalance_ratio)
    if pub["published"].notna().any():
        diff = pub["difference"].dropna()
        rho = rank_agreement(pub["measured"], pub["published"])
        lines.append(f"- **Against BBN Table 1** ({dataset}-LT IR {imbalance_ratio:g}): measured − published "
                     f"ranges {diff.min():+.2f} to {diff.max():+.2f} points (mean {diff.mean():+.2f}); rank "
                     f"agreement over the {len(diff)} methods with a number: Spearman ρ = {rho:.2f}.")
    else:
        lines.append("- **No published numbers** for this dataset: the papers report CIFAR-LT only, so these "
                     "numbers are new.")
        ir = int(imbalance_ratio)
        if ("cifar10", ir) in published().columns:
            ref = published()[("cifar10", ir)].astype(float)
            rho = rank_agreement(table["acc"], ref)
            lines.append(f"  For comparison of order only, BBN Table 1 on CIFAR-10-LT IR {ir} ranks "
                         f"{' > '.join(ref.reindex(table.index).dropna().sort_values(ascending=False).index)}; "
                         f"rank agreement with the measured order: Spearman ρ = {rho:.2f}.")
    return "\n".join(lines)


def convergence(runs: dict[str, Run | Sequence[Run]]) -> pd.DataFrame:
    """Has a run's schedule flattened by its end? Per run (first seed): test accuracy (%) at its last two evaluated
    epochs and their change, the lr of those epochs, and the train-accuracy change over its last three epochs."""
    rows = []
    for name, rs in runs.items():
        h = _runs(rs)[0].history
        ev = h[h["test_acc"].notna()]
        if len(ev) < 2:
            continue
        prev, last = ev.iloc[-2], ev.iloc[-1]
        rows.append({"method": name, "epochs": int(h["epoch"].iloc[-1]), "prev_epoch": int(prev["epoch"]),
                     "test_prev": 100 * prev["test_acc"], "test_last": 100 * last["test_acc"],
                     "change": 100 * (last["test_acc"] - prev["test_acc"]), "lr_prev": prev["lr"], "lr_last": last["lr"],
                     "train_change_last3": 100 * (h["train_acc"].iloc[-1] - h["train_acc"].iloc[-min(3, len(h))])})
    return pd.DataFrame(rows).set_index("method") if rows else pd.DataFrame()


# ------------------------------------------------------------ readings of the analyses 70-72 (Markdown, not claims)

def _new_numbers(dataset: str, paper: str) -> str:
    return (f" These are Fashion-MNIST-LT numbers; {paper}, so only orderings compare." if dataset == "fmnist" else "")


def tsne_reading(knn: pd.DataFrame, sil: pd.DataFrame, dataset: str) -> Markdown:
    """70's reading: k-NN accuracy / silhouette per method (rows) and group (columns 'all', 'head', 'mid', 'tail')."""
    lines = [f"- Best tail k-NN accuracy: **{knn['tail'].idxmax()}** ({100 * knn['tail'].max():.1f} %), "
             f"worst: {knn['tail'].idxmin()} ({100 * knn['tail'].min():.1f} %)."]
    if "CE" in knn.index:
        lines += [f"- {m} vs CE: tail k-NN {100 * (knn.loc[m, 'tail'] - knn.loc['CE', 'tail']):+.1f} pts, tail silhouette "
                  f"{sil.loc[m, 'tail'] - sil.loc['CE', 'tail']:+.3f}." for m in knn.index if m != "CE"]
    if {"RS", "CE"} <= set(knn.index):
        held = knn.loc["RS", "all"] <= knn.loc["CE", "all"]
        lines.append(f"- BBN §3: re-balancing (RS) hurts the representation — RS overall k-NN "
                     f"{100 * knn.loc['RS', 'all']:.1f} % vs CE {100 * knn.loc['CE', 'all']:.1f} %: "
                     f"{'consistent with' if held else 'not what'} the claim{'' if held else ' predicts'} here (one seed).")
    if "aux" in knn.index:
        others = [m for m in knn.index if m != "aux"]
        best = bool(others) and knn.loc["aux", "all"] >= knn.loc[others, "all"].max()
        lines.append(f"- To balance or not, Fig. 4: the auxiliary-learning model (CBS+RRS) separates the features best — "
                     f"its overall k-NN {100 * knn.loc['aux', 'all']:.1f} % is "
                     f"{'the highest' if best else 'not the highest'} of the methods shown here (one seed).")
    if "cRT" in knn.index and "CE" in knn.index:
        lines.append("- cRT shares the CE backbone, so its features (and picture) equal CE's: classifier retraining "
                     "changes decisions, not the representation.")
    return Markdown("\n".join(lines) + _new_numbers(dataset, "the papers show CIFAR / ImageNet-LT pictures only"))


def bias_variance_reading(bv: pd.DataFrame, K: int, dataset: str) -> Markdown:
    """71's reading from bias_variance_table: each method against CE (overall), the tail, and the caveats."""
    overall, tail = bv[bv["group"] == "all"].set_index("method"), bv[bv["group"] == "tail"].set_index("method")
    methods, lines = list(overall.index), []
    if "CE" in methods:
        for m in [m for m in methods if m != "CE"]:
            d = {k: overall.loc[m, k] - overall.loc["CE", k] for k in ("bias2", "variance", "total")}
            verdict = ("lower total, as the paper reports" if d["total"] < 0 else "NOT a lower total, unlike the paper") \
                if m in ("BBN", "switching") else "(no paper number)"
            lines.append(f"- {m} vs CE: bias² {d['bias2']:+.3f}, variance {d['variance']:+.3f}, total {d['total']:+.3f} — "
                         f"{verdict}.")
    lines.append("- Tail classes: " + ", ".join(f"{m} bias² {tail.loc[m, 'bias2']:.3f} / variance "
                                                f"{tail.loc[m, 'variance']:.3f}" for m in methods) + ".")
    above = (overall["variance"] > overall["bias2"]).all()
    lines.append(f"- Our variance is {'above' if above else 'not always above'} our bias² "
                 "(the paper has variance > bias² for every method).")
    if K < 5:
        lines.append(f"- Only K = {K} models per method: the main prediction is noisy and the split between bias and "
                     "variance is rough (the ordering of totals is the robust part).")
    return Markdown("\n".join(lines) + _new_numbers(dataset, "the paper's are CIFAR-10-LT IR50"))


def memorization_reading(irr: dict[str, pd.DataFrame], rho: dict[str, float], forgotten: pd.Series,
                         paper_rho: float, paper_ratio: float, epochs: int, dataset: str) -> Markdown:
    """72's reading: Pearson(I, n) per method against the paper's, the irregularity ratio, forgetting by class size."""
    ce = irr["CE"]
    ratio = ce["irregularity"].iloc[-1] / max(ce["irregularity"].iloc[0], 1e-12)
    lines = [f"- CE: Pearson(I, n) = {rho['CE']:+.3f} (paper {paper_rho:+.4f}) — "
             + ("negative, as the paper reports." if rho["CE"] < 0 else "NOT negative, unlike the paper."),
             f"- CE: the smallest class is {ratio:.2g}× as irregular as the largest (paper: {paper_ratio:.0f}× between "
             "its classes 9 and 0).",
             f"- CE: mean forgetting events per sample, largest vs smallest class: {forgotten.iloc[0]:.2f} vs "
             f"{forgotten.iloc[-1]:.2f}."]
    lines += [f"- {m}: Pearson(I, n) = {rho[m]:+.3f}; mean irregularity of the three smallest classes "
              f"{irr[m]['irregularity'].iloc[-3:].mean():.4f} vs CE {ce['irregularity'].iloc[-3:].mean():.4f}."
              for m in irr if m != "CE" and m in rho]
    never = [str(c) for c in ce.index if ce.loc[c, "mean_L"] == 0]
    if never:
        lines.append(f"- CE never classified any training sample of class(es) {', '.join(never)} correctly: their samples "
                     "all sit at (L, F) = (0, 0), so their irregularity is 0 — uniform failure, not regularity.")
    if epochs < 10:
        lines.append(f"- Only {epochs} epochs: L and F take few values, so the irregularity is coarse.")
    return Markdown("\n".join(lines) + _new_numbers(dataset, "the paper's are CIFAR-10-LT IR50 averaged over 10 runs"))


def balanced_irregularity(lt: pd.DataFrame, balanced: pd.DataFrame, paper: pd.Series) -> pd.DataFrame:
    """Per class: irregularity and mean forgetting events of CE on the long-tailed set beside CE on a balanced set of
    the same classes (class-reversed Figs. 3-4), and the paper's long-tailed irregularity (Table 8)."""
    return pd.DataFrame({"n (LT)": lt["n"], "I (LT)": lt["irregularity"], "mean F (LT)": lt["mean_F"],
                         "n (balanced)": balanced["n"], "I (balanced)": balanced["irregularity"],
                         "mean F (balanced)": balanced["mean_F"],
                         "paper I (LT, C10 IR50)": paper.reindex(lt.index)})
