"""Analyses shared by the notebooks: sampler statistics, summary tables over seeds, per-class views."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from ltlib.data import long_tail_counts
from ltlib.runs import Run
from ltlib.samplers import build_sampler

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


def summary(runs: dict[str, Run | Sequence[Run]], which: str = "last", percent: bool = True) -> pd.DataFrame:
    """Methods x (acc, many, medium, few, head, mid, tail): mean, and std over seeds where there are several.

    which='last' reports the last epoch, 'best_val' the epoch chosen on the held-out split (never test).
    """
    rows = []
    for name, rs in runs.items():
        rs = [rs] if isinstance(rs, Run) else list(rs)
        vals = pd.DataFrame([{g: r.metrics[which]["test"].get(g) for g in GROUPS} for r in rs]).astype(float)
        scale = 100.0 if percent else 1.0
        row = {"method": name, "seeds": len(rs)}
        for g in GROUPS:
            row[g] = scale * vals[g].mean()
            if len(rs) > 1:
                row[f"{g}_std"] = scale * vals[g].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def mean_std(table: pd.DataFrame, cols: Sequence[str] = ("acc", "many", "medium", "few")) -> pd.DataFrame:
    """Format 'mean ± std' strings (or 'mean' for one seed) for display."""
    out = pd.DataFrame(index=table.index)
    for c in cols:
        if f"{c}_std" in table:
            out[c] = [f"{m:.2f} ± {s:.2f}" if m == m else "–" for m, s in zip(table[c], table[f"{c}_std"])]
        else:
            out[c] = [f"{m:.2f}" if m == m else "–" for m in table[c]]
    return out


def per_class(runs: dict[str, Run], which: str = "last") -> dict[str, list]:
    """Per-class test accuracy of each run."""
    return {k: r.metrics[which]["test"]["per_class"] for k, r in runs.items()}


def weight_norms(run: Run) -> np.ndarray:
    """Per-class L2 norms of a run's classifier weights."""
    method, model, _ = run.load()
    w = method.classifier_weight(model)
    return w.float().norm(dim=1).cpu().numpy()


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


CLASSIFIER_CLAIM = "re-balancing helps the classifier"
REPRESENTATION_CLAIM = "re-balancing hurts the representation"


def claim_rows_cols(grid: pd.DataFrame, plain: str = "CE", tol: float = 0.0) -> pd.DataFrame:
    """Every comparison behind BBN's claim on an error grid (rows representation, columns classifier).

    Classifier part: within a row, each re-balanced classifier has lower error than the plain one.
    Representation part: within a column, each re-balanced representation has higher error than the plain one.
    A comparison holds when the difference exceeds tol percentage points in the claimed direction.
    """
    rows = []
    for r in grid.index:
        for c in grid.columns:
            if c != plain:
                d = grid.loc[r, c] - grid.loc[r, plain]
                rows.append({"claim": CLASSIFIER_CLAIM, "fixed": f"{r} representation",
                             "compared": f"{c} vs {plain} classifier", "error": grid.loc[r, c],
                             f"error ({plain})": grid.loc[r, plain], "difference": d, "held": bool(d < -tol)})
    for c in grid.columns:
        for r in grid.index:
            if r != plain:
                d = grid.loc[r, c] - grid.loc[plain, c]
                rows.append({"claim": REPRESENTATION_CLAIM, "fixed": f"{c} classifier",
                             "compared": f"{r} vs {plain} representation", "error": grid.loc[r, c],
                             f"error ({plain})": grid.loc[plain, c], "difference": d, "held": bool(d > tol)})
    return pd.DataFrame(rows)


def claim_verdict(checks: pd.DataFrame) -> dict[str, str]:
    """Per part of the claim: 'held (k/n)', 'partly held (k/n)' or 'did not hold (0/n)'."""
    out = {}
    for claim, part in checks.groupby("claim", sort=False):
        k, n = int(part["held"].sum()), len(part)
        word = "held" if k == n else "did not hold" if k == 0 else "partly held"
        out[claim] = f"{word} ({k}/{n} comparisons)"
    return out


def diagnosis_reading(grid: pd.DataFrame, checks: pd.DataFrame, plain: str = "CE") -> str:
    """A short markdown reading of a measured diagnosis grid against BBN's claim."""
    verdict = claim_verdict(checks)
    best = grid.stack().idxmin()
    cls = checks[checks["claim"] == CLASSIFIER_CLAIM]["difference"]
    rep = checks[checks["claim"] == REPRESENTATION_CLAIM]["difference"]
    rows_mean = grid.mean(axis=1)
    cols_mean = grid.mean(axis=0)
    return "\n".join([
        f"- **Classifier (columns):** '{CLASSIFIER_CLAIM}' {verdict[CLASSIFIER_CLAIM]}; a re-balanced classifier "
        f"changes the error by {cls.mean():+.2f} points on average (range {cls.min():+.2f} to {cls.max():+.2f}) "
        f"against a {plain} classifier on the same representation.",
        f"- **Representation (rows):** '{REPRESENTATION_CLAIM}' {verdict[REPRESENTATION_CLAIM]}; a re-balanced "
        f"representation changes the error by {rep.mean():+.2f} points on average (range {rep.min():+.2f} to "
        f"{rep.max():+.2f}) against the {plain} representation with the same classifier.",
        f"- Mean error by representation: " + ", ".join(f"{k} {v:.2f}" for k, v in rows_mean.items())
        + "; by classifier: " + ", ".join(f"{k} {v:.2f}" for k, v in cols_mean.items()) + ".",
        f"- Lowest error: {best[0]} representation + {best[1]} classifier ({grid.loc[best]:.2f}%); BBN's lowest "
        f"is CE representation + RS classifier, which {'matches' if best == (plain, 'RS') else 'does not match'}.",
    ])


def with_published(table: pd.DataFrame, dataset: str, imbalance_ratio: float, col: str = "acc") -> pd.DataFrame:
    """Published top-1 (%) for each method (row) beside the measured `col`, and measured − published."""
    from ltlib.reference import published_acc

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
