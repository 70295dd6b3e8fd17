"""Batched augmentation of uint8 image tensors on the device (crop with padding, flip, rotation)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, pad: int, gen: torch.Generator, flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding and horizontal flip of a uint8 (B, C, H, W) batch."""
    b, c, h, w = x.shape
    off = torch.randint(0, 2 * pad + 1, (2, b), generator=gen).to(x.device, non_blocking=True)
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = (off[0][:, None] + torch.arange(h, device=x.device))[:, :, None]     # (B, H, 1)
    cols = (off[1][:, None] + torch.arange(w, device=x.device))[:, None, :]     # (B, 1, W)
    bidx = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[bidx, rows, cols]                               # (B, H, W, C)
    out = out.permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(b, generator=gen) < 0.5).to(x.device, non_blocking=True)
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 -> float, scaled to [0, 1] and standardised per channel."""
    return (x.float().div_(255) - mean) / std


def rotate_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image at 0/90/180/270 degrees: (4B, C, H, W) images and rotation labels 0..3."""
    xs = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    labels = torch.arange(4, device=x.device).repeat_interleave(len(x))
    return xs, labels


def rotate_random(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image rotated by ONE angle drawn uniformly from 0/90/180/270 degrees: (B, C, H, W) images, labels 0..3."""
    labels = torch.randint(0, 4, (len(x),), generator=gen).to(x.device, non_blocking=True)
    out = x.clone()
    for k in range(1, 4):
        m = labels == k
        out[m] = torch.rot90(x[m], k, dims=(2, 3))
    return out, labels
