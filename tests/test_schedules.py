"""Schedule presets: each comment's numbers are the preset's values (docs/protocol.md §4.0)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ltlib import schedules
from ltlib.config import RunConfig
from ltlib.schedules import OURS, PRESETS, lr_at, preset

SOURCE = Path(schedules.__file__).read_text()


def _comment(name: str) -> str:
    """The comment lines just above a preset's entry."""
    lines = SOURCE[:SOURCE.index(f'    "{name}": dict(')].splitlines()
    out = []
    for line in reversed(lines):
        if not line.strip().startswith("#"):
            break
        out.append(line.strip("# "))
    return " ".join(reversed(out))


def _lrs(name: str) -> list[float]:
    cfg = RunConfig(**preset(name, 200))
    return [lr_at(cfg, e) for e in range(200)]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_comment_numbers_are_the_values(name):
    """Every 'xF at E' and 'wd W' in a preset's comment holds for its values on 200 epochs (F per step, or
    relative to the base lr as in LDAM's 'x0.01 at 160, x0.0001 at 180')."""
    text, p = _comment(name), PRESETS[name]
    assert text, f"preset {name} has no comment"
    lrs, base = _lrs(name), p["lr"]
    for factor, epochs in re.findall(r"x([0-9.]+) at ([0-9]+(?: and [0-9]+)?)", text):
        for e in (int(x) for x in epochs.split(" and ")):
            step, total = lrs[e] / lrs[e - 1], lrs[e] / base
            assert step == pytest.approx(float(factor)) or total == pytest.approx(float(factor)), (name, e, text)
    for wd in re.findall(r"wd ([0-9.e-]+)", text):
        assert p["weight_decay"] == pytest.approx(float(wd)), (name, text)


def test_unified_is_x01_steps_not_the_ldam_factor():
    lrs = _lrs("unified")
    assert lrs[159] == pytest.approx(0.1) and lrs[160] == pytest.approx(0.01) and lrs[180] == pytest.approx(0.001)
    assert "LDAM one" not in _comment("unified")


def test_aux_says_what_is_the_papers_and_what_is_ours():
    text = _comment("aux")
    assert PRESETS["aux"]["schedule"] == "cosine" and "cosine" in text and "§4.4" in text
    assert set(OURS["aux"]) == {"lr", "batch_size", "momentum", "weight_decay", "warmup_epochs"}
    assert "ours" in text and "gives no CIFAR" in text
