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
