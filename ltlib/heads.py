"""Classifiers: linear, cosine (LDAM), LWS, and the post-hoc tau-norm and NCM classifiers."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib import registry


class CosineHead(nn.Module):
    """Cosine classifier: normalised features times normalised weights (LDAM's NormedLinear)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_dim).uniform_(-1, 1).renorm_(2, 0, 1e-5).mul_(1e5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine similarities in [-1, 1]."""
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()


class LWSHead(nn.Module):
    """Learnable weight scaling: a frozen linear classifier times a learned per-class scale."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, num_classes)
        self.scale = nn.Parameter(torch.ones(num_classes))
        self.linear.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """scale_i * (w_i . x + b_i)."""
        return self.linear(x) * self.scale

    @property
    def weight(self) -> torch.Tensor:
        """Effective per-class weights (scale folded in), for weight-norm plots."""
        return self.linear.weight * self.scale[:, None]


HEADS = registry.HEADS
HEADS.update({"linear": nn.Linear, "cosine": CosineHead, "lws": LWSHead})


def build_head(name: str, in_dim: int, num_classes: int) -> nn.Module:
    """Classifier by registry name."""
    return HEADS.build(name, in_dim, num_classes)


def init_head(model: nn.Module, how: str) -> None:
    """Re-draw a model's linear classifier (`model.head`): 'kaiming' = Kaiming-normal weights (fan-in, ReLU gain)
    and zero bias; 'default' leaves PyTorch's uniform draw (the official BBN / Decoupling codes')."""
    head = getattr(model, "head", None)
    if how == "default" or head is None:
        return
    linear = head if isinstance(head, nn.Linear) else getattr(head, "linear", None)
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"head_init={how!r} needs a linear classifier, got {type(head).__name__}")
    nn.init.kaiming_normal_(linear.weight)
    nn.init.zeros_(linear.bias)


def tau_normalize(head: nn.Linear, tau: float) -> nn.Linear:
    """tau-normalised copy: w_i / ||w_i||^tau, bias dropped (Decoupling)."""
    w = head.weight.detach()
    out = nn.Linear(w.shape[1], w.shape[0], bias=False)
    out.weight.data = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12) ** tau
    return out.to(w.device)


class NCMHead(nn.Module):
    """Nearest class mean on L2-normalised, mean-centred features; score = -distance or cosine."""

    def __init__(self, means: torch.Tensor, center: torch.Tensor, metric: str = "l2") -> None:
        super().__init__()
        self.register_buffer("means", means)
        self.register_buffer("center", center)
        self.metric = metric

    @staticmethod
    def fit(features: torch.Tensor, labels: torch.Tensor, num_classes: int, metric: str = "l2") -> "NCMHead":
        """Class means of the training features after centring and L2 normalisation."""
        center = features.mean(0)
        f = F.normalize(features - center, dim=1)
        means = torch.zeros(num_classes, f.shape[1], dtype=f.dtype, device=f.device).index_add_(0, labels, f)
        means = means / torch.bincount(labels, minlength=num_classes).clamp_min(1)[:, None]
        return NCMHead(means, center, metric)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (larger is closer)."""
        f = F.normalize(x.float() - self.center, dim=1)
        if self.metric == "cosine":
            return f @ F.normalize(self.means, dim=1).t()
        return -torch.cdist(f, self.means)
