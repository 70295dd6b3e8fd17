"""The GPU machine's one command, on a CPU with a tiny override: check, seed-by-seed waves, a tar of the runs."""
from __future__ import annotations

import json
import tarfile

import pytest

from ltlib import gpu_run
from ltlib.errors import ConfigError
from ltlib.runs import Run
from conftest import needs_fmnist

TINY = {"dataset": "fmnist", "max_per_class": 100, "imbalance_ratio": 10, "arch": "resnet8-narrow", "epochs": 2, "stage2_epochs": 1,
        "precision": "fp32", "batch_size": 32}


def test_waves_are_the_reports_recipes_seed_by_seed():
    waves = gpu_run.leaderboard_waves("paper-cifar10-ir100", seeds=3, override={"dataset": "fmnist"})
    assert len(waves) == 3 and all(len(w) == len(gpu_run.LEADERBOARD) for w in waves)
    assert [len({c.seed for c in w}) for w in waves] == [1, 1, 1]
    assert len({w[0].seed for w in waves}) == 3
    ce = waves[0][0]
    assert (ce.arch, ce.epochs, ce.precision, ce.max_per_class) == ("resnet32", 200, "bf16", None)


@needs_fmnist
def test_impossible_data_fails_before_any_training(tmp_path):
    with pytest.raises(ConfigError, match="no image"):
        gpu_run.run("paper-cifar10-ir100", tmp_path, ("CE",), seeds=1, device="cpu",
                    override={**TINY, "max_per_class": 20, "imbalance_ratio": 100}, runs_dir=str(tmp_path / "s"))
    assert not (tmp_path / "s").exists()


def test_bad_override_fails_before_any_work():
    with pytest.raises(ConfigError):
        gpu_run.leaderboard_waves("paper-cifar10-ir100", override={"archh": "resnet8"})
    with pytest.raises(ConfigError, match="inline mapping"):
        gpu_run.parse_override("[1, 2]")
    assert gpu_run.parse_override("{dataset: cifar10-jpeg}") == {"dataset": "cifar10-jpeg"}


@needs_fmnist
@pytest.mark.slow
def test_gpu_run_on_cpu_with_a_tiny_override(tmp_path):
    out, store = tmp_path / "out", tmp_path / "store"
    s = gpu_run.run("paper-cifar10-ir100", out, ("CE", "cRT", "BBN"), seeds=2, jobs=2, budget_min=10,
                    device="cpu", override=TINY, runs_dir=str(store))
    assert s["seeds_finished"] == 2 and all(r["finished"] for r in s["runs"].values())
    assert s["machine"]["auto_precision"] in ("bf16", "fp32") and "cpu_capability" in s["machine"]
    with tarfile.open(out / "runs.tar") as tar:
        tops = {m.name.split("/")[0] for m in tar.getmembers()}
    assert set(s["runs"]) <= tops and len(tops) == s["run_folders"]         # cRT's stage-1 CE is in it too
    assert json.loads((out / "gpu_run.json").read_text())["profile"] == "paper-cifar10-ir100"
    unpacked = tmp_path / "home"
    with tarfile.open(out / "runs.tar") as tar:
        tar.extractall(unpacked)
    assert all(Run(unpacked / h).finished for h in s["runs"])               # found by hash where it is unpacked


@needs_fmnist
@pytest.mark.slow
def test_gpu_run_stops_at_its_budget_and_still_writes_the_tar(tmp_path):
    out = tmp_path / "out"
    s = gpu_run.run("paper-cifar10-ir100", out, ("CE",), seeds=2, jobs=1, budget_min=0.02, device="cpu",
                    override={**TINY, "epochs": 50}, runs_dir=str(tmp_path / "store"))
    assert s["seeds_finished"] == 0 and (out / "runs.tar").exists()
