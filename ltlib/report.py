"""The final report (SPEC §5): the runs of one profile, a leaderboard by method, published numbers beside
ours, and each paper's claims as data: a function of the leaderboard that returns a verdict and its numbers."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ltlib import reference
from ltlib.analysis import GROUPS
from ltlib.config import ConfigError, RunConfig
from ltlib.paths import atomic_write_text
from ltlib.runs import Run, results_table, runs_root

REPRODUCED, NOT_REPRODUCED, NOT_TESTED = "reproduced", "not reproduced", "not tested"

# canonical method name -> tags it may carry in the run store (notebooks name runs differently)
ALIASES: dict[str, list[str]] = {
    "CE": ["CE", "Joint-IB", "CE (IB)"],
    "RW": ["RW"],
    "RS": ["RS", "Joint-CB", "CE-RS"],
    "Focal": ["Focal"],
    "CB-Focal": ["CB-Focal"],
    "CE-DRW": ["CE-DRW"],
    "CE-DRS": ["CE-DRS"],
    "LDAM-DRW": ["LDAM-DRW"],
    "cRT": ["cRT", "CE+RS", "Decouple-cRT", "CE+C"],
    "LWS": ["LWS", "CE+LWS", "Decouple-LWS"],
    "B+C": ["CE+B+C", "B+C"],
    "BBN": ["BBN"],
    "ResLT": ["ResLT"],
    "aux": ["aux", "To-balance", "CBS+RRS", "aux (CBS+RRS)", "CBS+RRS+SS", "main+aux"],
    "CBS-only": ["CBS-only"], "RRS-only": ["RRS-only"],
    "switching": ["switching", "IB->CR", "IB→CR", "IB->CR switching", "IB→CR switching (S=1)",
                  "switching (S=1)", "IB-CR", "IB→CR (S=1)"],
    # BBN §3 diagnosis grid: representation manner + classifier manner (ltlib.methods.baselines.diagnosis)
    "CE+CE": ["CE+CE"], "CE+RW": ["CE+RW"], "RW+RS": ["RW+RS"], "RS+RS": ["RS+RS"],
}
# canonical method name -> row of ltlib.reference (SPEC §6)
REFERENCE_NAMES: dict[str, str] = {
    "CE": "CE", "Focal": "Focal", "CE-DRW": "CE-DRW", "CE-DRS": "CE-DRS", "CB-Focal": "CB-Focal",
    "LDAM-DRW": "LDAM-DRW", "BBN": "BBN", "ResLT": "ResLT", "cRT": "Decouple-cRT", "LWS": "Decouple-LWS",
    "switching": "IB→CR switching (S=1)",
}


def _norm(tag: str) -> str:
    return re.sub(r"[\s_]", "", str(tag).replace("→", "->").replace("×", "x")).lower()


def canonical(label: str) -> Optional[str]:
    """The canonical method name a run tag stands for (None if it is not one the claims use)."""
    n = _norm(label)
    for name, tags in ALIASES.items():
        if any(_norm(t) == n for t in tags):
            return name
    return None


# ------------------------------------------------------------------------------ runs of a profile

def _root_epochs(cfg: RunConfig) -> int:
    """Epochs of the first-stage run (a two-stage run counts by its stage-1 schedule)."""
    while cfg.init_from is not None:
        cfg = RunConfig.from_dict(cfg.init_from)
    return cfg.epochs


def profile_rows(table: pd.DataFrame, dataset: str, imbalance_ratio: float, arch: str, epochs: int,
                 max_per_class: Optional[int], runs_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Rows of the results table that belong to one profile; adds `family` (config hash without the seed),
    `stage1_epochs` and `label` (the family's tag, made unique)."""
    cols = list(table.columns) + ["family", "stage1_epochs", "label"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    mpc = table["max_per_class"].astype(float)
    keep = ((table["dataset"] == dataset) & (table["imbalance_ratio"].astype(float) == float(imbalance_ratio))
            & (table["arch"] == arch)
            & ((mpc.isna() & (max_per_class is None)) | (mpc == (max_per_class if max_per_class else -1))))
    rows = table[keep].copy()
    root = runs_root(runs_dir)
    fam, ep = [], []
    for rid in rows["run_id"]:
        try:
            cfg = Run(root / rid).config
        except (OSError, ValueError, ConfigError):
            fam.append(None)
            ep.append(-1)
            continue
        fam.append(cfg.replace(seed=0, tag="").run_id())
        ep.append(_root_epochs(cfg))
    rows["family"], rows["stage1_epochs"] = fam, ep
    rows = rows[(rows["stage1_epochs"] == epochs) & rows["family"].notna()].copy()
    rows["tag"] = [t if isinstance(t, str) and t else m for t, m in zip(rows["tag"], rows["method"])]
    label = {}
    for f, g in rows.groupby("family", sort=False):
        label[f] = g["tag"].value_counts().index[0]
    seen: dict[str, int] = {}
    for f in sorted(label, key=lambda f: rows.index[rows["family"] == f].min()):
        name = label[f]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            label[f] = f"{name} [{f[:6]}]"
    rows["label"] = rows["family"].map(label)
    return rows.reset_index(drop=True)


def leaderboard(rows: pd.DataFrame, which: str = "last", percent: bool = True) -> pd.DataFrame:
    """One row per method (label): seeds, mean and std over seeds of acc / many / medium / few / head / mid / tail.

    which='last' is the last epoch; 'best_val' the epoch chosen on the held-out split (never on test).
    """
    prefix = "" if which == "last" else "bestval_"
    out = []
    scale = 100.0 if percent else 1.0
    for label, g in rows.groupby("label", sort=False) if len(rows) else []:
        r: dict[str, Any] = {"method": label, "canonical": canonical(label), "seeds": len(g)}
        for k in GROUPS:
            v = pd.to_numeric(g.get(f"{prefix}{k}"), errors="coerce") * scale
            r[k] = v.mean()
            r[f"{k}_std"] = v.std(ddof=1) if len(g) > 1 else np.nan
        out.append(r)
    cols = ["method", "canonical", "seeds"] + [c for k in GROUPS for c in (k, f"{k}_std")]
    lb = pd.DataFrame(out, columns=cols)
    return lb.sort_values("acc", ascending=False).set_index("method")


def find(lb: pd.DataFrame, name: str) -> Optional[pd.Series]:
    """The leaderboard row of a canonical method (the best one if several labels map to it)."""
    if lb.empty or "canonical" not in lb:
        return None
    if name in lb.index:                                   # an exact label first (e.g. the diagnosis grid's CE+RS)
        return lb.loc[name]
    hits = lb[lb["canonical"] == name]
    return None if hits.empty else hits.sort_values("acc", ascending=False).iloc[0]


def with_reference(lb: pd.DataFrame, dataset: str, imbalance_ratio: float) -> pd.DataFrame:
    """Ours beside the published top-1 (SPEC §6) for every method with a published number.

    On a dataset the papers do not report (Fashion-MNIST), the CIFAR-10-LT number at the same IR is shown for
    context only and no difference is computed: those numbers are new.
    """
    same = dataset in {d for d, _ in reference.COLUMNS}
    ref_ds = dataset if same else "cifar10"
    rows = []
    for name, ref_name in REFERENCE_NAMES.items():
        pub = reference.published_acc(ref_name, ref_ds, imbalance_ratio)
        if pub is None:
            continue
        r = find(lb, name)
        ours = None if r is None else float(r["acc"])
        std = None if r is None or r["acc_std"] != r["acc_std"] else float(r["acc_std"])
        source = reference.published(ref_name)["source"].iloc[0]
        rows.append({"method": name, "ours": ours, "ours_std": std, "seeds": None if r is None else int(r["seeds"]),
                     "published": pub, "difference": (ours - pub) if (same and ours is not None) else None,
                     "published_on": f"{ref_ds} IR{imbalance_ratio:g}" + ("" if same else " (other dataset)"),
                     "source": source})
    return pd.DataFrame(rows, columns=["method", "ours", "ours_std", "seeds", "published", "difference",
                                       "published_on", "source"]).set_index("method")


# ------------------------------------------------------------------------------ claims as data

@dataclass
class Verdict:
    """A claim's outcome on this profile and the numbers behind it."""

    status: str
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str = ""


@dataclass
class Claim:
    """One published claim, checked on the leaderboard."""

    paper: str
    where: str
    text: str
    check: Callable[[pd.DataFrame], Verdict]


def _val(r: pd.Series, col: str) -> tuple[float, float]:
    std = r.get(f"{col}_std", np.nan)
    return float(r[col]), (0.0 if std != std else float(std))


def beats(winner: str, losers: Sequence[str], col: str = "acc", need_all: bool = True) -> Callable[[pd.DataFrame], Verdict]:
    """Check: winner's mean `col` is above each loser's (need_all: every loser must exist, else those present)."""
    def check(lb: pd.DataFrame) -> Verdict:
        w = find(lb, winner)
        present = [(name, find(lb, name)) for name in losers]
        missing = [n for n, r in present if r is None]
        present = [(n, r) for n, r in present if r is not None]
        if w is None or not present or (need_all and missing):
            absent = ([winner] if w is None else []) + missing
            return Verdict(NOT_TESTED, {}, f"no runs of {', '.join(absent)} on this profile")
        wm, ws = _val(w, col)
        nums = {f"{winner} {col}": wm}
        ok, parts = True, []
        for n, r in present:
            m, s = _val(r, col)
            nums[f"{n} {col}"] = m
            ok &= wm > m
            noise = " (within seed noise)" if abs(wm - m) <= ws + s and (ws or s) else ""
            parts.append(f"{winner} {wm:.2f} vs {n} {m:.2f} ({wm - m:+.2f}){noise}")
        note = f"; not run: {', '.join(missing)}" if missing else ""
        return Verdict(REPRODUCED if ok else NOT_REPRODUCED, nums, "; ".join(parts) + note)
    return check


def trade_off(method: str, base: str = "CE") -> Callable[[pd.DataFrame], Verdict]:
    """Check: method raises tail accuracy and lowers head accuracy relative to base."""
    def check(lb: pd.DataFrame) -> Verdict:
        m, b = find(lb, method), find(lb, base)
        if m is None or b is None:
            return Verdict(NOT_TESTED, {}, f"no runs of {method if m is None else base} on this profile")
        dt, dh = float(m["tail"] - b["tail"]), float(m["head"] - b["head"])
        ok = dt > 0 and dh < 0
        return Verdict(REPRODUCED if ok else NOT_REPRODUCED,
                       {"tail gain": dt, "head change": dh},
                       f"tail {b['tail']:.2f} → {m['tail']:.2f} ({dt:+.2f}), head {b['head']:.2f} → {m['head']:.2f} ({dh:+.2f})")
    return check


def all_of(*checks: Callable[[pd.DataFrame], Verdict]) -> Callable[[pd.DataFrame], Verdict]:
    """Check: every sub-check holds (not tested if any is not tested)."""
    def check(lb: pd.DataFrame) -> Verdict:
        vs = [c(lb) for c in checks]
        nums = {k: v for x in vs for k, v in x.numbers.items()}
        detail = "; ".join(v.detail for v in vs)
        if any(v.status == NOT_TESTED for v in vs):
            return Verdict(NOT_TESTED, nums, detail)
        ok = all(v.status == REPRODUCED for v in vs)
        return Verdict(REPRODUCED if ok else NOT_REPRODUCED, nums, detail)
    return check


CLAIMS: list[Claim] = [
    Claim("BBN", "Table 1", "BBN beats plain cross-entropy (CE)", beats("BBN", ["CE"])),
    Claim("BBN", "Table 1", "BBN beats the re-balancing baselines CE-DRW, CE-DRS and LDAM-DRW (those run)",
          beats("BBN", ["CE-DRW", "CE-DRS", "LDAM-DRW"], need_all=False)),
    Claim("BBN", "§3, Fig. 2", "re-balancing trades head accuracy for tail accuracy: RS raises tail, lowers head vs CE",
          trade_off("RS")),
    Claim("BBN", "§3, Fig. 2", "with the CE representation, RW / RS classifiers beat the CE classifier",
          all_of(beats("CE+RW", ["CE+CE"]), beats("CE+RS", ["CE+CE"]))),
    Claim("BBN", "§3, Fig. 2", "with an RS classifier, the CE representation beats the RW and RS representations",
          beats("CE+RS", ["RW+RS", "RS+RS"])),
    Claim("ResLT", "Table 5", "ResLT beats plain CE", beats("ResLT", ["CE"])),
    Claim("ResLT", "Table 5", "ResLT beats BBN", beats("ResLT", ["BBN"])),
    Claim("Decoupling", "§5 / Table 2", "cRT (retrained classifier, frozen CE backbone) beats joint CE training",
          beats("cRT", ["CE"])),
    Claim("Decoupling", "§5", "LWS beats joint CE training", beats("LWS", ["CE"])),
    Claim("Decoupling", "Table 1", "retraining only the classifier (cRT) beats retraining backbone + classifier",
          beats("cRT", ["B+C"])),
    Claim("To balance or not", "Table 1", "main head (CBS) + auxiliary head (RRS) beats both CBS-only and RRS-only training",
          beats("aux", ["CBS-only", "RRS-only"])),
    Claim("Class-reversed", "Table 1", "IB→CR switching beats plain CE", beats("switching", ["CE"])),
    Claim("Class-reversed", "Table 9", "switching to class-reversed beats switching to class-balanced (CE-DRS)",
          beats("switching", ["CE-DRS"])),
    Claim("Class-reversed", "Table 1", "IB→CR switching beats Decouple-cRT", beats("switching", ["cRT"])),
    Claim("Class-reversed", "Table 1", "IB→CR switching beats BBN", beats("switching", ["BBN"])),
]


def evaluate_claims(lb: pd.DataFrame, claims: Sequence[Claim] = tuple(CLAIMS)) -> pd.DataFrame:
    """One row per claim: paper, where, claim, verdict, detail (the numbers behind it)."""
    rows = []
    for c in claims:
        v = c.check(lb)
        rows.append({"paper": c.paper, "where": c.where, "claim": c.text, "verdict": v.status, "detail": v.detail,
                     "numbers": v.numbers})
    return pd.DataFrame(rows)


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """How many claims were reproduced / not reproduced / not tested."""
    return {s: int((claims["verdict"] == s).sum()) for s in (REPRODUCED, NOT_REPRODUCED, NOT_TESTED)}


def write_profile_csv(rows: pd.DataFrame, profile: str) -> Any:
    """outputs/<profile>/results.csv: the results-table rows of this profile (atomic write)."""
    from ltlib.paths import OUTPUTS

    path = OUTPUTS / profile / "results.csv"
    atomic_write_text(path, rows.to_csv(index=False))
    return path


def load(dataset: str, imbalance_ratio: float, arch: str, epochs: int, max_per_class: Optional[int],
         runs_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """profile_rows of the run store's results table."""
    return profile_rows(results_table(runs_dir), dataset, imbalance_ratio, arch, epochs, max_per_class, runs_dir)


def fmt(x: Any, std: Any = None) -> str:
    """'mean ± std' or 'mean' or '–'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{x:.2f}"
    return f"{x:.2f} ± {std:.2f}"


# ------------------------------------------------------------------------------ other published numbers

# Class-reversed paper, appendix Table 8 (CE, ResNet-32, CIFAR-10-LT IR50, events averaged over 10 runs):
# class -> (cardinality, ||C||_F, irregularity); Pearson correlation of irregularity with cardinality.
CR_TABLE8: dict[int, tuple[int, float, float]] = {
    0: (5000, 85.7341, 0.0171), 1: (3237, 44.3574, 0.0137), 2: (2096, 296.3582, 0.1414), 3: (1357, 397.6501, 0.2930),
    4: (878, 267.5524, 0.3047), 5: (568, 447.2937, 0.7875), 6: (368, 253.5138, 0.6889), 7: (238, 355.5270, 1.4938),
    8: (154, 279.5059, 1.8150), 9: (100, 363.4100, 3.6341)}
CR_PEARSON = -0.6112


def board(lb: pd.DataFrame, cols: Sequence[str] = tuple(GROUPS)) -> pd.DataFrame:
    """The leaderboard for display: seeds and 'mean ± std' strings (std only where there are several seeds)."""
    out = pd.DataFrame({"seeds": lb["seeds"]}, index=lb.index)
    for c in cols:
        out["overall" if c == "acc" else c] = [fmt(m, s) for m, s in zip(lb[c], lb[f"{c}_std"])]
    return out
