"""Run records: compact sealed JSON, rejection of edited / truncated / stale records, analyses kept in the record,
weights retrained for a record without its checkpoint, never a previous epoch's checkpoint for a finished run."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from ltlib.config import RunConfig
from ltlib.errors import RunStoreError
from ltlib.runs import Run, StaleRecord, decode, encode, results_table, to_json
from ltlib.train import fit


@pytest.fixture(scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_cfg(tiny_folder, **changes) -> RunConfig:
    base = dict(dataset=str(tiny_folder), imbalance_ratio=10, arch="resnet8-narrow", epochs=2, batch_size=16,
                lr=0.05, warmup_epochs=0, val_per_class=5, precision="fp32")
    return RunConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def recorded(_one_thread, tiny_folder, tmp_path_factory) -> Run:
    """A finished run, copied as git would carry it: its record only (no checkpoint, no events/, no log)."""
    run = fit(small_cfg(tiny_folder), runs_dir=tmp_path_factory.mktemp("made"), device="cpu", progress="none")
    store = tmp_path_factory.mktemp("clone")
    shutil.copytree(run.path, store / run.run_id,
                    ignore=shutil.ignore_patterns("*.pt", "events", "train.log", "indices.npz", ".lock"))
    return Run(store / run.run_id)


def test_json_is_compact_and_arrays_round_trip():
    text = to_json({"confusion": [[1, 2], [3, 4]], "per_class": [0.5, 0.25], "acc": {"a": 1, "b": None}})
    assert text.splitlines() == ['{', ' "confusion":[', '  [1,2],', '  [3,4]', ' ],', ' "per_class":[0.5,0.25],',
                                 ' "acc":{"a":1,"b":null}', '}']
    x = {"a": np.arange(6, dtype=np.int8).reshape(2, 3), "f": pd.DataFrame({"acc": [1.5, 2.0]}, index=["p", "q"]),
         "t": torch.ones(3)}
    back = decode(json.loads(json.dumps(encode(x))))
    assert back["a"].dtype == np.int8 and np.array_equal(back["a"], x["a"])
    pd.testing.assert_frame_equal(back["f"], x["f"])
    assert np.array_equal(back["t"], np.ones(3, dtype=np.float32))


def test_record_holds_what_reports_read(recorded):
    run = recorded.check()
    m = run.metrics
    assert m["threads"] == 1 and run.meta["threads"] == 1 and run.meta["cpu"]
    d = run.diagnostics
    n_test = len(m["last"]["test"]["per_class"])
    assert d["test_predictions"].dtype == np.int8 and d["test_predictions"].max() < n_test
    assert len(d["classifier_norms"]) == n_test and "head.weight" in d["weight_digests"]
    assert set(m["files"]) == {"config.json", "meta.json", "history.csv", "events.npz"}
    assert not list(run.path.glob("*.pt"))
    table = results_table(run.path.parent)
    assert list(table.run_id) == [run.run_id]
    size = sum(f.stat().st_size for f in run.path.rglob("*") if f.is_file())
    assert size < 60_000, size


@pytest.mark.parametrize("damage", ["edit metrics", "truncate metrics", "edit history", "drop events"])
def test_edited_or_truncated_record_is_rejected_naming_the_file(recorded, tmp_path, damage):
    path = tmp_path / recorded.run_id
    shutil.copytree(recorded.path, path)
    run = Run(path)
    m = path / "metrics.json"
    if damage == "edit metrics":
        m.write_text(m.read_text().replace('"acc":0.', '"acc":0.9', 1))
    elif damage == "truncate metrics":
        m.write_text(m.read_text()[:200])
    elif damage == "edit history":
        (path / "history.csv").write_text((path / "history.csv").read_text().replace("1,", "2,", 1))
    else:
        (path / "events.npz").unlink()
    name = {"edit history": "history.csv", "drop events": "events.npz"}.get(damage, "metrics.json")
    with pytest.raises(RunStoreError, match=name):
        run.check()
    with pytest.raises(RunStoreError, match=name):              # training it again would overwrite evidence
        fit(run.config if damage != "truncate metrics" else recorded.config, runs_dir=tmp_path, device="cpu",
            progress="none")
    assert results_table(tmp_path).empty


def test_stale_record_is_never_shown(recorded, tmp_path):
    shutil.copytree(recorded.path, tmp_path / "0123456789ab")      # a folder its config no longer hashes to
    with pytest.raises(StaleRecord):
        Run(tmp_path / "0123456789ab").check()
    assert results_table(tmp_path).empty


def test_derived_analysis_is_kept_in_the_record(recorded, tmp_path):
    path = tmp_path / recorded.run_id
    shutil.copytree(recorded.path, path)
    calls = []

    def compute():
        calls.append(1)
        return {"curve": pd.DataFrame({"x": [1.0, 2.0]}), "tau": 0.5}
    a = Run(path).derived(("posthoc", "taus=0,1"), compute)
    b = Run(path).derived(("posthoc", "taus=0,1"), compute)
    assert len(calls) == 1 and b["tau"] == 0.5
    pd.testing.assert_frame_equal(a["curve"], b["curve"])
    f = next((path / "derived").glob("*.json"))
    f.write_text(f.read_text().replace("0.5", "0.7"))
    with pytest.raises(RunStoreError, match=f.name):
        Run(path).derived(("posthoc", "taus=0,1"), compute)


def test_record_without_checkpoint_is_retrained_for_its_weights(recorded, tiny_folder, tmp_path, capsys):
    """Weights are rebuilt in a scratch store (one line), identical on the same CPU and threads; the record stays."""
    path = tmp_path / recorded.run_id
    shutil.copytree(recorded.path, path)
    before = (path / "metrics.json").read_bytes()
    state = Run(path).state_dict()
    assert "recorded without its weights here: retraining" in capsys.readouterr().out
    assert (path / "metrics.json").read_bytes() == before and (path / "last.pt").exists()
    digests = Run(path).diagnostics["weight_digests"]
    import hashlib
    assert all(hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()[:16] == digests[k]
               for k, v in state.items())


def test_finished_run_never_loads_the_previous_epoch(tiny_folder, tmp_path, _one_thread):
    """Only prev.pt left: a finished run's weights are not the previous epoch's (they are retrained)."""
    import ltlib.runs
    run = fit(small_cfg(tiny_folder, seed=3), runs_dir=tmp_path, device="cpu", progress="none")
    (run.path / "last.pt").unlink()
    assert (run.path / "prev.pt").exists()
    state = torch.load(run.path / "prev.pt", weights_only=True)
    assert state["epoch"] == 1
    rebuilt = []
    saved = ltlib.runs.REBUILD["weights"]
    ltlib.runs.REBUILD["weights"] = lambda r: rebuilt.append(r.run_id)
    try:
        with pytest.raises(ltlib.runs.MissingWeights):
            run.state_dict()
    finally:
        ltlib.runs.REBUILD["weights"] = saved
    assert rebuilt == [run.run_id]
