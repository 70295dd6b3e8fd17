"""Shared fixtures: a tiny synthetic image-folder dataset so tests never need a download."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ltlib.data import find_dataset
from ltlib.paths import RUNS


def _store_state() -> dict[str, int]:
    """outputs/runs as it is: every file under it and its modification time."""
    return {str(p.relative_to(RUNS)): p.stat().st_mtime_ns for p in RUNS.rglob("*") if p.is_file()} \
        if RUNS.exists() else {}


_STORE_AT_START = _store_state()


def pytest_sessionfinish(session, exitstatus):
    """The test command leaves the user's run store as it was: a test session that wrote to outputs/runs fails."""
    after = _store_state()
    if after != _STORE_AT_START:
        changed = sorted(set(after.items()) ^ set(_STORE_AT_START.items()))[:5]
        print(f"\nFAILED: the tests changed outputs/runs (e.g. {[k for k, _ in changed]}); train into a temporary "
              f"run store (LTSTUDY_RUNS, runs_dir=tmp_path) instead")
        session.exitstatus = 1


def have_fmnist() -> bool:
    try:
        find_dataset("fmnist")
        return True
    except Exception:  # noqa: BLE001
        return False


needs_fmnist = pytest.mark.skipif(not have_fmnist(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """root/train/<class>/*.png and root/test/<class>/*.png: 4 classes of 8x8 RGB images, learnable."""
    from PIL import Image

    root = tmp_path_factory.mktemp("tiny") / "tinyset"
    rng = np.random.RandomState(0)
    for split, n in (("train", 60), ("test", 10)):
        for c in range(4):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.randint(0, 60, (8, 8, 3)).astype(np.uint8)
                img[:, :, c % 3] += 150 if c < 3 else 0
                if c == 3:
                    img += 120
                Image.fromarray(img).save(d / f"{i:03d}.png")
    return root


@pytest.fixture()
def tiny_cfg(tiny_folder, tmp_path):
    """A few-second run config on the tiny folder."""
    from ltlib.config import RunConfig

    return RunConfig(dataset=str(tiny_folder), imbalance_ratio=10, arch="resnet8-narrow", epochs=3,
                     batch_size=32, lr=0.05, warmup_epochs=0, val_per_class=5, precision="fp32")


@pytest.fixture()
def native_bf16(monkeypatch):
    """This CPU as one with AVX-512 BF16 / AMX, whatever it is: `precision: auto` resolves to bf16 (the pinned
    hashes of the study's runs were made on such a machine)."""
    from ltlib import hardware

    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: True)
    monkeypatch.setattr(hardware, "default_device", lambda: __import__("torch").device("cpu"))


@pytest.fixture()
def emulated_bf16(monkeypatch):
    """This CPU as an AVX2-only one, whatever it is: bf16 emulated, `precision: auto` resolves to fp32."""
    from ltlib import hardware

    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: False)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(hardware, "default_device", lambda: __import__("torch").device("cpu"))
    monkeypatch.setattr(hardware, "_warned", set())


# A small file a user could write, with every shared name (bar the run store and precision) at a value that is not
# its default. Every notebook is executed once on such values: tests/test_paper_profiles.py lays them over a paper
# profile's files (the one execution a notebook gets besides nbval's of its own defaults). IR 8 with at most 8
# images per class: the largest ratio that leaves every class an image.
SMALL_FILE = {"dataset": "fmnist", "imbalance_ratio": 8, "data_root": None, "max_per_class": 8, "arch": "resnet8",
              "epochs": 2, "batch_size": 16, "lr": 0.05, "seed": 1, "device": "cpu"}
