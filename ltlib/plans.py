"""Every run of a profile: each training notebook's plan by name, and the profile's distinct runs in training order.

`NOTEBOOK_PLANS` maps a notebook to the function that builds its whole plan (section -> row -> one config per seed)
from its validated parameters, the very configs the notebook trains; `profile_runs` walks every notebook of a
profile and lists each distinct run once, stage-1 runs before the stage-2 runs that start from them. Exports,
shards and the GPU script are built on it, so a run trained anywhere is found by the notebooks by its hash.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml

from ltlib.catalog import METHODS
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.inference import load_data
from ltlib.methods import aux, baselines, bbn, decoupling, reslt, switching
from ltlib.methods.recipe import Plan, ablation_size
from ltlib.params import as_dict, profile_notebooks, profile_params
from ltlib.paths import NOTEBOOKS, atomic_write_text
from ltlib.recipes import balanced_ce, recipe_configs, study_configs
from ltlib.regimes import REGIMES, SLICE_PRIORITY, check_ladder
from ltlib.splits import is_split_dataset, load_splits, num_classes as split_classes
from ltlib.train import stage_waves


def _seeds(p: dict[str, Any], key: str = "n_seeds") -> list[int]:
    return [p["seed"] + i for i in range(p.get(key, 1))]


def plan_00(p: dict[str, Any]) -> Plan:
    """00: the CE run whose sampler draws and events the notebook inspects."""
    return Plan({"CE": {"CE": [baselines.baseline(p, "CE")]}})


def plan_10(p: dict[str, Any]) -> Plan:
    """10: BBN §3's representation x classifier grid, every seed (stage-1 runs come with their stage-2 runs)."""
    by_seed = [baselines.diagnosis({**p, "seed": s}, p["stage2_epochs"], p["representation_dataset"])
               for s in _seeds(p)]
    return Plan({"grid": {k: [c[k] for c in by_seed] for k in by_seed[0]}})   # rows: (representation, classifier)


def plan_11(p: dict[str, Any]) -> Plan:
    """11: every baseline of the protocol, every seed; and CE on a balanced training set of the same size, the
    reference of relative accuracy."""
    return Plan({"baselines": {m: [baselines.baseline(p, m, seed=s) for s in _seeds(p)] for m in p["methods"]},
                 "reference": {"CE-balanced": [balanced_ce(p, seed=s) for s in _seeds(p)]}})


def plan_20(p: dict[str, Any]) -> Plan:
    """20: Decoupling's joint runs, cRT / LWS, Table 1's parts and cRT on every backbone."""
    return decoupling.notebook_plan(p, _seeds(p), p["backbones"], check=False)


def plan_30(p: dict[str, Any]) -> Plan:
    """30: BBN's Table 1 over seeds and its one-seed ablations."""
    return bbn.notebook_plan(p, check=False)


def plan_40(p: dict[str, Any]) -> Plan:
    """40: ResLT and its baselines over seeds, its one-seed ablations (the code's groups need the class count)."""
    probe = baselines.baseline(p, "CE")
    return reslt.notebook_plan(p, class_count(probe), check=False)


def class_count(cfg: RunConfig) -> int:
    """Classes of a config's data: a split dataset's lists where they are found, else its published count (so a
    large-scale profile's plan is listed on a machine without the data); any other dataset is loaded."""
    if is_split_dataset(cfg.dataset):
        try:
            return load_splits(cfg.dataset, cfg.data_root, cfg.image_root).num_classes
        except ConfigError:
            return split_classes(cfg.dataset)
    return load_data(cfg).num_classes


def plan_50(p: dict[str, Any]) -> Plan:
    """50: the aux main rows over seeds and the one-seed ablation rows."""
    return aux.notebook_plan(p, check=False)


def plan_60(p: dict[str, Any]) -> Plan:
    """60: IB→CR and its comparators over seeds, the one-seed ablation tables."""
    return switching.notebook_plan(p, check=False)


def plan_70(p: dict[str, Any]) -> Plan:
    """70: the runs whose features are embedded."""
    return Plan({"t-SNE": {k: [c] for k, c in study_configs(p, p["tsne_methods"]).items()}})


def plan_71(p: dict[str, Any]) -> Plan:
    """71: K seeds of each method at the bias-variance size."""
    size = ablation_size(p, p["bv_max_per_class"], p["bv_epochs"])
    by_k = [study_configs(dict(size["params"], seed=p["seed"] + k), p["bv_methods"], **size["changes"])
            for k in range(p["K"])]
    return Plan({"bias-variance": {m: [c[m] for c in by_k] for m in p["bv_methods"]}},
                info={"max_per_class": size["params"]["max_per_class"], "epochs": size["params"]["epochs"]})


def plan_72(p: dict[str, Any]) -> Plan:
    """72: the runs whose training events are counted, and CE on a balanced set of the same data (at most
    balanced_max_per_class images per class, never more than the profile's cap)."""
    cap = p["balanced_max_per_class"]
    if p["max_per_class"] is not None and cap is not None:
        cap = min(cap, p["max_per_class"])
    balanced = study_configs({**p, "imbalance_ratio": 1.0, "max_per_class": cap}, ["CE"])["CE"]
    return Plan({"memorisation": {k: [c] for k, c in study_configs(p, p["mem_methods"]).items()},
                 "balanced": {"CE (balanced set)": [balanced]}}, info={"cap": cap})


def seeds_of(method: str, n_seeds: int, more: Sequence[str], n_more: int) -> int:
    """Seeds a method gets in every regime: n_more for the noisy ones named in `more`, else n_seeds."""
    return n_more if method in more else n_seeds


def ladder_plan(params: Any, regimes: Sequence[str], n_seeds: int, more: Sequence[str] = (), n_more: int = 5,
                methods: Sequence[str] = METHODS) -> Plan:
    """Section per regime -> row per method -> one config per seed: the report's recipes in each regime."""
    sections, settings = {}, {}
    for r in check_ladder(list(regimes)):
        p = r.params(params)
        n = max(seeds_of(m, n_seeds, more, n_more) for m in methods)
        by_seed = [recipe_configs({**p, "seed": p["seed"] + i}) for i in range(n)]
        rows = {m: [r.config(c[m]) for c in by_seed[:seeds_of(m, n_seeds, more, n_more)]]
                for m in methods if all(m in c for c in by_seed) and (r.methods is None or m in r.methods)}
        sections[r.name] = rows
        settings[r.name] = r.setting(params)
    return Plan(sections, info={"settings": settings})


def plan_80(p: dict[str, Any]) -> Plan:
    """80: the report's methods in every regime of the ladder, every seed (the anchor regime: the runs above)."""
    return ladder_plan(p, p["regimes"], p["n_seeds"], p["more_seeds"], p["n_more"])


# Notebook -> its plan builder; 90_report trains nothing (it reads the runs of the others).
NOTEBOOK_PLANS: dict[str, Callable[[dict[str, Any]], Plan]] = {
    "00_data_and_samplers": plan_00, "10_rebalancing_diagnosis": plan_10, "11_baselines": plan_11,
    "20_decoupling": plan_20, "30_bbn": plan_30, "40_reslt": plan_40, "50_aux_learning": plan_50,
    "60_class_reversed_switching": plan_60, "70_tsne": plan_70, "71_bias_variance": plan_71,
    "72_memorization": plan_72, "80_regimes": plan_80,
}


LADDER = "80_regimes"          # the notebook whose plan is the regime ladder


def notebook_plan(notebook: str, params: Any, check: bool = True) -> Plan:
    """A notebook's whole plan from its validated parameters; check=True builds every distinct run on its data
    (Plan.check) so a plan that cannot run fails before the first training step."""
    if notebook not in NOTEBOOK_PLANS:
        raise ConfigError(f"notebook {notebook} trains nothing (no plan); have: {', '.join(NOTEBOOK_PLANS)}")
    plan = NOTEBOOK_PLANS[notebook](as_dict(params))
    if check:
        plan.check()
    return plan


def with_regimes(params: dict[str, Any], regimes: Optional[list[str]]) -> dict[str, Any]:
    """The ladder notebook's parameters restricted to some of its regimes (its anchor always kept), e.g. to train
    one rung in a slice; None: unchanged."""
    if not regimes:
        return params
    have = list(params["regimes"])
    unknown = [r for r in regimes if r not in have]
    if unknown:
        raise ConfigError(f"regime(s) {', '.join(unknown)} not in this profile's ladder; have: {', '.join(have)}")
    return {**params, "regimes": [r for r in have if r == have[0] or r in regimes]}


def profile_plans(profile: str, only: Optional[list[str]] = None,
                  regimes: Optional[list[str]] = None) -> dict[str, Plan]:
    """Each training notebook's plan on a profile (its parameter file over the notebook's defaults); `regimes`
    restricts the ladder notebook (80) to those rungs."""
    missing = [nb for nb in NOTEBOOK_PLANS if not (NOTEBOOKS / f"{nb}.ipynb").exists()]
    if missing:
        raise ConfigError(f"no notebook for plan(s) {', '.join(missing)}")
    listed = profile_notebooks(profile)
    return {nb: notebook_plan(nb, with_regimes(profile_params(profile, nb), regimes) if nb == LADDER else
                              profile_params(profile, nb), check=False) for nb in NOTEBOOK_PLANS
            if (not only or any(nb.startswith(o) for o in only)) and (listed is None or nb in listed)}


def ordered_runs(plans: dict[str, Plan]) -> list[RunConfig]:
    """The distinct runs of several plans, each once (tagged with its first row), ancestors before descendants:
    every stage-1 run comes before any run that starts from it (level by level)."""
    seen: dict[str, RunConfig] = {}
    for nb, plan in plans.items():
        for h, (section, row, cfg) in plan.distinct_runs().items():
            if h not in seen:
                seen[h] = cfg if cfg.tag else cfg.replace(tag=row)
    return [c for wave in stage_waves(list(seen.values()), lambda c: 0) for c in wave]   # plan order within a wave


def sliced_runs(plans: dict[str, Plan]) -> list[RunConfig]:
    """The runs of the ladder's sliced rungs (runs that may span budget slices) in their order of work: seed by
    seed, methods by SLICE_PRIORITY (then the ladder's order), each run's stage-1 run before it."""
    plan = plans.get(LADDER)
    if plan is None:
        return []
    keyed = []
    for name, rows in plan.sections.items():
        if name not in REGIMES or not REGIMES[name].sliced:
            continue
        for i, (row, cfgs) in enumerate(rows.items()):
            rank = SLICE_PRIORITY.index(row) if row in SLICE_PRIORITY else len(SLICE_PRIORITY) + i
            keyed += [((seed, rank), c.replace(tag=c.tag or row)) for seed, c in enumerate(cfgs)]
    out: dict[str, RunConfig] = {}
    for _, cfg in sorted(keyed, key=lambda kc: kc[0]):
        for c in cfg.stages():
            out.setdefault(c.run_id(), c)
    return list(out.values())


def profile_runs(profile: str, only: Optional[list[str]] = None) -> list[RunConfig]:
    """Every distinct run the notebooks of a profile train, stage-1 runs first."""
    return ordered_runs(profile_plans(profile, only))


def export_runs(profile: str, path: str | Path, only: Optional[list[str]] = None) -> list[RunConfig]:
    """Write a profile's runs as a run file (`{runs: [config, ...]}`) that `python -m ltlib.train` reads."""
    cfgs = profile_runs(profile, only)
    header = (f"# every distinct run of profile {profile} ({len(cfgs)}), stage-1 runs first; train with\n"
              f"#   python -m ltlib.train {Path(path).name} [--shard i/N]\n")
    atomic_write_text(Path(path), header + yaml.safe_dump({"profile": profile, "runs": [c.to_dict() for c in cfgs]},
                                                          sort_keys=False))
    return cfgs
