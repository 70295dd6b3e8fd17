"""Tiny CIFAR-format pickle folders (`cifar-10-batches-py`, `cifar-100-python`) written by tests: nothing downloaded."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def _images(labels: np.ndarray, num_classes: int, rng: np.random.RandomState) -> np.ndarray:
    """Flat (N, 3072) uint8 rows: noise plus a class-dependent colour, so a model can learn something."""
    x = rng.randint(0, 64, (len(labels), 3, 32 * 32)).astype(np.uint8)
    hue = (np.arange(num_classes)[:, None] * np.array([37, 101, 173])[None, :]) % 192
    x += hue[labels][:, :, None].astype(np.uint8)
    return x.reshape(len(labels), -1)


def write_cifar(root: str | Path, num_classes: int, train_per_class: int, test_per_class: int,
                seed: int = 0) -> Path:
    """Write a CIFAR-10 (5 data batches + test) or CIFAR-100 (train + test) pickle folder under root; return root."""
    root = Path(root)
    rng = np.random.RandomState(seed)
    train_y = rng.permutation(np.repeat(np.arange(num_classes), train_per_class))
    test_y = rng.permutation(np.repeat(np.arange(num_classes), test_per_class))
    names = [f"class{c}" for c in range(num_classes)]
    if num_classes == 10:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(np.array_split(np.arange(len(train_y)), 5), 1):
            _dump(folder / f"data_batch_{i}", {"data": _images(train_y[part], 10, rng), "labels": train_y[part].tolist()})
        _dump(folder / "test_batch", {"data": _images(test_y, 10, rng), "labels": test_y.tolist()})
        _dump(folder / "batches.meta", {"label_names": names})
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True, exist_ok=True)
        _dump(folder / "train", {"data": _images(train_y, num_classes, rng), "fine_labels": train_y.tolist()})
        _dump(folder / "test", {"data": _images(test_y, num_classes, rng), "fine_labels": test_y.tolist()})
        _dump(folder / "meta", {"fine_label_names": names})
    return root


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
