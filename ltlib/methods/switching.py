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
from ltlib.errors import ConfigError, check_name
from ltlib.methods.baselines import baseline, retrain_classifier
from ltlib.methods.bbn import bbn_config
from ltlib.methods.recipe import Plan, ablation_size, base_config
from ltlib.metrics import shot_groups
from ltlib.params import Shared, as_dict
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
    return Shared.of(params).epochs


def last_milestone(epochs: int, params: Any = None) -> int:
    """m_n: the last lr milestone of the "switching" preset (×0.1 at 100 of 200) scaled to `epochs`, or of a
    large-scale profile's own schedule (`run_fields` milestones: ×0.1 at 60 / 80 of 90 on ImageNet-LT, A.3.2)."""
    fields = (as_dict(params).get("run_fields") or {}) if params is not None else {}
    if fields.get("milestones"):
        return int(fields["milestones"][-1])
    return preset("switching", epochs)["milestones"][-1]


def switch_epoch(epochs: int, S: int = 1, params: Any = None) -> int:
    """0-based epoch of the switch, m_n + S; at least one epoch must follow it."""
    m = last_milestone(epochs, params)
    e = m + S
    if S < 0 or e > epochs - 1:
        raise ConfigError(f"switching S={S} puts the switch at epoch {e}, outside a {epochs}-epoch run "
                          f"(m_n = {m}); use 0 <= S <= {epochs - 1 - m}")
    return e


def switching_config(params: Any, first: str = "ib", second: str = "cr", S: int = 1, **changes: Any) -> RunConfig:
    """`first` sampler until m_n + S, then `second` (IB→CR is the method); "switching" schedule preset.

    Always the paper's batch of 64 (A.3.2; SWITCH_BATCH), whatever the notebook's batch_size: notebook 60, the
    analyses 70-72 and the report all build this one config, so they find the same runs.
    """
    e = switch_epoch(_epochs(params), S, params)
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


def switch_readings(runs: Sequence[Run], counts: Sequence[int]) -> pd.DataFrame:
    """Per seed of an IB→CR run (from its record): training accuracy of the last epoch before the switch and of
    the last epoch, and the test accuracy of head / mid / tail just before the switch and at the end."""
    rows = []
    for r in runs:
        e = r.config.sampler_switch[0][0]                  # 0-based epoch from which CR draws = 1-based last IB epoch
        h = r.history.set_index("epoch")
        pc = per_class_history(r)
        groups = {g: cls for g, cls in shot_groups(list(counts)).items() if g in ("head", "mid", "tail")}
        row = {"seed": r.config.seed, "train acc at switch": 100 * h.loc[e, "train_acc"],
               "train acc (last)": 100 * h["train_acc"].iloc[-1]}
        for g, cls in groups.items():
            before = pc[(pc["epoch"] == e) & pc["class"].isin(cls)]["acc"].mean()
            after = pc[(pc["epoch"] == pc["epoch"].max()) & pc["class"].isin(cls)]["acc"].mean()
            row[f"{g}: before → after"] = f"{before:.1f} → {after:.1f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


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


# ------------------------------------------------------------------ notebook 60's whole plan, before any training

TABLES = ["S", "progressive", "grid", "irregularity", "decoupling", "features"]


def max_S(epochs: int, params: Any = None) -> int:
    """The largest S whose switch leaves at least one epoch after it."""
    return epochs - 1 - last_milestone(epochs, params)


def progressive_fits(epochs: int, S: int, stage_epochs: int) -> bool:
    """Whether IB, a middle sampler for stage_epochs (scaled, >= 1) and the last sampler fit in `epochs`."""
    e = last_milestone(epochs) + S
    return S <= max_S(epochs) and e + max(1, scale_epoch(stage_epochs, epochs)) <= epochs - 1


def _fit_S(epochs: int, S: int, what: str, notes: list[str], params: Any = None) -> int:
    if S < 0:
        raise ConfigError(f"S must be >= 0, got {S}")
    if S > max_S(epochs, params):
        notes.append(f"{what}: S = {S} leaves no epoch after the switch in {epochs} epochs (m_n = "
                     f"{last_milestone(epochs, params)}); S = {max_S(epochs, params)} is used instead.")
        return max(0, max_S(epochs, params))
    return S


def notebook_plan(params: Any, check: bool = True) -> Plan:
    """Notebook 60's configs, all built (and validated) before anything trains: sections "main" (one config per
    seed) and "ablations" (one seed, rows keyed (table, row) or (table, name, value): ("Table 6", "S", 1), ...), info S / ablation_S /
    ablation_params; schedules that do not fit the
    epochs are scaled to fit (S lowered) or their table skipped, each with a note saying so. check=True also
    builds their long-tailed data sets (an impossible data setting fails here, not halfway)."""
    p = as_dict(params)
    notes: list[str] = []
    if p["epochs"] < 2:
        raise ConfigError(f"switching needs epochs >= 2 (an IB epoch and a switched one), got {p['epochs']}")
    S = _fit_S(p["epochs"], p["S"], "main run", notes, p)
    seeds = [p["seed"] + i for i in range(p.get("n_seeds", 1))]
    ce = [baseline(p, "CE", seed=s) for s in seeds]
    main: dict[str, list[RunConfig]] = {"IB→CR": [switching_config(p, S=S, seed=s) for s in seeds],
                                        # Table 9's comparator: the same schedule and switch epoch, to class-balanced
                                        "IB→CB": [switching_config(p, second="cb", S=S, seed=s) for s in seeds]}
    if {"CE", "cRT"} & set(p["compare"]):
        main["CE"] = ce
    if "cRT" in p["compare"]:
        main["cRT"] = [retrain_classifier(c, "RS", p["stage2_epochs"]) for c in ce]
    if "BBN" in p["compare"]:
        main["BBN"] = [bbn_config(p, seed=s) for s in seeds]
    size = ablation_size(p, p["ablation_max_per_class"], p["ablation_epochs"])   # capped at the profile's own max_per_class
    A, kw = size["params"], size["changes"]
    ea = A["epochs"]
    if ea < 2:
        raise ConfigError(f"ablation_epochs must be >= 2, got {ea}")
    SA = _fit_S(ea, p["S"], "ablations", notes)
    todo, out = list(p["ablations"]), {}
    for t in todo:
        check_name("ablation table", t, TABLES)
    if "S" in todo:
        fits = [s for s in p["s_values"] if 0 <= s <= max_S(ea)]
        if len(fits) < len(p["s_values"]):
            notes.append(f"Table 6: S = {sorted(set(p['s_values']) - set(fits))} do not fit {ea}-epoch runs; skipped.")
        out.update({("Table 6", "S", s): c for s, c in s_sweep_configs(A, fits, **kw).items()})
    if "progressive" in todo:
        if progressive_fits(ea, SA, p["progressive_stage_epochs"]):
            out.update({("Table 7", k): c for k, c in progressive_configs(A, SA, p["progressive_stage_epochs"], **kw).items()})
        else:
            notes.append(f"Table 7 skipped: {ea}-epoch runs leave no room for IB, a middle sampler and a last sampler "
                         f"after m_n + S = {last_milestone(ea) + SA} (at least {last_milestone(ea) + SA + 2} epochs).")
    if "grid" in todo:
        out.update({("Table 9", f"{_label(a)}→{_label(b)}"): c for (a, b), c in grid_configs(A, SA, p["grid_samplers"], **kw).items()})
    if "irregularity" in todo:
        out[("Table 10", "cardinality")] = switching_config(A, S=SA, **kw)
        out[("Table 10", "irregularity")] = irregularity_config(A, SA, **kw)
    if "decoupling" in todo:
        out.update({("Table 11", decoupling_label(k)): c for k, c in decoupling_configs(A, SA, p["grid_samplers"], **kw).items()})
    if "features" in todo:
        feats = {"standard": switching_config(A, "ib", "ib", SA, **kw), "switching": switching_config(A, S=SA, **kw)}
        out.update({("Table 12", f"{f} + {_label(s)}"): c
                    for (f, s), c in feature_quality_configs(feats, p["grid_samplers"], p["stage2_epochs"]).items()})
    engine_check = {"check": {"IB→CR": [switching_config(p, S=S, seed=p["seed"] + i)
                                        for i in range(p["check_seeds"])]}} if p.get("check_seeds") else {}
    plan = Plan({**engine_check, "main": main, "ablations": {k: [c] for k, c in out.items()}}, notes,
                {"S": S, "ablation_S": SA, "ablation_params": A})
    if check:
        plan.check()
    return plan


def decoupling_label(key: tuple[str, bool, bool]) -> str:
    """'CR joint', 'CR fixed + new classifier', ... for a Table 11 cell (second sampler, joint, retrain)."""
    s, joint, retrain = key
    return f"{_label(s)} {'joint' if joint else 'fixed'}{' + new classifier' if retrain else ''}"


def ablation_tables(acc: dict[tuple, float], grid_samplers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Our ablation accuracies (%) by table (keys as notebook_plan's), each with the paper's numbers (C10 IR50 unless
    said) beside them."""
    def rows(table: str) -> dict[Any, float]:
        return {k[-1]: v for k, v in acc.items() if isinstance(k, tuple) and k[0] == table}

    out: dict[str, pd.DataFrame] = {}
    if rows("Table 6"):
        t = pd.Series(rows("Table 6"), name="ours").rename_axis("S").to_frame()
        out["Table 6"] = t.join(PAPER_S.set_index("S").add_prefix("paper "), how="left")
    if rows("Table 7"):
        out["Table 7"] = pd.DataFrame({"ours": rows("Table 7"), "paper (C10 IR50)": pd.Series(PAPER_PROGRESSIVE)}).loc[
            list(rows("Table 7"))]
    if rows("Table 9"):
        lab = [_label(s) for s in grid_samplers]
        g = rows("Table 9")
        out["Table 9"] = pd.DataFrame({b: {a: g[f"{a}→{b}"] for a in lab} for b in lab}).rename_axis(
            index="first sampler", columns="second sampler")
    if rows("Table 10"):
        out["Table 10"] = pd.DataFrame({"ours": rows("Table 10"), "paper (C10 IR50)": pd.Series(PAPER_TABLE10)}
                                       ).rename_axis("switching-stage sampling weight")
    if rows("Table 11"):
        paper = {decoupling_label((s, j, r)): v for (s, j, r), v in PAPER_DECOUPLING.items()}
        out["Table 11"] = pd.DataFrame({"ours": rows("Table 11"), "paper (C10 IR50)": pd.Series(paper)}).loc[
            list(rows("Table 11"))]
    if rows("Table 12"):
        paper = {f"{f} + {_label(s)}": v for (f, s), v in PAPER_FEATURES.items()}
        out["Table 12"] = pd.DataFrame({"ours": rows("Table 12"), "paper (C10 IR50)": pd.Series(paper)}).loc[
            list(rows("Table 12"))]
    return out


def reading_note(change: pd.DataFrame, tables: dict[str, pd.DataFrame], published: Optional[float]) -> str:
    """The readings of notebook 60 that are not "A beats B" claims (per-group change at the switch, Tables 6, 7, 10)."""
    parts = [f"From the last epoch before the switch to the end, tail classes changed by "
             f"{change.loc['tail', 'change']:+.1f} pts and head classes by {change.loc['head', 'change']:+.1f} pts "
             "(the paper, Fig. 2: the tail jumps, the head loses a little)."]
    t6 = tables.get("Table 6")
    if t6 is not None and len(t6) > 1:
        parts.append(f"Table 6: accuracy spread {t6['ours'].max() - t6['ours'].min():.1f} pts over S = "
                     f"{', '.join(map(str, t6.index))} (paper: 0.3 / 0.6 pts, insensitive to S).")
    t7 = tables.get("Table 7")
    if t7 is not None and {"IB→CR", "IB→CB(5)→CR"} <= set(t7.index):
        parts.append(f"Table 7: IB→CB→CR − IB→CR = {t7.loc['IB→CB(5)→CR', 'ours'] - t7.loc['IB→CR', 'ours']:+.1f} pts "
                     "(paper: about the same, −0.1).")
    t10 = tables.get("Table 10")
    if t10 is not None and len(t10) == 2:
        parts.append(f"Table 10: irregularity − cardinality weights = "
                     f"{t10.loc['irregularity', 'ours'] - t10.loc['cardinality', 'ours']:+.1f} pts (paper: −0.1, "
                     "i.e. class-reversed sampling is near optimal when the irregularities are unknown).")
    parts.append(f"The paper reports {published:.1f}% for IB→CR in this setting." if published is not None else
                 "The paper reports CIFAR only: these numbers are new.")
    return " ".join(parts)
