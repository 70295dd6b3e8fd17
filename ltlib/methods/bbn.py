"""BBN: bilateral-branch network with cumulative learning (Zhou et al., CVPR 2020)."""
from __future__ import annotations

from ltlib.methods.base import Method


class BBNMethod(Method):
    """Placeholder until the BBN issue lands."""
