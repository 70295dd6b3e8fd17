"""Minimal BBN and IB→CR switching loops, written apart from the engine to check it: plain PyTorch, read top to
bottom, one function per part. Only the long-tailed data set is shared with the engine (same images, same class
sizes); the network, samplers, augmentation, schedule, loss and evaluation are this file's own.

    python -m ltlib.minimal bbn --seeds 0 1 2 3 --out outputs/checks/bbn-minimal.json [--swap NAME=VALUE ...]

Each part that could differ from the engine is a named option (Parts) so the comparison can swap one at a time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib.data import make_long_tailed


@dataclass(frozen=True)
class Parts:
    """The parts a minimal loop and the engine could do differently (defaults: the papers' / authors' way)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    milestones: tuple[int, ...] = (6, 8)   # BBN's 120 / 160 of 200 epochs, compressed to 10
    gamma: float = 0.01
    warmup_epochs: float = 0.0            # the 5 of 200 epochs round to 0 at 10 epochs
    crop: str = "image"                   # image: an offset per image | batch: one offset per batch
    joint_trunk: bool = False             # True: both streams through the trunk in one pass (shared BN batch stats)
    head_bias: bool = True
    alpha: str = "epoch"                  # epoch: α = 1 − (e/E)² per epoch | step: per step
    test_alpha: float = 0.5
    precision: str = "bf16"
    max_per_class: int = 5000
    imbalance_ratio: float = 100.0
    dataset: str = "fmnist"
    switch_epoch: int = 6                 # switching: the epoch (0-based) from which CR replaces IB


# ------------------------------------------------------------------------------------ network


class Block(nn.Module):
    """Basic residual block, option-A shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        s = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.extra:
            s = F.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(out + s)


class Net(nn.Module):
    """ResNet-8: stem, stage 1 (16), stage 2 (32); then `branches` stage-3 blocks (64) and one linear classifier
    over their concatenated pooled features (branches = 1: a plain ResNet-8)."""

    def __init__(self, in_ch: int, classes: int, branches: int, bias: bool) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.trunk = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2))
        self.last = nn.ModuleList(Block(32, 64, 2) for _ in range(branches))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
        self.fc = nn.Linear(64 * branches, classes, bias=bias)

    def feats(self, x: torch.Tensor, branch: int) -> torch.Tensor:
        return self.last[branch](self.trunk(self.stem(x))).mean(dim=(2, 3))


# ------------------------------------------------------------------------------------ data, samplers, augmentation


def class_draw(y: torch.Tensor, probs: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """n indices: a class from probs, then an image of it uniformly (with replacement)."""
    cls = torch.multinomial(probs, n, replacement=True, generator=g)
    out = torch.empty(n, dtype=torch.long)
    for c in range(len(probs)):
        pool = torch.nonzero(y == c).flatten()
        pick = cls == c
        out[pick] = pool[torch.randint(len(pool), (int(pick.sum()),), generator=g)]
    return out


def cr_draw(y: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """Class-reversed (Alg. 1): a class with p ∝ 1/n_c, then the next image of its shuffled list (reshuffled when used up)."""
    counts = torch.bincount(y).double()
    cls = torch.multinomial(1 / counts, n, replacement=True, generator=g)
    pools = [torch.nonzero(y == c).flatten() for c in range(len(counts))]
    lists = [pools[c][torch.randperm(len(pools[c]), generator=g)] for c in range(len(counts))]
    pos = [0] * len(counts)
    out = torch.empty(n, dtype=torch.long)
    for i, c in enumerate(cls.tolist()):
        if pos[c] == len(lists[c]):
            lists[c], pos[c] = pools[c][torch.randperm(len(pools[c]), generator=g)], 0
        out[i] = lists[c][pos[c]]
        pos[c] += 1
    return out


def augment(x: torch.Tensor, pad: int, mode: str, g: torch.Generator) -> torch.Tensor:
    """Random crop (zero padding) and horizontal flip of uint8 images; float, [0, 1]."""
    b, _, h, w = x.shape
    xp = F.pad(x.float() / 255, (pad,) * 4)
    if mode == "batch":
        i, j = torch.randint(0, 2 * pad + 1, (2,), generator=g).tolist()
        out = xp[:, :, i:i + h, j:j + w]
    else:
        off = torch.randint(0, 2 * pad + 1, (2, b), generator=g)
        windows = xp.unfold(2, h, 1).unfold(3, w, 1)            # (B, C, 2p+1, 2p+1, H, W) views, no copy
        out = windows[torch.arange(b), :, off[0], off[1]]
    flip = torch.rand(b, generator=g) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


# ------------------------------------------------------------------------------------ training and evaluation


def lr_at(p: Parts, epoch: float) -> float:
    if epoch < p.warmup_epochs:
        return p.lr * (epoch + 1e-9) / p.warmup_epochs
    return p.lr * p.gamma ** sum(epoch >= m for m in p.milestones)


def run(method: str, seed: int, p: Parts) -> dict[str, Any]:
    """Train one run ('bbn', 'ce' or 'switching'); test accuracy overall and per class."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(10_000 + seed)
    d = make_long_tailed(p.dataset, p.imbalance_ratio, p.max_per_class)
    x, y = d.train.x, d.train.y
    mean, std = torch.tensor(d.mean).view(1, -1, 1, 1), torch.tensor(d.std).view(1, -1, 1, 1)
    counts = torch.bincount(y, minlength=d.num_classes).double()
    bbn = method == "bbn"
    bs = p.batch_size
    net = Net(x.shape[1], d.num_classes, 2 if bbn else 1, p.head_bias)
    opt = torch.optim.SGD(net.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    steps = -(-len(y) // bs)
    train_acc = []
    for e in range(p.epochs):
        first = torch.randperm(len(y), generator=g)
        if method == "switching" and e >= p.switch_epoch:
            first = cr_draw(y, len(y), g)
        second = class_draw(y, 1 / counts, len(y), g) if bbn else None
        net.train()
        hits = 0
        for s in range(steps):
            t = e + s / steps
            for group in opt.param_groups:
                group["lr"] = lr_at(p, t)
            i1 = first[s * bs:(s + 1) * bs]
            x1 = (augment(x[i1], d.pad, p.crop, g) - mean) / std
            with (torch.autocast("cpu", dtype=torch.bfloat16) if p.precision == "bf16" else torch.enable_grad()):
                if bbn:
                    i2 = second[s * bs:(s + 1) * bs]
                    x2 = (augment(x[i2], d.pad, p.crop, g) - mean) / std
                    a = 1 - ((t if p.alpha == "step" else e) / p.epochs) ** 2
                    if p.joint_trunk:
                        h = net.trunk(net.stem(torch.cat([x1, x2])))
                        f1 = net.last[0](h[:len(i1)]).mean(dim=(2, 3))
                        f2 = net.last[1](h[len(i1):]).mean(dim=(2, 3))
                    else:
                        f1, f2 = net.feats(x1, 0), net.feats(x2, 1)
                    z = net.fc(torch.cat([a * f1, (1 - a) * f2], 1))
                    loss = a * F.cross_entropy(z.float(), y[i1]) + (1 - a) * F.cross_entropy(z.float(), y[i2])
                    with torch.no_grad():
                        zc = net.fc(torch.cat([f1, torch.zeros_like(f2)], 1))
                else:
                    z = net.fc(net.feats(x1, 0))
                    loss = F.cross_entropy(z.float(), y[i1])
                    zc = z
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits += int((zc.detach().argmax(1) == y[i1]).sum())
        train_acc.append(hits / len(y))
    net.eval()
    alphas = (p.test_alpha, 1.0, 0.0) if bbn else (None,)
    out: dict[Any, list[torch.Tensor]] = {a: [] for a in alphas}
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=p.precision == "bf16"):
        for k in range(0, len(d.test.y), 512):
            xb = (d.test.x[k:k + 512].float() / 255 - mean) / std
            h = net.trunk(net.stem(xb))
            f = [blk(h).mean(dim=(2, 3)) for blk in net.last]
            for a in alphas:
                z = net.fc(torch.cat([a * f[0], (1 - a) * f[1]], 1)) if bbn else net.fc(f[0])
                out[a].append(z.float().argmax(1))
    preds = {a: torch.cat(v) for a, v in out.items()}
    yt = d.test.y
    res = {"method": method, "seed": seed, "parts": asdict(p), "train_acc": train_acc}
    for a, pr in preds.items():
        pc = [float((pr[yt == c] == c).double().mean()) for c in range(d.num_classes)]
        key = "" if a in (None, p.test_alpha) else f"_alpha{a:g}"
        res[f"acc{key}"] = float((pr == yt).double().mean())
        res[f"per_class{key}"] = pc
    return res


def parse_swaps(items: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs -> Parts changes (typed by the field's default)."""
    out: dict[str, Any] = {}
    defaults = {f.name: f.default for f in fields(Parts)}
    for it in items:
        k, _, v = it.partition("=")
        if k not in defaults:
            raise SystemExit(f"error: unknown part {k!r}; have: {', '.join(defaults)}")
        d = defaults[k]
        out[k] = (v.lower() in ("1", "true", "yes") if isinstance(d, bool) else type(d)(v) if not isinstance(d, tuple)
                  else tuple(int(t) for t in v.split(",") if t))
    return out


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.minimal {bbn,ce,switching} --seeds ... --out FILE [--swap NAME=VALUE ...]"""
    ap = argparse.ArgumentParser(prog="python -m ltlib.minimal", description=__doc__.split("\n\n")[0])
    ap.add_argument("method", choices=["bbn", "ce", "switching"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--swap", nargs="*", default=[], metavar="NAME=VALUE")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    base = Parts(milestones=(5,), gamma=0.1, batch_size=64) if args.method == "switching" else Parts()
    p = replace(base, **parse_swaps(args.swap))
    rows = []
    for s in args.seeds:
        t0 = time.time()
        r = run(args.method, s, p)
        r["seconds"] = time.time() - t0
        print(f"[minimal {args.method} seed {s}] test {100 * r['acc']:.2f}% in {r['seconds']:.0f} s", flush=True)
        rows.append(r)
    with open(args.out, "w") as f:
        json.dump(rows, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
