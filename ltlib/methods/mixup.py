"""Mixup and Manifold Mixup, the augmentation baselines of BBN Table 1 (Zhang et al. 2018; Verma et al. 2019).

One Method for the three rows of the table, plugged into the one engine like BBN's two-stream step:

- `Mixup`: `x = λ·x_a + (1 − λ)·x_b`, loss `λ·CE(z, y_a) + (1 − λ)·CE(z, y_b)`, with (a, b) a batch and a
  permutation of it and λ ~ Beta(β, β) drawn per step.
- `Manifold Mixup` (`manifold=True`): the same mixing applied to the hidden state at a depth k drawn per step
  from {0 (the input), 1 (after stage 1), 2 (after stage 2)} of a CIFAR ResNet (Verma et al.'s eligible layers).
- `Manifold Mixup (two samplers)` (`second_sampler="reversed"`): BBN §5.4.1's "manifold mixup with two samplers
  as the same as ours": b is not a permutation of a but a batch of a second stream drawn by BBN's reversed sampler,
  while a is BBN's instance-balanced stream.

λ, the depth and the permutation are drawn from a generator seeded by (run seed, epoch, step), so a resumed run
draws what an uninterrupted one would. β = 1 (the mixup paper's CIFAR value; BBN does not state its own).
Test-time prediction is the plain model. The training logits the engine scores are those of the mixed batch
against stream 1's labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ltlib import registry
from ltlib.config import RunConfig
from ltlib.errors import ConfigError, check_name
from ltlib.methods.base import Batch, Method, sampler_at
from ltlib.methods.recipe import base_config, non_default


@dataclass
class MixupArgs:
    """method_args of Mixup / Manifold Mixup."""

    beta: float = 1.0              # λ ~ Beta(beta, beta)
    manifold: bool = False         # mix hidden states at a random depth (Manifold Mixup) instead of the input
    second_sampler: str = ""       # "": mix a batch with a permutation of itself | sampler of a second stream

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ConfigError(f"mixup beta must be > 0, got {self.beta}")
        if self.second_sampler:
            check_name("mixup second_sampler", self.second_sampler, registry.SAMPLERS)


# BBN Table 1's mixup rows: row name -> method_args
ROWS: dict[str, dict[str, Any]] = {
    "Mixup": {},
    "Manifold Mixup": {"manifold": True},
    "Manifold Mixup (two samplers)": {"manifold": True, "second_sampler": "reversed"},
}


def mix_draw(seed: int, epoch: int, step: int, beta: float, n: int, depths: int) -> tuple[float, int, np.ndarray]:
    """(λ, depth, permutation of n) of one step, seeded by (seed, epoch, step)."""
    rng = np.random.default_rng([seed, epoch, step, 7])
    return float(rng.beta(beta, beta)), int(rng.integers(depths)), rng.permutation(n)


@registry.METHODS.register("mixup")
class MixupMethod(Method):
    """Input or manifold mixup, of a batch with itself permuted or with a second sampler's batch."""

    Args = MixupArgs

    def build_model(self) -> nn.Module:
        """The plain model; Manifold Mixup needs a backbone with hidden states (a CIFAR ResNet)."""
        model = super().build_model()
        if self.args.manifold and not hasattr(model.backbone, "hidden"):
            raise ConfigError(f"Manifold Mixup needs a CIFAR ResNet backbone (hidden states); arch={self.cfg.arch!r}")
        return model

    def streams(self, epoch: int) -> list[str]:
        """[cfg's sampler] or [cfg's sampler, second_sampler]."""
        first = sampler_at(self.cfg, epoch)
        return [first, self.args.second_sampler] if self.args.second_sampler else [first]

    def draw(self, epoch: int, progress: float, n: int, depths: int = 1) -> tuple[float, int, np.ndarray]:
        """This step's (λ, depth in 0..depths-1, permutation of n)."""
        return mix_draw(self.cfg.seed, epoch, self.step_in_epoch(epoch, progress), self.args.beta, n, depths)

    def mixed_loss(self, z: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float) -> torch.Tensor:
        """λ·CE(z, y_a) + (1 − λ)·CE(z, y_b) with the configured criterion."""
        return lam * self.criterion(z, y_a) + (1 - lam) * self.criterion(z, y_b)

    def loss(self, model: nn.Module, batches: list[Batch], epoch: int,
             progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixed loss of one step; logits of the mixed batch."""
        a = batches[0]
        back = model.backbone
        lam, k, perm = self.draw(epoch, progress, len(a.y), back.MIX_DEPTHS if self.args.manifold else 1)
        if len(batches) > 1:
            b = batches[1]
            x = torch.cat([a.x, b.x])
            h = back.hidden(x, k) if self.args.manifold else x
            h_a, h_b, y_b = h[:len(a.y)], h[len(a.y):], b.y
        else:
            idx = torch.as_tensor(perm, device=a.x.device)
            h_a = back.hidden(a.x, k) if self.args.manifold else a.x
            h_b, y_b = h_a[idx], a.y[idx]
        h = lam * h_a + (1 - lam) * h_b
        f = back.from_hidden(h, k) if self.args.manifold else back(h)
        z = model.head(f)
        return self.mixed_loss(z, a.y, y_b, lam), z


def mixup_config(params: Any, row: str = "Mixup", **changes: Any) -> RunConfig:
    """One of BBN Table 1's mixup rows (ROWS) on a notebook's parameters, with the baselines' LDAM schedule."""
    check_name("mixup row", row, ROWS)
    args = non_default(MixupArgs, {**ROWS[row], **changes.pop("method_args", {})})
    return base_config(params, "ldam", method="mixup", method_args=args, tag=row, **changes)


def mixup_configs(params: Any, rows: list[str] | None = None, **changes: Any) -> dict[str, RunConfig]:
    """Several mixup rows by name (default: all of ROWS)."""
    return {r: mixup_config(params, r, **changes) for r in (rows if rows is not None else list(ROWS))}
