"""DistributedDataParallel through `torchrun --nproc_per_node 2 -m ltlib.train` on CPU (gloo), tiny dataset."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import yaml

from ltlib.paths import REPO_ROOT
from ltlib.runs import Run

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()) or sys.platform == "win32",
                                reason="torch.distributed with the gloo backend is not available here")


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tiny_cfg, tmp_path):
    cfg = tiny_cfg.replace(epochs=2, batch_size=32)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ltlib.train", str(tmp_path / "run.yaml"), "--runs-dir", str(tmp_path / "runs"),
           "--device", "cpu", "--progress", "line"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    runs = [d for d in (tmp_path / "runs").iterdir() if d.is_dir()]
    assert [d.name for d in runs] == [cfg.run_id()]          # one run folder, written by rank 0 only
    run = Run(runs[0])
    assert run.finished
    meta = json.loads((runs[0] / "meta.json").read_text())
    assert meta["world_size"] == 2
    hist = run.history
    assert len(hist) == 2 and hist["loss"].notna().all() and (hist["train_acc"] > 0).all()
    assert p.stdout.count("epoch   2/2") == 1                # progress from rank 0 only
    assert p.stdout.count(f"{cfg.run_id()} acc ") == 1       # and the summary line
    events = run.events()
    assert events.shape[0] == 2 and (events[0] != 255).mean() > 0.8  # both ranks' images recorded
    # the same global draw, split: the run is a valid checkpoint for a single-process evaluation
    assert run.metrics["last"]["test"]["acc"] == pytest.approx(hist["test_acc"].dropna().iloc[-1])
    state = run.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
