"""Run hashes are pinned: every config each notebook's own plan (ltlib.plans) holds on the smoke and quick profiles
keeps its hash, so a refactor cannot silently change a result (a stored run would no longer be found) and a change
of protocol must say so by updating tests/data/run_hashes.json in the same commit (`python tests/test_run_hashes.py`
rewrites it)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltlib.plans import profile_plans

PINNED = Path(__file__).parent / "data" / "run_hashes.json"


def nb_configs(profile: str) -> dict[str, dict[str, str]]:
    """notebook -> 'section/row/i' (and '.../stageK' for its stage-1 ancestors) -> run hash, from each plan."""
    out: dict[str, dict[str, str]] = {}
    for nb, plan in profile_plans(profile).items():
        for section, rows in plan.items():
            for row, cfgs in rows.items():
                for i, cfg in enumerate(cfgs):
                    chain = cfg.stages()[::-1]              # the config itself first, then its stage-1 ancestors
                    for k, c in enumerate(chain):
                        name = "+".join(map(str, row)) if isinstance(row, tuple) else row
                        key = f"{section}/{name}/{i}" + ("" if k == 0 else f"/stage{len(chain) - k}")
                        out.setdefault(nb, {})[key] = c.run_id()
    return out


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_run_hashes_are_pinned(profile, native_bf16):
    pinned = json.loads(PINNED.read_text())[profile]
    assert nb_configs(profile) == pinned


if __name__ == "__main__":                                   # re-pin (a deliberate protocol change only)
    from ltlib import hardware

    hardware.cpu_bf16_native = lambda: True                  # as the pins were made: auto -> bf16
    PINNED.write_text(json.dumps({p: nb_configs(p) for p in ("smoke", "quick")}, indent=1, sort_keys=True) + "\n")
