"""The one training engine: every method is a Method plugged into `fit`.

Data stay on the device as uint8 tensors; each epoch's sampler indices are drawn at once; batches are
augmented on the device; bf16 autocast; no per-step host syncs. Every epoch ends with an atomic
checkpoint, so a killed run resumes where it stopped.
"""
from __future__ import annotations

import errno
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from filelock import FileLock

from ltlib.augment import normalize, random_crop_flip
from ltlib.config import ConfigError, RunConfig
from ltlib.data import LTData, load_dataset, make_long_tailed
from ltlib.heads import LWSHead
from ltlib.methods import Batch, Method, build_method
from ltlib.metrics import accuracy_report
from ltlib.runs import (Run, RunStoreError, check_writable, environment, git_revision, load_checkpoint,
                        runs_root, save_checkpoint, write_json, write_results_table)
from ltlib.samplers import build_sampler, shard_batches


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} asked for but no CUDA GPU is visible; use device='auto' or 'cpu'")
    return torch.device(device)


def lr_at(cfg: RunConfig, epoch: int, frac: float = 0.0) -> float:
    """Learning rate at epoch + frac: linear warm-up, then multistep / cosine / constant."""
    w = cfg.warmup_epochs
    if epoch < w:
        return cfg.lr * (cfg.warmup_start + (1 - cfg.warmup_start) * (epoch + 1) / w)
    if cfg.schedule == "cosine":
        t = (epoch + frac - w) / max(1e-8, cfg.epochs - w)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    if cfg.schedule == "multistep":
        return cfg.lr * cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    return cfg.lr


def _gen(*keys: int) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch, stream): draws do not depend on the device or resumes."""
    s = 0
    for k in keys:
        s = (s * 1_000_003 + int(k)) % (2 ** 63 - 1)
    return torch.Generator().manual_seed(s)


class DeviceData:
    """The long-tailed splits as uint8 tensors on the device, with normalisation constants."""

    def __init__(self, data: LTData, device: torch.device) -> None:
        self.device = device
        self.x = data.train.x.to(device)
        self.y = data.train.y.to(device)
        self.splits = {"val": (data.val.x.to(device), data.val.y.to(device)),
                       "test": (data.test.x.to(device), data.test.y.to(device))}
        self.mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
        self.pad = data.pad


def build_for(cfg: RunConfig, data: Optional[LTData] = None) -> tuple[Method, nn.Module, LTData]:
    """Data, method and a freshly initialised model (seeded) for a config."""
    data = data or make_long_tailed(cfg.dataset, cfg.imbalance_ratio, cfg.max_per_class, cfg.lt_seed,
                                    cfg.val_per_class, cfg.data_root)
    method = build_method(cfg, data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = method.build_model()
    return method, model, data


def _load_stage1(model: nn.Module, state: dict[str, torch.Tensor], cfg: RunConfig) -> None:
    """Start from a stage-1 run: backbone always; the classifier too unless reinit_head (LWS wraps it)."""
    own = model.state_dict()
    keep = {}
    for k, v in state.items():
        if k.startswith("head.") and cfg.reinit_head and cfg.train_parts != "lws":
            continue
        if isinstance(getattr(model, "head", None), LWSHead) and k.startswith("head."):
            k = "head.linear." + k[len("head."):]
        if k in own and own[k].shape == v.shape:
            keep[k] = v
    missing = [k for k in own if k.startswith("backbone.") and k not in keep]
    if missing:
        raise ConfigError(f"stage-1 run does not fit this model (missing {missing[:3]}...)")
    model.load_state_dict(keep, strict=False)


def _freeze(model: nn.Module, train_parts: str) -> list[nn.Module]:
    """Freeze what train_parts leaves fixed; return the modules to keep in eval mode (frozen BN)."""
    if train_parts == "all":
        return []
    model.requires_grad_(False)
    if train_parts == "lws":
        model.head.scale.requires_grad_(True)
        return [model.backbone]
    model.head.requires_grad_(True)
    if isinstance(model.head, LWSHead):
        model.head.linear.requires_grad_(False)
    if train_parts == "last_block":
        model.backbone.last_block.requires_grad_(True)
        frozen = [m for name, m in model.backbone.named_children()]
        return [m for m in frozen if not any(p.requires_grad for p in m.parameters())]
    return [model.backbone]


def _optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """SGD with the backbone's lr multiplier as its own parameter group."""
    back = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone.")]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("backbone.")]
    groups = [{"params": rest, "lr_mult": 1.0}]
    if back:
        groups.append({"params": back, "lr_mult": cfg.backbone_lr_mult})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


@torch.no_grad()
def predict(method: Method, model: nn.Module, x: torch.Tensor, dd: DeviceData, batch_size: int = 1000,
            precision: str = "bf16", features: bool = False) -> torch.Tensor:
    """Logits (or features) of uint8 images, in batches, in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = normalize(x[i:i + batch_size], dd.mean, dd.std)
        with _autocast(dd.device, precision):
            o = method.features(model, xb) if features else method.predict(model, xb)
        out.append(o.float())
    return torch.cat(out)


def evaluate(method: Method, model: nn.Module, dd: DeviceData, split: str, counts: list[int],
             precision: str = "bf16") -> dict[str, Any]:
    """Accuracy report on a split ('val' or 'test')."""
    x, y = dd.splits[split]
    if len(y) == 0:
        return {}
    pred = predict(method, model, x, dd, precision=precision).argmax(1)
    return accuracy_report(pred, y, counts)


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def make_batch(dd: DeviceData, bi: torch.Tensor, augment: bool, gen: torch.Generator,
               channels_last: bool = False) -> Batch:
    """Rows bi of the device-resident training set, augmented (crop+flip) and normalised."""
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
               device: torch.device, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step of a LossModule (or its DDP wrapper): forward under autocast, backward, update."""
    with _autocast(device, precision):
        loss, logits = step(batches, epoch, progress)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, logits


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


def _progress_mode(progress: str) -> str:
    if progress == "auto":
        return "bar" if sys.stderr.isatty() else "line"
    return progress


def _fmt(x: Optional[float]) -> str:
    return "  -  " if x is None or x != x else f"{100 * x:5.1f}"


def fit(cfg: RunConfig, runs_dir: str | os.PathLike | None = None, device: str | torch.device = "auto",
        progress: str = "auto", deterministic: bool = False, channels_last: Optional[bool] = None,
        stop_after_epochs: Optional[int] = None) -> Run:
    """Train a run, or return it if it already finished; resumes from its last checkpoint.

    runs_dir, device, progress, deterministic and channels_last do not change the run hash.
    stop_after_epochs stops early without finishing (tests of resuming).
    """
    cfg.validate()
    root = runs_root(runs_dir)
    check_writable(root)
    run_dir = root / cfg.run_id()
    run = Run(run_dir)
    if run.finished:
        return run
    load_dataset(cfg.dataset, cfg.data_root)                   # a missing/corrupt dataset fails before any write
    rank, _, dev = init_distributed(resolve_device(device))     # DDP under torchrun: rank 0 alone writes
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run_dir / ".lock")) if rank == 0 else nullcontext():
        if run.finished:                                    # another process finished it meanwhile
            return run
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            return _fit_locked(cfg, run, root, dev, _progress_mode(progress) if rank == 0 else "none",
                               deterministic, channels_last, stop_after_epochs)
        except OSError as e:
            if e.errno not in STORE_ERRNOS:
                raise
            where = f" ({e.filename})" if e.filename else ""
            raise RunStoreError(f"cannot write run {run.run_id} in {run_dir}: {e.strerror or e}{where}; free disk "
                                f"space or choose another runs_dir (the run stays unfinished and resumes from its "
                                f"last checkpoint)") from None
        finally:
            torch.use_deterministic_algorithms(was_deterministic)


# Write failures that mean "the runs folder is full or not writable" (reported as RunStoreError).
STORE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _fit_locked(cfg: RunConfig, run: Run, root: Path, device: torch.device, progress: str,
                deterministic: bool, channels_last: Optional[bool], stop_after: Optional[int]) -> Run:
    run_dir, run_id = run.path, cfg.run_id()
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    method, model, data = build_for(cfg)
    stage1 = None
    if cfg.init_from is not None:
        stage1 = fit(RunConfig.from_dict(cfg.init_from), root, device, progress, deterministic, channels_last)
        _load_stage1(model, stage1.state_dict(), cfg)
    frozen = _freeze(model, cfg.train_parts)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, cfg)
    dd = DeviceData(data, device)
    n, bs, epochs = len(dd.y), cfg.batch_size, cfg.epochs
    steps = -(-n // bs)
    rank, world, _ = init_distributed(device)
    is_main = rank == 0
    if world > 1:                     # each rank: its bs/world share of every global batch (same hash, same draw)
        if bs % world or -(-n // (bs // world)) < world:
            raise ConfigError(f"batch_size {bs} must be a multiple of the {world} processes and n >= batch_size")
        steps = -(-n // (bs // world)) // world
    rb = bs // world                                        # images per step on this rank
    samplers: dict[str, Any] = {}
    if is_main:
        write_json(run_dir / "config.json", cfg.to_dict())
        write_json(run_dir / "meta.json", {"run_id": run_id, "git": git_revision(), **environment(device),
                                           "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                           "deterministic": deterministic, "channels_last": channels_last,
                                           "stage1": stage1.run_id if stage1 else None, "world_size": world})
        np.savez(run_dir / "indices.npz", train=data.train_indices, val=data.val_indices)

    history: list[dict[str, Any]] = []
    events = torch.full((epochs, n), 255, dtype=torch.uint8, device=device)
    best: dict[str, Any] = {"epoch": -1, "val_acc": -1.0}
    start = 0
    state = load_checkpoint(run_dir, run_id)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, start, best = list(state["history"]), int(state["epoch"]), dict(state["best"])
        events.copy_(state["events"].to(device))
        if progress != "none":
            print(f"[{run_id}] resuming after epoch {start}/{epochs}", flush=True)

    step: nn.Module = LossModule(method, model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step = DistributedDataParallel(step, find_unused_parameters=True)
    bar = None
    if progress == "bar":
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, initial=start, desc=f"{cfg.tag or cfg.method} {run_id}", leave=True)
    train_time = sum(h["epoch_seconds"] for h in history)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        method.start_epoch(epoch)
        names = method.streams(epoch)
        for name in names:
            if name not in samplers:
                samplers[name] = build_sampler(name, data.train.y, data.num_classes)
        idx = [samplers[name].indices(_gen(cfg.seed, epoch, i), epoch, epochs, bs).to(device)
               for i, name in enumerate(names)]
        aug_gen = _gen(cfg.seed, epoch, 99) if rank == 0 else _gen(cfg.seed, epoch, 99, rank)
        if world > 1:
            idx = [shard_batches(ids, rb, rank, world) for ids in idx]
        model.train()
        for m in frozen:
            m.eval()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for s in range(steps):
            lr = lr_at(cfg, epoch, s / steps)
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_mult"]
            batches = [make_batch(dd, ids[s * rb:(s + 1) * rb], cfg.augment, aug_gen, channels_last) for ids in idx]
            loss, logits = train_step(step, opt, batches, epoch, (epoch + s / steps) / epochs, device, cfg.precision)
            hit = logits.detach().argmax(1) == batches[0].y
            events[epoch, batches[0].idx] = hit.to(torch.uint8)
            loss_sum += loss.detach() * len(batches[0].y)
            correct += hit.sum()
        seen = torch.tensor(min(len(idx[0]), steps * rb) if world > 1 else min(n, steps * bs))
        if world > 1:
            loss_sum, correct, seen = _all_reduce(loss_sum), _all_reduce(correct), _all_reduce(seen)
            events[epoch] = _all_reduce(events[epoch], "min")
        seen = int(seen)
        seconds = time.perf_counter() - t0
        train_time += seconds
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr_at(cfg, epoch), "sampler": "+".join(names),
                               "loss": float(loss_sum) / seen, "train_acc": float(correct) / seen}
        if not math.isfinite(row["loss"]):
            raise FloatingPointError(f"[{run_id}] loss became {row['loss']} at epoch {epoch + 1}; lower lr")
        last = epoch == epochs - 1
        if last or (epoch + 1) % cfg.eval_every == 0:
            val = evaluate(method, model, dd, "val", data.counts, cfg.precision)
            test = evaluate(method, model, dd, "test", data.counts, cfg.precision)
            row.update({"val_acc": val.get("acc", float("nan")), "test_acc": test["acc"]})
            row.update({k: test[k] for k in ("many", "medium", "few", "head", "mid", "tail")})
            row["test_per_class"] = json.dumps(test["per_class"])  # per-class accuracy per epoch
            if val and val["acc"] > best["val_acc"]:
                best = {"epoch": epoch + 1, "val_acc": val["acc"], "test": test, "val": val}
            if last:
                final = {"epoch": epoch + 1, "test": test, "val": val}
        row["epoch_seconds"] = seconds
        row["img_per_s"] = len(names) * seen / seconds
        history.append(row)
        if is_main:
            save_checkpoint(run_dir, {"run_id": run_id, "epoch": epoch + 1, "model": model.state_dict(),
                                      "optimizer": opt.state_dict(), "history": history, "best": best,
                                      "events": events.cpu()})
            pd.DataFrame(history).to_csv(run_dir / ".history.tmp", index=False)
            os.replace(run_dir / ".history.tmp", run_dir / "history.csv")
        if progress == "line":
            print(f"[{cfg.tag or cfg.method} {run_id}] epoch {epoch + 1:3d}/{epochs} lr {row['lr']:.4f} "
                  f"loss {row['loss']:.3f} train {_fmt(row['train_acc'])}% val {_fmt(row.get('val_acc'))}% "
                  f"test {_fmt(row.get('test_acc'))}% (head {_fmt(row.get('head'))} mid {_fmt(row.get('mid'))}"
                  f" tail {_fmt(row.get('tail'))}) {seconds:.1f}s {row['img_per_s']:.0f} img/s", flush=True)
        elif bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3f}", test=_fmt(row.get("test_acc")))
        if stop_after is not None and epoch + 1 - start >= stop_after and not last:
            if bar is not None:
                bar.close()
            return run
    if bar is not None:
        bar.close()
    if start >= epochs:                 # resumed after the last epoch's checkpoint (stopped before metrics.json)
        final = {"epoch": epochs, "test": evaluate(method, model, dd, "test", data.counts, cfg.precision),
                 "val": evaluate(method, model, dd, "val", data.counts, cfg.precision)}
    if best["epoch"] < 0:                                   # no held-out split: best = last, say so
        best = {"epoch": final["epoch"], "val_acc": None, "test": final["test"], "val": {}}
    if is_main:
        np.savez_compressed(run_dir / "events.npz", events=events.cpu().numpy())
        total = sum(h["img_per_s"] * h["epoch_seconds"] for h in history)
        write_json(run_dir / "metrics.json", {
            "run_id": run_id, "tag": cfg.tag, "counts": data.counts, "classes": data.classes,
            "num_params": sum(p.numel() for p in model.parameters()), "last": final, "best_val": best,
            "train_seconds": train_time, "img_per_s": total / max(1e-9, train_time), "device": str(device)})
        write_results_table(root)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()                                      # every rank returns a finished run
    return run


def _stage_chain(cfg: RunConfig) -> list[RunConfig]:
    """The config and its stage-1 ancestors (init_from), deepest ancestor first."""
    chain = [cfg]
    while chain[0].init_from is not None:
        chain.insert(0, RunConfig.from_dict(chain[0].init_from))
    return chain


def _work(cfg: RunConfig) -> int:
    """A rough size of a run (epochs x images of the largest class), to order and gate parallel training."""
    return cfg.epochs * (cfg.max_per_class or 5000)


# Below this much pending work (sum of _work) run_many trains in-process: spawning workers costs seconds.
PARALLEL_MIN_WORK = 20_000


def parallel_workers(pending: list[RunConfig], device: str | torch.device = "auto",
                     workers: Optional[int] = None) -> int:
    """How many processes run_many trains `pending` in: 1 on a GPU or under torchrun, else one per CPU core when
    there are >= 2 runs and enough work (override: workers=, or the LTSTUDY_WORKERS environment variable)."""
    if workers is None and os.environ.get("LTSTUDY_WORKERS"):
        workers = int(os.environ["LTSTUDY_WORKERS"])
    if workers is None:
        if (resolve_device(device).type != "cpu" or int(os.environ.get("WORLD_SIZE", "1")) > 1
                or sum(_work(c) for c in pending) < PARALLEL_MIN_WORK):
            return 1
        workers = os.cpu_count() or 1
    return max(1, min(workers, len(pending)))


def _spawn_fit(cfgs: list[RunConfig], threads: int, path: Path, kwargs: dict[str, Any]) -> Any:
    """Start `python -m ltlib.train` on configs (a fresh interpreter: nothing of the caller's __main__ re-runs)."""
    import subprocess

    import yaml

    path.write_text(yaml.safe_dump({"runs": [c.to_dict() for c in cfgs]}, sort_keys=False))
    cmd = [sys.executable, "-u", "-m", "ltlib.train", str(path), "--device", str(kwargs.get("device", "auto")),
           "--progress", "none" if kwargs.get("progress") == "none" else "line"]
    if kwargs.get("runs_dir") is not None:
        cmd += ["--runs-dir", str(runs_root(kwargs["runs_dir"]))]
    if kwargs.get("channels_last") is not None:
        cmd += ["--channels-last" if kwargs["channels_last"] else "--no-channels-last"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "LTSTUDY_WORKERS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)


def _partition(cfgs: list[RunConfig], bins: int) -> list[list[RunConfig]]:
    """Longest-first greedy split of configs into `bins` lists of about equal work."""
    out: list[list[RunConfig]] = [[] for _ in range(bins)]
    load = [0] * bins
    for c in sorted(cfgs, key=_work, reverse=True):
        i = load.index(min(load))
        out[i].append(c)
        load[i] += _work(c)
    return [b for b in out if b]


def _speed(threads: int) -> float:
    """Relative training speed of a process with `threads` CPU threads (measured: 2 threads ~1.6x one)."""
    return threads ** 0.7


def plan_waves(cfgs: list[RunConfig], workers: int, threads: int) -> list[tuple[list[list[RunConfig]], int]]:
    """[(bins, threads per process)]: one pass of `workers` one-thread processes, or, when the runs do not split
    evenly, the largest ones that way and the last few afterwards with the threads shared out, if faster."""
    per = max(1, threads // workers)
    plans = [[(_partition(cfgs, workers), per)]]
    ordered = sorted(cfgs, key=_work, reverse=True)
    for r in range(1, workers):
        if len(cfgs) > r:
            plans.append([(_partition(ordered[:-r], workers), per), (_partition(ordered[-r:], r), max(1, threads // r))])

    def seconds(plan: list[tuple[list[list[RunConfig]], int]]) -> float:
        return sum(max(sum(map(_work, b)) for b in bins) / _speed(t) for bins, t in plan)
    return min(plans, key=seconds)


def _fit_parallel(pending: list[RunConfig], workers: int, kwargs: dict[str, Any]) -> None:
    """Train unfinished configs in `workers` child processes (CPU threads split between them), stage 1 first;
    their progress lines are printed here as they come. A failing child stops the others (their runs resume)."""
    import tempfile
    import threading

    unknown = set(kwargs) - {"runs_dir", "device", "progress", "channels_last"}
    if unknown:
        raise ConfigError(f"run_many: {', '.join(sorted(unknown))} cannot be passed to parallel workers; use workers=1")
    total = max(workers, torch.get_num_threads())
    chains = [_stage_chain(c) for c in pending]
    root = runs_root(kwargs.get("runs_dir"))
    lock = threading.Lock()

    def pump(proc: Any, tail: list[str]) -> None:
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            del tail[:-20]
            with lock:
                print(line, end="", flush=True)

    def run_bins(bins: list[list[RunConfig]], threads: int, name: str) -> None:
        procs = []
        try:
            for i, b in enumerate(bins):
                proc, tail = _spawn_fit(b, threads, Path(tmp) / f"{name}-{i}.yaml", kwargs), []
                t = threading.Thread(target=pump, args=(proc, tail), daemon=True)
                t.start()
                procs.append((proc, t, tail))
            for proc, t, tail in procs:
                proc.wait()
                t.join()
                if proc.returncode:
                    msg = next((ln[7:] for ln in reversed(tail) if ln.startswith("error: ")), None)
                    if msg:
                        raise ConfigError(msg)
                    raise RuntimeError(f"a training process failed with exit code {proc.returncode}:\n" + "\n".join(tail))
        finally:
            for proc, t, _ in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                t.join()

    with tempfile.TemporaryDirectory(prefix="ltstudy-") as tmp:
        for level in range(max(len(ch) for ch in chains)):     # stage-1 runs of a wave before stage-2 runs on them
            wave = {c.run_id(): c for ch in chains if level < len(ch) for c in [ch[level]]
                    if not Run(root / c.run_id()).finished}
            for k, (bins, threads) in enumerate(plan_waves(list(wave.values()), workers, total) if wave else []):
                print(f"training {sum(map(len, bins))} run(s) in {len(bins)} parallel process(es) x {threads} "
                      f"thread(s) (LTSTUDY_WORKERS=1 trains one at a time)", flush=True)
                run_bins(bins, threads, f"{level}-{k}")


def run_many(cfgs: dict[Any, RunConfig] | Iterable[RunConfig], workers: Optional[int] = None,
             **kwargs: Any) -> dict[Any, Run] | list[Run]:
    """fit() each config (finished ones are reused); a dict keeps its keys.

    On a CPU, unfinished runs train in parallel processes (see parallel_workers); the results are the same runs.
    """
    items = list(cfgs.items()) if isinstance(cfgs, dict) else list(enumerate(cfgs))
    root = runs_root(kwargs.get("runs_dir"))
    pending = list({c.run_id(): c for _, c in items if not Run(root / c.run_id()).finished}.values())
    n = parallel_workers(pending, kwargs.get("device", "auto"), workers) if len(pending) > 1 else 1
    if n > 1:
        for c in pending:
            c.validate()
        for name, root_ in {(c.dataset, c.data_root) for ch in map(_stage_chain, pending) for c in ch}:
            load_dataset(name, root_)                   # a missing/corrupt dataset fails here, before any work
        _fit_parallel(pending, n, kwargs)
    out = {k: fit(c, **kwargs) for k, c in items}
    return out if isinstance(cfgs, dict) else list(out.values())


def run_groups(groups: dict[Any, list[RunConfig]], **kwargs: Any) -> dict[Any, list[Run]]:
    """run_many over every config of every group at once (one parallel pool); the runs regrouped as given."""
    flat = run_many({(g, i): c for g, cs in groups.items() for i, c in enumerate(cs)}, **kwargs)
    return {g: [flat[(g, i)] for i in range(len(cs))] for g, cs in groups.items()}


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.train RUN.yaml [...]: train run configs (a mapping, or {runs: [mapping, ...]})."""
    import argparse

    from ltlib.config import load_param_file

    ap = argparse.ArgumentParser(prog="python -m ltlib.train", description=main.__doc__)
    ap.add_argument("files", nargs="+", help="YAML run configs")
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--progress", default="line", choices=["line", "bar", "none"])
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                    help="channels_last memory format (default: on a GPU only); does not change the run hash")
    args = ap.parse_args(argv)
    try:
        cfgs = []
        for f in args.files:
            d = load_param_file(f)
            if "runs" in d and not isinstance(d["runs"], list):
                raise ConfigError(f"{f}: 'runs' must be a list of run configs, got {type(d['runs']).__name__}")
            cfgs += [RunConfig.from_dict(x) for x in d["runs"]] if "runs" in d else [RunConfig.from_dict(d)]
        for c in cfgs:
            r = fit(c, args.runs_dir, args.device, args.progress, channels_last=args.channels_last)
            if int(os.environ.get("RANK", "0")) == 0:               # torchrun: one line per run, from rank 0
                print(f"{r.run_id} acc {r.metrics['last']['test']['acc']:.4f} -> {r.path}")
    except (ConfigError, FloatingPointError, RunStoreError) as e:  # user errors: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
