"""The run store as a whole, on tiny smoke-size runs: a budgeted study stops and goes on, --status counts, records
merge from a second store (also two writers at once), a recorded run reproduces identically."""
from __future__ import annotations

import shutil
import threading

import pandas as pd
import pytest

from ltlib import store
from ltlib.plans import ordered_runs, profile_plans
from ltlib.runs import Run

PROFILE, ONLY = "smoke", ["72"]          # 4 tiny runs (2 epochs, <= 300 images per class)


def _cfgs():
    return ordered_runs(profile_plans(PROFILE, ONLY))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The smoke profile's notebook-72 runs trained in two budgeted slices: the first cannot fit the dearest runs
    (their estimates made huge), the second finishes them."""
    root = tmp_path_factory.mktemp("store")
    cfgs = _cfgs()
    dear = {c.run_id() for c in cfgs[1:]}
    real = store.estimate_seconds
    mp = pytest.MonkeyPatch()
    mp.setattr(store, "estimate_seconds", lambda c, rates: 10_000.0 if c.run_id() in dear else real(c, rates))
    first = store.train_budget(PROFILE, 2, runs_dir=str(root), workers=1, only=ONLY)
    mp.undo()
    recorded_first = sorted(c.run_id() for c in cfgs if Run(root / c.run_id()).finished)
    second = store.train_budget(PROFILE, 10, runs_dir=str(root), workers=2, only=ONLY)
    return root, first, recorded_first, second


def test_budget_stops_and_goes_on(trained, capsys):
    root, first, recorded_first, second = trained
    cfgs = _cfgs()
    assert first == {"trained": 1, "left": len(cfgs) - 1} and recorded_first == [cfgs[0].run_id()]
    assert second == {"trained": len(cfgs) - 1, "left": 0}
    assert all(Run(root / c.run_id()).check() for c in cfgs)
    assert pd.read_csv(root / "results.csv").shape[0] == len(cfgs)


def test_status_counts_recorded_and_missing(trained, tmp_path):
    root = trained[0]
    table = store.status(PROFILE, runs_dir=str(root))
    assert table.loc["72_memorization", "recorded"] == table.loc["72_memorization", "runs"] == len(_cfgs())
    empty = store.status(PROFILE, runs_dir=str(tmp_path))
    assert (empty["recorded"] == 0).all() and empty.loc["all (distinct)", "est. minutes"] > 0


def test_records_merge_from_a_second_store_with_no_training(trained, tmp_path):
    root = trained[0]
    ids = [c.run_id() for c in _cfgs()]
    tar = tmp_path / "records.tar"
    assert store.pack(ids, str(root), tar) == ids
    dest = tmp_path / "clone"
    assert store.merge([tar], runs_dir=str(dest))["added"] == len(ids)
    assert not list(dest.rglob("*.pt"))
    for h in ids:                                                # the same records, readable, nothing retrained
        assert (dest / h / "metrics.json").read_bytes() == (root / h / "metrics.json").read_bytes()
        Run(dest / h).check()
    assert store.merge([tar], runs_dir=str(dest)) == {"added": 0, "present": len(ids), "differs": 0, "rejected": 0}


def test_two_writers_at_once_lose_nothing(trained, tmp_path):
    root = trained[0]
    ids = [c.run_id() for c in _cfgs()]
    halves = [tmp_path / "a", tmp_path / "b"]
    for k, h in enumerate(ids):
        shutil.copytree(root / h, halves[k % 2] / h)
    dest = tmp_path / "shared"
    threads = [threading.Thread(target=store.merge, args=([src],), kwargs={"runs_dir": str(dest)}) for src in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.parent.name for p in dest.glob("*/metrics.json")) == sorted(ids)
    assert pd.read_csv(dest / "results.csv").shape[0] == len(ids)


def test_a_recorded_run_reproduces_identically(trained, tmp_path):
    root = trained[0]
    table = store.reproduce(PROFILE, 1, seed=0, runs_dir=str(root), scratch=tmp_path, cheapest=2)
    assert (table["expected"] == "identical").all() and table["identical"].all(), table


def test_merged_records_render_with_no_training(trained, tmp_path):
    """A store with records only (no checkpoint anywhere): the notebook's plan finds every run, nothing trains, and
    what the notebooks read (metrics, diagnostics, events, data) is there."""
    from ltlib import analysis, parallel
    from ltlib.inference import load_data
    from ltlib.plans import notebook_plan
    from ltlib.params import profile_params

    root = trained[0]
    dest = tmp_path / "clone"
    store.merge([root], runs_dir=str(dest))
    plan = notebook_plan("72_memorization", profile_params(PROFILE, "72_memorization"), check=False)
    runs = parallel.run_plan(plan, runs_dir=str(dest), device="cpu", progress="none")
    assert not list(dest.rglob("*.pt")), "a recorded run was retrained"
    for rs in runs.values():
        for r in (r for group in rs.values() for r in group):
            assert len(analysis.test_predictions(r)) == len(load_data(r.config).test.y)
            assert r.events().shape[0] == r.config.epochs
