"""Reliability (issue 11): bad parameters and data fail early in one line; killed, corrupted, concurrent and
disk-full runs never finish with garbage; the same config and seed give the same numbers."""
from __future__ import annotations

import errno
import gzip
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import ltlib.runs
from ltlib import data as ltdata
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.params import check_param_file
from ltlib.paths import NOTEBOOKS, REPO_ROOT
from ltlib.runs import Run, RunStoreError, load_checkpoint, results_table, write_results_table
from ltlib.train import fit

PY = sys.executable
TIMING = {"train_seconds", "img_per_s", "epoch_seconds", "files", "sha256", "segments"}   # may differ between repeats (times; the
# digests of files holding times)
# One intra-op thread here and in every child process: bit-identical numbers need the same thread count in
# the runs compared, and one thread is also much faster than two on a small, shared CPU.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One thread for this file; torch's global thread count and determinism flag restored afterwards."""
    threads, flag = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(flag)


def rel_cfg(tiny_folder: Path, **changes) -> RunConfig:
    """The tiny config with small batches: ~12 steps per epoch, 4 epochs, about a second in all."""
    base = dict(dataset=str(tiny_folder), imbalance_ratio=10, arch="resnet8-narrow", epochs=4, batch_size=8,
                lr=0.05, warmup_epochs=0, val_per_class=5, precision="fp32")
    return RunConfig(**{**base, **changes})


def same_numbers(a: Run, b: Run) -> None:
    """Identical metrics, history and final weights (timings aside)."""
    ma = {k: v for k, v in a.metrics.items() if k not in TIMING}
    mb = {k: v for k, v in b.metrics.items() if k not in TIMING}
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)   # NaN-aware, exact
    cols = [c for c in a.history.columns if c not in TIMING]
    pd.testing.assert_frame_equal(a.history[cols], b.history[cols])
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def reference(_one_thread, tiny_folder, tmp_path_factory) -> Run:
    """One uninterrupted deterministic CPU run that the resumed ones must match exactly."""
    return fit(rel_cfg(tiny_folder), runs_dir=tmp_path_factory.mktemp("ref"), device="cpu", progress="none",
               deterministic=True)


def no_training_happened(runs_dir: Path) -> None:
    """No checkpoint, config or metrics was written (a failed mkdir'd run folder holds at most its lock)."""
    written = [p for p in runs_dir.rglob("*") if p.is_file() and p.name not in (".lock", ".results.lock")]
    assert not written, written


# ============================================================================ bad parameters

@pytest.mark.parametrize("bad,msg", [
    ({"epoch": 3}, "unknown parameter 'epoch' (did you mean 'epochs'?)"),
    ({"batchsize": 3}, "did you mean 'batch_size'"),
    ({"learning_rate": 0.1}, "unknown parameter 'learning_rate'"),
    ({"epochs": "3"}, "'epochs' must be an integer"),
    ({"epochs": 2.5}, "'epochs' must be an integer"),
    ({"lr": "fast"}, "'lr' must be a number"),
    ({"augment": "yes"}, "'augment' must be true or false"),
    ({"milestones": 3}, "'milestones' must be a list"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"epochs": -2}, "epochs must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"batch_size": -8}, "batch_size must be >= 1"),
    ({"lr": 0}, "lr must be > 0"),
    ({"lr": -0.1}, "lr must be > 0"),
    ({"imbalance_ratio": 0.5}, "imbalance_ratio must be >= 1"),
    ({"dataset": "fmnst"}, "unknown dataset 'fmnst' (did you mean 'fmnist'?)"),
    ({"dataset": "cifar1000"}, "unknown dataset 'cifar1000'"),
    ({"sampler": "balance"}, "unknown sampler 'balance' (did you mean 'balanced'?)"),
    ({"sampler_switch": [[3, "cbb"]]}, "unknown sampler 'cbb' (did you mean 'cb'?)"),
    ({"loss": "focall"}, "unknown loss 'focall' (did you mean 'focal'?)"),
    ({"arch": "resnet33"}, "unknown arch 'resnet33'"),
    ({"method": "bbm"}, "unknown method 'bbm' (did you mean 'bbn'?)"),
    ({"head": "cosin"}, "unknown head 'cosin' (did you mean 'cosine'?)"),
    ({"method_args": {"alpha": 1}}, "unknown method_args key 'alpha'"),
    ({1: 2}, "unknown parameter '1'"),
])
def test_bad_run_config_is_one_line_that_says_what_to_change(bad, msg):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict(bad)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_run_config_must_be_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        RunConfig.from_dict([("epochs", 3)])


@pytest.mark.parametrize("text,msg", [
    ("epochs: [1, 2\n", "is not valid YAML at line 2"),
    ("epochs: 2\n  lr: 3\n", "is not valid YAML"),
    ("- epochs\n- 2\n", "must hold a mapping"),
    ("just a string\n", "must hold a mapping"),
    ("epoch: 3\n", "unknown parameter 'epoch' for 00_data_and_samplers (did you mean 'epochs'?)"),
    ("epochs: three\n", "'epochs' must be an integer"),
    ("epochs: 0\n", "epochs must be >= 1"),
    ("batch_size: -1\n", "batch_size must be >= 1"),
    ("lr: 0\n", "lr must be > 0"),
    ("imbalance_ratio: 0.1\n", "imbalance_ratio must be >= 1"),
    ("dataset: fmnst\n", "did you mean 'fmnist'"),
    ("arch: resnet33\n", "unknown arch"),
    ("device: gpu\n", "device must be"),
])
def test_bad_parameter_file(tmp_path, text, msg):
    f = tmp_path / "00_data_and_samplers.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        check_param_file(f)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_binary_or_missing_parameter_file(tmp_path):
    f = tmp_path / "00_data_and_samplers.yaml"
    f.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a text"):
        check_param_file(f)
    with pytest.raises(ConfigError, match="does not exist"):
        check_param_file(tmp_path / "nope.yaml", "00_data_and_samplers")


# ============================================================================ missing or corrupt data

def write_idx(path: Path, arr: np.ndarray, keep: float = 1.0) -> None:
    """An idx file (gzipped) as Fashion-MNIST ships it; keep < 1 truncates the data part."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    body = arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(head + body[:int(len(body) * keep)]))


def fake_fmnist(root: Path, truncate: str | None = None) -> Path:
    """root/fashion-mnist/ with 10 images per class; `truncate` cuts one file in half."""
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for split, n in (("train", 100), ("t10k", 20)):
        y = np.arange(n) % 10
        for kind, arr in (("images-idx3-ubyte", rng.randint(0, 255, (n, 28, 28))), ("labels-idx1-ubyte", y)):
            name = f"{split}-{kind}"
            write_idx(folder / f"{name}.gz", arr, 0.5 if name == truncate else 1.0)
    return root


def test_fake_fmnist_loads_when_intact(tmp_path):
    lt = ltdata.make_long_tailed("fmnist", 2, None, 0, 2, str(fake_fmnist(tmp_path / "ok")))
    assert lt.num_classes == 10 and len(lt.test) == 20


@pytest.mark.parametrize("truncate", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_truncated_fmnist_fails_before_training(tmp_path, truncate):
    root = fake_fmnist(tmp_path / "data", truncate)
    cfg = RunConfig(dataset="fmnist", data_root=str(root), arch="resnet8-narrow", epochs=1, max_per_class=10)
    with pytest.raises(ConfigError, match=r"Fashion-MNIST files in .* are corrupt .*reinstall"):
        fit(cfg, runs_dir=tmp_path / "runs", device="cpu", progress="none")
    no_training_happened(tmp_path / "runs")


@pytest.mark.parametrize("garbage", [os.urandom(3000), b"\x80\x04\x95", pickle.dumps({"labels": [1]}),
                                     pickle.dumps([1, 2, 3]), b""])
def test_corrupt_cifar_pickle_fails_before_training(tmp_path, garbage):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    good = {"data": np.zeros((10, 3072), np.uint8), "labels": list(range(10))}
    for fn in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / fn).write_bytes(pickle.dumps(good))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    (folder / "data_batch_3").write_bytes(garbage)
    cfg = RunConfig(dataset="cifar10", data_root=str(tmp_path / "data"), arch="resnet8-narrow", epochs=1)
    with pytest.raises(ConfigError, match=r"CIFAR folder .*cifar-10-batches-py is incomplete or corrupt") as e:
        fit(cfg, runs_dir=tmp_path / "runs", device="cpu", progress="none")
    assert "download it again" in str(e.value) and "\n" not in str(e.value)
    no_training_happened(tmp_path / "runs")


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ltdata, "search_roots", lambda data_root: [tmp_path / "empty"])
    cfg = RunConfig(dataset="cifar100", arch="resnet8-narrow", epochs=1)
    with pytest.raises(ConfigError, match=r"CIFAR-100 not found; looked in: .*empty/cifar-100-python\. To get it"):
        fit(cfg, runs_dir=tmp_path / "runs", device="cpu", progress="none")
    no_training_happened(tmp_path / "runs")
    with pytest.raises(ConfigError, match="not found or has no train"):
        fit(cfg.replace(dataset=str(tmp_path / "no_such_folder")), runs_dir=tmp_path / "runs", progress="none")


# ============================================================================ the command lines

@pytest.mark.slow
def test_command_lines_print_one_error_line(tmp_path):
    """python -m ltlib check / ltlib.train / ltlib.study: one stderr line starting 'error', non-zero exit."""
    (tmp_path / "00_data_and_samplers.yaml").write_text("epoch: 3\n")
    (tmp_path / "runs_bad.yaml").write_text(yaml.safe_dump({"runs": [{"epochs": 1}, {"epoch": 3}]}))
    fake_fmnist(tmp_path / "data", "train-images-idx3-ubyte")
    (tmp_path / "run_ok.yaml").write_text(yaml.safe_dump({"dataset": "fmnist", "epochs": 1}))
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "run_corrupt.yaml").write_text(yaml.safe_dump(
        {"dataset": "fmnist", "data_root": str(tmp_path / "data"), "arch": "resnet8-narrow", "epochs": 1}))
    cases = {  # args -> text the error line must contain
        ("ltlib", "check", str(tmp_path / "00_data_and_samplers.yaml")): "did you mean 'epochs'",
        ("ltlib.train", str(tmp_path / "runs_bad.yaml"), "--runs-dir", str(tmp_path / "runs")):
            "unknown parameter 'epoch' (did you mean 'epochs'?)",           # all checked before the first run
        ("ltlib.train", str(tmp_path / "run_corrupt.yaml"), "--runs-dir", str(tmp_path / "runs")): "corrupt",
        ("ltlib.train", str(tmp_path / "run_ok.yaml"), "--runs-dir", str(tmp_path / "a_file")):
            "cannot write runs to",                                         # RunStoreError, before any work
        ("ltlib.study", "--profile", "smok"): "did you mean 'smoke'",
    }
    procs = {args: subprocess.Popen([PY, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    cwd=tmp_path, env=ENV) for args in cases}
    for args, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode != 0, (args, out, err)
        assert len(lines) == 1 and lines[0].startswith("error"), (args, err)
        assert cases[args] in lines[0], (args, err)
    no_training_happened(tmp_path / "runs")


@pytest.mark.slow
def test_papermill_unknown_parameter_fails_at_the_validation_cell(tmp_path):
    pm = pytest.importorskip("papermill")
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NOTEBOOKS / "00_data_and_samplers.ipynb"), str(out), parameters={"epoch": 3},
                            kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    assert e.value.ename == "ConfigError" and "did you mean 'epochs'" in e.value.evalue
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(cells) if any(o.get("output_type") == "error" for o in c["outputs"])]
    assert len(failed) == 1 and "notebook_params(" in "".join(cells[failed[0]]["source"])
    assert all(c["execution_count"] is None for c in cells[failed[0] + 1:])     # nothing ran after it


# ============================================================================ interrupted runs

KILL_SCRIPT = """
import sys, yaml
from ltlib.config import RunConfig
from ltlib.train import fit
fit(RunConfig.from_dict(yaml.safe_load(open(sys.argv[1]))), sys.argv[2], "cpu", "line", deterministic=True)
"""


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_to_identical_metrics(tiny_folder, tmp_path, reference, capsys):
    cfg = rel_cfg(tiny_folder)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([PY, "-c", KILL_SCRIPT, str(tmp_path / "cfg.yaml"), str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    last = runs / cfg.run_id() / "last.pt"
    deadline = time.time() + 90
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.02)                                        # into the second epoch's steps
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, ("the run ended before it could be killed", out, err)
    run = Run(runs / cfg.run_id())
    assert not run.finished
    done_epochs = load_checkpoint(run.path, cfg.run_id())["epoch"]
    assert 1 <= done_epochs < cfg.epochs
    resumed = fit(cfg, runs_dir=runs, device="cpu", progress="line", deterministic=True)
    assert f"resuming after epoch {done_epochs}/{cfg.epochs}" in capsys.readouterr().out
    same_numbers(resumed, reference)
    assert len(results_table(runs)) == 1


def half_trained(cfg: RunConfig, runs: Path) -> Path:
    """A run stopped after 2 of its epochs: last.pt (epoch 2) and prev.pt (epoch 1)."""
    run = fit(cfg, runs_dir=runs, device="cpu", progress="none", deterministic=True, stop_after_epochs=2)
    assert not run.finished and (run.path / "prev.pt").exists()
    return run.path


@pytest.mark.slow
def test_corrupt_last_checkpoint_is_set_aside_and_prev_used(tiny_folder, tmp_path, reference, capsys):
    cfg = rel_cfg(tiny_folder)
    path = half_trained(cfg, tmp_path)
    (path / "last.pt").write_bytes(os.urandom(5000))
    run = fit(cfg, runs_dir=tmp_path, device="cpu", progress="line", deterministic=True)
    cap = capsys.readouterr()
    assert "last.pt is unreadable" in cap.err and "resuming after epoch 1/" in cap.out
    assert len(list(path.glob("last.pt.corrupt-*"))) == 1
    same_numbers(run, reference)


@pytest.mark.slow
def test_truncated_checkpoints_restart_from_scratch(tiny_folder, tmp_path, reference, capsys):
    cfg = rel_cfg(tiny_folder)
    path = half_trained(cfg, tmp_path)
    for name in ("last.pt", "prev.pt"):
        blob = (path / name).read_bytes()
        (path / name).write_bytes(blob[:len(blob) // 2])
    run = fit(cfg, runs_dir=tmp_path, device="cpu", progress="line", deterministic=True)
    cap = capsys.readouterr()
    assert cap.err.count("is unreadable") == 2 and "resuming" not in cap.out
    assert len(list(path.glob("*.corrupt-*"))) == 2
    same_numbers(run, reference)


class _Payload:
    """Unpickling this creates a file: a checkpoint must never be unpickled with arbitrary globals."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoints_load_weights_only_and_check_the_run_id(tiny_folder, tmp_path):
    cfg = rel_cfg(tiny_folder)
    path = half_trained(cfg, tmp_path)
    good = torch.load(path / "last.pt", weights_only=True)
    marker = tmp_path / "pwned"
    torch.save({**good, "extra": _Payload(marker)}, path / "last.pt")       # a pickle with code in it
    torch.save({**good, "run_id": "another-run"}, path / "prev.pt")         # another run's checkpoint
    assert load_checkpoint(path, cfg.run_id()) is None
    assert not marker.exists()
    assert sorted(p.name.split("-")[0] for p in path.glob("*.corrupt-*")) == ["last.pt.corrupt", "prev.pt.corrupt"]
    truncated = {k: v for k, v in good.items() if k != "optimizer"}        # a checkpoint missing a part
    torch.save(truncated, path / "last.pt")
    assert load_checkpoint(path, cfg.run_id()) is None


# ============================================================================ concurrency

TRAIN_SCRIPT = """
import sys, yaml
from ltlib.config import RunConfig
from ltlib.train import fit
r = fit(RunConfig.from_dict(yaml.safe_load(open(sys.argv[1]))), sys.argv[2], "cpu", "line")
print("RESULT", r.run_id, r.metrics["last"]["test"]["acc"])
"""


def train_concurrently(cfgs: list[RunConfig], runs: Path, tmp_path: Path) -> list[str]:
    """Start one process per config at the same moment; return their stdouts."""
    procs = []
    for i, cfg in enumerate(cfgs):
        f = tmp_path / f"cfg{i}.yaml"
        f.write_text(yaml.safe_dump(cfg.to_dict()))
        procs.append(subprocess.Popen([PY, "-c", TRAIN_SCRIPT, str(f), str(runs)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=ENV))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


@pytest.mark.slow
def test_two_processes_share_a_runs_folder(tiny_folder, tmp_path):
    """Different configs into one runs_dir lose no rows; the same config twice trains once, the other waits."""
    runs = tmp_path / "runs"
    a = rel_cfg(tiny_folder, epochs=2, batch_size=16)
    b = a.replace(seed=1)
    outs = train_concurrently([a, b, a], runs, tmp_path)
    table = pd.read_csv(runs / "results.csv")
    assert sorted(table.run_id) == sorted([a.run_id(), b.run_id()])
    assert sorted(table.run_id) == sorted(results_table(runs).run_id)
    same = [outs[0], outs[2]]
    assert same[0].splitlines()[-1] == same[1].splitlines()[-1]                       # same RESULT line
    assert sum(o.count(f"{a.run_id()}] epoch") for o in same) == a.epochs            # trained once, reused once
    assert len(Run(runs / a.run_id()).history) == a.epochs
    assert not [p for p in runs.rglob("*.tmp")]


@pytest.mark.slow
def test_results_table_rebuilds_lose_no_rows(reference, tmp_path, monkeypatch):
    """A slow rebuild of results.csv (listed run a, then stalled) must not overwrite a newer one that has b."""
    runs = tmp_path / "runs"
    shutil.copytree(reference.path, runs / "a", ignore=shutil.ignore_patterns("*.pt", ".lock"))
    real, listed = ltlib.runs.results_table, threading.Event()

    def stalling(root):
        table = real(root)
        if threading.current_thread().name == "slow":
            listed.set()
            time.sleep(0.5)                                  # b is added and its rebuild starts meanwhile
        return table

    monkeypatch.setattr(ltlib.runs, "results_table", stalling)
    monkeypatch.setattr(ltlib.runs.Run, "check", lambda self: self)   # one record under two names: not stale here
    slow = threading.Thread(target=write_results_table, args=(runs,), name="slow")
    slow.start()
    assert listed.wait(30)
    shutil.copytree(reference.path, runs / "b", ignore=shutil.ignore_patterns("*.pt", ".lock"))
    fast = threading.Thread(target=write_results_table, args=(runs,))
    fast.start()
    slow.join(30)
    fast.join(30)
    assert sorted(pd.read_csv(runs / "results.csv").run_id) == ["a", "b"]


# ============================================================================ determinism and records

@pytest.mark.slow
def test_same_config_and_seed_give_identical_numbers(tiny_folder, tmp_path, reference):
    cfg = rel_cfg(tiny_folder)
    again = fit(cfg, runs_dir=tmp_path, device="cpu", progress="none", deterministic=True)
    same_numbers(again, reference)


@pytest.mark.slow
def test_run_records_what_repeats_it(reference):
    cfg_dict = json.loads((reference.path / "config.json").read_text())
    assert RunConfig.from_dict(cfg_dict).run_id() == reference.run_id == reference.config.run_id()
    meta = reference.meta
    assert meta["run_id"] == reference.run_id and meta["deterministic"] is True
    if (REPO_ROOT / ".git").exists():                       # a git checkout (not an exported tarball)
        assert len(meta["git"]["commit"]) == 40 and isinstance(meta["git"]["dirty"], bool)
    else:
        assert meta["git"] == {"commit": None, "dirty": None}
    assert {"python", "torch", "torchvision", "numpy", "pandas", "ltstudy"} <= set(meta["versions"])
    assert meta["device"] == "cpu" and meta["started"]


# ============================================================================ full disk, read-only folder

def _raiser(code: int, real, target):
    """Wrap `real` so that calls whose target(args) names a path raise OSError(code) for that path."""
    def fake(*args, **kwargs):
        path = target(*args)
        if path is not None:
            raise OSError(code, os.strerror(code), str(path))
        return real(*args, **kwargs)
    return fake


def test_read_only_runs_folder_fails_before_training(tiny_folder, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    in_runs = lambda p, *a: p if str(runs) in str(p) else None      # noqa: E731
    monkeypatch.setattr(ltlib.runs, "open", _raiser(errno.EROFS, open, in_runs), raising=False)
    with pytest.raises(RunStoreError, match=r"cannot write runs to .*Read-only file system; choose another "
                                            r"runs_dir"):
        fit(rel_cfg(tiny_folder), runs_dir=runs, device="cpu", progress="none")
    assert not any(runs.rglob("*"))


@pytest.mark.slow
def test_disk_full_before_metrics_leaves_an_unfinished_run(tiny_folder, tmp_path, monkeypatch, reference):
    cfg = rel_cfg(tiny_folder)
    monkeypatch.setattr(os, "replace", _raiser(errno.ENOSPC, os.replace,
                                               lambda src, dst: dst if Path(dst).name == "metrics.json" else None))
    with pytest.raises(RunStoreError) as e:
        fit(cfg, runs_dir=tmp_path, device="cpu", progress="none", deterministic=True)
    assert "No space left on device" in str(e.value) and "runs_dir" in str(e.value)
    run = Run(tmp_path / cfg.run_id())
    assert not run.finished and not list(run.path.glob(".*tmp"))
    assert run.run_id not in set(results_table(tmp_path).get("run_id", []))
    monkeypatch.undo()                                       # space freed: the run finishes from its checkpoint
    again = fit(cfg, runs_dir=tmp_path, device="cpu", progress="none", deterministic=True)
    same_numbers(again, reference)


@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tiny_folder, tmp_path, monkeypatch, reference):
    cfg = rel_cfg(tiny_folder)
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 2:                                  # epoch 2: half a file, then the disk is full
            Path(f).write_bytes(b"PK\x03\x04" + b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(RunStoreError, match="cannot write checkpoint .*No space left on device"):
        fit(cfg, runs_dir=tmp_path, device="cpu", progress="none", deterministic=True)
    path = tmp_path / cfg.run_id()
    assert not (path / "metrics.json").exists() and not list(path.glob(".*tmp"))
    assert load_checkpoint(path, cfg.run_id())["epoch"] == 1
    monkeypatch.undo()
    same_numbers(fit(cfg, runs_dir=tmp_path, device="cpu", progress="none", deterministic=True), reference)
