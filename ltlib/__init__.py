"""ltstudy: re-balancing methods for long-tailed recognition, reproduced in one place."""
from ltlib.config import ConfigError, RunConfig

__all__ = ["ConfigError", "RunConfig", "__version__"]
__version__ = "0.1.0"
