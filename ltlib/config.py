"""Run configuration: one dataclass that fixes a training run, strict validation, and its hash."""
from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml


class ConfigError(ValueError):
    """A user error in parameters or data: one line that says what to change."""


def closest(name: str, valid: typing.Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest valid name, or ''."""
    match = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_type(name: str, value: Any, tp: Any) -> Any:
    """Check value against a type annotation; ints are accepted (and converted) where floats are."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_type(name, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"parameter '{name}' must be {' or '.join(_type_name(a) for a in args)}, "
                          f"got {type(value).__name__} {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"parameter '{name}' must be a list, got {type(value).__name__} {value!r}")
        (inner,) = typing.get_args(tp)[:1] or (Any,)
        return [check_type(f"{name}[{i}]", v, inner) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"parameter '{name}' must be a mapping, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"parameter '{name}' must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"parameter '{name}' must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"parameter '{name}' must be true or false, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"parameter '{name}' must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def _require(ok: bool, msg: str) -> None:
    if not ok:
        raise ConfigError(msg)


def check_name(kind: str, name: str, registry: typing.Iterable[str]) -> None:
    """Raise a ConfigError for a name that is not in a registry."""
    names = sorted(registry)
    if name not in names:
        raise ConfigError(f"unknown {kind} '{name}'{closest(name, names)}; choose one of {', '.join(names)}")


# Fields that do not change a run's result: kept out of its hash (SPEC §7).
HASH_EXCLUDE = {"tag", "data_root"}


@dataclass
class RunConfig:
    """Everything that fixes the result of one training run."""

    # data
    dataset: str = "fmnist"                 # fmnist | cifar10 | cifar100 | cifar10-jpeg | path to an image folder
    imbalance_ratio: float = 100.0          # n_max / n_min of the long-tailed training set
    max_per_class: Optional[int] = None     # cap on n_max for quick runs (None = full)
    lt_seed: int = 0                        # seed of the per-class subset selection (SPEC §1)
    val_per_class: int = 20                 # balanced held-out split from unused training images
    data_root: Optional[str] = None         # where datasets are looked for first (not hashed)
    # model
    arch: str = "resnet8"                   # see ltlib.models.ARCHS
    head: str = "linear"                    # see ltlib.heads.HEADS
    # optimisation
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    nesterov: bool = False
    warmup_epochs: int = 5                  # linear warm-up, lr*(e+1)/W for epoch e < W
    warmup_start: float = 0.0               # 0: LDAM-style warm-up; 1/3: BBN's official code
    schedule: str = "multistep"             # multistep | cosine | constant
    milestones: list[int] = field(default_factory=list)  # 0-based epochs from which lr *= gamma
    gamma: float = 0.1
    # sampling and loss
    sampler: str = "ib"                     # see ltlib.samplers.SAMPLERS
    sampler_switch: list[list] = field(default_factory=list)  # [[epoch, sampler], ...] switches (DRS, IB->CR)
    loss: str = "ce"                        # see ltlib.losses.LOSSES
    loss_weights: str = "none"              # none | rw (1/n) | cb (effective number)
    reweight_from: int = 0                  # epoch from which loss_weights apply (DRW)
    focal_gamma: float = 1.0
    cb_beta: float = 0.9999
    ldam_max_m: float = 0.5
    ldam_s: float = 30.0
    # method and two-stage training
    method: str = "plain"                   # see ltlib.methods.METHODS
    method_args: dict = field(default_factory=dict)
    init_from: Optional[dict] = None        # stage-1 RunConfig (as dict) whose weights start this run
    train_parts: str = "all"                # all | classifier | last_block | lws
    reinit_head: bool = True                # fresh classifier when init_from is set
    backbone_lr_mult: float = 1.0           # lr factor of the backbone (B+C at lr x 0.1)
    # other
    augment: bool = True                    # random crop with padding + horizontal flip
    precision: str = "bf16"                 # bf16 autocast | fp32
    eval_every: int = 1
    seed: int = 0
    tag: str = ""                           # free label for tables (not hashed)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check types and values; raise ConfigError naming the bad field."""
        hints = typing.get_type_hints(RunConfig)
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_type(f.name, getattr(self, f.name), hints[f.name]))
        from ltlib import heads, losses, methods, models, samplers

        _require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _require(self.imbalance_ratio >= 1, f"imbalance_ratio must be >= 1, got {self.imbalance_ratio}")
        _require(self.max_per_class is None or self.max_per_class >= 1,
                 f"max_per_class must be None or >= 1, got {self.max_per_class}")
        _require(self.val_per_class >= 0, f"val_per_class must be >= 0, got {self.val_per_class}")
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _require(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        _require(self.backbone_lr_mult >= 0, f"backbone_lr_mult must be >= 0, got {self.backbone_lr_mult}")
        _require(0 <= self.reweight_from, f"reweight_from must be >= 0, got {self.reweight_from}")
        _require(0 < self.cb_beta < 1, f"cb_beta must be in (0, 1), got {self.cb_beta}")
        check_name("schedule", self.schedule, ["multistep", "cosine", "constant"])
        check_name("loss_weights", self.loss_weights, ["none", "rw", "cb"])
        check_name("precision", self.precision, ["bf16", "fp32"])
        check_name("train_parts", self.train_parts, ["all", "classifier", "last_block", "lws"])
        check_name("arch", self.arch, models.ARCHS)
        check_name("head", self.head, heads.HEADS)
        check_name("loss", self.loss, losses.LOSSES)
        check_name("method", self.method, methods.METHODS)
        methods.METHODS[self.method].parse_args(self.method_args)
        check_name("sampler", self.sampler, samplers.SAMPLERS)
        for m in self.milestones:
            _require(0 <= m, f"milestones must be >= 0, got {self.milestones}")
        for item in self.sampler_switch:
            _require(isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], int),
                     f"sampler_switch entries must be [epoch, sampler], got {item!r}")
            check_name("sampler", item[1], samplers.SAMPLERS)
        if self.init_from is not None:
            RunConfig.from_dict(self.init_from)
        elif self.train_parts != "all":
            raise ConfigError(f"train_parts={self.train_parts!r} needs init_from (a stage-1 run to start from)")
        if self.dataset.lower() != self.dataset and "/" not in self.dataset:
            self.dataset = self.dataset.lower()
        if not any(c in self.dataset for c in "/\\") and not self.dataset.startswith("."):
            from ltlib.data import check_dataset_name

            check_dataset_name(self.dataset)                # names now; a folder path when its data load

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Build from a mapping; unknown keys are an error that names the closest valid key."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a mapping, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        for k in d:
            if k not in names:
                raise ConfigError(f"unknown parameter '{k}'{closest(k, names)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of every field."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with some fields changed (validated)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})

    def hash_dict(self) -> dict[str, Any]:
        """The fields that change the result; a path dataset counts by its folder name only."""
        d = {k: v for k, v in self.to_dict().items() if k not in HASH_EXCLUDE}
        if "/" in d["dataset"] or "\\" in d["dataset"]:
            d["dataset"] = Path(d["dataset"].rstrip("/")).name
        if d["init_from"] is not None:
            d["init_from"] = RunConfig.from_dict(d["init_from"]).run_id()
        return d

    def run_id(self) -> str:
        """Short stable hash of everything that changes the result (not device, paths or progress)."""
        blob = json.dumps(self.hash_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- notebook parameters (SPEC §7)

# Names every training notebook shares, with their types.
COMMON_PARAMS: dict[str, Any] = {
    "dataset": str, "imbalance_ratio": float, "data_root": Optional[str], "max_per_class": Optional[int],
    "arch": str, "epochs": int, "batch_size": int, "lr": float, "seed": int, "device": str,
    "runs_dir": str,
}

_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def _eval_annotation(node: ast.expr | None) -> Any:
    if node is None:
        return Any
    if isinstance(node, ast.Constant) and isinstance(node.value, str):   # quoted: "Optional[int]"
        src = node.value
    else:
        src = ast.unparse(node)
    env = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict,
           "Optional": Optional, "Union": Union, "Any": Any, "None": None}
    return eval(src, env)  # noqa: S307 - annotations of our own notebooks' parameters cells


def declared_params(notebook: str | Path) -> dict[str, tuple[Any, Any]]:
    """Parse a notebook's `parameters` cell: name -> (type, default)."""
    from ltlib.paths import NOTEBOOKS

    path = Path(notebook)
    if not path.suffix:
        path = NOTEBOOKS / f"{path.name}.ipynb"
    if not path.exists():
        raise ConfigError(f"no notebook {path}")
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ConfigError(f"{path.name} has no cell tagged 'parameters'")
    src = "".join(cells[0]["source"])
    out: dict[str, tuple[Any, Any]] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = (_eval_annotation(node.annotation), ast.literal_eval(node.value))
        elif isinstance(node, ast.Assign):
            value = ast.literal_eval(node.value)
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = (type(value) if value is not None else Any, value)
    return out


def validate_params(params: dict[str, Any], notebook: str | Path) -> dict[str, Any]:
    """Check a parameter mapping against a notebook's parameters cell and the shared value rules."""
    declared = declared_params(notebook)
    for k in params:
        if k not in declared:
            raise ConfigError(f"unknown parameter '{k}' for {Path(notebook).stem}{closest(k, declared)}")
    out = {k: check_type(k, params.get(k, default), tp) for k, (tp, default) in declared.items()}
    _check_common_values(out)
    return out


def _check_common_values(p: dict[str, Any]) -> None:
    """Value rules for the SPEC §7 names (before any work starts)."""
    from ltlib import models

    for name in ("epochs", "batch_size", "stage2_epochs", "n_seeds", "K"):
        if name in p and p[name] is not None and p[name] < 1:
            raise ConfigError(f"{name} must be >= 1, got {p[name]}")
    if "lr" in p and p["lr"] <= 0:
        raise ConfigError(f"lr must be > 0, got {p['lr']}")
    if "imbalance_ratio" in p and p["imbalance_ratio"] < 1:
        raise ConfigError(f"imbalance_ratio must be >= 1, got {p['imbalance_ratio']}")
    if p.get("max_per_class") is not None and p["max_per_class"] < 1:
        raise ConfigError(f"max_per_class must be None or >= 1, got {p['max_per_class']}")
    if "arch" in p:
        check_name("arch", p["arch"], models.ARCHS)
    if "device" in p:
        dev = p["device"]
        if not (dev in ("auto", "cpu", "mps") or dev.startswith("cuda")):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {dev!r}")
    if "dataset" in p:
        from ltlib.data import check_dataset_name

        check_dataset_name(p["dataset"])


def notebook_params(namespace: dict[str, Any], notebook: str) -> types.SimpleNamespace:
    """Validate a notebook's globals after papermill injection: unknown names and bad values raise."""
    given = {}
    for k, v in namespace.items():
        if k.startswith("_") or k in _IPYTHON_NAMES or isinstance(v, (types.ModuleType, type)) or callable(v):
            continue
        given[k] = v
    return types.SimpleNamespace(**validate_params(given, notebook))


def load_param_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML parameter file that must hold a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"parameter file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text (UTF-8) YAML file") from None
    except OSError as e:
        raise ConfigError(f"cannot read parameter file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of parameter: value, got {type(data).__name__}")
    return data


def notebook_for(param_file: str | Path) -> Path:
    """The notebook a parameter file targets: params/<profile>/<notebook-stem>.yaml."""
    from ltlib.paths import NOTEBOOKS

    stem = Path(param_file).stem
    nb = NOTEBOOKS / f"{stem}.ipynb"
    if not nb.exists():
        names = [p.stem for p in NOTEBOOKS.glob("*.ipynb")]
        raise ConfigError(f"{param_file}: no notebook named {stem}.ipynb{closest(stem, names)}")
    return nb


def check_param_file(path: str | Path, notebook: str | Path | None = None) -> dict[str, Any]:
    """Validate one parameter file against the notebook it targets; return the file's own keys, validated."""
    nb = Path(notebook) if notebook else notebook_for(path)
    params = load_param_file(path)
    try:
        validated = validate_params(params, nb)
        return {k: validated[k] for k in params}
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def base_config(params: Any, schedule: str = "ldam", **changes: Any) -> RunConfig:
    """A RunConfig from a notebook's validated parameters (SPEC §7 names), a schedule preset and changes.

    The notebook's batch_size and lr override the preset's; epochs scale the preset's milestones.
    """
    from ltlib.schedules import preset

    p = vars(params) if not isinstance(params, dict) else params
    fields = {"dataset", "imbalance_ratio", "max_per_class", "arch", "seed", "data_root", "batch_size", "lr",
              "eval_every"}
    d = preset(schedule, p.get("epochs", 200))
    d.update({k: p[k] for k in fields if k in p})
    d.update(changes)
    return RunConfig.from_dict(d)


def ablation_size(params: Any, max_per_class: Optional[int], epochs: Optional[int]) -> dict[str, Any]:
    """Params at an ablation size (None: the notebook's); smaller runs are evaluated at their last epoch only."""
    p = dict(params) if isinstance(params, dict) else dict(vars(params))
    size = {"max_per_class": p.get("max_per_class") if max_per_class is None else max_per_class,
            "epochs": p.get("epochs", 200) if epochs is None else epochs}
    extra = {} if all(size[k] == p.get(k) for k in size) else {"eval_every": size["epochs"]}
    p.update(size)
    return {"params": p, "changes": extra}
