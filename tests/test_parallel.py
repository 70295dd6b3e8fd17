"""run_many's parallel CPU path: same runs as training one by one, stage 1 first, errors surface as errors."""
import os

import pytest
import torch

from ltlib.errors import ConfigError
from ltlib.methods.baselines import retrain_classifier
from ltlib.parallel import parallel_workers, run_groups, run_many


@pytest.mark.slow
def test_parallel_equals_sequential(tiny_cfg, tmp_path, capsys):
    cfgs = {"CE": tiny_cfg.replace(tag="CE"), "RW": tiny_cfg.replace(loss_weights="rw", tag="RW")}
    par = run_many(cfgs, workers=2, runs_dir=tmp_path / "par", device="cpu")
    out = capsys.readouterr().out
    assert "training 2 run(s) in 2 parallel process(es)" in out and "done: 3 epochs" in out   # children report each run
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // 2))                 # the children's thread count: same arithmetic
    try:
        seq = run_many(cfgs, workers=1, runs_dir=tmp_path / "seq", device="cpu")
    finally:
        torch.set_num_threads(threads)
    for k in cfgs:
        assert par[k].finished and par[k].run_id == seq[k].run_id
        assert par[k].metrics["last"]["test"]["per_class"] == seq[k].metrics["last"]["test"]["per_class"]


@pytest.mark.slow
def test_stage1_trained_once_before_stage2(tiny_cfg, tmp_path):
    stage1 = tiny_cfg.replace(tag="CE")
    groups = {"cRT": [retrain_classifier(stage1, "RS", epochs=1)], "RW-C": [retrain_classifier(stage1, "RW", epochs=1)]}
    runs = run_groups(groups, workers=2, runs_dir=tmp_path, device="cpu")
    assert {r.meta["stage1"] for rs in runs.values() for r in rs} == {stage1.run_id()}
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 3


@pytest.mark.slow
def test_child_error_is_raised_here(tiny_cfg, tmp_path):
    bad = tiny_cfg.replace(dataset=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="nowhere"):
        run_many([tiny_cfg, bad], workers=2, runs_dir=tmp_path, device="cpu")


def test_worker_count_rules(tiny_cfg, monkeypatch):
    big = [tiny_cfg.replace(epochs=200, max_per_class=5000), tiny_cfg.replace(epochs=200, max_per_class=5000, seed=1)]
    monkeypatch.delenv("LTSTUDY_WORKERS", raising=False)
    assert parallel_workers(big, "cpu") == min(2, os.cpu_count() or 1)
    small = [tiny_cfg.replace(max_per_class=50), tiny_cfg.replace(max_per_class=50, seed=1)]
    assert parallel_workers(small, "cpu") == 1                 # too little work to spawn processes for
    assert parallel_workers(big, "cpu", workers=1) == 1
    monkeypatch.setenv("LTSTUDY_WORKERS", "1")
    assert parallel_workers(big, "cpu") == 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("LTSTUDY_WORKERS")
    assert parallel_workers(big, "cpu") == 1                    # under torchrun the ranks already share the work


def test_plan_shares_threads_with_the_leftover_runs(tiny_cfg):
    from ltlib.parallel import plan_waves

    five = [tiny_cfg.replace(seed=i) for i in range(5)]
    plan = plan_waves(five, 2, 2)
    assert [([len(b) for b in bins], t) for bins, t in plan] == [([2, 2], 1), ([1], 2)]
    assert sorted(c.seed for bins, _ in plan for b in bins for c in b) == list(range(5))
    assert [([len(b) for b in bins], t) for bins, t in plan_waves(five[:4], 2, 2)] == [([2, 2], 1)]
