"""The one training engine: every method is a Method plugged into `fit`.

Data stay on the device as uint8 tensors; each epoch's sampler indices are drawn at once; batches are
augmented on the device; bf16 autocast; no per-step host syncs. Every epoch ends with an atomic
checkpoint, so a killed run resumes where it stopped. The epoch loop reads in phases:
draw indices -> batches -> step -> evaluate -> checkpoint -> report.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from filelock import FileLock

from ltlib import hardware
from ltlib.augment import normalize, random_crop_flip
from ltlib.config import RunConfig
from ltlib.data import LTData
from ltlib.splits import check_available
from ltlib.stream import is_stream
from ltlib.errors import ConfigError, RunStoreError
from ltlib.hardware import warn_if_emulated
from ltlib.inference import (DeviceData, autocast, build_for, classifier_norms, evaluate, predictions,
                             resolve_device)
from ltlib.methods.base import Batch, Method
from ltlib.models import count_parameters
from ltlib.params import load_param_file
from ltlib.paths import display_path
from ltlib.runs import (PARTIAL, REBUILD, RECORD_FILES, Run, check_writable, encode, environment, file_digest,
                        git_revision, keep_partial, load_checkpoint, runs_root, save_checkpoint, write_json,
                        write_results_table)
from ltlib.samplers import Sampler, build_run_sampler, shard_batches
from ltlib.schedules import lr_at

# Write failures that mean "the runs folder is full or not writable" (reported as RunStoreError).
STORE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# Progress display: bar (tqdm), line (one line per epoch), run (one line per finished run), none.
PROGRESS = ("auto", "bar", "line", "run", "none")


def seeded_generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch, stream): draws do not depend on the device or resumes."""
    s = 0
    for k in keys:
        s = (s * 1_000_003 + int(k)) % (2 ** 63 - 1)
    return torch.Generator().manual_seed(s)


def progress_mode(progress: str = "auto") -> str:
    """Resolve 'auto': $LTSTUDY_PROGRESS if set, a bar on a terminal or in Jupyter, else one line per epoch."""
    if progress not in PROGRESS:
        raise ConfigError(f"progress must be one of {', '.join(PROGRESS)}, got {progress!r}")
    if progress != "auto":
        return progress
    env = os.environ.get("LTSTUDY_PROGRESS", "auto")
    if env != "auto":
        return progress_mode(env)
    return "bar" if sys.stderr.isatty() or "ipykernel" in sys.modules else "line"


# ------------------------------------------------------------------------------------ set-up helpers

def _optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """SGD with the backbone's lr multiplier as its own parameter group."""
    back = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone.")]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("backbone.")]
    groups = [{"params": rest, "lr_mult": 1.0}]
    if back:
        groups.append({"params": back, "lr_mult": cfg.backbone_lr_mult})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


def make_batch(dd: DeviceData, bi: torch.Tensor, augment: bool, gen: torch.Generator,
               channels_last: bool = False, streamed: Optional[torch.Tensor] = None) -> Batch:
    """Rows bi of the device-resident training set, augmented (crop+flip) and normalised; a streaming split dataset
    hands in its rows already decoded and augmented (`streamed`, uint8, ltlib.stream)."""
    if streamed is not None:
        xb = streamed.to(dd.device, non_blocking=True)
    else:
        xb = dd.x[bi]
        if augment:
            xb = random_crop_flip(xb, dd.pad, gen)
    xb = normalize(xb, dd.mean, dd.std)
    if channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    return Batch(xb, dd.y[bi], bi)


class LossModule(nn.Module):
    """A method's loss as a module over its model, so DistributedDataParallel can wrap any method's step."""

    def __init__(self, method: Method, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, batches: list[Batch], epoch: int, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits of the first stream), as Method.loss."""
        return self.method.loss(self.model, batches, epoch, progress)


def train_step(step: nn.Module, opt: torch.optim.Optimizer, batches: list[Batch], epoch: int, progress: float,
               device: torch.device, precision: str, accum_steps: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step of a LossModule (or its DDP wrapper): forward under autocast, backward, update; with
    accum_steps > 1 the batch goes through in that many parts whose gradients add up (a batch that does not fit)."""
    opt.zero_grad(set_to_none=True)
    if accum_steps == 1:
        with autocast(device, precision):
            loss, logits = step(batches, epoch, progress)
        loss.backward()
        opt.step()
        return loss, logits
    parts = [[Batch(b.x[k::accum_steps], b.y[k::accum_steps], b.idx[k::accum_steps]) for b in batches]
             for k in range(accum_steps)]
    losses, outs = [], []
    for k, part in enumerate(parts):
        sync = k == accum_steps - 1 or not hasattr(step, "no_sync")
        with (nullcontext() if sync else step.no_sync()), autocast(device, precision):
            loss, logits = step(part, epoch, progress)
        (loss * len(part[0].y) / len(batches[0].y)).backward()
        losses.append(loss.detach() * len(part[0].y))
        outs.append(logits.detach())
    opt.step()
    logits = torch.empty((len(batches[0].y), outs[0].shape[1]), dtype=outs[0].dtype, device=outs[0].device)
    for k, o in enumerate(outs):
        logits[k::accum_steps] = o
    return torch.stack(losses).sum() / len(batches[0].y), logits


def init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, device); under torchrun (WORLD_SIZE > 1) join the process group (nccl on GPU, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def _all_reduce(x: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """x summed (or min-ed) over ranks; x itself without a process group."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    y = x.to(torch.float64 if x.is_floating_point() else torch.int32).clone()
    dist.all_reduce(y, op=dist.ReduceOp.MIN if op == "min" else dist.ReduceOp.SUM)
    return y.to(x.dtype)


def _fmt(x: Optional[float]) -> str:
    return "  -  " if x is None or x != x else f"{100 * x:5.1f}"


# ------------------------------------------------------------------------------------ the loop's state

@dataclass
class Loop:
    """Everything one training run carries from epoch to epoch."""

    cfg: RunConfig
    run: Run
    method: Method
    model: nn.Module
    data: LTData
    dd: DeviceData
    opt: torch.optim.Optimizer
    step: nn.Module
    frozen: list[nn.Module]
    device: torch.device
    rank: int
    world: int
    steps: int
    progress: str
    channels_last: bool
    events: torch.Tensor
    samplers: dict[str, Sampler] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "val_acc": -1.0})
    final: dict[str, Any] = field(default_factory=dict)
    test_pred: Optional[torch.Tensor] = None
    start: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)   # which machine trained which epochs
    bar: Any = None
    tb: Any = None

    @property
    def rank_batch(self) -> int:
        """Images per step on this rank (its share of the global batch)."""
        return self.cfg.batch_size // self.world

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder and prints."""
        return self.rank == 0

    @property
    def name(self) -> str:
        """How progress lines name the run."""
        return f"{self.cfg.tag or self.cfg.method} {self.run.run_id}"


def default_channels_last(device: torch.device, precision: str) -> bool:
    """channels_last where it was measured to pay: on a GPU, and for fp32 on a CPU without native bf16 (AVX2 Zen 3,
    ResNet-8: 1,267 vs 1,116 img/s); on an AVX-512 CPU it made no consistent difference (within 2 %), so not there."""
    return device.type == "cuda" or (device.type == "cpu" and precision == "fp32" and not hardware.cpu_bf16_native())


def _setup(cfg: RunConfig, run: Run, root: Path, device: torch.device, progress: str, deterministic: bool,
           channels_last: Optional[bool]) -> Loop:
    """Model (from stage 1 where asked), frozen parts, optimiser, device data, DDP split, run-folder metadata."""
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    channels_last = default_channels_last(device, cfg.precision) if channels_last is None else channels_last
    method, model, data = build_for(cfg)
    stage1 = None
    if cfg.init_from is not None:
        stage1 = fit(RunConfig.from_dict(cfg.init_from), root, device, progress, deterministic, channels_last)
        method.load_stage1(model, stage1.state_dict())
    frozen = method.freeze(model)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    dd = DeviceData(data, device)
    n, bs = len(dd.y), cfg.batch_size
    rank, world, _ = init_distributed(device)
    steps = -(-n // bs)
    if world > 1:                     # each rank: its bs/world share of every global batch (same hash, same draw)
        if bs % world or -(-n // (bs // world)) < world:
            raise ConfigError(f"batch_size {bs} must be a multiple of the {world} processes and n >= batch_size")
        steps = -(-n // (bs // world)) // world
    if world > 1 and cfg.sync_bn:    # batch statistics over the global batch (CUDA / NCCL only, torch's SyncBN)
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    step: nn.Module = LossModule(method, model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step = DistributedDataParallel(step, find_unused_parameters=True)
    events = torch.full((cfg.epochs, n), 255, dtype=torch.uint8, device=device)
    loop = Loop(cfg, run, method, model, data, dd, _optimizer(model, cfg), step, frozen, device, rank, world,
                steps, progress if rank == 0 else "none", channels_last, events)
    if loop.is_main:
        write_json(run.path / "config.json", cfg.to_dict())
        write_json(run.path / "meta.json", {"run_id": run.run_id, "git": git_revision(), **environment(device),
                                            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                            "deterministic": deterministic, "channels_last": channels_last,
                                            "stage1": stage1.run_id if stage1 else None, "world_size": world})
        np.savez(run.path / "indices.npz", train=data.train_indices, val=data.val_indices)
    return loop


def _resume(loop: Loop) -> None:
    """Continue from the run's newest good checkpoint, if any."""
    state = load_checkpoint(loop.run.path, loop.run.run_id)
    if state is None:
        return
    loop.model.load_state_dict(state["model"])
    loop.opt.load_state_dict(state["optimizer"])
    loop.history, loop.start, loop.best = list(state["history"]), int(state["epoch"]), dict(state["best"])
    loop.events.copy_(state["events"].to(loop.device))
    loop.segments = [dict(s) for s in state.get("segments", [])]
    _log(loop, f"[{loop.name}] resuming after epoch {loop.start}/{loop.cfg.epochs}", show=loop.progress != "none")


# ------------------------------------------------------------------------------------ the phases of an epoch

def _draw(loop: Loop, epoch: int) -> tuple[list[str], list[torch.Tensor]]:
    """Sampler names of this epoch's streams and one epoch of indices for each (this rank's share under DDP)."""
    cfg = loop.cfg
    loop.method.start_epoch(epoch)
    names = loop.method.streams(epoch)
    for name in names:
        if name not in loop.samplers:    # built at its first use (after a resume too: from its first epoch's events)
            first = next(e for e in range(epoch + 1) if name in loop.method.streams(e))
            loop.samplers[name] = build_run_sampler(name, loop.data.train.y, loop.data.num_classes,
                                                    loop.events[:first].cpu())
    idx = [loop.samplers[name].indices(seeded_generator(cfg.seed, epoch, i), epoch, cfg.epochs,
                                       cfg.batch_size).to(loop.device) for i, name in enumerate(names)]
    if loop.world > 1:
        idx = [shard_batches(ids, loop.rank_batch, loop.rank, loop.world) for ids in idx]
    return names, idx


def _train_epoch(loop: Loop, epoch: int, idx: list[torch.Tensor]) -> tuple[float, float, int]:
    """Batches -> steps over one epoch; (mean loss, train accuracy of the first stream, images seen)."""
    cfg, rb, steps = loop.cfg, loop.rank_batch, loop.steps
    aug_gen = seeded_generator(cfg.seed, epoch, 99, *([loop.rank] if loop.rank else []))
    loop.model.train()
    for m in loop.frozen:
        m.eval()
    loss_sum = torch.zeros((), device=loop.device)
    correct = torch.zeros((), device=loop.device)
    streams = [iter(loop.dd.x.epoch([ids[s * rb:(s + 1) * rb].cpu() for s in range(steps)], cfg.seed, epoch, i))
               if is_stream(loop.dd.x) else None for i, ids in enumerate(idx)]   # workers decode ahead
    for s in range(steps):
        lr = lr_at(cfg, epoch, s / steps)
        for g in loop.opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        batches = [make_batch(loop.dd, ids[s * rb:(s + 1) * rb], cfg.augment, aug_gen, loop.channels_last,
                              next(it) if it is not None else None) for ids, it in zip(idx, streams)]
        loss, logits = train_step(loop.step, loop.opt, batches, epoch, (epoch + s / steps) / cfg.epochs,
                                  loop.device, cfg.precision, cfg.accum_steps)
        hit = logits.detach().argmax(1) == batches[0].y
        loop.events[epoch, batches[0].idx] = hit.to(torch.uint8)
        loss_sum += loss.detach() * len(batches[0].y)
        correct += hit.sum()
    seen = torch.tensor(min(len(idx[0]), steps * rb) if loop.world > 1 else min(len(loop.dd.y), steps * cfg.batch_size))
    if loop.world > 1:
        loss_sum, correct, seen = _all_reduce(loss_sum), _all_reduce(correct), _all_reduce(seen)
        loop.events[epoch] = _all_reduce(loop.events[epoch], "min")
    seen = int(seen)
    return float(loss_sum) / seen, float(correct) / seen, seen


def _evaluate(loop: Loop, epoch: int, row: dict[str, Any]) -> None:
    """Held-out and test accuracy into the epoch's row; the held-out split alone picks the best epoch."""
    cfg, last = loop.cfg, epoch == loop.cfg.epochs - 1
    if not (last or (epoch + 1) % cfg.eval_every == 0):
        return
    val = evaluate(loop.method, loop.model, loop.dd, "val", loop.data.counts, cfg.precision)
    pred = predictions(loop.method, loop.model, loop.dd, "test", cfg.precision)
    test = evaluate(loop.method, loop.model, loop.dd, "test", loop.data.counts, cfg.precision, pred)
    row.update({"val_acc": val.get("acc", float("nan")), "val_classes": loop.data.val_classes,
                "test_acc": test["acc"]})
    row.update({k: test[k] for k in ("many", "medium", "few", "head", "mid", "tail")})
    row["test_per_class"] = json.dumps(test["per_class"])  # per-class accuracy per epoch
    row.update(loop.method.eval_readings(loop.model, loop.dd, loop.data))
    if val and val["acc"] > loop.best["val_acc"]:
        loop.best = {"epoch": epoch + 1, "val_acc": val["acc"], "test": test, "val": val}
    if last:
        loop.final = {"epoch": epoch + 1, "test": test, "val": val}
        loop.test_pred = pred                               # the final model's: diagnostics keeps them


def _checkpoint(loop: Loop, epoch: int) -> None:
    """Atomic checkpoint and history.csv after every epoch (rank 0)."""
    if not loop.is_main:
        return
    path = loop.run.path
    save_checkpoint(path, {"run_id": loop.run.run_id, "epoch": epoch + 1, "model": loop.model.state_dict(),
                           "optimizer": loop.opt.state_dict(), "history": loop.history, "best": loop.best,
                           "events": loop.events.cpu(), "segments": loop.segments})
    pd.DataFrame(loop.history).to_csv(path / ".history.tmp", index=False)
    os.replace(path / ".history.tmp", path / "history.csv")


def event_dir(run: Run, cfg: RunConfig) -> Path:
    """Where a run's TensorBoard events go: <run>/events/<tag or method>-seed<seed>, so `tensorboard --logdir
    outputs/runs` names every run by its hash, method and seed."""
    name = "".join(c if c.isalnum() or c in "+-_." else "_" for c in (cfg.tag or cfg.method))
    return run.path / "events" / f"{name}-seed{cfg.seed}"


def _tensorboard(loop: Loop, row: dict[str, Any]) -> None:
    """The epoch's scalars as TensorBoard events (rank 0; skipped, with one note, where tensorboard is missing)."""
    if not loop.is_main:
        return
    if loop.tb is None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            loop.tb = False
            _log(loop, f"[{loop.name}] note: tensorboard is not installed; no event files", show=False)
            return
        loop.tb = SummaryWriter(str(event_dir(loop.run, loop.cfg)), purge_step=loop.start + 1)
    if loop.tb is False:
        return
    e = row["epoch"]
    for key in ("loss", "train_acc", "lr", "img_per_s"):
        loop.tb.add_scalar(f"train/{key}", row[key], e)
    for key in ("val_acc", "test_acc", "head", "mid", "tail", "many", "medium", "few"):
        v = row.get(key)
        if v is not None and v == v:
            loop.tb.add_scalar(f"eval/{key}", v, e)
    loop.tb.flush()


def _close_progress(loop: Loop) -> None:
    """Close the progress bar and the TensorBoard writer (when the run finishes or stops early)."""
    if loop.bar is not None:
        loop.bar.close()
    if loop.tb:
        loop.tb.close()


def _log(loop: Loop, line: str, show: bool) -> None:
    """Append a line to the run's train.log (rank 0); print it too when show."""
    if loop.is_main:
        with open(loop.run.path / "train.log", "a") as f:
            f.write(line + "\n")
    if show:
        print(line, flush=True)


def _report(loop: Loop, row: dict[str, Any]) -> None:
    """The epoch's line into train.log; on screen as the progress mode says (line / bar)."""
    line = (f"[{loop.name}] epoch {row['epoch']:3d}/{loop.cfg.epochs} lr {row['lr']:.4f} loss {row['loss']:.3f} "
            f"train {_fmt(row['train_acc'])}% val {_fmt(row.get('val_acc'))}% test {_fmt(row.get('test_acc'))}% "
            f"(head {_fmt(row.get('head'))} mid {_fmt(row.get('mid'))} tail {_fmt(row.get('tail'))}) "
            f"{row['epoch_seconds']:.1f}s {row['img_per_s']:.0f} img/s")
    _log(loop, line, show=loop.progress == "line")
    if loop.progress == "bar":
        if loop.bar is None:
            from tqdm.auto import tqdm
            loop.bar = tqdm(total=loop.cfg.epochs, initial=row["epoch"] - 1, desc=loop.name, leave=True)
        loop.bar.update(1)
        loop.bar.set_postfix(loss=f"{row['loss']:.3f}", test=_fmt(row.get("test_acc")))


def _finish(loop: Loop, root: Path) -> None:
    """metrics.json (written last: the run is finished once it exists), events, the results table, one line."""
    cfg = loop.cfg
    _close_progress(loop)
    if loop.start >= cfg.epochs:         # resumed after the last epoch's checkpoint (stopped before metrics.json)
        loop.final = {"epoch": cfg.epochs, "test": evaluate(loop.method, loop.model, loop.dd, "test", loop.data.counts,
                                                            cfg.precision),
                      "val": evaluate(loop.method, loop.model, loop.dd, "val", loop.data.counts, cfg.precision)}
    if loop.best["epoch"] < 0:                               # no held-out split: best = last, say so
        loop.best = {"epoch": loop.final["epoch"], "val_acc": None, "test": loop.final["test"], "val": {}}
    if not loop.is_main:
        return
    train_time = sum(h["epoch_seconds"] for h in loop.history)
    images = sum(h["img_per_s"] * h["epoch_seconds"] for h in loop.history)
    np.savez_compressed(loop.run.path / "events.npz", events=loop.events.cpu().numpy())
    files = {n: file_digest(loop.run.path / n) for n in RECORD_FILES[:-1] if (loop.run.path / n).exists()}
    write_json(loop.run.path / "metrics.json", {
        "run_id": loop.run.run_id, "tag": cfg.tag, "counts": loop.data.counts, "classes": loop.data.classes,
        "val_classes": loop.data.val_classes, "num_params": count_parameters(loop.model),
        "last": loop.final, "best_val": loop.best,
        "train_seconds": train_time, "img_per_s": images / max(1e-9, train_time), "device": str(loop.device),
        "threads": torch.get_num_threads(), "segments": loop.segments, "diagnostics": encode(diagnostics(loop)),
        "files": files}, seal=True)
    (loop.run.path / PARTIAL).unlink(missing_ok=True)        # the record has landed: the carried state is done
    write_results_table(root)
    t = loop.final["test"]
    _log(loop, f"[{loop.name}] done: {cfg.epochs} epochs in {train_time:.0f} s, test {_fmt(t['acc'])}% (head "
               f"{_fmt(t['head'])} mid {_fmt(t['mid'])} tail {_fmt(t['tail'])}) -> {display_path(loop.run.path)}",
         show=loop.progress in ("line", "run"))


def diagnostics(loop: Loop) -> dict[str, Any]:
    """What a report reads of the final model, kept in the record so nothing needs the checkpoint: a digest per
    weight tensor (a frozen part is checked by comparing them), the classifier's per-class norms, the test-set
    predictions (bias-variance), and the method's own readings (Method.diagnostics)."""
    model, dd = loop.model, loop.dd
    digests = {k: hashlib.sha256(v.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
               for k, v in model.state_dict().items()}
    w = loop.method.classifier_weight(model)
    pred = loop.test_pred if loop.test_pred is not None else predictions(loop.method, model, dd, "test",
                                                                          loop.cfg.precision)
    out = {"weight_digests": digests, "classifier_norms": None if w is None else classifier_norms(w),
           "test_predictions": pred.to(torch.int16 if loop.data.num_classes > 127 else torch.int8).cpu().numpy()}
    out.update(loop.method.diagnostics(model, dd, loop.data))
    return out


def rebuild_weights(run: Run, device: str | torch.device = "auto", progress: str = "auto") -> None:
    """Retrain a recorded run whose final checkpoint is not here (a record from git or another machine) in a scratch
    store, said in one line, and put its checkpoint beside the record (which stays as it is)."""
    cfg = run.config
    scratch = run.path.parent / ".rebuild"
    print(f"[{cfg.tag or cfg.method} {run.run_id}] recorded without its weights here: retraining it for them "
          f"({cfg.epochs} epochs)", flush=True)
    again = fit(cfg, scratch, device, "none" if progress_mode(progress) == "bar" else progress)
    shutil.copy2(again.path / "last.pt", run.path / ".last.rebuilt.tmp")
    os.replace(run.path / ".last.rebuilt.tmp", run.path / "last.pt")
    new, old = again.metrics["last"]["test"]["acc"], run.metrics["last"]["test"]["acc"]
    if new != old:
        print(f"[{cfg.tag or cfg.method} {run.run_id}] note: the retrained weights score {100 * new:.2f}% against "
              f"{100 * old:.2f}% recorded (another CPU, precision or thread count)", flush=True)
    shutil.rmtree(again.path, ignore_errors=True)


REBUILD["weights"] = rebuild_weights


def report_reused(found: list[tuple[Run, RunConfig]], progress: str = "auto") -> None:
    """Finished runs that are reused, in one line (each: its tag, epochs and test accuracy; its folder is the hash
    under the run store; not in train.log); a single run gets its own line with where and how long it trained."""
    if progress_mode(progress) not in ("line", "run") or not found:
        return
    if len(found) == 1:
        run, cfg = found[0]
        m = run.metrics
        t = m["last"]["test"]
        print(f"[{cfg.tag or cfg.method} {run.run_id}] reused ({cfg.epochs} epochs, trained in "
              f"{m.get('train_seconds', float('nan')):.0f} s on {m.get('device', '?')}): test {_fmt(t['acc'])}% (head "
              f"{_fmt(t['head'])} mid {_fmt(t['mid'])} tail {_fmt(t['tail'])})", flush=True)
        return
    parts = [f"{cfg.tag or cfg.method} {_fmt(run.metrics['last']['test']['acc']).strip()}" for run, cfg in found]
    secs = sum(run.metrics.get("train_seconds") or 0 for run, _ in found)
    print(f"[reused {len(found)} finished runs, trained in {secs / 60:.1f} min; test %] " + ", ".join(parts),
          flush=True)


# ------------------------------------------------------------------------------------ fit

def fit(cfg: RunConfig, runs_dir: str | os.PathLike | None = None, device: str | torch.device = "auto",
        progress: str = "auto", deterministic: bool = False, channels_last: Optional[bool] = None,
        stop_after_epochs: Optional[int] = None, deadline: Optional[float] = None) -> Run:
    """Train a run, or return it if it already finished; resumes from its last checkpoint (or the resumable state
    a budget slice left, `partial.pt`, committed with the record so far).

    runs_dir, device, progress, deterministic and channels_last do not change the run hash.
    stop_after_epochs stops early without finishing (tests of resuming). deadline (Unix time): stop after the last
    epoch that ends before it, keeping the resumable state in partial.pt; the returned run is then unfinished
    (its stage-1 run too may be the one left unfinished).
    """
    cfg.validate()
    progress = progress_mode(progress)
    root = runs_root(runs_dir)
    check_writable(root)
    run = Run(root / cfg.run_id())
    if run.finished:
        return run.check()
    check_available(cfg.dataset, cfg.data_root, cfg.image_root)   # a missing/corrupt dataset fails before any write
    if cfg.init_from is not None and deadline is not None:    # a sliced stage 1 first: it may not finish in time
        first = fit(RunConfig.from_dict(cfg.init_from), root, device, progress, deterministic, channels_last,
                    deadline=deadline)
        if not first.finished:
            return run
    rank, _, dev = init_distributed(resolve_device(device))     # DDP under torchrun: rank 0 alone writes
    warn_if_emulated(cfg.precision, dev)
    if rank == 0:
        run.path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run.path / ".lock")) if rank == 0 else nullcontext():
        if run.finished:                                    # another process finished it meanwhile
            return run
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            loop = _setup(cfg, run, root, dev, progress, deterministic, channels_last)
            _resume(loop)
            loop.segments.append(segment(loop))
            return _train(loop, root, stop_after_epochs, deadline)
        except OSError as e:
            if e.errno not in STORE_ERRNOS:
                raise
            where = f" ({e.filename})" if e.filename else ""
            raise RunStoreError(f"cannot write run {run.run_id} in {run.path}: {e.strerror or e}{where}; free disk "
                                f"space or choose another runs_dir (the run stays unfinished and resumes from its "
                                f"last checkpoint)") from None
        finally:
            torch.use_deterministic_algorithms(was_deterministic)


def segment(loop: Loop) -> dict[str, Any]:
    """Where the epochs from here on are trained: CPU (or GPU), its vector capability, threads, git revision."""
    dev = loop.device
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else hardware.cpu_model()
    return {"first_epoch": loop.start + 1, "last_epoch": loop.start, "device": str(dev), "processor": where,
            "capability": hardware.cpu_capability(), "threads": torch.get_num_threads(), "git": git_revision()}


def _slice_ends(loop: Loop, epoch: int, deadline: Optional[float]) -> bool:
    """True when the next epoch would not end before the deadline (judged by the slowest epoch of this slice)."""
    if deadline is None or epoch >= loop.cfg.epochs - 1:
        return False
    mine = [h["epoch_seconds"] for h in loop.history[loop.segments[-1]["first_epoch"] - 1:]]
    return time.time() + 1.1 * max(mine) > deadline


def _train(loop: Loop, root: Path, stop_after: Optional[int], deadline: Optional[float] = None) -> Run:
    """The epoch loop: draw indices -> batches and steps -> evaluate -> checkpoint -> report."""
    cfg = loop.cfg
    for epoch in range(loop.start, cfg.epochs):
        t0 = time.perf_counter()
        names, idx = _draw(loop, epoch)
        loss, train_acc, seen = _train_epoch(loop, epoch, idx)
        seconds = time.perf_counter() - t0
        if not math.isfinite(loss):
            raise FloatingPointError(f"[{loop.name}] loss became {loss} at epoch {epoch + 1}; lower lr")
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr_at(cfg, epoch), "sampler": "+".join(names),
                               "loss": loss, "train_acc": train_acc}
        _evaluate(loop, epoch, row)
        row["epoch_seconds"] = seconds
        row["img_per_s"] = len(names) * seen / seconds
        loop.history.append(row)
        loop.segments[-1]["last_epoch"] = epoch + 1
        _checkpoint(loop, epoch)
        _tensorboard(loop, row)
        _report(loop, row)
        if _slice_ends(loop, epoch, deadline):
            _close_progress(loop)
            if loop.is_main:
                size = keep_partial(loop.run.path)
                _log(loop, f"[{loop.name}] slice ends after epoch {epoch + 1}/{cfg.epochs}: resumable state kept in "
                           f"{display_path(loop.run.path / PARTIAL)} ({size / 2**20:.1f} MB; commit it with the "
                           f"record so far)", show=loop.progress != "none")
            return loop.run
        if stop_after is not None and epoch + 1 - loop.start >= stop_after and epoch < cfg.epochs - 1:
            _close_progress(loop)
            return loop.run
    _finish(loop, root)
    if loop.world > 1:
        import torch.distributed as dist

        dist.barrier()                                      # every rank returns a finished run
    return loop.run


def read_run_file(path: str | os.PathLike) -> list[RunConfig]:
    """Run configs of a YAML file: one mapping, or {runs: [mapping, ...]} (what --export-runs writes)."""
    d = load_param_file(path)
    if "runs" in d and not isinstance(d["runs"], list):
        raise ConfigError(f"{path}: 'runs' must be a list of run configs, got {type(d['runs']).__name__}")
    return [RunConfig.from_dict(x) for x in d["runs"]] if "runs" in d else [RunConfig.from_dict(d)]


def read_limits(path: str | os.PathLike) -> tuple[Optional[float], dict[str, float], set[str]]:
    """A run file's optional time limit (what `study --budget` writes): the deadline (Unix time), each run's
    estimated seconds until it is recorded, and the runs that may span slices (started though they cannot end
    before the deadline; their state is carried in partial.pt)."""
    d = load_param_file(path)
    return (d.get("deadline"), {str(k): float(v) for k, v in (d.get("estimates") or {}).items()},
            {str(h) for h in d.get("sliced") or []})


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' (0 <= i < N) -> (i, N); 'slurm' -> this Slurm array task's (SLURM_ARRAY_TASK_ID / _COUNT)."""
    if text == "slurm":
        try:
            return int(os.environ["SLURM_ARRAY_TASK_ID"]), int(os.environ["SLURM_ARRAY_TASK_COUNT"])
        except KeyError:
            raise ConfigError("--shard slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a job array)") from None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must be i/N (e.g. 0/4) or 'slurm', got {text!r}") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard {text}: need 0 <= i < N")
    return i, n


def run_work(cfg: RunConfig) -> int:
    """A rough size of a run (epochs x images of the largest class), to balance and gate training."""
    return cfg.epochs * (cfg.max_per_class or 5000)


def stage_waves(cfgs: list[RunConfig], weight: Callable[[RunConfig], float] = run_work) -> list[list[RunConfig]]:
    """The order in which runs train for the parallel waves, --budget's workers and --export-runs (--shard and
    gpu_run group a stage-1 run with its stage-2 runs over that order): the distinct runs by stage depth, so a
    stage-1 run comes in an earlier wave than every run that starts from it, each wave longest first (ties keep
    their order). Ancestors not listed are not added."""
    by_depth: dict[int, dict[str, RunConfig]] = {}
    for c in cfgs:
        by_depth.setdefault(len(c.stages()), {}).setdefault(c.run_id(), c)
    return [sorted(by_depth[d].values(), key=weight, reverse=True) for d in sorted(by_depth)]


def balanced_bins(items: list[Any], bins: int, weight: Any) -> list[list[Any]]:
    """Longest-first greedy split of items into `bins` lists of about equal total weight (ties keep their order)."""
    out: list[list[Any]] = [[] for _ in range(bins)]
    load = [0] * bins
    for x in sorted(items, key=weight, reverse=True):
        j = load.index(min(load))
        out[j].append(x)
        load[j] += weight(x)
    return out


def shard(cfgs: list[RunConfig], i: int, n: int) -> list[RunConfig]:
    """Shard i of n: runs grouped by their first stage (a stage-1 run and every run that starts from it share a
    shard, so no shard waits on another), groups dealt longest-first to the least-loaded shard; order kept."""
    groups: dict[str, list[int]] = {}
    for k, c in enumerate(cfgs):
        groups.setdefault(c.stages()[0].run_id(), []).append(k)
    work = {g: sum(run_work(cfgs[k]) for k in ks) for g, ks in groups.items()}
    mine = balanced_bins(sorted(groups), n, work.__getitem__)[i]
    return [cfgs[k] for k in sorted(k for g in mine for k in groups[g])]


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.train RUN.yaml [...] [--shard i/N]: train run configs (a mapping, or {runs: [mapping, ...]})."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ltlib.train", description=main.__doc__)
    ap.add_argument("files", nargs="+", help="YAML run configs (python -m ltlib.study --export-runs writes one)")
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--progress", default="line", choices=list(PROGRESS))
    ap.add_argument("--shard", default=None,
                    help="i/N: train only shard i (0-based) of N, so N processes, GPUs or Slurm array tasks split the "
                         "runs into one shared run store; 'slurm': from SLURM_ARRAY_TASK_ID / _COUNT")
    ap.add_argument("--list", action="store_true", help="print the runs (of this shard) and whether each is done")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                    help="channels_last memory format (default: on a GPU only); does not change the run hash")
    args = ap.parse_args(argv)
    try:
        cfgs = [c for f in args.files for c in read_run_file(f)]
        limits = [read_limits(f) for f in args.files]
        deadline = min((d for d, _, _ in limits if d), default=None)
        estimates = {k: v for _, e, _ in limits for k, v in e.items()}
        sliced = {h for _, _, s in limits for h in s}
        if args.shard:
            cfgs = shard(cfgs, *parse_shard(args.shard))
        if deadline and not sliced:          # a budget: stage-1 runs first, then the longest first
            cfgs = [c for w in stage_waves(cfgs, lambda c: estimates.get(c.run_id(), 0.0)) for c in w]
        if args.list:
            root = runs_root(args.runs_dir)
            for c in cfgs:
                print(f"{c.run_id()}  {'done' if Run(root / c.run_id()).finished else 'todo'}  {c.tag or c.method}")
            return 0
        if args.shard:
            print(f"shard {args.shard}: {len(cfgs)} run(s)", flush=True)
        for c in cfgs:
            need, left = estimates.get(c.run_id(), 0.0), (deadline or 0) - time.time()
            if deadline and c.run_id() in sliced:             # runs in their given order, each until the deadline
                if left < need / c.epochs:                   # not even one epoch fits
                    print(f"[budget] slice over: {c.tag or c.method} {c.run_id()} and later runs wait", flush=True)
                    break
            elif deadline and need > left and not Run(runs_root(args.runs_dir) / c.run_id()).finished:
                print(f"[budget] {c.tag or c.method} {c.run_id()} not started: ~{need / 60:.1f} min needed, "
                      f"{max(0.0, left) / 60:.1f} min left", flush=True)
                continue
            r = fit(c, args.runs_dir, args.device, args.progress, channels_last=args.channels_last,
                    deadline=deadline if c.run_id() in sliced else None)
            if not r.finished:                               # a sliced run stopped at the deadline
                break
            if int(os.environ.get("RANK", "0")) == 0 and args.progress in ("line", "bar"):  # torchrun: rank 0
                print(f"{r.run_id} acc {r.metrics['last']['test']['acc']:.4f} -> {display_path(r.path)}")
    except (ConfigError, FloatingPointError) as e:          # user errors: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
