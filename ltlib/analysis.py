"""Analyses shared by the notebooks: sampler statistics, summary tables over seeds, per-class views, a run's test
outputs, claims samples and the papers' numbers. What one analysis notebook computes lives in its own module:
features (70), biasvar (71), memorization (72); the diagnosis grid and the baselines' reading (10, 11) in
methods.baselines."""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ltlib.claims import key_label
from ltlib.data import long_tail_counts
from ltlib.inference import DeviceData, classifier_norms, predict, resolve_device
from ltlib.metrics import GROUPS
from ltlib.reference import published_acc
from ltlib.runs import Run
from ltlib.samplers import build_sampler
from ltlib.stats import fmt_mean_std, mean_std as _mean_std, spearman, welch_interval



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
    if not rows:                                           # e.g. a profile with no ablation rows
        return pd.DataFrame(index=pd.Index([], name="method"))
    return pd.DataFrame(rows).set_index("method")


def summary(runs: dict[str, Run | Sequence[Run]], which: str = "last", percent: bool = True) -> pd.DataFrame:
    """Methods x (acc, many, medium, few, head, mid, tail): mean, and std over seeds where there are several.

    which='last' reports the last epoch, 'best_val' the epoch chosen on the held-out split (never test).
    """
    reports = {name: [r.metrics[which]["test"] for r in ([rs] if isinstance(rs, Run) else rs)]
               for name, rs in runs.items()}
    return report_table(reports, percent)


def drop_empty(table: pd.DataFrame) -> pd.DataFrame:
    """The table without columns that hold nothing on this profile (all NaN / None / '–': e.g. 'few' where no class
    has under 20 images, a published column on a dataset the papers never used)."""
    empty = [c for c in table.columns if all(v is None or v in ("–", "—") or (isinstance(v, float) and v != v)
                                              for v in table[c])]
    return table.drop(columns=empty)


def mean_std(table: pd.DataFrame, cols: Sequence[str] = ("acc", "many", "medium", "few")) -> pd.DataFrame:
    """Format 'mean ± std' strings (or 'mean' for one seed) for display; groups empty on this profile dropped."""
    out = pd.DataFrame(index=table.index)
    for c in cols:
        stds = table[f"{c}_std"] if f"{c}_std" in table else [None] * len(table)
        out[c] = [fmt_mean_std(m, s) for m, s in zip(table[c], stds)]
    return drop_empty(out)


def per_class(runs: dict[str, Run], which: str = "last") -> dict[str, list]:
    """Per-class test accuracy of each run."""
    return {k: r.metrics[which]["test"]["per_class"] for k, r in runs.items()}


def weight_norms(run: Run) -> np.ndarray:
    """Per-class L2 norms of a run's classifier weights (the weights its method predicts with), from its record."""
    norms = run.diagnostics.get("classifier_norms")
    if norms is not None:
        return np.asarray(norms)
    method, model, _ = run.load()
    return classifier_norms(method.classifier_weight(model))


def test_predictions(run: Run) -> np.ndarray:
    """The final model's predicted class for every test image (stored in the run's record)."""
    pred = run.diagnostics.get("test_predictions")
    if pred is None:
        logits, _ = run_outputs(run)
        pred = logits.argmax(1)
    return np.asarray(pred).astype(np.int64)


def subset_key(idx: np.ndarray) -> str:
    """A short name of a fixed subset of test images (its size and a digest of its indices)."""
    return f"n{len(idx)}_{hashlib.sha256(np.asarray(idx, dtype=np.int64).tobytes()).hexdigest()[:10]}"


def test_features(run: Run, idx: np.ndarray, device: str = "auto", data: Any = None) -> np.ndarray:
    """Penultimate features (float16, as kept in the record) of a fixed subset of the test set: computed once
    from the final model, then read from the run's record (t-SNE renders without checkpoints)."""
    def compute() -> np.ndarray:
        return run_outputs(run, idx, device, features=True, data=data)[0].astype(np.float16)
    return np.asarray(run.derived(("test_features", subset_key(idx)), compute)).astype(np.float32)


# ------------------------------------------------------------------ a run's outputs on the test set (70, 71)


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


# ------------------------------------------------------------ runs over seeds, claims samples, the papers' numbers

def _runs(rs: Run | Sequence[Run]) -> list[Run]:
    """One run or several seeds as a list."""
    return [rs] if hasattr(rs, "metrics") else list(rs)


def error_rate(rs: Run | Sequence[Run], group: str = "acc", which: str = "last") -> float:
    """Test error (%) over a class group, mean over seeds."""
    return float(np.mean([100.0 * (1.0 - r.metrics[which]["test"][group]) for r in _runs(rs)]))


def report_samples(reports: dict[str, Sequence[dict]], metrics: Sequence[str] = GROUPS) -> dict[str, dict[str, list[float]]]:
    """Per-seed accuracy reports -> ltlib.claims samples: key -> metric -> per-seed values in % (NaN when absent)."""
    return {k: {g: [100.0 * float(np.nan if r.get(g) is None else r[g]) for r in reps] for g in metrics}
            for k, reps in reports.items()}


def run_samples(runs: dict[Any, Run | Sequence[Run]], which: str = "last",
                key: Any = None) -> dict[Any, dict[str, list[float]]]:
    """Runs (one or several seeds per key) -> ltlib.claims samples of their test accuracy (%), under the same keys
    (a tuple stays a tuple: the diagnosis cell ('CE', 'RS'), the ablation row ('Table 9', 'IB→CR')); key(k) renames."""
    name = key or (lambda k: k)
    return report_samples({name(k): [r.metrics[which]["test"] for r in _runs(rs)] for k, rs in runs.items()})


def effect_table(pairs: dict[str, tuple[Sequence[Run], Sequence[Run]]], labels: tuple[str, str] = ("before", "after"),
                 groups: Sequence[str] = ("acc", "head", "mid", "tail")) -> pd.DataFrame:
    """Each (before runs, after runs) pair over seeds, per class group: both means ± std, after − before with its
    95 % Welch interval, and whether that interval holds 0 ("within noise") or not ("changes")."""
    rows = []
    for name, (before, after) in pairs.items():
        a, b = run_samples({0: before})[0], run_samples({0: after})[0]
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


def new_numbers(dataset: str, paper: str) -> str:
    """The caveat a reading ends with on a dataset the papers never used."""
    return (f" These are Fashion-MNIST-LT numbers; {paper}, so only orderings compare." if dataset == "fmnist" else "")




READABLE_GAP = 5.0     # points: an ablation whose main row falls further below the full-size run is not read


def unreadable(table: pd.DataFrame, row: Any, full_acc: float, groups: Sequence[str] = ("head", "mid", "tail"),
               gap: float = READABLE_GAP) -> Optional[str]:
    """Why an ablation table (accuracy %, rows = variants) cannot be read against the paper at its size: its main
    row more than `gap` points below the full-size run, or a class group at 0 % in some row; None when readable."""
    why = []
    acc = dict(table["acc"].items())
    if row in acc and full_acc - float(acc[row]) > gap:
        why.append(f"its main row ({key_label(row)}, {float(acc[row]):.1f}%) is {full_acc - float(acc[row]):.1f} "
                   f"points below the full-size run ({full_acc:.1f}%)")
    zero = [f"{key_label(r)} {g}" for g in groups if g in table for r, v in table[g].items() if float(v) == 0.0]
    if zero:
        why.append(f"a class group at 0 % ({', '.join(zero[:4])}{', ...' if len(zero) > 4 else ''})")
    return ("not readable at this size: " + "; ".join(why) + ". Paper ranks are not shown.") if why else None


def without_ranks(table: pd.DataFrame, note: Optional[str]) -> pd.DataFrame:
    """An ablation table as shown: its rank columns against the paper dropped when it is not readable (note)."""
    return table.drop(columns=[c for c in table.columns if "rank" in str(c)]) if note else table
