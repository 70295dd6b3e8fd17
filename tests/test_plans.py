"""A profile's runs on other machines: every notebook's plan, the export, shards and the submitit launcher."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ltlib import plans
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.runs import Run
from ltlib.train import main as train_main
from ltlib.train import parse_shard, read_run_file, shard

PINNED = Path(__file__).parent / "data" / "run_hashes.json"


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_export_is_every_run_the_notebooks_train(profile, native_bf16, tmp_path):
    """The export holds exactly the pinned runs of every notebook's plan, each once, every stage-1 run before the
    runs that start from it."""
    path = tmp_path / "runs.yaml"
    cfgs = plans.export_runs(profile, path)
    ids = [c.run_id() for c in cfgs]
    assert len(ids) == len(set(ids))
    pinned = {h for nb in json.loads(PINNED.read_text())[profile].values() for h in nb.values()}
    assert set(ids) == pinned
    pos = {h: i for i, h in enumerate(ids)}
    for c in cfgs:
        for anc in c.stages()[:-1]:
            assert pos[anc.run_id()] < pos[c.run_id()]
    assert [c.run_id() for c in read_run_file(path)] == ids                           # ltlib.train reads it back


def test_every_training_notebook_has_a_plan():
    from ltlib.paths import NOTEBOOKS

    stems = {p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb")} - {"90_report"}
    assert stems == set(plans.NOTEBOOK_PLANS)


def _chain(tiny_cfg: RunConfig) -> list[RunConfig]:
    stage1 = [tiny_cfg.replace(epochs=2, seed=s, tag=f"CE s{s}") for s in (0, 1, 2)]
    stage2 = [RunConfig.from_dict({**s.to_dict(), "init_from": s.to_dict(), "train_parts": "classifier",
                                   "epochs": 1, "sampler": "cb", "tag": "cRT"}) for s in stage1]
    return stage1 + stage2


def test_shards_split_the_runs_and_keep_each_chain_together(tiny_cfg):
    cfgs = _chain(tiny_cfg)
    parts = [shard(cfgs, i, 2) for i in range(2)]
    ids = [[c.run_id() for c in p] for p in parts]
    assert sorted(sum(ids, [])) == sorted(c.run_id() for c in cfgs) and not set(ids[0]) & set(ids[1])
    for p in parts:
        mine = {c.run_id() for c in p}
        assert all(c.stages()[0].run_id() in mine for c in p)                    # its stage 1 in the same shard
    assert all(p for p in parts)
    assert shard(cfgs, 0, 1) == cfgs


def test_parse_shard(monkeypatch):
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ConfigError):
            parse_shard(bad)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert parse_shard("slurm") == (2, 3)


def _write(cfgs: list[RunConfig], path: Path) -> Path:
    path.write_text(yaml.safe_dump({"runs": [c.to_dict() for c in cfgs]}))
    return path


@pytest.mark.slow
def test_two_shards_fill_one_run_store_that_is_then_reused(tiny_cfg, tmp_path):
    cfgs = _chain(tiny_cfg)
    f = _write(cfgs, tmp_path / "runs.yaml")
    store = tmp_path / "store"
    for i in range(2):
        assert train_main([str(f), "--shard", f"{i}/2", "--runs-dir", str(store), "--progress", "none"]) == 0
    assert all(Run(store / c.run_id()).finished for c in cfgs)
    stamp = {c.run_id(): (store / c.run_id() / "metrics.json").stat().st_mtime_ns for c in cfgs}
    from ltlib.parallel import run_many

    run_many(cfgs, runs_dir=store, progress="none")                                   # rendering: nothing trains
    assert stamp == {c.run_id(): (store / c.run_id() / "metrics.json").stat().st_mtime_ns for c in cfgs}


@pytest.mark.slow
def test_submitit_local_executor_trains_every_shard(tiny_cfg, tmp_path):
    from ltlib.launch import submit

    cfgs = _chain(tiny_cfg)
    f = _write(cfgs, tmp_path / "runs.yaml")
    store = tmp_path / "store"
    jobs = submit(f, 2, "local", runs_dir=str(store), device="cpu", folder=tmp_path / "logs", wait=True,
                  timeout_min=10)
    assert len(jobs) == 2
    assert all(Run(store / c.run_id()).finished for c in cfgs)


def test_launch_rejects_a_bad_run_file_before_submitting(tmp_path):
    from ltlib.launch import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("runs: [{arch: resnet9000}]\n")
    assert main([str(bad), "--executor", "local", "--shards", "2", "--folder", str(tmp_path / "l")]) == 2
    assert not (tmp_path / "l").exists()


def test_a_plan_is_transformed_once_for_every_row():
    """Plan.map: a regime or an export changes every config of a plan, rows, notes and info kept."""
    from ltlib.params import validate_params

    plan = plans.notebook_plan("11_baselines", validate_params({"epochs": 2}, "11_baselines"), check=False)
    longer = plan.map(lambda c: c.replace(epochs=4))
    assert list(longer["baselines"]) == list(plan["baselines"]) and longer.notes == plan.notes
    assert all(c.epochs == 4 for cs in longer["baselines"].values() for c in cs)
    assert all(c.epochs == 2 for cs in plan["baselines"].values() for c in cs)


def test_balanced_bins_deal_longest_first():
    from ltlib.train import balanced_bins

    assert balanced_bins([1, 5, 2, 4], 2, lambda x: x) == [[5, 1], [4, 2]]
    assert balanced_bins([3], 2, lambda x: x) == [[3], []]
