"""ltstudy: re-balancing methods for long-tailed recognition, reproduced in one place.

Importing the package fills the registries (ltlib.registry): datasets, samplers, backbones, heads, losses, the
methods of every paper and the study's named recipes.
"""
from ltlib import data, heads, losses, models, samplers, splits  # noqa: F401  (fill the registries)
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods import aux, base, bbn, mixup, reslt  # noqa: F401  (register the methods)
from ltlib import recipes  # noqa: F401,E402  (register the study's named recipes)

__all__ = ["ConfigError", "RunConfig", "__version__"]
__version__ = "0.2.0"
