"""Engine-vs-minimal comparison tables (ltlib.checks) on synthetic numbers; the minimal loop on a tiny setting."""
from __future__ import annotations

import json

import pytest

from ltlib import checks

from conftest import needs_fmnist


def _minimal(accs, **parts):
    base = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": 300, "epochs": 2, "batch_size": 128,
            "lr": 0.1, "weight_decay": 2e-4, "milestones": [1], "gamma": 0.01, "precision": "bf16", **parts}
    return [{"seed": s, "acc": a, "per_class": [a, a], "parts": base} for s, a in enumerate(accs)]


def test_compare_says_whether_a_difference_is_beyond_the_noise():
    t = checks.compare({"far": ([80, 81, 79, 80], [70, 71, 69, 70]), "near": ([80, 82, 78], [79, 81, 80])})
    assert t.loc["far", "beyond noise"] and not t.loc["near", "beyond noise"]
    assert t.loc["far", "A − B"] == pytest.approx(10.0)


def test_swaps_compare_on_shared_seeds(tmp_path):
    base = _minimal([0.70, 0.72, 0.71, 0.69])
    swapped = {"crop=batch": _minimal([0.80, 0.82])}
    t = checks.swaps(base, swapped)
    assert t.loc["swap crop=batch", "A − B"] == pytest.approx(100 * (0.81 - 0.71))
    (tmp_path / "x.json").write_text(json.dumps(base))
    assert checks.load_minimal("x", tmp_path) == base and checks.load_minimal("missing", tmp_path) == []


@pytest.mark.slow
@needs_fmnist
def test_minimal_loops_run(tmp_path, monkeypatch):
    """Each minimal loop trains on a tiny setting and writes its result file."""
    from ltlib import minimal

    for method in ("bbn", "switching"):
        out = tmp_path / f"{method}.json"
        assert minimal.main([method, "--seeds", "0", "--out", str(out), "--swap", "epochs=2", "max_per_class=60",
                             "milestones=1", "switch_epoch=1", "imbalance_ratio=10"]) == 0
        r = json.loads(out.read_text())[0]
        assert 0 <= r["acc"] <= 1 and len(r["train_acc"]) == 2 and r["parts"]["epochs"] == 2
