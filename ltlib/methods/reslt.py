"""ResLT: residual learning in parameter space for long-tailed recognition (Cui et al.).

The last feature map of the backbone feeds G branches (default 3). Branch i has its own specialised
parameters (a 1x1 convolution, or a BatchNorm in the official CIFAR code), then GAP and a classifier that
is shared by all branches (ResLT Fig. 1: "Classifier is a shared fc layer among the three branches").

Groups. Classes are sorted by training count (largest first, ties by class index) and split into G
consecutive groups of (nearly) equal size, `np.array_split` as for the head/mid/tail thirds of
`ltlib.metrics.shot_groups` (for G = 3 the groups are exactly head/mid/tail). On the exponential
long-tailed profile equal class counts per group give every group (nearly) the same within-group
imbalance factor, the rule of ResLT §3.1.

Nesting. Branch i covers frequency groups i..G-1 (head+medium+tail, medium+tail, tail for G = 3) and
its branch loss sees only the samples of those classes. With z_i the logits of branch i:

    L_fusion = CE(sum_i z_i, y)                      (Eq. 1)
    L_branch = sum_i CE(z_i[S_i], y[S_i])            (Eq. 2; S_i = samples of the classes branch i covers)
    L        = (1 - alpha) L_fusion + alpha L_branch (Eq. 3)

and inference sums the branch logits. Eq. 2 takes the mean over each subset and sums over branches
(`branch_norm="paper"`, the default); the official code divides the summed per-sample losses of all
branches by the number of (branch, sample) pairs (`branch_norm="official"`). An empty subset adds 0.

Ablations (ResLT Fig. 2, Table 1):
- no_shortcut (Fig. 2b): no additive shortcut; the fusion loss and the prediction use the main branch only,
  the other branches only regularise through L_branch.
- no_nesting (Fig. 2c): branch i is trained on the samples of group i only (N_h, N_m, N_t), not nested.
- no_specialisation (Fig. 2d): one branch module used G times, so all branch outputs are the same; the
  losses are unchanged.
- naive fusion baselines (Table 1, Fig. 1c): disjoint branches (no_nesting) trained with their branch losses
  only (alpha = 1), fused at test time by `fusion`: "max" (Baseline-1, argmax of the max over the
  concatenated branch logits), "sum" (Baseline-2, sum of logits), "softmax" (Baseline-3, sum of softmaxes).
  See NAIVE_BASELINES.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib.config import ConfigError, check_name, check_type
from ltlib.data import LTData
from ltlib.methods.base import Batch, Method
from ltlib.models import build_backbone

# ResLT's official per-setting alpha (SPEC §4); (dataset, imbalance ratio) -> alpha
OFFICIAL_ALPHA: dict[tuple[str, int], float] = {
    ("cifar100", 100): 0.995, ("cifar100", 50): 0.99, ("cifar100", 10): 0.72,
    ("cifar10", 100): 0.998, ("cifar10", 50): 0.998, ("cifar10", 10): 0.96,
}
PAPER_ALPHA = 0.995  # "For CIFAR-10-LT and CIFAR-100-LT, alpha = 0.9950 is adopted" (ResLT §4.2)

# ResLT Table 1: three disjoint branches N_h, N_m, N_t trained for their own classes, fused naively.
NAIVE_BASELINES: dict[str, dict[str, Any]] = {
    "Baseline-1 (max)": {"no_nesting": True, "alpha": 1.0, "fusion": "max"},
    "Baseline-2 (sum)": {"no_nesting": True, "alpha": 1.0, "fusion": "sum"},
    "Baseline-3 (softmax sum)": {"no_nesting": True, "alpha": 1.0, "fusion": "softmax"},
}

# ResLT Fig. 2 variants
VARIANTS: dict[str, dict[str, Any]] = {
    "no shortcut (Fig. 2b)": {"no_shortcut": True},
    "no nesting (Fig. 2c)": {"no_nesting": True},
    "no specialisation (Fig. 2d)": {"no_specialisation": True},
}


def default_alpha(dataset: str, imbalance_ratio: float) -> float:
    """The official alpha for a CIFAR-LT setting; the paper's 0.995 for any other dataset."""
    return OFFICIAL_ALPHA.get((dataset, int(imbalance_ratio)), PAPER_ALPHA)


@dataclass
class ResLTArgs:
    """method_args of ResLT."""

    alpha: float = PAPER_ALPHA          # weight of L_branch; (1 - alpha) weighs L_fusion
    num_groups: int = 3                 # G frequency groups / branches (2-5 in ResLT Table 4)
    variant: str = "conv"               # conv: 1x1 conv + BN + ReLU per branch (paper) | bn: BatchNorm per branch (official CIFAR code)
    shared_classifier: bool = True      # one fc for all branches (paper) or one per branch
    branch_norm: str = "paper"          # paper: sum over branches of subset means | official: pooled mean
    fusion: str = "sum"                 # test-time fusion: sum (ResLT) | max | softmax (Table 1 baselines)
    no_shortcut: bool = False           # Fig. 2b: fusion loss and prediction use the main branch only
    no_nesting: bool = False            # Fig. 2c: branch i covers group i only
    no_specialisation: bool = False     # Fig. 2d: one branch module shared by all branches

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(ResLTArgs)
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_type(f.name, getattr(self, f.name), hints[f.name]))
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"ResLT alpha must be in [0, 1], got {self.alpha}")
        if not 1 <= self.num_groups <= 10:
            raise ConfigError(f"ResLT num_groups must be in 1..10, got {self.num_groups}")
        check_name("ResLT variant", self.variant, ["conv", "bn"])
        check_name("ResLT branch_norm", self.branch_norm, ["paper", "official"])
        check_name("ResLT fusion", self.fusion, ["sum", "max", "softmax"])


def frequency_groups(counts: list[int], num_groups: int) -> list[list[int]]:
    """Classes sorted by count (largest first, ties by index) split into num_groups near-equal groups."""
    if num_groups > len(counts):
        raise ConfigError(f"ResLT num_groups={num_groups} is more than the {len(counts)} classes")
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    return [sorted(int(c) for c in part) for part in np.array_split(np.array(order), num_groups)]


def branch_masks(counts: list[int], num_groups: int = 3, nested: bool = True) -> torch.Tensor:
    """(G, C) bool: the classes each branch covers; nested: groups i..G-1 (0 ⊃ 1 ⊃ ...), else group i."""
    groups = frequency_groups(counts, num_groups)
    masks = torch.zeros(num_groups, len(counts), dtype=torch.bool)
    for i in range(num_groups):
        for g in (groups[i:] if nested else groups[i:i + 1]):
            masks[i, g] = True
    return masks


def reslt_loss(branch_logits: torch.Tensor, y: torch.Tensor, masks: torch.Tensor, alpha: float,
               branch_norm: str = "paper", shortcut: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, fused logits): L = (1 - alpha) CE(fused, y) + alpha sum_i CE(z_i on S_i); no host syncs.

    branch_logits (B, G, C); masks (G, C) classes per branch; fused = sum_i z_i, or z_0 without shortcut.
    """
    z = branch_logits.float()
    fused = z.sum(1) if shortcut else z[:, 0]
    l_fusion = F.cross_entropy(fused, y)
    B, G, C = z.shape
    ce = F.cross_entropy(z.reshape(B * G, C), y.repeat_interleave(G), reduction="none").view(B, G)
    member = masks.to(z.device)[:, y].t().float()                # (B, G): sample b in S_i
    if branch_norm == "official":
        l_branch = (ce * member).sum() / member.sum().clamp_min(1)
    else:
        l_branch = ((ce * member).sum(0) / member.sum(0).clamp_min(1)).sum()
    return (1 - alpha) * l_fusion + alpha * l_branch, fused


def fuse(branch_logits: torch.Tensor, fusion: str = "sum", shortcut: bool = True) -> torch.Tensor:
    """Test-time scores from (B, G, C) branch logits: sum (ResLT), per-class max, or sum of softmaxes."""
    z = branch_logits.float()
    if not shortcut:
        return z[:, 0]
    if fusion == "max":
        return z.max(1).values       # argmax of max over Concat(z_1..z_G) = argmax over classes of this
    if fusion == "softmax":
        return z.softmax(-1).sum(1)
    return z.sum(1)


class ResLTHead(nn.Module):
    """Branch-specialised parameters over the last feature map, GAP, and a (shared) linear classifier."""

    def __init__(self, channels: int, num_classes: int, num_groups: int = 3, variant: str = "conv",
                 shared_classifier: bool = True, specialised: bool = True) -> None:
        super().__init__()
        self.num_groups = num_groups
        self.specialised = specialised
        g = num_groups if specialised else 1
        self.g = g
        if variant == "conv":
            # one 1x1 conv per branch, each over the whole map: a grouped conv on the map repeated g times
            self.conv = nn.Conv2d(g * channels, g * channels, 1, groups=g, bias=False)
            nn.init.kaiming_normal_(self.conv.weight)
            self.bn = nn.BatchNorm2d(g * channels)
        else:
            self.conv = None
            self.bn = nn.BatchNorm2d(g * channels)    # official CIFAR code: one BatchNorm per branch
        self.classifiers = nn.ModuleList(
            [nn.Linear(channels, num_classes) for _ in range(1 if shared_classifier or not specialised else num_groups)])
        for fc in self.classifiers:
            nn.init.kaiming_normal_(fc.weight)

    def branch_features(self, fmap: torch.Tensor) -> torch.Tensor:
        """(B, G, D) pooled features of each branch."""
        B, D = fmap.shape[:2]
        x = fmap.repeat(1, self.g, 1, 1) if self.g > 1 else fmap
        x = self.bn(self.conv(x)) if self.conv is not None else self.bn(x)
        if self.conv is not None:
            x = F.relu(x)
        f = x.mean(dim=(2, 3)).view(B, self.g, D)
        if not self.specialised:
            f = f.expand(B, self.num_groups, D)
        return f

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """(B, G, C) branch logits."""
        f = self.branch_features(fmap)
        if len(self.classifiers) == 1:
            return self.classifiers[0](f)
        return torch.stack([fc(f[:, i]) for i, fc in enumerate(self.classifiers)], 1)

    @property
    def weight(self) -> torch.Tensor:
        """Effective (C, D·k) classifier: the shared fc, or the per-branch fcs side by side."""
        return torch.cat([fc.weight for fc in self.classifiers], 1)


class ResLTModel(nn.Module):
    """Backbone (shared parameters) + ResLT head; forward returns the summed branch logits."""

    def __init__(self, backbone: nn.Module, head: ResLTHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def branch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, G, C) logits of every branch."""
        return self.head(self.backbone.forward_map(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled shared features (the backbone's last map, before the branches)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ResLT prediction: the sum of the branch logits."""
        return self.branch_logits(x).sum(1)


class ResLTMethod(Method):
    """ResLT: nested branch losses + fusion loss on instance-balanced batches; test sums the branches."""

    Args = ResLTArgs

    def __init__(self, cfg: Any, data: LTData) -> None:
        super().__init__(cfg, data)
        if cfg.loss != "ce" or cfg.loss_weights != "none" or cfg.head != "linear":
            raise ConfigError("ResLT uses plain cross-entropy with its own linear classifier: set loss='ce', "
                              f"loss_weights='none', head='linear' (got {cfg.loss!r}, {cfg.loss_weights!r}, "
                              f"{cfg.head!r})")
        a = self.args
        self.groups = frequency_groups(self.counts, a.num_groups)
        self.masks = branch_masks(self.counts, a.num_groups, nested=not a.no_nesting)

    def build_model(self) -> nn.Module:
        """Backbone + ResLT head over its last feature map."""
        a = self.args
        backbone = build_backbone(self.cfg.arch, self.data.in_channels)
        head = ResLTHead(backbone.out_dim, self.num_classes, a.num_groups, a.variant, a.shared_classifier,
                         specialised=not a.no_specialisation)
        return ResLTModel(backbone, head)

    def loss(self, model: nn.Module, batches: list[Batch], epoch: int, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(1 - alpha) L_fusion + alpha L_branch; returns the fused training logits."""
        b = batches[0]
        a = self.args
        return reslt_loss(model.branch_logits(b.x), b.y, self.masks, a.alpha, a.branch_norm,
                          shortcut=not a.no_shortcut)

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Fused branch outputs (sum of logits unless an ablation says otherwise)."""
        a = self.args
        return fuse(model.branch_logits(x), a.fusion, shortcut=not a.no_shortcut)

    def branch_predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """(B, G, C) branch logits (for per-branch analyses)."""
        return model.branch_logits(x)

    def classifier_weight(self, model: nn.Module) -> Optional[torch.Tensor]:
        """The effective classifier of the summed logits (shared fc, or per-branch fcs concatenated)."""
        return model.head.weight.detach()
