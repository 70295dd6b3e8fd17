"""Class-reversed sampler switching (ICLR 2021 submission; docs/protocol.md §4 "Class-reversed switching").

Plain CE training with instance-balanced (IB) batches until epoch `m_n + S` (m_n = last learning-rate
milestone of the "switching" preset scaled to the run's epochs), then class-reversed (CR, p_c ∝ 1/n_c)
batches. Built on the plain method's `sampler_switch` (no method class of its own). Epochs are 0-based, as
in Alg. 1 (IB while the 1-based epoch t ≤ m_n + S): the lr drops from epoch m_n, CR starts at m_n + S, so
S = 1 gives one small-lr IB epoch (the paper's text says "the 101st epoch" for m_n = 100, S = 1, one
epoch earlier than its Alg. 1; we follow Alg. 1).

Ablations: S sweep (Table 6), progressive switching orders (Table 7), first × second sampler grid
(Table 9), joint vs decoupled training after the switch (Table 11) and feature quality by classifier
retraining (Table 12; decoupled = `ltlib.methods.baselines.retrain_classifier`).
"""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

import pandas as pd

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods.baselines import retrain_classifier
from ltlib.methods.recipe import base_config
from ltlib.params import as_dict
from ltlib.reference import select
from ltlib.runs import Run
from ltlib.schedules import PRESETS, preset, scale_epoch

SAMPLER_LABEL = {"ib": "IB", "cb": "CB", "cr": "CR", "sqrt": "√", "reversed": "RV", "cbs": "CBS", "irregular": "IRR"}
GRID = ["ib", "cb", "cr"]
# Table 7: samplers after the IB phase, each but the last for `stage_epochs` (5 in the paper) epochs
PROGRESSIVE: dict[str, list[str]] = {"IB→CR": ["cr"], "IB→CB(5)→CR": ["cb", "cr"], "IB→CR(5)→CB": ["cr", "cb"]}
SWITCH_BATCH: int = PRESETS["switching"]["batch_size"]    # 64 (class-reversed A.3.2), every switching run


def _label(s: str) -> str:
    return SAMPLER_LABEL.get(s, s)


def _epochs(params: Any) -> int:
    return int(as_dict(params).get("epochs", 200))


def last_milestone(epochs: int) -> int:
    """m_n: the last lr milestone of the "switching" preset (×0.1 at 100 of 200) scaled to `epochs`."""
    return preset("switching", epochs)["milestones"][-1]


def switch_epoch(epochs: int, S: int = 1) -> int:
    """0-based epoch of the switch, m_n + S; at least one epoch must follow it."""
    e = last_milestone(epochs) + S
    if S < 0 or e > epochs - 1:
        raise ConfigError(f"switching S={S} puts the switch at epoch {e}, outside a {epochs}-epoch run "
                          f"(m_n = {last_milestone(epochs)}); use 0 <= S <= {epochs - 1 - last_milestone(epochs)}")
    return e


def switching_config(params: Any, first: str = "ib", second: str = "cr", S: int = 1, **changes: Any) -> RunConfig:
    """`first` sampler until m_n + S, then `second` (IB→CR is the method); "switching" schedule preset.

    Always the paper's batch of 64 (A.3.2; SWITCH_BATCH), whatever the notebook's batch_size: notebook 60, the
    analyses 70-72 and the report all build this one config, so they find the same runs.
    """
    e = switch_epoch(_epochs(params), S)
    d: dict[str, Any] = {"sampler": first, "sampler_switch": [] if second == first else [[e, second]],
                         "tag": f"{_label(first)}→{_label(second)}", "eval_every": 1,   # per-class curves per epoch
                         "batch_size": SWITCH_BATCH}
    d.update(changes)
    return base_config(params, "switching", **d)


def progressive_config(params: Any, order: Sequence[str], S: int = 1, stage_epochs: int = 5,
                       **changes: Any) -> RunConfig:
    """Table 7: IB, then the samplers of `order` from m_n + S, each but the last for stage_epochs (scaled, >= 1)."""
    epochs = _epochs(params)
    e = switch_epoch(epochs, S)
    k = max(1, scale_epoch(stage_epochs, epochs))
    switches = [[e + i * k, s] for i, s in enumerate(order)]
    if switches[-1][0] > epochs - 1:
        raise ConfigError(f"progressive switching {list(order)} needs epochs > {switches[-1][0]}, got {epochs}")
    tag = "IB→" + "→".join(f"{_label(s)}({k})" if i < len(order) - 1 else _label(s) for i, s in enumerate(order))
    return switching_config(params, "ib", "ib", S, sampler_switch=switches, tag=tag, **changes)


def progressive_configs(params: Any, S: int = 1, stage_epochs: int = 5, **changes: Any) -> dict[str, RunConfig]:
    """The three rows of Table 7 (IB→CR is the plain switching run)."""
    return {name: progressive_config(params, order, S, stage_epochs, **changes)
            for name, order in PROGRESSIVE.items()}


def grid_configs(params: Any, S: int = 1, samplers: Sequence[str] = GRID,
                 **changes: Any) -> dict[tuple[str, str], RunConfig]:
    """Table 9: first sampler × second sampler (switch at m_n + S)."""
    return {(a, b): switching_config(params, a, b, S, **changes) for a in samplers for b in samplers}


def s_sweep_configs(params: Any, s_values: Sequence[int], **changes: Any) -> dict[int, RunConfig]:
    """Table 6: IB→CR for several S."""
    return {s: switching_config(params, "ib", "cr", s, tag=f"IB→CR S={s}", **changes) for s in s_values}


def irregularity_config(params: Any, S: int = 1, **changes: Any) -> RunConfig:
    """Table 10: IB until m_n + S, then p_j ∝ class irregularity I_j (sampler "irregular"), measured on the run's own
    per-sample events of the IB epochs (Eqs. 17-21) instead of CR's p_j ∝ 1/n_j."""
    return switching_config(params, "ib", "irregular", S, tag=f"IB→irregularity S={S}", **changes)


def truncated_stage1(full: RunConfig, S: int = 1) -> RunConfig:
    """The first m_n + S epochs of a run with the first sampler only (same lr schedule: milestones unscaled)."""
    e = switch_epoch(full.epochs, S)
    return full.replace(epochs=e, sampler_switch=[], eval_every=e, tag=f"{_label(full.sampler)} to m_n+{S}")


def after_switch_config(full: RunConfig, second: str, joint: bool, retrain: bool, S: int = 1,
                        **changes: Any) -> RunConfig:
    """Table 11: from the model at m_n + S, train `second`-sampler epochs with the backbone trained (joint) or
    fixed, continuing the classifier or re-training it from scratch. The lr continues at its decayed value;
    the optimiser's momentum restarts (a two-stage run)."""
    stage1 = truncated_stage1(full, S)
    e = stage1.epochs
    lr = full.lr * full.gamma ** sum(e >= m for m in full.milestones)
    d: dict[str, Any] = {"init_from": stage1.to_dict(), "epochs": full.epochs - e, "lr": lr, "milestones": [],
                         "warmup_epochs": 0, "sampler": second, "sampler_switch": [],
                         "train_parts": "all" if joint else "classifier", "reinit_head": retrain,
                         "tag": f"IB→{_label(second)} {'joint' if joint else 'fixed backbone'}"
                                f"{' + new classifier' if retrain else ''}"}
    d.update(changes)
    return full.replace(**d)


def decoupling_configs(params: Any, S: int = 1, seconds: Sequence[str] = GRID, **changes: Any) -> dict[tuple[str, bool, bool], RunConfig]:
    """Table 11: (second sampler, joint, retrain) -> config; (s, True, False) is the plain switching run."""
    out = {}
    for s in seconds:
        full = switching_config(params, "ib", s, S, **changes)
        for joint in (False, True):
            for retrain in (False, True):
                out[(s, joint, retrain)] = full if (joint and not retrain) else after_switch_config(
                    switching_config(params, "ib", "ib", S, **changes), s, joint, retrain, S)
    return out


def feature_quality_configs(features: dict[str, RunConfig], samplers: Sequence[str] = GRID,
                            epochs: int = 10) -> dict[tuple[str, str], RunConfig]:
    """Table 12: a fresh classifier on each frozen, fully trained backbone, retrained with each sampler (cRT recipe)."""
    return {(f, s): retrain_classifier(cfg, "CE", epochs, sampler=s, tag=f"{f} features + {_label(s)} classifier")
            for f, cfg in features.items() for s in samplers}


# ------------------------------------------------------------------ per-class accuracy over epochs

def per_class_history(run: Run) -> pd.DataFrame:
    """Long table (epoch, class, n_train, acc %) of per-class test accuracy at every evaluated epoch."""
    h = run.history
    if "test_per_class" not in h:
        raise ConfigError(f"run {run.run_id} has no per-class history (trained before it was recorded); "
                          f"delete {run.path} to retrain it")
    counts = run.metrics["counts"]
    rows = []
    for ep, s in zip(h["epoch"], h["test_per_class"]):
        if isinstance(s, str):
            rows += [{"epoch": int(ep), "class": c, "n_train": counts[c], "acc": None if a is None else 100 * a}
                     for c, a in enumerate(json.loads(s))]
    return pd.DataFrame(rows)


def around_switch(pc: pd.DataFrame, switch: int, groups: dict[int, str]) -> pd.DataFrame:
    """Mean test accuracy of each class group just before and at the end of training (after the switch)."""
    before = pc[pc["epoch"] == switch]                  # epoch = 1-based, i.e. the last epoch before the switch
    after = pc[pc["epoch"] == pc["epoch"].max()]
    out = []
    for g in ("head", "mid", "tail"):
        cls = [c for c, n in groups.items() if n == g]
        out.append({"group": g, "before switch": before[before["class"].isin(cls)]["acc"].mean(),
                    "last epoch": after[after["class"].isin(cls)]["acc"].mean()})
    t = pd.DataFrame(out).set_index("group")
    t["change"] = t["last epoch"] - t["before switch"]
    return t


# ------------------------------------------------------------------ the paper's numbers and readings

# The paper's numbers (top-1 %, ResNet-32): Table 6 S sweep (IR50), Table 7 (C10 IR50), Table 9 grid, Tables 11-12
PAPER_S = pd.DataFrame({"S": [0, 1, 5, 10, 50],
                        **{f"{ds} IR50": select("class-reversed", "Table 6", "acc", ds, 50).tolist()
                           for ds in ("cifar10", "cifar100")}})
PAPER_PROGRESSIVE = select("class-reversed", "Table 7").to_dict()
GRID_COLUMNS = [("cifar10", 100), ("cifar10", 50), ("cifar10", 10), ("cifar100", 100), ("cifar100", 50), ("cifar100", 10)]
PAPER_GRID = {(a, b): [float(select("class-reversed", "Table 9", "acc", ds, ir)[f"{a}→{b}"]) for ds, ir in GRID_COLUMNS]
              for a in GRID for b in GRID}
PAPER_DECOUPLING = {(s, j == "joint", r == "retrained"): v for (s, j, r), v in
                    ((k.split("/"), v) for k, v in select("class-reversed", "Table 11").items())}
PAPER_TABLE10 = select("class-reversed", "Table 10").to_dict()    # {"cardinality": 82.9, "irregularity": 82.8}
PAPER_FEATURES = {tuple(k.split("/")): v for k, v in select("class-reversed", "Table 12").items()}


def paper_grid(dataset: str, imbalance_ratio: float) -> Optional[pd.DataFrame]:
    """Table 9 for one setting as a first × second table (None where the paper has no such column)."""
    key = (dataset, int(imbalance_ratio))
    if key not in GRID_COLUMNS:
        return None
    i = GRID_COLUMNS.index(key)
    t = pd.DataFrame({_label(b): {_label(a): PAPER_GRID[(a, b)][i] for a in GRID} for b in GRID})
    return t.rename_axis(index="first sampler", columns="second sampler")


def grid_table(acc: dict[tuple[str, str], float]) -> pd.DataFrame:
    """first × second accuracy table from {(first, second): acc}."""
    firsts = list(dict.fromkeys(a for a, _ in acc))
    seconds = list(dict.fromkeys(b for _, b in acc))
    t = pd.DataFrame({_label(b): {_label(a): acc[(a, b)] for a in firsts} for b in seconds})
    return t.rename_axis(index="first sampler", columns="second sampler")


def decoupling_table(acc: dict[tuple[str, bool, bool], float], paper: bool = True) -> pd.DataFrame:
    """Table 11 layout: rows (second sampler, joint, retrain), our accuracy and the paper's (C10 IR50)."""
    rows = [{"switching sampler": _label(s), "joint training": j, "re-training classifier": r, "ours": v,
             **({"paper (C10 IR50)": PAPER_DECOUPLING.get((s, j, r))} if paper else {})}
            for (s, j, r), v in acc.items()]
    return pd.DataFrame(rows).set_index(["switching sampler", "joint training", "re-training classifier"])


def _pts(x: float) -> str:
    return f"{x:+.1f} pts"


def read_claims(main: pd.DataFrame, s_sweep: Optional[pd.Series] = None, progressive: Optional[pd.Series] = None,
                grid: Optional[pd.DataFrame] = None, decoupling: Optional[pd.DataFrame] = None,
                features: Optional[pd.DataFrame] = None, switch_name: str = "IB→CR") -> pd.DataFrame:
    """The paper's claims checked against measured accuracies (%): main table rows, S sweep, Table 7/9/11/12."""
    rows = []

    def claim(name: str, source: str, held: Optional[bool], detail: str) -> None:
        rows.append({"claim": name, "paper": source, "held": held, "measured": detail})

    acc = main["acc"]
    for other in ("CE", "cRT", "BBN"):
        if switch_name in acc and other in acc:
            d = acc[switch_name] - acc[other]
            claim(f"IB→CR switching beats {other}", "Table 1", bool(d > 0), _pts(d))
    if switch_name in main.index and "CE" in main.index and "tail" in main:
        d = main.loc[switch_name, "tail"] - main.loc["CE", "tail"]
        claim("switching raises tail accuracy over CE", "Tables 4–5", bool(d > 0), _pts(d))
    if s_sweep is not None and len(s_sweep) > 1:
        spread = float(s_sweep.max() - s_sweep.min())
        claim("accuracy is insensitive to S (paper spread 0.3 / 0.6 pts)", "Table 6", bool(spread <= 1.0),
              f"spread {spread:.1f} pts over S = {', '.join(str(s) for s in s_sweep.index)}")
    if progressive is not None and {"IB→CR", "IB→CB(5)→CR", "IB→CR(5)→CB"} <= set(progressive.index):
        p = progressive
        claim("IB→CB→CR ≈ IB→CR (within 1 pt)", "Table 7", bool(abs(p["IB→CB(5)→CR"] - p["IB→CR"]) <= 1.0),
              _pts(p["IB→CB(5)→CR"] - p["IB→CR"]))
        claim("IB→CR→CB is worse than IB→CR", "Table 7", bool(p["IB→CR(5)→CB"] < p["IB→CR"]),
              _pts(p["IB→CR(5)→CB"] - p["IB→CR"]))
    if grid is not None and grid.shape == (3, 3):
        best_first = {c: grid[c].idxmax() for c in grid.columns}
        claim("IB is the best first sampler for every second sampler", "Table 9",
              all(v == "IB" for v in best_first.values()),
              ", ".join(f"then {c}: best first {v}" for c, v in best_first.items()))
        claim("CR is the best second sampler after IB", "Table 9", bool(grid.loc["IB"].idxmax() == "CR"),
              ", ".join(f"IB→{c} {v:.1f}" for c, v in grid.loc["IB"].items()))
    if decoupling is not None and len(decoupling):
        d = decoupling["ours"]
        try:
            j = d[("CR", True, False)] - d[("CR", False, True)]
            claim("after switching to CR, joint training beats a retrained classifier on a fixed backbone",
                  "Table 11", bool(j > 0), _pts(j))
            r = d[("IB", False, True)] - d[("IB", False, False)]
            claim("without switching (IB), re-training the classifier helps", "Table 11", bool(r > 0), _pts(r))
        except KeyError:
            pass
    if features is not None and {"standard", "switching"} <= set(features.index):
        diff = features.loc["switching"] - features.loc["standard"]
        claim("a classifier retrained with CB/CR does better on switching features than on standard ones",
              "Table 12", bool((diff[[c for c in diff.index if c in ("CB", "CR")]] > 0).all()),
              ", ".join(f"{c} {_pts(v)}" for c, v in diff.items()))
    return pd.DataFrame(rows)
