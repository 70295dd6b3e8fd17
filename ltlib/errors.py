"""User errors and the checks that raise them: the leaf every other module may import."""
from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Iterable, Union


class ConfigError(ValueError):
    """A user error in parameters or data: one line that says what to change."""


class RunStoreError(ConfigError):
    """The runs folder cannot be written (read-only, disk full, ...)."""


def closest(name: str, valid: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest valid name, or ''."""
    match = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def check_name(kind: str, name: str, registry: Iterable[str]) -> None:
    """Raise a ConfigError for a name that is not in a registry."""
    names = sorted(registry)
    if name not in names:
        raise ConfigError(f"unknown {kind} '{name}'{closest(name, names)}; choose one of {', '.join(names)}")


def require(ok: bool, msg: str) -> None:
    """Raise ConfigError(msg) unless ok."""
    if not ok:
        raise ConfigError(msg)


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
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_type(name, value, arg)
            except ConfigError:
                pass
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


def check_fields(obj: Any) -> None:
    """check_type every field of a dataclass instance against its annotation (converting ints to floats)."""
    import dataclasses

    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        setattr(obj, f.name, check_type(f.name, getattr(obj, f.name), hints[f.name]))
