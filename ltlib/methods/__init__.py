"""Registry of training recipes; each paper's parts live in one module here."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ltlib.methods.aux import AuxMethod
from ltlib.methods.base import Batch, Method, PlainMethod, sampler_at
from ltlib.methods.bbn import BBNMethod
from ltlib.methods.reslt import ResLTMethod

if TYPE_CHECKING:
    from ltlib.config import RunConfig
    from ltlib.data import LTData

METHODS: dict[str, type[Method]] = {
    "plain": PlainMethod,
    "bbn": BBNMethod,
    "reslt": ResLTMethod,
    "aux": AuxMethod,
}


def register(name: str, cls: type[Method]) -> None:
    """Add a method to the registry (each paper module calls this once)."""
    METHODS[name] = cls


def build_method(cfg: "RunConfig", data: "LTData") -> Method:
    """Method object for a run config."""
    from ltlib.config import check_name

    check_name("method", cfg.method, METHODS)
    return METHODS[cfg.method](cfg, data)


__all__ = ["Batch", "Method", "PlainMethod", "METHODS", "build_method", "register", "sampler_at"]
