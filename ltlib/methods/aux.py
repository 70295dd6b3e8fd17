"""To balance or not to balance: CBS main head + RRS auxiliary head (+ rotation) (Zhang et al., 2019)."""
from __future__ import annotations

from ltlib.methods.base import Method


class AuxMethod(Method):
    """Placeholder until the auxiliary-learning issue lands."""
