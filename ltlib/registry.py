"""Name -> builder registries (as timm's): modules fill them when imported, config looks names up in them.

`ltlib/__init__.py` imports every module that registers, so a registry is complete once `ltlib` is
imported, and nothing that checks a name has to import the code behind it.
"""
from __future__ import annotations

from typing import Any, Optional, TypeVar

from ltlib.errors import check_name

T = TypeVar("T")


class Registry(dict):
    """A plain dict of name -> builder with a kind for error messages."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, obj: Optional[T] = None) -> Any:
        """Add obj under name; without obj, a decorator that does."""
        def add(o: T) -> T:
            self[name] = o
            return o
        return add(obj) if obj is not None else add

    def check(self, name: str) -> None:
        """Raise ConfigError naming the closest valid name if name is not registered."""
        check_name(self.kind, name, self)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the builder registered under name."""
        self.check(name)
        return self[name](*args, **kwargs)


ARCHS: Registry = Registry("arch")               # arch -> fn(in_channels) -> backbone      (ltlib.models)
HEADS: Registry = Registry("head")               # head -> cls(in_dim, num_classes)         (ltlib.heads)
LOSSES: Registry = Registry("loss")              # loss -> cls(counts, **kw)                (ltlib.losses)
SAMPLERS: Registry = Registry("sampler")         # sampler -> fn(labels, num_classes)       (ltlib.samplers)
METHODS: Registry = Registry("method")           # method -> Method subclass                (ltlib.methods.*)
DATASETS: Registry = Registry("dataset")         # dataset -> DatasetInfo                   (ltlib.data)
RECIPES: Registry = Registry("study method")     # recipe key -> fn(params, **changes) -> RunConfig (ltlib.recipes)
