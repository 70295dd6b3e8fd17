"""Learned / forgetting events and class irregularity (notebook 72, docs/protocol.md §5; class-reversed eqs. 17-18,
Table 8, Figs. 3-4) and the notebook's reading."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ltlib.analysis import new_numbers
from ltlib.claims import Markdown
from ltlib.samplers import class_irregularity


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
    return Markdown("\n".join(lines) + new_numbers(dataset, "the paper's are CIFAR-10-LT IR50 averaged over 10 runs"))


def balanced_irregularity(lt: pd.DataFrame, balanced: pd.DataFrame, paper: pd.Series) -> pd.DataFrame:
    """Per class: irregularity and mean forgetting events of CE on the long-tailed set beside CE on a balanced set of
    the same classes (class-reversed Figs. 3-4), and the paper's long-tailed irregularity (Table 8)."""
    return pd.DataFrame({"n (LT)": lt["n"], "I (LT)": lt["irregularity"], "mean F (LT)": lt["mean_F"],
                         "n (balanced)": balanced["n"], "I (balanced)": balanced["irregularity"],
                         "mean F (balanced)": balanced["mean_F"],
                         "paper I (LT, C10 IR50)": paper.reindex(lt.index)})

