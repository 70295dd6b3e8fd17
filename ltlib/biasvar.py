"""Bias / variance of the 0-1 loss over K models (notebook 71, docs/protocol.md §5): Domingos' decomposition per
class group and the notebook's reading."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ltlib.analysis import new_numbers
from ltlib.claims import Markdown
from ltlib.metrics import thirds


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
    groups = thirds(counts)
    rows = []
    for name, p in preds.items():
        for g, cls in groups.items():
            m = np.isin(y, cls)
            rows.append({"method": name, "group": g, **bias_variance(np.asarray(p)[:, m], y[m], len(counts))})
    return pd.DataFrame(rows)


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
    return Markdown("\n".join(lines) + new_numbers(dataset, "the paper's are CIFAR-10-LT IR50"))

