"""Many GPUs, tested on CPUs: each rank reads its shard of one seeded global sampler stream (a class-balanced or
reversed run on N processes draws what it draws on one), a two-process gloo run of a split dataset writes one
record, and gradient accumulation splits a batch that does not fit."""
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
from ltlib.samplers import build_sampler, shard_batches
from ltlib.train import seeded_generator

from fake_splits import TRAIN_COUNTS, write_split_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_split_dataset(tmp_path_factory.mktemp("ddp") / "data", "imagenet_lt")


@pytest.mark.parametrize("name", ["cb", "cr", "ib"])
def test_rank_shards_are_disjoint_and_make_the_single_process_stream(name):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(TRAIN_COUNTS)])
    s = build_sampler(name, labels, len(TRAIN_COUNTS))
    bs, world = 16, 2
    for epoch in range(3):
        stream = s.indices(seeded_generator(0, epoch, 0), epoch, 3, bs)            # what one process draws
        again = s.indices(seeded_generator(0, epoch, 0), epoch, 3, bs)
        assert torch.equal(stream, again)                                           # every rank draws the same
        shards = [shard_batches(stream, bs // world, r, world) for r in range(world)]
        pos = [
            {b * (bs // world) + k for b in range(r, -(-len(stream) // (bs // world)), world)
             for k in range(bs // world) if b * (bs // world) + k < len(stream)} for r in range(world)]
        assert not pos[0] & pos[1] and pos[0] | pos[1] == set(range(len(stream)))  # disjoint, together all
        steps = -(-len(stream) // bs)
        rb = bs // world
        rebuilt = torch.cat([torch.cat([sh[t * rb:(t + 1) * rb] for sh in shards]) for t in range(steps)])
        assert torch.equal(rebuilt, stream)                    # step t over the ranks = global batch t


def test_gradient_accumulation_trains_the_same_batch(tiny_cfg, tmp_path):
    from ltlib.train import fit

    a = fit(tiny_cfg.replace(epochs=1), tmp_path, device="cpu", progress="none")
    b = fit(tiny_cfg.replace(epochs=1, accum_steps=2), tmp_path, device="cpu", progress="none")
    assert a.run_id != b.run_id and "accum_steps" in b.config.hash_dict()
    la, lb = a.history["loss"].iloc[0], b.history["loss"].iloc[0]
    assert abs(la - lb) < 0.05 * abs(la)                       # same images per step; only batch-norm sees halves


@pytest.mark.slow
@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()) or sys.platform == "win32",
                    reason="torch.distributed with the gloo backend is not available here")
def test_torchrun_two_processes_class_balanced_on_a_split_dataset(root, tmp_path):
    from ltlib.config import RunConfig

    cfg = RunConfig(dataset="imagenet_lt", data_root=str(root), arch="resnet10", image_size=32, epochs=1,
                    batch_size=32, sampler="cb", precision="fp32", warmup_epochs=0, tag="CB")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT), "LTSTUDY_LOADER_WORKERS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ltlib.train", str(tmp_path / "run.yaml"), "--runs-dir", str(tmp_path / "runs"),
           "--device", "cpu", "--progress", "line"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    runs = [d for d in (tmp_path / "runs").iterdir() if d.is_dir()]
    assert [d.name for d in runs] == [cfg.run_id()]            # one record, written by rank 0 only
    run = Run(runs[0])
    assert run.finished and json.loads((runs[0] / "meta.json").read_text())["world_size"] == 2
    assert p.stdout.count(f"{cfg.run_id()} acc ") == 1
    ev = run.events()[0]
    seen = torch.as_tensor(ev != 255)
    from ltlib.splits import load_splits

    labels = torch.as_tensor(load_splits("imagenet_lt", str(root)).labels["train"])      # in the list's order
    stream = build_sampler("cb", labels, len(TRAIN_COUNTS)).indices(seeded_generator(cfg.seed, 0, 0), 0, 1, 32)
    drawn = torch.zeros(len(labels), dtype=torch.bool)
    drawn[stream] = True
    assert torch.equal(seen, drawn)                            # both ranks' shards: exactly the one-process draw
