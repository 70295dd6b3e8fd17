"""Accuracy overall, per class and per shot group (many > 100, few < 20; plus frequency thirds)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch

MANY, FEW = 100, 20
# The class groups every table reports: overall, Decoupling's shot groups, and frequency thirds (the one list).
GROUPS = ["acc", "many", "medium", "few", "head", "mid", "tail"]


def shot_groups(counts: list[int]) -> dict[str, list[int]]:
    """Class indices of many / medium / few (Decoupling) and head / mid / tail (thirds by frequency)."""
    counts = list(counts)
    groups = {
        "many": [c for c, n in enumerate(counts) if n > MANY],
        "medium": [c for c, n in enumerate(counts) if FEW <= n <= MANY],
        "few": [c for c, n in enumerate(counts) if n < FEW],
    }
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    for name, part in zip(("head", "mid", "tail"), np.array_split(np.array(order), 3)):
        groups[name] = sorted(int(c) for c in part)
    return groups


def thirds(counts: list[int]) -> dict[str, list[int]]:
    """Class indices of 'all' classes and of the head / mid / tail thirds by frequency (the analyses' groups)."""
    groups = shot_groups(counts)
    return {"all": list(range(len(counts))), **{g: groups[g] for g in ("head", "mid", "tail")}}


def per_class_accuracy(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Accuracy of each class (NaN for a class with no test image)."""
    correct = torch.bincount(y[pred == y], minlength=num_classes).double()
    total = torch.bincount(y, minlength=num_classes).double()
    acc = (correct / total.clamp_min(1)).cpu().numpy()
    acc[total.cpu().numpy() == 0] = np.nan
    return acc


def group_mean(per_class: np.ndarray, classes: list[int]) -> float:
    """Mean per-class accuracy over a group (NaN if the group is empty)."""
    vals = [per_class[c] for c in classes if not math.isnan(per_class[c])]
    return float(np.mean(vals)) if vals else float("nan")


def accuracy_report(pred: torch.Tensor, y: torch.Tensor, counts: list[int]) -> dict:
    """Overall, per-group and per-class accuracy (fractions in [0, 1])."""
    pc = per_class_accuracy(pred, y, len(counts))
    out = {"acc": float((pred == y).double().mean())}
    for name, classes in shot_groups(counts).items():
        out[name] = group_mean(pc, classes)
    out["per_class"] = [None if math.isnan(a) else float(a) for a in pc]
    out["confusion"] = confusion(pred, y, len(counts))
    return out


def confusion(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> list[list[int]]:
    """Confusion counts: row = true class, column = predicted class."""
    idx = y.long().cpu() * num_classes + pred.long().cpu()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes).tolist()


def chance_is_a_test(counts: Sequence[int], epochs: Optional[int] = None, min_images: int = 100,
                     min_epochs: int = 5) -> Optional[str]:
    """None where "above chance" is a fair invariant, else why not (< min_images training images, or fewer than
    min_epochs epochs when given: so little trains that chance is no test)."""
    if sum(counts) < min_images:
        return f"{sum(counts)} training images (< {min_images})"
    if epochs is not None and epochs < min_epochs:
        return f"{epochs} epochs (< {min_epochs})"
    return None


def check_beats_chance(acc: float, counts: Sequence[int], what: str, epochs: Optional[int] = None) -> str:
    """Assert that accuracy `acc` (%) of `what` is above chance (100 / classes) wherever that is a fair test
    (chance_is_a_test); the line saying what was checked, or why it was not."""
    chance = 100.0 / len(counts)
    why = chance_is_a_test(counts, epochs)
    if why:
        return f"{what}: {acc:.1f} % vs chance {chance:.1f} %, not checked ({why})"
    assert acc > chance, f"{what} should beat chance: {acc:.1f} % <= {chance:.1f} %"
    return f"{what}: {acc:.1f} % > chance {chance:.1f} % (checked)"
