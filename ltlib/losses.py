"""Losses (CE, Focal, LDAM) and class weights (RW, CB effective number) with a DRW switch."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib import registry


def rw_weights(counts: list[int] | torch.Tensor) -> torch.Tensor:
    """Class re-weighting: w_c proportional to 1/n_c, normalised to mean 1."""
    n = torch.as_tensor(counts, dtype=torch.float64).clamp_min(1)
    w = 1.0 / n
    return (w / w.mean()).float()


def cb_weights(counts: list[int] | torch.Tensor, beta: float = 0.9999) -> torch.Tensor:
    """Class-balanced weights (Cui et al.): (1-beta)/(1-beta^n_c), normalised to sum C."""
    n = torch.as_tensor(counts, dtype=torch.float64).clamp_min(1)
    w = (1.0 - beta) / (1.0 - beta ** n)
    return (w / w.sum() * len(n)).float()


def class_weights(kind: str, counts: list[int], beta: float = 0.9999) -> Optional[torch.Tensor]:
    """'none' -> None, 'rw' -> 1/n, 'cb' -> effective number."""
    return {"none": lambda: None, "rw": lambda: rw_weights(counts), "cb": lambda: cb_weights(counts, beta)}[kind]()


class CELoss(nn.Module):
    """Cross-entropy with optional class weights (mean normalised by the weights, as F.cross_entropy)."""

    def __init__(self, counts: list[int], **kw) -> None:
        super().__init__()
        self.weight: Optional[torch.Tensor] = None

    def set_weight(self, weight: Optional[torch.Tensor]) -> None:
        """Set (or clear with None) the per-class weights, e.g. when DRW switches on."""
        self.weight = weight

    def _w(self, logits: torch.Tensor) -> Optional[torch.Tensor]:
        return None if self.weight is None else self.weight.to(logits.device, torch.float32)

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch."""
        return F.cross_entropy(logits.float(), y, weight=self._w(logits))


class FocalLoss(CELoss):
    """Focal loss: mean of w_y (1 - p_y)^gamma (-log p_y)."""

    def __init__(self, counts: list[int], gamma: float = 1.0, **kw) -> None:
        super().__init__(counts)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean focal loss."""
        ce = F.cross_entropy(logits.float(), y, weight=self._w(logits), reduction="none")
        p = torch.exp(-F.cross_entropy(logits.float(), y, reduction="none"))
        return ((1 - p) ** self.gamma * ce).mean()


class LDAMLoss(CELoss):
    """LDAM: subtract m_y = C / n_y^(1/4) (max m = max_m) from the target logit, scale by s, then CE."""

    def __init__(self, counts: list[int], max_m: float = 0.5, s: float = 30.0, **kw) -> None:
        super().__init__(counts)
        m = 1.0 / torch.as_tensor(counts, dtype=torch.float64).clamp_min(1) ** 0.25
        self.register_buffer("margins", (m * (max_m / m.max())).float())
        self.s = s

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Margin-adjusted, scaled cross-entropy."""
        logits = logits.float()
        margin = torch.zeros_like(logits).scatter_(1, y[:, None], self.margins.to(logits.device)[y][:, None])
        return F.cross_entropy(self.s * (logits - margin), y, weight=self._w(logits))


LOSSES = registry.LOSSES
LOSSES.update({"ce": CELoss, "focal": FocalLoss, "ldam": LDAMLoss})


def build_loss(name: str, counts: list[int], **kwargs) -> CELoss:
    """Loss by registry name; class weights are set per epoch by the engine (DRW)."""
    return LOSSES.build(name, counts, **kwargs)


def loss_from_config(cfg, counts: list[int]) -> CELoss:
    """The loss a RunConfig asks for."""
    return build_loss(cfg.loss, counts, gamma=cfg.focal_gamma, max_m=cfg.ldam_max_m, s=cfg.ldam_s)
