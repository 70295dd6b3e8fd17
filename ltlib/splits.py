"""Large-scale long-tailed datasets defined by their split files: ImageNet-LT, Places-LT, iNaturalist 2018.

Each is read from the published lists (`relative/path label` per line) exactly as given: no imbalance ratio, no
re-drawing. The val list is the held-out split (used for choosing, never for reporting) and the test list is the
test set; iNaturalist 2018 has no test list, its val list is the test set (as in Decoupling §5, BBN §5.1 and the
class-reversed paper), and it has no held-out split. Classes are grouped by training count into many (> 100),
medium (20-100) and few (< 20) shots (Decoupling §5.1; ltlib.metrics.shot_groups).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ltlib import registry
from ltlib.data import IMAGENET_MEAN, IMAGENET_STD, DatasetInfo, FileListDataset, filelist_transform, \
    load_dataset, read_file_list, search_roots
from ltlib.errors import ConfigError
from ltlib.metrics import shot_groups
from ltlib.paths import resolve

# The splits a run reads: train (the long-tailed training set), val (held out, for choosing), test (reported).
SPLITS = ("train", "val", "test")
INAT_MEAN = (0.466, 0.471, 0.380)
INAT_STD = (0.195, 0.194, 0.192)


@dataclass
class SplitInfo(DatasetInfo):
    """A dataset fixed by its split files: where the lists live, their names and sizes, and the image folders."""

    lists: dict[str, Optional[str]] = field(default_factory=dict)   # split -> list file name (None: no such split)
    test_is: str = "test"                   # the split whose list is the test set ("val" for iNaturalist 2018)
    num_classes: int = 0
    sizes: dict[str, int] = field(default_factory=dict)             # published lines per list
    image_dirs: tuple[str, ...] = ()        # top-level folders the list paths start with, under the image root
    source: str = ""                        # where the lists and the images are published
    n_max: int = 0                          # largest / smallest training class of the published lists
    n_min: int = 0

    @property
    def imbalance(self) -> float:
        """n_max / n_min of the published training list (informative: nothing is re-drawn from it)."""
        return self.n_max / self.n_min


OLTR = "https://github.com/zhmiao/OpenLongTailRecognition-OLTR (README: the ImageNet_LT / Places_LT lists)"
DATASETS = registry.DATASETS
DATASETS.update({
    "imagenet_lt": SplitInfo(
        ["ImageNet_LT"], IMAGENET_MEAN, IMAGENET_STD, 0, "", "ImageNet-LT",
        lists={"train": "ImageNet_LT_train.txt", "val": "ImageNet_LT_val.txt", "test": "ImageNet_LT_test.txt"},
        num_classes=1000, sizes={"train": 115846, "val": 20000, "test": 50000}, image_dirs=("train", "val"),
        source=f"the lists from {OLTR}, also in facebookresearch/classifier-balancing; the images are ILSVRC-2012's "
               "train/ and val/ folders (https://image-net.org, registration)", n_max=1280, n_min=5),
    "places_lt": SplitInfo(
        ["Places_LT"], IMAGENET_MEAN, IMAGENET_STD, 0, "", "Places-LT",
        lists={"train": "Places_LT_train.txt", "val": "Places_LT_val.txt", "test": "Places_LT_test.txt"},
        num_classes=365, sizes={"train": 62500, "val": 7300, "test": 36500}, image_dirs=("data_256", "val_256"),
        source=f"the lists from {OLTR}; the images are Places365-Standard's small (256x256) train and val images "
               "(http://places2.csail.mit.edu/download.html); the lists' path prefixes (data_256/, ...) must match "
               "the folders under image_root", n_max=4980, n_min=5),
    "inat2018": SplitInfo(
        ["iNaturalist18"], INAT_MEAN, INAT_STD, 0, "", "iNaturalist 2018",
        lists={"train": "iNaturalist18_train.txt", "val": None, "test": "iNaturalist18_val.txt"}, test_is="val",
        num_classes=8142, sizes={"train": 437513, "test": 24426}, image_dirs=("train_val2018",),
        source="the lists iNaturalist18_train.txt / iNaturalist18_val.txt from "
               "https://github.com/facebookresearch/classifier-balancing (its data/iNaturalist18/); the images are "
               "the iNat 2018 competition's train_val2018/ (https://github.com/visipedia/inat_comp/tree/master/2018)",
        n_max=1000, n_min=2),
})
for _name, _info in DATASETS.items():
    if isinstance(_info, SplitInfo) and not _info.hint:
        _info.hint = _info.source


def is_split_dataset(name: str) -> bool:
    """A dataset fixed by its split files (ImageNet-LT, Places-LT, iNat 2018), read by streaming."""
    return isinstance(DATASETS.get(name), SplitInfo)


def layout(name: str) -> str:
    """The folder layout a split dataset is read from, in words."""
    info: SplitInfo = DATASETS[name]
    files = ", ".join(f for f in info.lists.values() if f)
    dirs = ", ".join(f"{d}/" for d in info.image_dirs)
    return (f"<data_root>/{info.folders[0]}/ holding {files}; the images under image_root (default: that same "
            f"folder), which holds the folders the list paths start with ({dirs})")


def _missing(name: str, what: str) -> ConfigError:
    info: SplitInfo = DATASETS[name]
    return ConfigError(f"{info.label}: {what}. Expected layout: {layout(name)}. Where to get them: {info.source}")


def find_lists(name: str, data_root: Optional[str] = None) -> Path:
    """The folder holding a split dataset's list files, or a ConfigError naming the files, the layout and the
    source (before any work)."""
    info: SplitInfo = DATASETS[name]
    files = [f for f in info.lists.values() if f]
    looked = []
    for root in search_roots(data_root):
        for folder in info.folders:
            p = root / folder
            looked.append(str(p))
            if all((p / f).is_file() for f in files):
                return p
    raise _missing(name, f"split files {', '.join(files)} not found; looked in: {', '.join(looked)}")


@dataclass
class SplitData:
    """A split dataset as its lists give it: image paths and labels per split, training counts, the image root."""

    name: str
    list_dir: Path
    image_root: Path
    paths: dict[str, list[str]]
    labels: dict[str, np.ndarray]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def counts(self) -> list[int]:
        """Training images per class."""
        return np.bincount(self.labels["train"], minlength=self.num_classes).tolist()

    @property
    def groups(self) -> dict[str, list[int]]:
        """Class indices of many (> 100) / medium (20-100) / few (< 20) shots by training count (and the thirds)."""
        return shot_groups(self.counts)

    def sizes(self) -> dict[str, int]:
        """Images per split."""
        return {s: len(v) for s, v in self.paths.items()}

    def dataset(self, split: str, train: bool = False, size: int = 224, resize: int = 256,
                color_jitter: bool = True) -> FileListDataset:
        """A torch Dataset of one split, decoded per item: the training transform (RandomResizedCrop + flip
        + ColorJitter) with train=True, else Resize + CenterCrop."""
        tf = filelist_transform(train, size, resize, self.mean, self.std, color_jitter=color_jitter and train)
        return FileListDataset.from_lists(self.paths[split], self.labels[split], self.image_root, tf,
                                          self.num_classes)


def _read(path: Path) -> tuple[list[str], np.ndarray]:
    paths, labels = read_file_list(path)
    return paths, np.asarray(labels, dtype=np.int64)


@functools.lru_cache(maxsize=4)
def load_splits(name: str, data_root: Optional[str] = None, image_root: Optional[str] = None) -> SplitData:
    """Read a split dataset's lists as given and check that its images are where the lists say (first image of
    each list), so a wrong folder fails here, before any work."""
    info: SplitInfo = DATASETS[name]
    list_dir = find_lists(name, data_root)
    images = resolve(image_root) if image_root else list_dir
    if not images.is_dir():
        raise _missing(name, f"image_root {images} is not a folder")
    paths, labels = {}, {}
    for split in SPLITS:
        fn = info.lists.get(split)
        if fn is None:                                 # iNat 2018: no held-out list
            paths[split], labels[split] = [], np.zeros(0, np.int64)
            continue
        paths[split], labels[split] = _read(list_dir / fn)
        first = images / paths[split][0]
        if not first.is_file():
            raise _missing(name, f"the first image of {fn}, {first}, does not exist (image_root {images})")
    seen = max(int(v.max()) for v in labels.values() if len(v)) + 1
    num_classes = max(seen, int(labels["train"].max()) + 1)
    if info.num_classes and num_classes > info.num_classes:
        raise _missing(name, f"labels go up to {num_classes - 1}, but {info.label} has {info.num_classes} classes")
    missing = sorted(set(range(num_classes)) - set(labels["train"].tolist()))
    if missing:
        raise _missing(name, f"{len(missing)} class(es) have no training image (e.g. {missing[:5]}): the train "
                             f"list is incomplete")
    return SplitData(name, list_dir, images, paths, labels, num_classes, info.mean, info.std)


def check_available(name: str, data_root: Optional[str] = None, image_root: Optional[str] = None) -> None:
    """Fail before any work when a dataset cannot be read: a split dataset's lists and images, any other dataset
    loaded (and cached)."""
    if is_split_dataset(name):
        load_splits(name, data_root, image_root)
    else:
        load_dataset(name, data_root)


def describe(name: str) -> dict[str, Any]:
    """A split dataset's published facts (sizes, classes, imbalance) without reading anything."""
    info: SplitInfo = DATASETS[name]
    return {"dataset": info.label, "classes": info.num_classes, **{f"{s} images": n for s, n in info.sizes.items()},
            "n_max": info.n_max, "n_min": info.n_min, "imbalance": round(info.imbalance, 1), "test list": info.test_is}


def num_classes(name: str) -> int:
    """Classes of a split dataset as published (no file read)."""
    return DATASETS[name].num_classes


def loader_workers() -> int:
    """DataLoader worker processes per rank: LTSTUDY_LOADER_WORKERS, else up to 8 (never more than the cores)."""
    env = os.environ.get("LTSTUDY_LOADER_WORKERS")
    if env:
        return max(0, int(env))
    return min(8, max(0, (os.cpu_count() or 1) - 1))
