"""The baselines of docs/protocol.md §4 (BBN Table 1 / LDAM schedule) and classifier retraining, built one way everywhere.

Every notebook gets these configs from here, so the same baseline has the same hash and is trained once.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ltlib.analysis import effect_vs, error_rate, rank_agreement, with_published
from ltlib.config import RunConfig
from ltlib.errors import check_name
from ltlib.methods.recipe import base_config
from ltlib.params import as_dict
from ltlib.reference import published
from ltlib.runs import Run
from ltlib.schedules import scale_epoch

# name -> RunConfig changes on top of the 'ldam' schedule preset
BASELINES: dict[str, dict[str, Any]] = {
    "CE": {},
    "RW": {"loss_weights": "rw"},
    "RS": {"sampler": "cb"},
    "Focal": {"loss": "focal", "focal_gamma": 1.0},
    "CB-Focal": {"loss": "focal", "focal_gamma": 1.0, "loss_weights": "cb"},
    "LDAM-DRW": {"loss": "ldam", "head": "cosine", "loss_weights": "cb", "reweight_from": 160},
    "CE-DRW": {"loss_weights": "cb", "reweight_from": 160},
    "CE-DRS": {"sampler_switch": [[160, "cb"]]},
}

# The learning manners of BBN §3 (representation or classifier): sampler / loss weights
MANNERS: dict[str, dict[str, Any]] = {"CE": {}, "RW": {"loss_weights": "rw"}, "RS": {"sampler": "cb"}}


def deferred_epoch(e: int, epochs: int) -> int:
    """Epoch of a DRW/DRS switch scaled from the 200-epoch schedule, kept inside the run (<= epochs - 1)."""
    return min(scale_epoch(e, epochs), max(0, epochs - 1))


def baseline(params: Any, name: str, **changes: Any) -> RunConfig:
    """One baseline of docs/protocol.md §4 on the notebook's data/model parameters (DRW/DRS epochs scaled to the epochs).

    An `epochs` change rescales the schedule (milestones, warm-up) as well as the DRW/DRS epoch.
    """
    check_name("baseline", name, BASELINES)
    p = as_dict(params)
    if "epochs" in changes:
        p["epochs"] = changes.pop("epochs")
    epochs = p.setdefault("epochs", 200)
    ch = dict(BASELINES[name])
    if "reweight_from" in ch:
        ch["reweight_from"] = deferred_epoch(ch["reweight_from"], epochs)
    if "sampler_switch" in ch:
        ch["sampler_switch"] = [[deferred_epoch(e, epochs), s] for e, s in ch["sampler_switch"]]
    ch.update(changes)
    ch.setdefault("tag", name)
    return base_config(p, "ldam", **ch)


def baselines(params: Any, names: list[str] | None = None, **changes: Any) -> dict[str, RunConfig]:
    """Several baselines by name (default: all of BASELINES)."""
    return {n: baseline(params, n, **changes) for n in (names or list(BASELINES))}


def retrain_classifier(stage1: RunConfig, manner: str = "RS", epochs: int = 10, train_parts: str = "classifier",
                       **changes: Any) -> RunConfig:
    """Stage 2: freeze stage1's backbone, train a fresh classifier with a learning manner (CE / RW / RS).

    Cosine lr from stage1's lr, no warm-up, no DRW/DRS, the stage1 schedule's weight decay (cRT recipe);
    evaluated at its last epoch only (a few-epoch classifier fit has no curve worth the test passes).
    """
    d = {"init_from": stage1.to_dict(), "train_parts": train_parts, "reinit_head": True, "epochs": epochs,
         "schedule": "cosine", "warmup_epochs": 0, "milestones": [], "sampler": "ib", "sampler_switch": [],
         "loss_weights": "none", "reweight_from": 0, "loss": "ce", "head": "linear", "eval_every": epochs,
         "tag": f"{stage1.tag or stage1.method}+{manner}"}
    d.update(MANNERS[manner])
    d.update(changes)
    return stage1.replace(**d)


def diagnosis(params: Any, stage2_epochs: int = 10, representation_dataset: str | None = None,
              **changes: Any) -> dict[tuple[str, str], RunConfig]:
    """BBN §3 grid: (representation manner, classifier manner) -> stage-2 config on a frozen stage-1 backbone.

    Stage 1 is baseline(params, manner) (shared with every notebook); representation_dataset learns it on
    another dataset at the same imbalance ratio (BBN Fig. 2 right: CIFAR-100-IR50 features for CIFAR-10-IR50).
    """
    p = as_dict(params)
    target = {}
    if representation_dataset and representation_dataset != p.get("dataset"):
        target = {k: p[k] for k in ("dataset", "max_per_class", "data_root") if k in p}
        p["dataset"] = representation_dataset
    stage1 = {m: baseline(p, m) for m in MANNERS}
    return {(r, c): retrain_classifier(stage1[r], c, epochs=stage2_epochs, **target, **changes)
            for r in MANNERS for c in MANNERS}


# ------------------------------------------------------------ readings of notebooks 10 (BBN §3 grid) and 11

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

