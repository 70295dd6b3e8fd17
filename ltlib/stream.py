"""The streaming data path of the split-file datasets (ImageNet-LT, Places-LT, iNat 2018): images decoded and
transformed per item by DataLoader workers, never held on the device.

A split stands in for the uint8 tensor of the device-resident path (`StreamImages`, duck-typed: `.to()` is itself,
`len`, `.shape`), so the engine, evaluation, classifier retraining, NCM / τ-norm features and per-sample events use
one code path for both: `ltlib.inference.predict` iterates it in order with the test transform (Resize + CenterCrop),
and the training loop fetches each step's indices, drawn by the run's seeded sampler stream, with the training
transform (RandomResizedCrop + flip + ColorJitter). Images come back as uint8 (normalised on the device like the
CIFAR path); an image's augmentation is seeded by (run seed, epoch, stream, index), so it is the same whatever the
number of workers or ranks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import torch

from ltlib.data import ArrayData, LTData, make_long_tailed
from ltlib.errors import ConfigError
from ltlib.splits import SplitData, is_split_dataset, load_splits, loader_workers


def _transforms(size: int, train: bool):
    """uint8 CHW output of the papers' transforms (normalisation happens on the device)."""
    from torchvision import transforms as T

    if train:
        first = [T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0)]
    else:
        first = [T.Resize(size * 8 // 7), T.CenterCrop(size)]               # 256 / 224 for size 224
    return T.Compose(first + [T.PILToTensor()])


class _Items(torch.utils.data.Dataset):
    """Items of one split list: key (index, seed) -> (uint8 image, label, index); seed < 0: the test transform."""

    def __init__(self, root: str, paths: list[str], labels: np.ndarray, size: int) -> None:
        self.root, self.paths, self.labels, self.size = root, paths, labels, size
        self._tf: dict[bool, Any] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, int, int]:
        from PIL import Image

        i, seed = key if isinstance(key, tuple) else (int(key), -1)
        train = seed >= 0
        if train not in self._tf:
            self._tf[train] = _transforms(self.size, train)
        p = os.path.join(self.root, self.paths[i])
        try:
            with Image.open(p) as im:
                img = im.convert("RGB")
        except OSError as e:
            raise ConfigError(f"cannot read image {p}: {e}") from None
        if train:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                x = self._tf[True](img)
        else:
            x = self._tf[False](img)
        return x, int(self.labels[i]), i


class _Batches(torch.utils.data.Sampler):
    """A batch sampler whose batches are replaced every epoch (so persistent workers serve every epoch)."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StreamImages:
    """One split's images, streamed: stands where the device-resident path has a uint8 NCHW tensor."""

    def __init__(self, sd: SplitData, split: str, size: int, workers: Optional[int] = None) -> None:
        self.split, self.size = split, size
        self.items = _Items(str(sd.image_root), sd.paths[split], sd.labels[split], size)
        self.workers = loader_workers() if workers is None else workers
        self._loaders: dict[str, tuple[torch.utils.data.DataLoader, _Batches]] = {}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(images, channels, height, width) as the batches come."""
        return (len(self), 3, self.size, self.size)

    def to(self, *args: Any, **kwargs: Any) -> "StreamImages":
        """Nothing moves: the images stay on disk."""
        return self

    def _loader(self, name: str) -> tuple[torch.utils.data.DataLoader, _Batches]:
        if name not in self._loaders:
            bs = _Batches()
            w = self.workers
            dl = torch.utils.data.DataLoader(self.items, batch_sampler=bs, num_workers=w,
                                             pin_memory=torch.cuda.is_available(), persistent_workers=w > 0,
                                             prefetch_factor=4 if w > 0 else None)
            self._loaders[name] = (dl, bs)
        return self._loaders[name]

    def batches(self, batch_size: int, stop: Optional[int] = None) -> Iterator[torch.Tensor]:
        """The split in order, test transform, batch_size images at a time (uint8)."""
        dl, bs = self._loader("eval")
        n = len(self) if stop is None else min(stop, len(self))
        bs.batches = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
        for x, _, _ in dl:
            yield x

    def epoch(self, ids: list[torch.Tensor], seed: int, epoch: int, stream: int) -> Iterator[torch.Tensor]:
        """The training transform's images of each index batch of one epoch's stream, prefetched by the workers;
        an image's augmentation is seeded by (seed, epoch, stream, index)."""
        dl, bs = self._loader(f"train{stream}")
        base = (seed * 1_000_003 + epoch * 7919 + stream * 104_729) % (2 ** 31)
        bs.batches = [[(int(i), (base + int(i) * 2_654_435_761) % (2 ** 31)) for i in b.tolist()] for b in ids]
        for x, _, _ in dl:
            yield x

    def __getitem__(self, idx: Any) -> torch.Tensor:
        """Some images by index, test transform (in this process; the loaders above are the fast path)."""
        if isinstance(idx, slice):
            idx = range(*idx.indices(len(self)))
        elif isinstance(idx, torch.Tensor):
            idx = idx.tolist()
        return torch.stack([self.items[int(i)][0] for i in idx]) if len(idx) else torch.zeros(0, 3, self.size,
                                                                                                 self.size, dtype=torch.uint8)


@dataclass
class StreamData(LTData):
    """A split dataset as the engine sees it: LTData whose splits stream (train, held-out, test lists as given)."""

    source: Optional[SplitData] = None

    @property
    def in_channels(self) -> int:
        """RGB."""
        return 3


def stream_data(name: str, data_root: Optional[str] = None, image_root: Optional[str] = None,
                image_size: int = 224, workers: Optional[int] = None) -> StreamData:
    """The lists of a split dataset as streaming splits, with their training counts (no re-drawing)."""
    sd = load_splits(name, data_root, image_root)
    parts = {s: ArrayData(StreamImages(sd, s, image_size, workers), torch.as_tensor(sd.labels[s]),  # type: ignore[arg-type]
                          [str(c) for c in range(sd.num_classes)]) for s in ("train", "val", "test")}
    n = len(sd.labels["train"])
    return StreamData(name, parts["train"], parts["val"], parts["test"], sd.counts, np.arange(n),
                      np.arange(len(sd.labels["val"])), sd.mean, sd.std, 0,
                      [str(c) for c in range(sd.num_classes)], source=sd)


def is_stream(x: Any) -> bool:
    """Whether a split's images stream (a split dataset) rather than lie on the device."""
    return isinstance(x, StreamImages)


def notebook_data(dataset: str, imbalance_ratio: float, max_per_class: Optional[int] = None,
                  data_root: Optional[str] = None, image_root: Optional[str] = None) -> LTData:
    """The data set a notebook shows: a split dataset's lists as given (streamed), else the long-tailed set of
    docs/protocol.md §1 (ltlib.data.make_long_tailed)."""
    if is_split_dataset(dataset):
        if max_per_class is not None:
            raise ConfigError(f"dataset {dataset} is used as its split files give it: max_per_class must be None")
        return stream_data(dataset, data_root, image_root)
    return make_long_tailed(dataset, imbalance_ratio, max_per_class, data_root=data_root)
