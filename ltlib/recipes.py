"""The study's named methods: registry key -> fn(params, **changes) -> RunConfig, the same config (and hash) the
method's own notebook trains, so the analyses (70-72) and the report find those very runs."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ltlib import registry
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.inference import train_counts
from ltlib.methods import aux, baselines, bbn, decoupling, reslt, switching
from ltlib.params import Shared, as_dict

RECIPES = registry.RECIPES


def _baseline(name: str) -> Callable[..., RunConfig]:
    return lambda params, **changes: baselines.baseline(params, name, **changes)


def crt(params: Any, **changes: Any) -> RunConfig:
    """cRT: the CE backbone frozen, a fresh classifier retrained with class-balanced sampling (stage2_epochs)."""
    stage1 = baselines.baseline(params, "CE", **changes)
    return decoupling.crt_config(stage1, int(as_dict(params).get("stage2_epochs", 10)))


def lws(params: Any, **changes: Any) -> RunConfig:
    """LWS: the CE classifier frozen, a learned per-class scale (stage2_epochs)."""
    stage1 = baselines.baseline(params, "CE", **changes)
    return decoupling.lws_config(stage1, int(as_dict(params).get("stage2_epochs", 10)))


def ib_cr(params: Any, second: str = "cr", **changes: Any) -> RunConfig:
    """IB -> CR switching at m_n + 1 (the latest switch that fits when the run is too short for S = 1)."""
    epochs = Shared.of(params).epochs
    try:
        return switching.switching_config(params, second=second, **changes)
    except ConfigError:
        return switching.switching_config(params, second=second,
                                          S=max(0, epochs - 1 - switching.last_milestone(epochs)), **changes)


def ib_cb(params: Any, **changes: Any) -> RunConfig:
    """IB -> CB on the switching schedule, the same switch epoch and batch: class-reversed Table 9's comparator."""
    return ib_cr(params, second="cb", **changes)


def balanced_ce(params: Any, **changes: Any) -> RunConfig:
    """CE on a balanced training set of the long-tailed set's size (its images spread evenly over the classes): the
    reference of relative accuracy (Zhang et al., "Deep long-tailed learning: a survey", §5.1)."""
    ce = baselines.baseline(params, "CE")
    counts = train_counts(ce)                                 # no data read where the dataset is named
    per_class = max(1, int(sum(counts)) // len(counts))
    p = {**as_dict(params), "imbalance_ratio": 1.0, "max_per_class": per_class}
    return baselines.baseline(p, "CE", **changes).replace(tag="CE-balanced")


for _name in baselines.BASELINES:
    RECIPES.register(_name, _baseline(_name))
RECIPES.register("cRT", crt)
RECIPES.register("LWS", lws)
RECIPES.register("BBN", bbn.bbn_config)
RECIPES.register("ResLT", reslt.reslt_config)
RECIPES.register("aux", aux.aux_config)
RECIPES.register("switching", ib_cr)
RECIPES.register("switching-CB", ib_cb)
RECIPES.register("CE-balanced", balanced_ce)


def study_configs(params: Any, names: Sequence[str], **changes: Any) -> dict[str, RunConfig]:
    """Run configs of the named study methods, each tagged with its registry key."""
    for n in names:
        RECIPES.check(n)
    return {n: RECIPES[n](params, **changes).replace(tag=n) for n in names}


def recipe_configs(params: Any) -> dict[str, RunConfig]:
    """The configs the report looks for: every named recipe, the diagnosis grid's cells, and the paper baselines
    that only a claim uses (B+C, CBS-only, RRS-only), built from the profile's parameters."""
    p = as_dict(params)
    out: dict[str, RunConfig] = {}
    for key in RECIPES:
        try:
            out[key] = RECIPES[key](p)
        except ConfigError:                    # e.g. too short a run for a recipe's schedule: not on this profile
            continue
    stage2 = int(p.get("stage2_epochs", 10))
    for (r, c), cfg in baselines.diagnosis(p, stage2).items():
        out[f"{r}+{c}"] = cfg
    out["B+C"] = decoupling.parts_configs(baselines.baseline(p, "CE"), stage2)["B+C"]
    out["CBS-only"] = aux.aux_config(p, "CBS-only")
    out["RRS-only"] = aux.aux_config(p, "RRS-only")
    return out
