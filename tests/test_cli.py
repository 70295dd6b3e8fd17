"""python -m ltlib: one command-line name; study's own --help; check on a missing path; the run-store table."""
from __future__ import annotations

import pytest

from ltlib.__main__ import main


def test_study_help_lists_the_study_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["study", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--profile" in out and "--export-runs" in out and "--index-only" in out


def test_check_on_a_missing_path_says_so(capsys, tmp_path):
    assert main(["check", str(tmp_path / "nonexistent")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_runs_lists_and_filters_the_store(tiny_cfg, tmp_path, capsys):
    from ltlib.train import fit

    store = tmp_path / "store"
    fit(tiny_cfg.replace(epochs=1, tag="A"), store, progress="none")
    fit(tiny_cfg.replace(epochs=1, tag="B", seed=3), store, progress="none")
    assert main(["runs", "--runs-dir", str(store), "--sort", "acc"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out and " A " in f" {out} " and "tail" in out
    assert main(["runs", "--runs-dir", str(store), "--where", "tag=B"]) == 0
    assert "1 run(s)" in capsys.readouterr().out
    assert main(["runs", "--runs-dir", str(store), "--where", "nope=1"]) == 2
    assert "no column" in capsys.readouterr().err


def test_runs_on_an_empty_store(tmp_path, capsys):
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    assert "no finished runs" in capsys.readouterr().out
