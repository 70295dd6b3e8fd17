"""Runs longer than a budget slice: the resumable state a deadline leaves (partial.pt, committed with the record so
far) carries a run to another slice or machine, and the record it ends with is the uninterrupted run's."""
from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pandas as pd

from ltlib import store
from ltlib.regimes import REGIMES, build_regime
from ltlib.runs import PARTIAL
from ltlib.train import fit

TIMING = {"train_seconds", "img_per_s", "segments", "sha256"}   # what differs between two trainings of a run
COMMITTED = ("config.json", "meta.json", "history.csv", PARTIAL)   # what git carries of an unfinished run


def test_a_run_stopped_at_a_slice_deadline_resumes_elsewhere_to_the_uninterrupted_record(tiny_cfg, tmp_path):
    full = fit(tiny_cfg, tmp_path / "a", progress="none", deterministic=True)
    part = fit(tiny_cfg, tmp_path / "b", progress="none", deterministic=True, deadline=time.time() - 1)
    assert not part.finished and (part.path / PARTIAL).exists()
    assert len(pd.read_csv(part.path / "history.csv")) == 1          # the deadline had passed: one epoch, then stop
    # another machine: a fresh store holding only what git carries of the unfinished run
    moved = tmp_path / "c" / part.run_id
    moved.mkdir(parents=True)
    for name in COMMITTED:
        shutil.copy2(part.path / name, moved / name)
    shutil.rmtree(tmp_path / "b")
    done = fit(tiny_cfg, tmp_path / "c", progress="none", deterministic=True)
    assert done.finished and not (done.path / PARTIAL).exists()      # the carried state goes when the record lands
    a, b = full.metrics, done.metrics
    assert json.dumps({k: v for k, v in a.items() if k not in TIMING | {"files"}}) == \
        json.dumps({k: v for k, v in b.items() if k not in TIMING | {"files"}})     # exact, NaN-aware
    slow = ["epoch_seconds", "img_per_s"]
    pd.testing.assert_frame_equal(pd.read_csv(full.path / "history.csv").drop(columns=slow),
                                  pd.read_csv(done.path / "history.csv").drop(columns=slow))
    assert np.array_equal(np.load(full.path / "events.npz")["events"], np.load(done.path / "events.npz")["events"])
    segs = b["segments"]
    assert [(s["first_epoch"], s["last_epoch"]) for s in segs] == [(1, 1), (2, tiny_cfg.epochs)]
    assert all({"processor", "capability", "threads", "device"} <= set(s) for s in segs)
    assert [(s["first_epoch"], s["last_epoch"]) for s in a["segments"]] == [(1, tiny_cfg.epochs)]


def test_a_deadline_far_away_changes_nothing(tiny_cfg, tmp_path):
    run = fit(tiny_cfg, tmp_path, progress="none", deadline=time.time() + 3600)
    assert run.finished and not (run.path / PARTIAL).exists()


def test_the_papers_rung_is_a_sliced_regime_of_the_papers_setting():
    r = build_regime("papers-own")
    p = r.params({"dataset": "fmnist", "imbalance_ratio": 100, "max_per_class": 5000, "arch": "resnet8",
                  "epochs": 10, "stage2_epochs": 5, "eval_every": 3})
    assert (p["dataset"], p["max_per_class"], p["arch"], p["epochs"], p["stage2_epochs"]) == \
        ("cifar10-jpeg", 5000, "resnet32", 200, 10)
    assert r.every == 20 and r.sliced and r.native_bf16 and not r.anchor
    assert [k for k, v in REGIMES.items() if v.sliced] == ["papers-own"]


def test_budget_trains_no_bf16_run_on_a_cpu_without_native_bf16(emulated_bf16, tiny_cfg, capsys):
    bf16 = tiny_cfg.replace(precision="bf16")
    assert store.untrainable_here([bf16, tiny_cfg], "cpu") == [bf16]
    assert store.untrainable_here([bf16], "cuda") == []
