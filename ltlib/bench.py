"""Training throughput: the papers' reference input pipeline against the engine's, in one process.

    python -m ltlib.bench [--arch resnet32] [--precisions fp32,bf16] [--tsne-points 10000] [--compile-on-cpu]

With no options (ResNet-8, the study's backbone; fp32, and bf16 only where the machine runs it natively; no t-SNE)
it takes about a minute on a 2-core CPU and first prints the CPU's capability and the precision `auto` picks.

Same model, batch size, seed and sampler draw for every variant; only the input pipeline, precision and memory
format change:

* ``reference``: a torch Dataset over PIL images (as torchvision's CIFAR10: ``Image.fromarray`` per item) with
  torchvision's per-image transforms RandomCrop(padding) + RandomHorizontalFlip + ToTensor + Normalize and
  torch.utils.data.DataLoader, fp32;
* ``engine-*``: the engine's device-resident uint8 data, bulk sampler indices and batched augmentation
  (``ltlib.train.make_batch``), in fp32 / bf16 autocast, contiguous / channels_last;
* with a GPU also ``torch.compile`` and CUDA graphs (``mode="reduce-overhead"``);
* ``minimal-<precision>``: the floor, a minimal hand-written loop (rows of the device-resident set, normalise,
  model, cross-entropy, backward, SGD; no augmentation, no bookkeeping), in each precision timed; CE only, so the
  engine's overhead is known in fp32 and in bf16.

Each step is ``ltlib.train.train_step`` (the engine's own step), for the plain CE method and for the two-stream
BBN method. Variants are timed in interleaved rounds and the best round is reported (the machine may be shared).
Also timed: evaluation's share of an epoch (in the default precision) and, with --tsne-points, t-SNE. Results go to stdout as JSON and to
``outputs/bench/<device>.json``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn as nn

from ltlib.config import RunConfig
from ltlib.hardware import bf16_native, cpu_model, describe, resolve_precision
from ltlib.data import ArrayData, LTData, long_tail_counts, make_long_tailed
from ltlib.features import tsne_embed
from ltlib.inference import DeviceData, autocast, evaluate, predict, resolve_device
from ltlib.methods.base import Batch, Method, build_method
from ltlib.paths import OUTPUTS
from ltlib.samplers import build_sampler
from ltlib.train import LossModule, make_batch, seeded_generator, train_step


# ----------------------------------------------------------------------------------- data

def synthetic_data(num_classes: int = 10, n_max: int = 2000, imbalance_ratio: float = 100, size: int = 32,
                   channels: int = 3, n_test: int = 10000, seed: int = 0) -> LTData:
    """A long-tailed random uint8 image set (no files needed), CIFAR-shaped by default."""
    g = torch.Generator().manual_seed(seed)
    counts = long_tail_counts(n_max, num_classes, imbalance_ratio)
    y = torch.cat([torch.full((c,), k, dtype=torch.long) for k, c in enumerate(counts)])
    x = torch.randint(0, 256, (len(y), channels, size, size), dtype=torch.uint8, generator=g)
    yt = torch.arange(n_test) % num_classes
    xt = torch.randint(0, 256, (n_test, channels, size, size), dtype=torch.uint8, generator=g)
    classes = [str(k) for k in range(num_classes)]
    empty = ArrayData(x[:0], y[:0], classes)
    return LTData("synthetic", ArrayData(x, y, classes), empty, ArrayData(xt, yt, classes), counts,
                  np.arange(len(y)), np.zeros(0, np.int64), (0.5,) * channels, (0.25,) * channels,
                  4 if size >= 32 else 2, classes)


def bench_data(dataset: str, imbalance_ratio: float = 100, max_per_class: Optional[int] = None,
               data_root: Optional[str] = None) -> LTData:
    """The long-tailed training set of a dataset name, or synthetic CIFAR-shaped data."""
    if dataset == "synthetic":
        return synthetic_data(imbalance_ratio=imbalance_ratio)
    return make_long_tailed(dataset, imbalance_ratio, max_per_class, 0, 20, data_root)


# ------------------------------------------------------------------------ reference pipeline

class PILImages(torch.utils.data.Dataset):
    """The reference dataset: uint8 arrays held as HWC numpy, one PIL image per item (torchvision CIFAR10 style)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Callable[[Any], torch.Tensor]) -> None:
        self.x = x.permute(0, 2, 3, 1).numpy()
        if self.x.shape[-1] == 1:
            self.x = self.x[..., 0]                          # grayscale: mode "L", as torchvision's FashionMNIST
        self.y = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.x[i])), self.y[i], i


def reference_transform(data: LTData) -> tuple[Callable[[Any], torch.Tensor], str]:
    """The papers' CIFAR train transform, torchvision's: RandomCrop(padding) + flip + ToTensor + Normalize."""
    import torchvision
    from torchvision import transforms as T

    t = T.Compose([T.RandomCrop(int(data.train.x.shape[-1]), padding=data.pad), T.RandomHorizontalFlip(),
                   T.ToTensor(), T.Normalize(data.mean, data.std)])
    return t, f"torchvision {torchvision.__version__} transforms"


def reference_batches(data: LTData, streams: list[torch.Tensor], batch_size: int, transform: Callable,
                      workers: int, device: torch.device) -> Iterator[list[Batch]]:
    """Batches of the reference pipeline: one DataLoader per sampler stream over the same index draw."""
    ds = PILImages(data.train.x, data.train.y, transform)
    loaders = [torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=ids.tolist(), num_workers=workers,
                                           pin_memory=device.type == "cuda", persistent_workers=workers > 0)
               for ids in streams]
    for parts in zip(*loaders):
        yield [Batch(x.to(device, non_blocking=True), y.to(device, non_blocking=True), i.to(device))
               for x, y, i in parts]


def engine_batches(dd: DeviceData, streams: list[torch.Tensor], batch_size: int, gen: torch.Generator,
                   channels_last: bool) -> Iterator[list[Batch]]:
    """Batches of the engine's pipeline (device-resident uint8, batched crop+flip, normalise)."""
    streams = [s.to(dd.device) for s in streams]
    for s in range(len(streams[0]) // batch_size):
        yield [make_batch(dd, ids[s * batch_size:(s + 1) * batch_size], True, gen, channels_last) for ids in streams]


def minimal_batches(dd: DeviceData, ids: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The floor a hand-written loop sets: rows of the device-resident uint8 set, float and normalised (no
    augmentation, one stream, no Batch bookkeeping)."""
    ids = ids.to(dd.device)
    for s in range(len(ids) // batch_size):
        bi = ids[s * batch_size:(s + 1) * batch_size]
        yield (dd.x[bi].float().div_(255) - dd.mean) / dd.std, dd.y[bi]


def minimal_step(model: nn.Module, opt: torch.optim.Optimizer, batch: tuple[torch.Tensor, torch.Tensor],
                 device: torch.device, precision: str) -> torch.Tensor:
    """A minimal hand-written training step: model(x) -> cross-entropy -> backward -> SGD step."""
    x, y = batch
    with autocast(device, precision):
        loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


# ------------------------------------------------------------------------------- variants

@dataclass
class Variant:
    """One pipeline / precision / memory-format / compilation setting."""

    name: str
    pipeline: str             # reference | engine
    precision: str            # fp32 | bf16
    channels_last: bool = False
    compile_mode: Optional[str] = None    # None | "default" | "reduce-overhead" (CUDA graphs)


def bench_precisions(device: torch.device, asked: Optional[list[str]] = None) -> list[str]:
    """Precisions to time: fp32 always, bf16 only where the device runs it natively (asked: exactly those)."""
    if asked:
        for p in asked:
            if p not in ("fp32", "bf16"):
                raise SystemExit(f"error: --precisions takes fp32 and/or bf16, got {p!r}")
        return list(dict.fromkeys(asked))
    return ["fp32", "bf16"] if bf16_native(device) else ["fp32"]


def variants(device: torch.device, precisions: list[str], compile_on_cpu: bool = False) -> list[Variant]:
    """The variants measured on a device: for each precision the minimal loop and the engine (contiguous and
    channels_last); compilation / CUDA graphs only on a GPU unless asked."""
    out = [Variant("reference", "reference", "fp32")]
    for p in precisions:
        out += [Variant(f"minimal-{p}", "minimal", p), Variant(f"engine-{p}", "engine", p),
                Variant(f"engine-{p}-cl", "engine", p, True)]
    best = "bf16" if "bf16" in precisions else precisions[0]
    if device.type == "cuda" or compile_on_cpu:
        out.append(Variant(f"engine-{best}-cl-compile", "engine", best, True, "default"))
    if device.type == "cuda":
        out.append(Variant(f"engine-{best}-cl-cudagraphs", "engine", best, True, "reduce-overhead"))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Bench:
    """Models, optimisers and batch iterators of every variant for one method, timed step by step."""

    def __init__(self, method: Method, model: nn.Module, data: LTData, dd: DeviceData, batch_size: int,
                 device: torch.device, transform: Callable, workers: int, n_batches: int, seed: int) -> None:
        self.method, self.data, self.dd, self.bs, self.device = method, data, dd, batch_size, device
        self.transform, self.workers, self.seed = transform, workers, seed
        names = method.streams(0)
        n = len(data.train.y)
        reps = max(1, -(-n_batches * batch_size // n))
        self.streams = []
        for i, name in enumerate(names):
            sampler = build_sampler(name, data.train.y, data.num_classes)
            draws = [sampler.indices(seeded_generator(seed, e, i), e, 200, batch_size) for e in range(reps)]
            self.streams.append(torch.cat(draws)[: n_batches * batch_size])
        self.pristine = model.to(device)
        self.states: dict[str, dict[str, Any]] = {}

    def _state(self, v: Variant) -> dict[str, Any]:
        """Model copy, optimiser, step module and batch iterator of a variant (made once, reused across rounds)."""
        if v.name not in self.states:
            model = copy.deepcopy(self.pristine)
            if v.channels_last:
                model = model.to(memory_format=torch.channels_last)
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            step: nn.Module = LossModule(self.method, model)
            if v.compile_mode:
                step = torch.compile(step, mode=v.compile_mode)
            if v.pipeline == "minimal":
                it = minimal_batches(self.dd, self.streams[0], self.bs)
            elif v.pipeline == "reference":
                it = reference_batches(self.data, self.streams, self.bs, self.transform, self.workers, self.device)
            else:
                it = engine_batches(self.dd, self.streams, self.bs, seeded_generator(self.seed, 0, 99), v.channels_last)
            self.states[v.name] = {"opt": opt, "step": step, "it": it, "done": 0}
        return self.states[v.name]

    def run(self, v: Variant, steps: int) -> tuple[float, float]:
        """(wall, process CPU) seconds for `steps` training steps, including producing their batches."""
        st = self._state(v)
        _sync(self.device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            batches = next(st["it"])
            if v.pipeline == "minimal":
                loss = minimal_step(st["step"].model, st["opt"], batches, self.device, v.precision)
                st["done"] += 1
                continue
            loss, _ = train_step(st["step"], st["opt"], batches, 0, st["done"] / 1000, self.device, v.precision)
            st["done"] += 1
        float(loss.detach())                                 # one host sync at the end (as the engine's epoch)
        _sync(self.device)
        return time.perf_counter() - t0, time.process_time() - c0


def time_variants(bench: Bench, vs: list[Variant], steps: int, warmup: int, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of every variant: img/s of the best and the median round (wall clock), img per CPU-second
    of this process (robust to other load on a shared CPU, without DataLoader workers), ratios to the reference."""
    for v in vs:
        bench.run(v, warmup)
    times: dict[str, list[tuple[float, float]]] = {v.name: [] for v in vs}
    for _ in range(rounds):
        for v in vs:
            times[v.name].append(bench.run(v, steps))
    imgs = steps * bench.bs * len(bench.streams)
    out: dict[str, Any] = {}
    for v in vs:
        wall = [t for t, _ in times[v.name]]
        cpu = min(c for _, c in times[v.name])
        out[v.name] = {"img_per_s": imgs / min(wall), "img_per_s_median": imgs / statistics.median(wall),
                       "img_per_cpu_s": imgs / cpu, "step_ms": 1000 * min(wall) / steps,
                       "precision": v.precision, "channels_last": v.channels_last, "compile": v.compile_mode}
    ref = out.get("reference")
    for r in out.values():
        r["ratio"] = r["img_per_s"] / ref["img_per_s"] if ref else None
        r["ratio_cpu"] = r["img_per_cpu_s"] / ref["img_per_cpu_s"] if ref else None
    return out


# ------------------------------------------------------------------------------ where the time goes

def op_category(name: str) -> str:
    """The part of a training step an aten op belongs to (for the profile's shares)."""
    n = name.lower()
    if "convolution_backward" in n or "conv" in n and "backward" in n:
        return "convolution backward"
    if "conv" in n:
        return "convolution forward"
    if "batch_norm" in n:
        return "batch norm (forward + backward)"
    if "_foreach" in n or "sgd" in n:
        return "optimizer (SGD)"
    if any(k in n for k in ("cross_entropy", "log_softmax", "nll_loss")):
        return "loss"
    if any(k in n for k in ("addmm", "linear", "mm")):
        return "classifier (linear)"
    if any(k in n for k in ("relu", "threshold", "add", "mul", "copy", "clone", "fill", "zero", "empty", "to",
                            "avg_pool", "mean", "sum", "view", "reshape", "contiguous", "as_strided")):
        return "elementwise and memory"
    return "other"


def profile_step(bench: Bench, v: Variant, steps: int) -> dict[str, Any]:
    """Where a training step's time goes: wall-clock phases (batch making with augmentation, forward, backward,
    optimizer) and, from torch.profiler, the self CPU time of the ops grouped by op_category."""
    from torch.profiler import ProfilerActivity, profile

    st = bench._state(v)
    phases = dict.fromkeys(["batches (index, crop + flip, normalise)", "forward", "backward", "optimizer"], 0.0)
    names = list(phases)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            t = [time.perf_counter()]
            batches = next(st["it"])
            t.append(time.perf_counter())
            with autocast(bench.device, v.precision):
                loss, _ = st["step"](batches, 0, st["done"] / 1000)
            t.append(time.perf_counter())
            st["opt"].zero_grad(set_to_none=True)
            loss.backward()
            t.append(time.perf_counter())
            st["opt"].step()
            t.append(time.perf_counter())
            st["done"] += 1
            for k, name in enumerate(names):
                phases[name] += t[k + 1] - t[k]
    total = sum(phases.values())
    ops: dict[str, float] = {}
    for e in prof.key_averages():
        if e.key.startswith("aten::"):
            ops[op_category(e.key)] = ops.get(op_category(e.key), 0.0) + e.self_cpu_time_total / 1e6
    op_total = sum(ops.values())
    return {"variant": v.name, "steps": steps, "note": "under torch.profiler (its overhead included)",
            "phases_share": {k: x / total for k, x in phases.items()},
            "ops_share": dict(sorted(((k, x / op_total) for k, x in ops.items()), key=lambda t: -t[1]))}


def profile_table(res: dict[str, Any]) -> str:
    """The profile as aligned text: phase shares, then op shares."""
    lines = [f"[bench] profile of {res['variant']} over {res['steps']} steps ({res['note']}):"]
    lines += [f"[bench]   phase {k:40s} {100 * x:5.1f} %" for k, x in res["phases_share"].items()]
    lines += [f"[bench]   ops   {k:40s} {100 * x:5.1f} %" for k, x in res["ops_share"].items()]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ eval, t-SNE

def time_eval(method: Method, model: nn.Module, dd: DeviceData, counts: list[int], train_img_s: float,
              n_streams: int, precision: str) -> dict[str, Any]:
    """Seconds of one end-of-epoch evaluation (held-out + test) against an epoch of training at train_img_s."""
    _sync(dd.device)
    t0 = time.perf_counter()
    for split in ("val", "test"):
        evaluate(method, model, dd, split, counts, precision)
    _sync(dd.device)
    ev = time.perf_counter() - t0
    train = n_streams * len(dd.y) / train_img_s
    return {"eval_seconds": ev, "train_epoch_seconds": train, "eval_share": ev / (ev + train),
            "eval_images": sum(len(dd.splits[s][1]) for s in ("val", "test")), "train_images": len(dd.y)}


def time_tsne(method: Method, model: nn.Module, dd: DeviceData, points: int, seed: int = 0) -> dict[str, Any]:
    """Seconds to extract features of `points` test images and to embed them (ltlib.features.tsne_embed, sklearn)."""
    x = dd.splits["test"][0]
    x = x.repeat((-(-points // len(x)), 1, 1, 1))[:points]
    t0 = time.perf_counter()
    f = predict(method, model, x, dd, features=True).cpu().numpy()
    t1 = time.perf_counter()
    tsne_embed(f, seed)
    t2 = time.perf_counter()
    return {"points": points, "feature_dim": int(f.shape[1]), "features_seconds": t1 - t0, "tsne_seconds": t2 - t1,
            "how": "ltlib.features.tsne_embed (sklearn TSNE, PCA init, Barnes-Hut, 1 OpenMP thread)"}


# ------------------------------------------------------------------------------------ main

def device_slug(device: torch.device) -> str:
    """'cpu' or 'cuda-<gpu name>' as a file name."""
    if device.type != "cuda":
        return "cpu"
    return "cuda-" + "".join(c if c.isalnum() else "-" for c in torch.cuda.get_device_name(device)).strip("-").lower()


def run_bench(arch: str = "resnet8", steps: int = 8, dataset: str = "fmnist", batch_size: int = 128,
              rounds: int = 3, warmup: int = 2, workers: int = 0, device: str = "auto", seed: int = 0,
              methods: tuple[str, ...] = ("ce", "bbn"), only: Optional[list[str]] = None,
              compile_on_cpu: bool = False, eval_share: bool = True, tsne_points: int = 0,
              data_root: Optional[str] = None, max_per_class: Optional[int] = None,
              precisions: Optional[list[str]] = None, profile_steps: int = 0) -> dict[str, Any]:
    """All measurements as one JSON-able dict (see the module docstring); profile_steps > 0: also where the time of
    the fastest engine variant's step goes (profile_step)."""
    dev = resolve_device(device)
    precs = bench_precisions(dev, precisions)
    data = bench_data(dataset, 100, max_per_class, data_root)
    dd = DeviceData(data, dev)
    transform, transform_name = reference_transform(data)
    vs = [v for v in variants(dev, precs, compile_on_cpu) if only is None or v.name in only or v.name == "reference"]
    ds_name = data.name if dataset != "synthetic" else "synthetic"
    base = RunConfig(dataset=dataset if dataset != "synthetic" else "fmnist", imbalance_ratio=100, arch=arch,
                     batch_size=batch_size, seed=seed, max_per_class=max_per_class)
    hw = describe(dev)
    print(f"[bench] {hw.get('gpu') or cpu_model()}: CPU capability {hw['cpu_capability']}, native bf16 "
          f"{'yes' if bf16_native(dev) else 'no'} -> default precision (auto) {hw['auto_precision']}; timing "
          f"{', '.join(precs)} ({arch}, {torch.get_num_threads()} threads)", file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "device": str(dev), "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "hardware": hw,
        "default_precision": resolve_precision("auto", dev), "precisions": precs,
        "torch": torch.__version__, "dataset": ds_name, "train_images": len(data.train.y),
        "image_shape": list(data.train.x.shape[1:]), "arch": arch, "batch_size": batch_size, "seed": seed,
        "steps": steps, "warmup": warmup, "rounds": rounds, "dataloader_workers": workers,
        "timing": f"best of {rounds} interleaved rounds of {steps} steps after {warmup} warm-up steps per variant",
        "reference_transforms": transform_name,
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None, "methods": {}}
    n_batches = warmup + rounds * steps + profile_steps        # the profile draws its own steps
    for name in methods:
        cfg = base.replace(method="bbn", tag="BBN") if name == "bbn" else base.replace(tag="CE")
        method = build_method(cfg, data)
        step_kind = "plain CE step (METHODS['plain'].loss)"
        if name == "bbn":
            step_kind = "two-branch BBN step (METHODS['bbn'].loss: IB + reversed streams)"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = method.build_model()
        bench = Bench(method, model, data, dd, batch_size, dev, transform, workers, n_batches, seed)
        res = time_variants(bench, [v for v in vs if name == "ce" or v.pipeline != "minimal"], steps, warmup, rounds)
        out["methods"][name] = {"step": step_kind, "streams": method.streams(0), "variants": res}
        print(summary_table(name, res), file=sys.stderr, flush=True)
        if name == "ce" and profile_steps:
            best = max((v for v in vs if v.pipeline == "engine" and not v.compile_mode),
                       key=lambda v: res[v.name]["img_per_s"])
            out["profile"] = profile_step(bench, best, profile_steps)
            print(profile_table(out["profile"]), file=sys.stderr, flush=True)
        if name == "ce" and eval_share:
            default = out["default_precision"]
            fastest = max((v for v in vs if v.pipeline == "engine" and v.precision == default),
                          key=lambda v: res[v.name]["img_per_s"], default=None)
            if fastest is not None:
                m = bench.states[fastest.name]["step"]
                m = getattr(m, "_orig_mod", m).model
                out["eval"] = {"train_variant": fastest.name, "precision": default,
                               **time_eval(method, m, dd, data.counts, res[fastest.name]["img_per_s"], 1, default)}
                if tsne_points:
                    out["tsne"] = time_tsne(method, m, dd, tsne_points, seed)
    out["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return out


def summary_table(method: str, res: dict[str, Any]) -> str:
    """The variants of one method as aligned text: img/s, ratio to the reference, and the engine against the
    minimal loop of the same precision (its overhead)."""
    lines = [f"[bench] {method}: {'variant':28s} {'img/s':>8s} {'x ref':>6s} {'x minimal':>9s}"]
    for k, v in res.items():
        mini = res.get(f"minimal-{v['precision']}")
        vs_min = f"{v['img_per_s'] / mini['img_per_s']:9.2f}" if mini and k.startswith("engine") else " " * 9
        lines.append(f"[bench] {method}: {k:28s} {v['img_per_s']:8.0f} {v['ratio'] or 0:6.2f} {vs_min}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.bench: print the JSON and write outputs/bench/<device>.json."""
    ap = argparse.ArgumentParser(prog="python -m ltlib.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="resnet8", help="backbone (the study's resnet8; resnet32 is the papers')")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round and variant")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dataset", default="fmnist", help="fmnist | cifar10-jpeg | cifar10 | synthetic")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--max-per-class", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the reference pipeline")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--methods", default="ce,bbn")
    ap.add_argument("--precisions", default=None,
                    help="comma-separated, of fp32,bf16 (default: fp32, and bf16 where it is native)")
    ap.add_argument("--only", default=None, help="comma-separated variant names (the reference always runs)")
    ap.add_argument("--compile-on-cpu", action="store_true", help="also time torch.compile on a CPU")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--tsne-points", type=int, default=0, help="also time t-SNE of this many test features")
    ap.add_argument("--profile", type=int, default=0, metavar="STEPS",
                    help="also profile STEPS steps of the fastest engine variant: where the time goes")
    ap.add_argument("--out", default=None, help="JSON path (default outputs/bench/<device>.json)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run_bench(args.arch, args.steps, args.dataset, args.batch_size, args.rounds, args.warmup, args.workers,
                    args.device, methods=tuple(args.methods.split(",")),
                    only=args.only.split(",") if args.only else None, compile_on_cpu=args.compile_on_cpu,
                    eval_share=not args.no_eval, tsne_points=args.tsne_points, data_root=args.data_root,
                    max_per_class=args.max_per_class,
                    precisions=args.precisions.split(",") if args.precisions else None, profile_steps=args.profile)
    path = Path(args.out) if args.out else OUTPUTS / "bench" / f"{device_slug(resolve_device(args.device))}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(res, indent=1)
    path.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
