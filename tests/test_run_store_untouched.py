"""The test command trains into a temporary run store ($LTSTUDY_RUNS), never into the user's outputs/runs; the
session-end check in conftest.py fails the whole run if outputs/runs changed."""
from __future__ import annotations

import os

from ltlib.paths import RUNS
from ltlib.runs import DEFAULT_RUNS_DIR, runs_root


def test_default_run_store_moves_with_ltstudy_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("LTSTUDY_RUNS", str(tmp_path))
    assert runs_root(None) == tmp_path and runs_root(DEFAULT_RUNS_DIR) == tmp_path
    assert runs_root("elsewhere/runs") != tmp_path                       # an explicit other store is kept
    monkeypatch.delenv("LTSTUDY_RUNS")
    assert runs_root(None) == RUNS


def test_the_test_command_points_the_store_away():
    """Under ./ltstudy.sh test (as in CI) the default store is a temporary folder, not outputs/runs."""
    if os.environ.get("LTSTUDY_RUNS"):
        assert runs_root(None) != RUNS and not str(runs_root(None)).startswith(str(RUNS))
