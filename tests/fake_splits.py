"""Tiny split-file datasets in the official layouts (ImageNet-LT, Places-LT, iNaturalist 2018) written by tests:
a few hundred small JPEGs of varied sizes and the list files, nothing downloaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Training images per class: many (> 100), medium (20-100) and few (< 20) shots, as the papers group them.
TRAIN_COUNTS = (110, 40, 21, 12, 5, 2)
VAL_PER_CLASS, TEST_PER_CLASS = 2, 4


def _jpeg(path: Path, label: int, num_classes: int, rng: np.random.RandomState) -> None:
    """A small JPEG of a class colour plus noise, its size varying (the lists' images differ in size)."""
    from PIL import Image

    h, w = rng.randint(24, 48), rng.randint(24, 48)
    hue = (np.array([37, 101, 173]) * (label + 1)) % 192
    x = (rng.randint(0, 64, (h, w, 3)) + hue[None, None, :]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(x).save(path, quality=90)


def _names(style: str, split: str, c: int, i: int) -> str:
    """A list path in the style of each dataset's published lists."""
    if style == "imagenet_lt":
        wnid = f"n{1440764 + c:08d}"
        return f"train/{wnid}/{wnid}_{i + 1000 * (split == 'val')}.JPEG" if split != "test" else \
            f"val/ILSVRC2012_val_{c * 100 + i + 1:08d}.JPEG"
    if style == "places_lt":
        cls = ["airfield", "airport_terminal", "alley", "amphitheater", "bakery-shop", "ballroom"][c % 6] + \
            ("" if c < 6 else str(c))
        return f"data_256/{cls[0]}/{cls}/{i + 1 + 5000 * (split == 'val'):08d}.jpg" if split != "test" else \
            f"val_256/Places365_val_{c * 100 + i + 1:08d}.jpg"
    kingdom = ["Plantae", "Insecta", "Aves", "Fungi"][c % 4]
    return f"train_val2018/{kingdom}/{c}/{split}{i:04d}{c:04d}abcdef.jpg"


FOLDERS = {"imagenet_lt": ("ImageNet_LT", "ImageNet_LT_{}.txt", ("train", "val", "test")),
           "places_lt": ("Places_LT", "Places_LT_{}.txt", ("train", "val", "test")),
           "inat2018": ("iNaturalist18", "iNaturalist18_{}.txt", ("train", "val"))}


def write_split_dataset(root: str | Path, name: str, counts: tuple[int, ...] = TRAIN_COUNTS, seed: int = 0,
                        image_root: str | Path | None = None) -> Path:
    """Write <root>/<folder>/ with the list files and the JPEGs (under image_root when given, else that folder);
    return root. iNat 2018's val list holds the test images (it has no other)."""
    root = Path(root)
    folder, pattern, splits = FOLDERS[name]
    lists = root / folder
    images = Path(image_root) if image_root else lists
    lists.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    per = {"train": list(counts), "val": [VAL_PER_CLASS] * len(counts), "test": [TEST_PER_CLASS] * len(counts)}
    if name == "inat2018":
        per["val"] = [TEST_PER_CLASS] * len(counts)
    for split in splits:
        lines = []
        for c, n in enumerate(per[split]):
            for i in range(n):
                rel = _names(name, split, c, i)
                _jpeg(images / rel, c, len(counts), rng)
                lines.append(f"{rel} {c}")
        order = rng.permutation(len(lines))                   # the published lists are not sorted by class
        (lists / pattern.format(split)).write_text("\n".join(lines[j] for j in order) + "\n")
    return root
