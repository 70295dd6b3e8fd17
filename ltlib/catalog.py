"""The study's rows, named once: the leaderboard's recipes, CE on a balanced set, the claims the report judges and
every method they name, the key claims' methods, and the published setting differences are read against. Planning
(plans, regimes), the ladder and the report all read these; nothing here imports either side."""
from __future__ import annotations

from typing import Sequence

from ltlib import claims as cl

# Leaderboard rows: the study's named recipes (registry keys) in this order.
LEADERBOARD: list[str] = ["CE", "RW", "RS", "Focal", "CB-Focal", "LDAM-DRW", "CE-DRW", "CE-DRS", "cRT", "LWS", "BBN",
                          "ResLT", "aux", "switching"]

# The five papers' claims that the report judges on the study's recipes (stated in ltlib.claims).
CLAIMS: list[cl.Claim] = cl.STUDY

BALANCED = "CE-balanced"     # CE on a balanced training set of the long-tailed set's size: relative accuracy's reference

PAPER_SETTING = ("cifar10", 100)           # the published column a measured difference is shown beside

# The methods of the key claims (BBN, cRT and IB→CR against CE, RS's trade, IB→CR against cRT and BBN): the confound
# settings train only these, and a per-class plot draws at most these five lines.
KEY_METHODS: tuple[str, ...] = ("CE", "cRT", "RS", "BBN", "switching")


def claim_keys(claims: Sequence[cl.Claim]) -> list[str]:
    """Every method key a list of claims names (A and B of every part), in order."""
    out: list[str] = []

    def walk(c: cl.Claim) -> None:
        for k in ([c.a] if c.a else []) + (cl.b_keys(c.b) if c.b else []):
            if k and k not in out:
                out.append(k)
        for p in c.parts:
            walk(p)
    for c in claims:
        walk(c)
    return out


# The ladder's rows: the leaderboard's methods, every method a report claim names, and CE on a balanced set.
METHODS: list[str] = list(dict.fromkeys([*LEADERBOARD, *claim_keys(CLAIMS), BALANCED]))
