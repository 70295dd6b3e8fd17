"""ResLT: residual learning in parameter space for long-tailed recognition (Cui et al.)."""
from __future__ import annotations

from ltlib.methods.base import Method


class ResLTMethod(Method):
    """Placeholder until the ResLT issue lands."""
