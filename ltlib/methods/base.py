"""The pluggable parts of a training recipe; the plain method covers CE/RW/RS/Focal/CB/LDAM/DRW/DRS/switching."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Optional

import torch
import torch.nn as nn

from ltlib import registry
from ltlib.config import RunConfig
from ltlib.data import LTData
from ltlib.errors import ConfigError, closest
from ltlib.heads import LWSHead, build_head
from ltlib.losses import class_weights, loss_from_config
from ltlib.models import LTModel, build_backbone


@dataclass
class Batch:
    """One augmented, normalised batch from one sampler stream."""

    x: torch.Tensor
    y: torch.Tensor
    idx: torch.Tensor


@dataclass
class NoArgs:
    """A method without extra arguments."""


def sampler_at(cfg: RunConfig, epoch: int) -> str:
    """The sampler in force at an epoch: cfg.sampler, then the last [epoch, sampler] switch reached."""
    name = cfg.sampler
    for start, sampler in sorted(cfg.sampler_switch, key=lambda s: s[0]):
        if epoch >= start:
            name = sampler
    return name


def freeze_parts(model: nn.Module, parts: str) -> list[nn.Module]:
    """Freeze what train_parts leaves fixed; return every module outside the trained parts (kept in eval mode).

    Eval mode keeps the frozen parts' batch-norm statistics fixed: for `last_block` that is every batch-norm
    layer but the last block's (its siblings in the same stage included), for `classifier` and `lws` the whole
    backbone (and, for `lws`, the frozen linear classifier under the learned scales).
    """
    if parts == "all":
        return []
    model.requires_grad_(False)
    if parts == "lws":
        model.head.scale.requires_grad_(True)
        trained: list[nn.Module] = []
    else:
        model.head.requires_grad_(True)
        if isinstance(model.head, LWSHead):
            model.head.linear.requires_grad_(False)
        trained = [model.head]
    if parts == "last_block":
        model.backbone.last_block.requires_grad_(True)
        trained.append(model.backbone.last_block)
    inside = {id(m) for part in trained for m in part.modules()}
    above = {id(m) for m in model.modules() if any(id(s) in inside for s in m.modules()) and id(m) not in inside}
    return [m for m in model.modules() if id(m) not in inside and id(m) not in above]


class Method:
    """Model, batch composition and loss of one recipe; the engine does everything else."""

    Args: ClassVar[type] = NoArgs

    def __init__(self, cfg: RunConfig, data: LTData) -> None:
        self.cfg = cfg
        self.data = data
        self.counts = list(data.counts)
        self.num_classes = data.num_classes
        self.args = self.parse_args(cfg.method_args)
        self.criterion = loss_from_config(cfg, self.counts)

    @classmethod
    def parse_args(cls, method_args: dict[str, Any]) -> Any:
        """method_args -> the method's Args dataclass; unknown keys name the closest valid one."""
        names = [f.name for f in dataclasses.fields(cls.Args)]
        for k in method_args:
            if k not in names:
                raise ConfigError(f"unknown method_args key '{k}' for {cls.__name__}{closest(k, names)}"
                                  f"; valid: {', '.join(names) or 'none'}")
        return cls.Args(**method_args)

    @cached_property
    def steps(self) -> int:
        """Training steps per epoch (batches of the training set)."""
        return max(1, -(-len(self.data.train.y) // self.cfg.batch_size))

    def step_in_epoch(self, epoch: int, progress: float) -> int:
        """This step's index in `epoch` from the engine's progress (fractional epoch / epochs); seeds per-step draws."""
        return int(round((progress * self.cfg.epochs - epoch) * self.steps))

    # -- model
    def build_model(self) -> nn.Module:
        """Backbone + classifier."""
        backbone = build_backbone(self.cfg.arch, self.data.in_channels)
        return LTModel(backbone, build_head(self.cfg.head, backbone.out_dim, self.num_classes))

    # -- stage 2: what a run started from a stage-1 run loads, trains and keeps in eval mode
    def load_stage1(self, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Start from a stage-1 run's weights: the backbone always; the classifier too unless cfg.reinit_head (an
        LWS head wraps it: its keys move under head.linear)."""
        own = model.state_dict()
        keep = {}
        for k, v in state.items():
            if k.startswith("head.") and self.cfg.reinit_head and self.cfg.train_parts != "lws":
                continue
            if isinstance(getattr(model, "head", None), LWSHead) and k.startswith("head."):
                k = "head.linear." + k[len("head."):]
            if k in own and own[k].shape == v.shape:
                keep[k] = v
        missing = [k for k in own if k.startswith("backbone.") and k not in keep]
        if missing:
            raise ConfigError(f"stage-1 run does not fit this model (missing {missing[:3]}...)")
        model.load_state_dict(keep, strict=False)

    def freeze(self, model: nn.Module) -> list[nn.Module]:
        """Freeze what cfg.train_parts leaves fixed (freeze_parts); the modules kept in eval mode."""
        return freeze_parts(model, self.cfg.train_parts)

    # -- batches
    def streams(self, epoch: int) -> list[str]:
        """Sampler names, one batch from each per step (BBN and auxiliary learning use two)."""
        return [sampler_at(self.cfg, epoch)]

    def start_epoch(self, epoch: int) -> None:
        """Per-epoch switches: DRW class weights from cfg.reweight_from."""
        on = epoch >= self.cfg.reweight_from
        self.criterion.set_weight(class_weights(self.cfg.loss_weights, self.counts, self.cfg.cb_beta) if on else None)

    # -- loss and prediction
    def loss(self, model: nn.Module, batches: list[Batch], epoch: int, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits of the first stream) for one step; progress = fractional epoch / epochs."""
        b = batches[0]
        logits = model(b.x)
        return self.criterion(logits, b.y), logits

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Test-time logits."""
        return model(x)

    def features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (t-SNE, NCM)."""
        return model.features(x)

    def eval_readings(self, model: nn.Module, dd: Any, data: LTData) -> dict[str, Any]:
        """Readings of this method at each evaluated epoch, into the history row (JSON strings); none by default."""
        return {}

    def diagnostics(self, model: nn.Module, dd: Any, data: LTData) -> dict[str, Any]:
        """Readings of the final model that only this method has (kept in the run's record); none by default."""
        return {}

    def classifier_weight(self, model: nn.Module) -> Optional[torch.Tensor]:
        """(C, D) classifier weights for weight-norm plots, where the head has them."""
        w = getattr(model.head, "weight", None)
        return None if w is None else w.detach()


@registry.METHODS.register("plain")
class PlainMethod(Method):
    """One backbone, one head, one sampler stream: every baseline of docs/protocol.md §4 and the switching schedule."""


def build_method(cfg: RunConfig, data: LTData) -> Method:
    """Method object for a run config (by its registry name)."""
    return registry.METHODS.build(cfg.method, cfg, data)
