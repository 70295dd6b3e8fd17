"""Notebook parameters: the `parameters` cell of each notebook, YAML parameter files, and their validation.

Every notebook declares the shared names (SHARED) with smoke-sized defaults; a parameter file for it may set
any declared name and nothing else. Values are checked here before any work starts.
"""
from __future__ import annotations

import ast
import dataclasses
import html
import json
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ltlib import registry
from ltlib.config import check_dataset_name
from ltlib.errors import ConfigError, check_type, closest
from ltlib.hardware import PRECISIONS
from ltlib.paths import NOTEBOOKS, PARAMS

@dataclass(frozen=True)
class Shared:
    """The names every notebook accepts (one parameter file can drive the whole study), typed, with their
    smoke-sized defaults stated once: each notebook's parameters cell declares the same (a test checks it; the
    exceptions are SMOKE_EXCEPTIONS)."""

    dataset: str = "fmnist"
    imbalance_ratio: float = 100.0
    data_root: Optional[str] = None
    image_root: Optional[str] = None
    run_fields: Optional[dict] = None
    max_per_class: Optional[int] = 300
    arch: str = "resnet8"
    epochs: int = 2
    batch_size: int = 128
    lr: float = 0.1
    seed: int = 0
    device: str = "auto"
    runs_dir: str = "outputs/runs"
    precision: str = "auto"

    @classmethod
    def of(cls, params: Any) -> "Shared":
        """The shared names of a notebook's validated parameters (a mapping or namespace), checked."""
        p = as_dict(params)
        hints = typing.get_type_hints(cls)
        out = cls(**{f.name: check_type(f.name, p.get(f.name, f.default), hints[f.name]) for f in fields(cls)})
        check_values(dataclasses.asdict(out))
        return out


# name -> type of every shared name
SHARED: dict[str, Any] = typing.get_type_hints(Shared)
# Notebooks whose smoke-sized default of a shared name differs from Shared's, and why.
SMOKE_EXCEPTIONS: dict[str, dict[str, Any]] = {
    "60_class_reversed_switching": {"epochs": 4},      # an IB epoch, the lr drop, and a switched epoch after it
    "50_aux_learning": {"batch_size": 64},             # k = B/Z classes of Z = 4 images: 16 on 10 classes
}

# What a profile's run_fields may state: a paper's optimisation and large-scale set-up, over every recipe's preset
# (the epochs are the notebook's own; sampler, loss and method stay each recipe's).
RUN_FIELD_NAMES = ("lr", "batch_size", "weight_decay", "momentum", "nesterov", "schedule", "milestones", "gamma",
                   "warmup_epochs", "warmup_start", "backbone_lr_mult", "pretrained", "image_size", "accum_steps",
                   "sync_bn", "head_init", "class_order_seed")

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


def notebook_path(notebook: str | Path) -> Path:
    """A notebook file from a path or a bare name ('30_bbn')."""
    path = Path(notebook)
    if not path.suffix:
        path = NOTEBOOKS / f"{path.name}.ipynb"
    if not path.exists():
        raise ConfigError(f"no notebook {path}")
    return path


def declared_params(notebook: str | Path) -> dict[str, tuple[Any, Any]]:
    """Parse a notebook's `parameters` cell: name -> (type, default)."""
    path = notebook_path(notebook)
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
    check_values(out)
    return out


def check_values(p: dict[str, Any]) -> None:
    """Value rules for the shared names and the common counts (before any work starts)."""
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
        registry.ARCHS.check(p["arch"])
    if "device" in p:
        dev = p["device"]
        if not (dev in ("auto", "cpu", "mps") or dev.startswith("cuda")):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {dev!r}")
    if "dataset" in p:
        check_dataset_name(p["dataset"])
    if p.get("run_fields") is not None:
        bad = [k for k in p["run_fields"] if k not in RUN_FIELD_NAMES]
        if bad:
            raise ConfigError(f"run_fields may set {', '.join(RUN_FIELD_NAMES)}; not {', '.join(map(str, bad))}"
                              f"{closest(str(bad[0]), RUN_FIELD_NAMES)}")
    if "precision" in p and p["precision"] not in PRECISIONS:
        raise ConfigError(f"precision must be 'auto', 'bf16' or 'fp32', got {p['precision']!r}")


class Params(types.SimpleNamespace):
    """A notebook's validated parameters; shown as one line naming the setting, the whole list folded below it."""

    def _repr_html_(self) -> str:
        d = vars(self)
        head = ", ".join(f"{k} {d[k]}" for k in ("dataset", "imbalance_ratio", "max_per_class", "arch", "epochs",
                                                   "seed", "precision") if k in d)
        rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(repr(v))}</code></td></tr>"
                       for k, v in d.items())
        return (f"<details><summary>Parameters: {html.escape(head)} (all {len(d)}: click)</summary>"
                f"<table>{rows}</table></details>")


def notebook_params(namespace: dict[str, Any], notebook: str) -> Params:
    """Validate a notebook's globals after papermill injection: unknown names and bad values raise."""
    given = {}
    for k, v in namespace.items():
        if k.startswith("_") or k in _IPYTHON_NAMES or isinstance(v, (types.ModuleType, type)) or callable(v):
            continue
        given[k] = v
    return Params(**validate_params(given, notebook))


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


def profiles() -> list[str]:
    """Profiles that have a params/ folder."""
    return sorted(p.name for p in PARAMS.iterdir() if p.is_dir())


def check_profile(profile: str) -> None:
    """An unknown profile is an error naming the closest one."""
    if profile not in profiles():
        raise ConfigError(f"unknown profile '{profile}'{closest(profile, profiles())}; have: {', '.join(profiles())}")


def profile_notebooks(profile: str) -> Optional[list[str]]:
    """The notebooks a profile runs when it names them in params/<profile>/notebooks.txt (one stem a line; the
    large-scale profiles run only the notebooks whose papers report that dataset), else None: every notebook."""
    f = PARAMS / profile / "notebooks.txt"
    if not f.exists():
        return None
    names = [ln.split("#")[0].strip() for ln in f.read_text().splitlines()]
    names = [n for n in names if n]
    have = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb"))
    for n in names:
        if n not in have:
            raise ConfigError(f"{f}: no notebook named {n}.ipynb{closest(n, have)}")
    return names


def profile_params(profile: str, notebook: str | Path) -> dict[str, Any]:
    """A notebook's parameters on a profile: its params/<profile>/<notebook>.yaml (if any) over the notebook's
    defaults, validated."""
    check_profile(profile)
    nb = notebook_path(notebook)
    pf = PARAMS / profile / f"{nb.stem}.yaml"
    return validate_params(check_param_file(pf, nb) if pf.exists() else {}, nb)


def as_dict(params: Any) -> dict[str, Any]:
    """A copy of a notebook's parameters (SimpleNamespace or mapping) as a dict."""
    return dict(params) if isinstance(params, dict) else dict(vars(params))
