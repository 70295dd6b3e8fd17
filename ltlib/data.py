"""Datasets as uint8 tensors, the long-tailed protocol of docs/protocol.md §1, and the held-out split."""
from __future__ import annotations

import functools
import gzip
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ltlib import registry
from ltlib.config import check_dataset_name, is_path
from ltlib.errors import ConfigError
from ltlib.paths import REPO_ROOT, resolve


@dataclass
class ArrayData:
    """Images as a uint8 NCHW tensor with int64 labels."""

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray | torch.Tensor) -> "ArrayData":
        """Rows idx of this set."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return ArrayData(self.x[idx], self.y[idx], self.classes)


@dataclass
class DatasetInfo:
    """How to find and normalise one named dataset."""

    folders: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int
    hint: str
    label: str
    classes: int = 0                 # classes and training images per class of the balanced source (0: unknown)
    per_class: int = 0


DATASETS = registry.DATASETS
DATASETS.update({
    "fmnist": DatasetInfo(
        ["fashion-mnist", "FashionMNIST/raw", "fashion_mnist"], (0.2860,), (0.3530,), 2,
        "install the Debian package: `sudo apt-get install dataset-fashion-mnist` (puts the idx files in "
        "/usr/share/datasets/fashion-mnist/), or pass download=True on a machine with internet and torchvision",
        "Fashion-MNIST", 10, 6000),
    "cifar10": DatasetInfo(
        ["cifar-10-batches-py"], (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4,
        "put torchvision's `cifar-10-batches-py` folder under data_root, or run "
        "`torchvision.datasets.CIFAR10(data_root, download=True)` on a machine with internet",
        "CIFAR-10", 10, 5000),
    "cifar100": DatasetInfo(
        ["cifar-100-python"], (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 4,
        "put torchvision's `cifar-100-python` folder under data_root, or run "
        "`torchvision.datasets.CIFAR100(data_root, download=True)` on a machine with internet",
        "CIFAR-100", 100, 500),
    "cifar10-jpeg": DatasetInfo(
        ["cifar10-jpeg", "cifar10-jpeg.tar.gz"], (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4,
        "it is not published anywhere: it is CIFAR-10 re-encoded as JPEG, an image folder you provide, laid out as "
        "cifar10-jpeg/train/<class>/*.jpg and cifar10-jpeg/test/<class>/*.jpg (or that folder as cifar10-jpeg.tar.gz); "
        "put it in data/ or in the folder data_root names (any such image folder also works as dataset: <path>)",
        "CIFAR-10 (JPEG)", 10, 5000),
})


def search_roots(data_root: str | None) -> list[Path]:
    """Where datasets are looked for, in order."""
    roots = [resolve(data_root)] if data_root else []
    if os.environ.get("LTSTUDY_DATA"):
        roots.append(Path(os.environ["LTSTUDY_DATA"]))
    roots += [REPO_ROOT / "data", Path("/usr/share/datasets")]
    return roots


def cache_dir() -> Path:
    """Folder for decoded dataset caches."""
    return Path(os.environ.get("LTSTUDY_CACHE", REPO_ROOT / ".cache"))


def find_dataset(name: str, data_root: str | None = None) -> Path:
    """Locate a named dataset, or raise one error naming every place looked at and how to get it."""
    info = DATASETS[name]
    looked = []
    for root in search_roots(data_root):
        for folder in info.folders:
            p = root / folder
            looked.append(str(p))
            if p.exists():
                return p
    raise ConfigError(f"{info.label} not found; looked in: {', '.join(looked)}. To get it: {info.hint}")


# ------------------------------------------------------------------------------------ readers

def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path:
    for cand in (folder / f"{stem}.gz", folder / stem):
        if cand.exists():
            return cand
    raise ConfigError(f"Fashion-MNIST folder {folder} lacks {stem}(.gz): the files are incomplete")


FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                  "Bag", "Ankle boot"]


def load_fmnist(folder: Path) -> tuple[ArrayData, ArrayData]:
    """Fashion-MNIST from its idx files (gzipped or not)."""
    out = []
    for split in ("train", "t10k"):
        try:
            x = _read_idx(_idx_file(folder, f"{split}-images-idx3-ubyte"))
            y = _read_idx(_idx_file(folder, f"{split}-labels-idx1-ubyte"))
        except (OSError, EOFError, ValueError, IndexError) as e:
            raise ConfigError(f"Fashion-MNIST files in {folder} are corrupt ({e}); reinstall them") from None
        if len(x) != len(y):
            raise ConfigError(f"Fashion-MNIST files in {folder} are corrupt: {len(x)} images, {len(y)} labels")
        out.append(ArrayData(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)),
                             FMNIST_CLASSES))
    return out[0], out[1]


def torchvision_cifar(folder: Path, num_classes: int, train: bool):
    """torchvision.datasets.CIFAR10/100(folder.parent, train, download=False) on an existing pickle folder.

    torchvision's md5 check of the downloaded files is turned off (md5 None: it checks that every file is
    present), so a folder copied from elsewhere, or a test's small fake pickles, is read; a corrupt pickle is
    reported when it is read."""
    from torchvision import datasets

    base = datasets.CIFAR10 if num_classes == 10 else datasets.CIFAR100

    class Present(base):                                         # type: ignore[misc, valid-type]
        base_folder = folder.name
        train_list = [[fn, None] for fn, _ in base.train_list]
        test_list = [[fn, None] for fn, _ in base.test_list]
        meta = {**base.meta, "md5": None}

    return Present(str(folder.parent), train=train, download=False)


def load_cifar(folder: Path, num_classes: int) -> tuple[ArrayData, ArrayData]:
    """CIFAR-10/100 from torchvision's python pickle folders, read by torchvision.datasets.CIFAR10/100."""
    out = []
    for train in (True, False):
        try:
            ds = torchvision_cifar(folder, num_classes, train)
            x = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))
            y = np.asarray(ds.targets, dtype=np.int64)
            if len(x) != len(y):
                raise ValueError(f"{len(x)} images, {len(y)} labels")
        except Exception as e:  # noqa: BLE001 - any unreadable pickle is a data error, not a crash
            msg = (str(e).splitlines() or [""])[0]
            raise ConfigError(f"CIFAR folder {folder} is incomplete or corrupt ({type(e).__name__}: {msg}); "
                              f"delete it and download it again") from None
        out.append(ArrayData(torch.from_numpy(x), torch.from_numpy(y), list(ds.classes)))
    return out[0], out[1]


def _extract(archive: Path) -> Path:
    """Extract a .tar.gz image folder once into the cache; return the folder holding train/ and test/."""
    dest = cache_dir() / archive.name.replace(".tar.gz", "")
    if not (dest / ".complete").exists():
        tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(tmp)
        (tmp / ".complete").touch()
        if dest.exists():
            import shutil
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    inner = [p for p in dest.rglob("train") if p.is_dir()]
    if not inner:
        raise ConfigError(f"{archive} has no train/<class>/ folder")
    return inner[0].parent


def load_image_folder(root: Path) -> tuple[ArrayData, ArrayData]:
    """root/train/<class>/* and root/test/<class>/* read by torchvision.datasets.ImageFolder (RGB), decoded once
    into uint8 arrays (every image resized to the first one's size) and cached as .npz."""
    from torchvision.datasets import ImageFolder

    if root.name.endswith(".tar.gz"):
        root = _extract(root)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir()) if (root / "train").is_dir() else []
    if not classes:
        raise ConfigError(f"image folder {root}/train has no class subfolders")
    folders = {}
    for split in ("train", "test"):
        try:
            folders[split] = ImageFolder(str(root / split))
        except OSError as e:                               # a missing split, or a class folder without images
            raise ConfigError(f"image folder {root / split} cannot be read: {e}") from None
    key = f"{root.name}-{len(folders['train'])}-{len(folders['test'])}"
    cache = cache_dir() / f"{key}.npz"
    if cache.exists():
        try:
            z = np.load(cache)
            return tuple(ArrayData(torch.from_numpy(z[f"x_{s}"]), torch.from_numpy(z[f"y_{s}"]), classes)
                         for s in ("train", "test"))
        except Exception:  # noqa: BLE001 - a broken cache is rebuilt
            cache.unlink(missing_ok=True)
    arrays = {}
    size = None
    for split, ds in folders.items():
        xs, ys = [], []
        for path, y in ds.samples:                         # sorted by class, then by file name
            name = ds.classes[y]
            if name not in classes:                        # a test class the training set lacks
                continue
            im = ds.loader(path)                           # torchvision's PIL loader: RGB
            size = size or im.size
            if im.size != size:
                im = im.resize(size)
            xs.append(np.asarray(im, dtype=np.uint8))
            ys.append(classes.index(name))
        if not xs:
            raise ConfigError(f"image folder {root / split} holds no images")
        arrays[f"x_{split}"] = np.stack(xs).transpose(0, 3, 1, 2).copy()
        arrays[f"y_{split}"] = np.asarray(ys, dtype=np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, cache)
    return tuple(ArrayData(torch.from_numpy(arrays[f"x_{s}"]), torch.from_numpy(arrays[f"y_{s}"]), classes)
                 for s in ("train", "test"))


@functools.lru_cache(maxsize=4)
def load_dataset(name: str, data_root: str | None = None) -> tuple[ArrayData, ArrayData]:
    """The full balanced (train, test) sets of a dataset name or image-folder path."""
    check_dataset_name(name)
    if getattr(DATASETS.get(name), "lists", None):
        raise ConfigError(f"dataset {name} is fixed by its split files and streamed from disk: read it with "
                          f"ltlib.splits.load_splits, not as arrays")
    if name == "fmnist":
        return load_fmnist(find_dataset(name, data_root))
    if name in ("cifar10", "cifar100"):
        return load_cifar(find_dataset(name, data_root), 10 if name == "cifar10" else 100)
    if name == "cifar10-jpeg":
        return load_image_folder(find_dataset(name, data_root))
    return load_image_folder(resolve(name))


def is_split(name: str) -> bool:
    """A dataset fixed by its split files (ImageNet-LT, Places-LT, iNat 2018): its lists as given, streamed."""
    return bool(getattr(DATASETS.get(name), "lists", None))


def dataset_label(name: str) -> str:
    """Human name for tables ('CIFAR-10 (JPEG)' for the JPEG archive, docs/protocol.md §7)."""
    return DATASETS[name].label if not is_path(name) and name in DATASETS else Path(name).name


# ------------------------------------------------------------------------- long-tail protocol

def assign_sizes(counts: list[int], class_order_seed: int | None = None) -> list[int]:
    """The long-tailed sizes given to the classes: class c the c-th largest (None, the papers'), or a seeded random
    assignment (which classes are the tail is then drawn, not Fashion-MNIST's label order)."""
    if class_order_seed is None:
        return list(counts)
    order = np.random.RandomState(class_order_seed).permutation(len(counts))
    return [counts[i] for i in order]


def known_counts(name: str, imbalance_ratio: float, max_per_class: int | None = None,
                 class_order_seed: int | None = None) -> list[int] | None:
    """The long-tailed class sizes of a named balanced dataset without reading it (as make_long_tailed builds
    them), or None where the source's size is not known (a folder, a split dataset)."""
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None or not info.per_class:
        return None
    n_max = float(info.per_class if max_per_class is None else min(info.per_class, max_per_class))
    return assign_sizes(long_tail_counts(n_max, info.classes, imbalance_ratio), class_order_seed)


def long_tail_counts(n_max: float, num_classes: int, imbalance_ratio: float) -> list[int]:
    """n_c = int(n_max * (1/IR)^(c/(C-1))) for c = 0..C-1 (docs/protocol.md §1, truncated, class 0 the head)."""
    if num_classes == 1:
        return [int(n_max)]
    return [int(n_max * (1.0 / imbalance_ratio) ** (c / (num_classes - 1))) for c in range(num_classes)]


def long_tail_indices(labels: np.ndarray, counts: list[int], seed: int = 0) -> np.ndarray:
    """Per class in label order: shuffle its indices with a seeded RandomState and keep the first n_c.

    RandomState(seed) draws exactly what `np.random.seed(seed); np.random.shuffle` draws, without
    touching the global generator.
    """
    rng = np.random.RandomState(seed)
    labels = np.asarray(labels)
    keep = []
    for c, n_c in enumerate(counts):
        idx = np.where(labels == c)[0]
        rng.shuffle(idx)
        keep.append(idx[:n_c])
    return np.concatenate(keep)


def heldout_indices(labels: np.ndarray, used: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A held-out split of up to `per_class` images per class, for choosing (never the test set): (held-out, train).

    Only training images the long-tailed subset left unused are taken (docs/protocol.md §1.2): the training
    set keeps exactly its published per-class counts, and a class with no unused image (the head class when
    n_max is its full size) contributes none (protocol 1 topped such a class up from its own training images;
    docs/protocol.md §7.3 gives what that changed).
    """
    rng = np.random.RandomState(seed + 7919)
    labels = np.asarray(labels)
    mask = np.ones(len(labels), dtype=bool)
    mask[used] = False
    val = []
    for c in range(int(labels.max()) + 1):
        idx = np.where((labels == c) & mask)[0]
        rng.shuffle(idx)
        val.append(idx[:per_class])
    return np.concatenate(val).astype(np.int64), used


@dataclass
class LTData:
    """A long-tailed training set, a balanced held-out split and the balanced test set."""

    name: str
    train: ArrayData
    val: ArrayData
    test: ArrayData
    counts: list[int]
    train_indices: np.ndarray
    val_indices: np.ndarray
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int
    classes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.counts)

    @property
    def val_classes(self) -> int:
        """Classes the held-out split covers (a class whose every image trains contributes none)."""
        return int(len(np.unique(self.val.y.numpy())))

    @property
    def in_channels(self) -> int:
        """Image channels (1 for Fashion-MNIST)."""
        return int(self.train.x.shape[1])


def make_long_tailed(name: str, imbalance_ratio: float, max_per_class: int | None = None, seed: int = 0,
                     val_per_class: int = 20, data_root: str | None = None,
                     class_order_seed: int | None = None) -> LTData:
    """Build the long-tailed training set of docs/protocol.md §1 (+ held-out split) from a balanced dataset (a split
    dataset, ImageNet-LT / Places-LT / iNat 2018, is its lists as given: ltlib.stream.notebook_data)."""
    if is_split(name):
        raise ConfigError(f"dataset {name} is used as its split files give it, streamed: ltlib.stream.notebook_data "
                          f"(or ltlib.inference.load_data) reads it")
    train, test = load_dataset(name, data_root)
    labels = train.y.numpy()
    num_classes = int(labels.max()) + 1
    per_class = np.bincount(labels, minlength=num_classes)
    n_max = float(per_class.min())
    if max_per_class is not None:
        n_max = min(n_max, float(max_per_class))
    counts = assign_sizes(long_tail_counts(n_max, num_classes, imbalance_ratio), class_order_seed)
    if min(counts) < 1:
        raise ConfigError(f"imbalance_ratio={imbalance_ratio} with n_max={n_max:g} leaves a class with no "
                          f"image; lower imbalance_ratio or raise max_per_class")
    idx = long_tail_indices(labels, counts, seed)
    val_idx = np.zeros(0, np.int64)
    if val_per_class:
        val_idx, idx = heldout_indices(labels, idx, val_per_class, seed)
        counts = np.bincount(labels[idx], minlength=num_classes).tolist()
    if name in DATASETS:
        info = DATASETS[name]
        mean, std, pad = info.mean, info.std, info.pad
    else:
        xf = train.x[:: max(1, len(train) // 5000)].float() / 255
        mean = tuple(xf.mean(dim=(0, 2, 3)).tolist())
        std = tuple(xf.std(dim=(0, 2, 3)).tolist())
        pad = max(2, train.x.shape[-1] // 8)
    return LTData(name, train.subset(idx), train.subset(val_idx), test, counts, idx, val_idx, mean, std, pad,
                  list(train.classes))


# ------------------------------------------------------------------- file lists (large datasets)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_file_list(list_file: str | os.PathLike) -> tuple[list[str], list[int]]:
    """(relative paths, labels) of an ImageNet-LT / Places-LT / iNat-2018 split file: `relative/path label` per line."""
    path = Path(os.path.expanduser(str(list_file)))
    if not path.is_file():
        raise ConfigError(f"file list {path} not found (ImageNet-LT / Places-LT / iNat-2018 split files hold one "
                          f"'relative/path label' per line)")
    paths, labels = [], []
    for no, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rel, _, label = line.rpartition(" ")
        try:
            y = int(label)
        except ValueError:
            y = -1
        if not rel.strip() or y < 0:
            raise ConfigError(f"{path}:{no}: expected 'relative/path label' (label an integer >= 0), got {line!r}")
        paths.append(rel.strip())
        labels.append(y)
    if not paths:
        raise ConfigError(f"file list {path} holds no images")
    return paths, labels


def filelist_transform(train: bool, size: int = 224, resize: int = 256, mean: tuple[float, ...] = IMAGENET_MEAN,
                       std: tuple[float, ...] = IMAGENET_STD, color_jitter: bool = False):
    """The standard ImageNet-LT / Places-LT / iNat transforms, torchvision's: RandomResizedCrop + flip (train; with
    color_jitter, ColorJitter(0.4, 0.4, 0.4, 0) as in Decoupling's and OLTR's code) or Resize + CenterCrop (test),
    then ToTensor + Normalize."""
    from torchvision import transforms as T

    first = [T.RandomResizedCrop(size), T.RandomHorizontalFlip()] if train else [T.Resize(resize), T.CenterCrop(size)]
    if train and color_jitter:
        first.append(T.ColorJitter(0.4, 0.4, 0.4, 0))
    return T.Compose(first + [T.ToTensor(), T.Normalize(mean, std)])


class FileListDataset(torch.utils.data.Dataset):
    """Images listed in a split file (`relative/path label` per line) under root, decoded with PIL per item.

    For large datasets (ImageNet-LT, Places-LT, iNat-2018) read through a torch DataLoader with workers; the
    labels tensor feeds ltlib.samplers (e.g. `EpochSampler(build_sampler("cb", ds.labels, C), seed)`).
    """

    def __init__(self, list_file: str | os.PathLike, root: str | os.PathLike, transform=None,
                 num_classes: int | None = None) -> None:
        self.root = Path(os.path.expanduser(str(root)))
        if not self.root.is_dir():
            raise ConfigError(f"image root {self.root} of file list {list_file} not found")
        self.paths, labels = read_file_list(list_file)
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.num_classes = num_classes or int(self.labels.max()) + 1
        if int(self.labels.max()) >= self.num_classes:
            raise ConfigError(f"file list {list_file} has label {int(self.labels.max())} >= num_classes {self.num_classes}")
        self.transform = transform

    @classmethod
    def from_lists(cls, paths: list[str], labels: "np.ndarray | list[int]", root: str | os.PathLike, transform=None,
                   num_classes: Optional[int] = None) -> "FileListDataset":
        """The same dataset from list lines already read (ltlib.splits reads each list once)."""
        ds = cls.__new__(cls)
        ds.root = Path(os.path.expanduser(str(root)))
        ds.paths = list(paths)
        ds.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        ds.num_classes = num_classes or int(ds.labels.max()) + 1
        ds.transform = transform
        return ds

    @property
    def counts(self) -> list[int]:
        """Images per class."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        """(image, label, index); the image as a transformed tensor (uint8 CHW without a transform)."""
        from PIL import Image

        p = self.root / self.paths[i]
        try:
            with Image.open(p) as im:
                img = im.convert("RGB")
        except OSError as e:
            raise ConfigError(f"cannot read image {p} (line {i + 1} of the file list): {e}") from None
        x = self.transform(img) if self.transform else torch.from_numpy(np.array(img)).permute(2, 0, 1)
        return x, int(self.labels[i]), i
