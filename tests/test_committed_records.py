"""The committed evidence and today's code cannot drift apart unnoticed: every committed record is whole, unedited
and current, and one cheap recorded run (a seeded draw) retrains to the same numbers."""
from __future__ import annotations

import pytest

from ltlib import store
from ltlib.paths import RUNS
from ltlib.runs import Run

RECORDS = sorted(p.parent for p in RUNS.glob("*/metrics.json")) if RUNS.exists() else []
NOISE_PP = 5.0      # another CPU or precision: within the quick profile's seed noise (std up to ~1.5 points; 3 x that)


@pytest.mark.skipif(not RECORDS, reason="no committed run records")
def test_every_committed_record_is_whole_and_current():
    for path in RECORDS:
        Run(path).check()                   # sealed metrics, file digests, config hashing to its folder


@pytest.mark.skipif(not RECORDS, reason="no committed run records")
def test_a_committed_run_reproduces(tmp_path):
    """One of the 10 cheapest single-stage records, drawn with seed 0, retrained from nothing: identical where
    precision, CPU and thread count match the record, else within NOISE_PP points."""
    table = store.reproduce(None, 1, seed=0, runs_dir=str(RUNS), scratch=tmp_path, cheapest=10)
    print(table.to_string(index=False))
    if (table["expected"] == "identical").all():
        assert table["identical"].all(), table
    else:
        assert table["difference"].abs().max() <= NOISE_PP, table
