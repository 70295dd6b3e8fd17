"""How a recipe becomes a RunConfig: a notebook's shared parameters + a paper's schedule preset + changes."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, Optional

import pandas as pd

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.hardware import resolve_precision
from ltlib.inference import load_data
from ltlib.methods.base import build_method
from ltlib.params import Shared, as_dict
from ltlib.schedules import preset

# Notebook parameters that go into every run config as they are.
RUN_FIELDS = ("dataset", "imbalance_ratio", "max_per_class", "arch", "seed", "data_root", "batch_size", "lr",
              "eval_every", "precision", "image_root")


def base_config(params: Any, schedule: str = "ldam", **changes: Any) -> RunConfig:
    """A RunConfig from a notebook's validated parameters (shared names), a schedule preset and changes.

    The notebook's batch_size and lr override the preset's; epochs scale the preset's milestones. A large-scale
    profile's `run_fields` (the paper's official schedule, stated in full) override both and every change of the
    recipe's optimisation, so each run of the notebook trains on that paper's schedule.
    """
    p, s = as_dict(params), Shared.of(params)
    d = preset(schedule, s.epochs)
    d.update({k: p[k] for k in RUN_FIELDS if k in p and (k != "image_root" or p[k] is not None)})
    d["precision"] = resolve_precision(s.precision, s.device)
    d.update(changes)
    d.update(s.run_fields or {})
    return RunConfig.from_dict(d)


def ablation_size(params: Any, max_per_class: Optional[int], epochs: Optional[int]) -> dict[str, Any]:
    """Params at an ablation size (None: the notebook's), never larger than the profile's own max_per_class; smaller
    runs are evaluated at their last epoch only."""
    p, s = as_dict(params), Shared.of(params)
    if max_per_class is not None and s.max_per_class is not None:
        max_per_class = min(max_per_class, s.max_per_class)
    size = {"max_per_class": s.max_per_class if max_per_class is None else max_per_class,
            "epochs": s.epochs if epochs is None else epochs}
    extra = {} if all(size[k] == p.get(k) for k in size) else {"eval_every": size["epochs"]}
    p.update(size)
    return {"params": p, "changes": extra}


def non_default(args_cls: type, args: dict[str, Any]) -> dict[str, Any]:
    """method_args without the keys at their dataclass default, so equal settings give equal run hashes."""
    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(args_cls)}
    return {k: v for k, v in args.items() if k not in defaults or defaults[k] != v}


# ---- a notebook's whole plan: every run config of every cell, built and checked before any training

Rows = dict[str, list[RunConfig]]                 # row name -> configs (one per seed)


class Plan(Mapping[str, Rows]):
    """A notebook's whole plan: section -> row -> configs (one per seed), with notes on what was scaled or skipped
    and `info` (the sizes and schedule choices its cells print). Read as a mapping of sections; every transformation
    (an export, a regime) is `map`, written once."""

    def __init__(self, sections: dict[str, Rows], notes: Optional[list[str]] = None,
                 info: Optional[dict[str, Any]] = None) -> None:
        self.sections = {k: dict(v) for k, v in sections.items()}
        self.notes = list(notes or [])
        self.info = dict(info or {})

    def __getitem__(self, section: str) -> Rows:
        return self.sections[section]

    def __iter__(self) -> Iterator[str]:
        return iter(self.sections)

    def __len__(self) -> int:
        return len(self.sections)

    def __repr__(self) -> str:
        return f"Plan({', '.join(f'{k}: {len(v)} rows' for k, v in self.sections.items())})"

    def first(self, section: str) -> dict[str, RunConfig]:
        """Row -> its first config: the one-seed sections (ablations) as plain configs."""
        return {k: cs[0] for k, cs in self.sections[section].items()}

    def map(self, fn: Callable[[RunConfig], RunConfig]) -> "Plan":
        """The same plan with every config passed through fn (its rows, notes and info kept)."""
        return Plan({s: {k: [fn(c) for c in cs] for k, cs in rows.items()} for s, rows in self.sections.items()},
                    self.notes, self.info)

    def distinct_runs(self) -> dict[str, tuple[str, str, RunConfig]]:
        """Every distinct run (stage-1 ancestors included), by hash: (section, row, config) of its first use."""
        out: dict[str, tuple[str, str, RunConfig]] = {}
        for section, rows in self.sections.items():
            for name, cfgs in rows.items():
                for cfg in (c for top in cfgs for c in top.stages()):
                    out.setdefault(cfg.run_id(), (section, name, cfg))
        return out

    def check(self) -> int:
        """Build the method and model of every distinct run on its data; the number of distinct runs.

        A combination that cannot run (an arch without hidden states for Manifold Mixup, the authors' ResLT split
        on a dataset with another number of classes, a data size too small to draw from) fails here, naming the
        row, before any training starts.
        """
        data: dict[tuple, Any] = {}
        runs = self.distinct_runs()
        for section, name, cfg in runs.values():
            key = (cfg.dataset, cfg.imbalance_ratio, cfg.max_per_class, cfg.lt_seed, cfg.val_per_class, cfg.data_root,
                   cfg.class_order_seed)
            try:
                if key not in data:
                    data[key] = load_data(cfg)
                build_method(cfg, data[key]).build_model()
            except ConfigError as e:
                raise ConfigError(f"plan row '{section} / {name}' cannot run: {e}") from None
        return len(runs)

    def summary(self) -> pd.DataFrame:
        """One row per section: rows, distinct runs, seeds, data size (n_max), epochs and backbones."""
        out = []
        for section, rows in self.sections.items():
            cfgs = [c for cs in rows.values() for c in cs]
            out.append({"section": section, "rows": len(rows), "runs": len({c.run_id() for c in cfgs}),
                        "seeds": len({c.seed for c in cfgs}),
                        "n_max": ", ".join(sorted({str(c.max_per_class or "full") for c in cfgs})),
                        "epochs": ", ".join(str(e) for e in sorted({c.epochs for c in cfgs})),
                        "arch": ", ".join(sorted({c.arch for c in cfgs}))})
        return pd.DataFrame(out).set_index("section")


def check_data(cfgs: Iterable[RunConfig]) -> None:
    """Plan.check for a flat list of configs: each run's data, method and model built before the first step."""
    Plan({"runs": {f"{c.tag or c.method} ({c.run_id()})": [c] for c in cfgs}}).check()
