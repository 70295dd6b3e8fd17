"""How a recipe becomes a RunConfig: a notebook's shared parameters + a paper's schedule preset + changes."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Optional

from ltlib.config import RunConfig
from ltlib.data import make_long_tailed
from ltlib.params import as_dict
from ltlib.schedules import preset

# Notebook parameters that go into every run config as they are.
RUN_FIELDS = ("dataset", "imbalance_ratio", "max_per_class", "arch", "seed", "data_root", "batch_size", "lr",
              "eval_every", "precision")


def base_config(params: Any, schedule: str = "ldam", **changes: Any) -> RunConfig:
    """A RunConfig from a notebook's validated parameters (shared names), a schedule preset and changes.

    The notebook's batch_size and lr override the preset's; epochs scale the preset's milestones.
    """
    p = as_dict(params)
    d = preset(schedule, p.get("epochs", 200))
    d.update({k: p[k] for k in RUN_FIELDS if k in p})
    d.update(changes)
    return RunConfig.from_dict(d)


def ablation_size(params: Any, max_per_class: Optional[int], epochs: Optional[int]) -> dict[str, Any]:
    """Params at an ablation size (None: the notebook's); smaller runs are evaluated at their last epoch only."""
    p = as_dict(params)
    size = {"max_per_class": p.get("max_per_class") if max_per_class is None else max_per_class,
            "epochs": p.get("epochs", 200) if epochs is None else epochs}
    extra = {} if all(size[k] == p.get(k) for k in size) else {"eval_every": size["epochs"]}
    p.update(size)
    return {"params": p, "changes": extra}


def non_default(args_cls: type, args: dict[str, Any]) -> dict[str, Any]:
    """method_args without the keys at their dataclass default, so equal settings give equal run hashes."""
    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(args_cls)}
    return {k: v for k, v in args.items() if k not in defaults or defaults[k] != v}


def check_data(cfgs: Iterable[RunConfig]) -> None:
    """Build each distinct long-tailed data set the configs (and their stage-1 runs) train on, so that an impossible
    data setting (e.g. a class left with no image) is one clear error before the first training step."""
    seen = set()
    todo = list(cfgs)
    while todo:
        c = todo.pop()
        if c.init_from is not None:
            todo.append(RunConfig.from_dict(c.init_from))
        key = (c.dataset, c.imbalance_ratio, c.max_per_class, c.lt_seed, c.val_per_class, c.data_root)
        if key not in seen:
            seen.add(key)
            make_long_tailed(*key)
