"""File-list datasets (ImageNet-LT / Places-LT / iNat-2018 split files) on a tiny generated list."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ltlib.errors import ConfigError
from ltlib.samplers import EpochSampler
from ltlib.data import FileListDataset, filelist_transform, read_file_list
from ltlib.samplers import build_sampler


@pytest.fixture(scope="module")
def tiny_list(tmp_path_factory):
    """root/train/<class>/*.jpg|png of varied sizes and a split file `relative/path label` (long-tailed: 6/3/1)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("filelist")
    rng = np.random.RandomState(0)
    lines = ["# ImageNet-LT style split file", ""]
    for c, n in enumerate((6, 3, 1)):
        d = root / "train" / f"n0{c}"
        d.mkdir(parents=True)
        for i in range(n):
            h, w = 20 + 7 * i, 30 + 5 * c
            ext = "jpg" if i % 2 else "png"
            Image.fromarray(rng.randint(0, 255, (h, w, 3)).astype(np.uint8)).save(d / f"img {i}.{ext}")
            lines.append(f"train/n0{c}/img {i}.{ext} {c}")      # a space inside the path, as in some iNat names
    Image.fromarray(rng.randint(0, 255, (20, 20)).astype(np.uint8)).save(root / "gray.png")
    lines.append("gray.png 2")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    return root


def test_read_file_list(tiny_list):
    paths, labels = read_file_list(tiny_list / "train.txt")
    assert len(paths) == 11 and paths[0] == "train/n00/img 0.png"
    assert np.bincount(labels).tolist() == [6, 3, 2]


def test_dataset_train_and_test_transforms(tiny_list):
    torch.manual_seed(0)
    ds = FileListDataset(tiny_list / "train.txt", tiny_list, filelist_transform(True, size=16))
    assert len(ds) == 11 and ds.counts == [6, 3, 2] and ds.num_classes == 3
    x, y, i = ds[10]                                         # a grayscale file comes out RGB
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and y == 2 and i == 10
    test = FileListDataset(tiny_list / "train.txt", tiny_list, filelist_transform(False, size=16, resize=18))
    a, b = test[3][0], test[3][0]
    assert a.shape == (3, 16, 16) and torch.equal(a, b)      # test transform is deterministic
    raw = FileListDataset(tiny_list / "train.txt", tiny_list)[1][0]
    assert raw.dtype == torch.uint8 and raw.shape == (3, 27, 30)


def test_dataloader_with_ltlib_sampler(tiny_list):
    ds = FileListDataset(tiny_list / "train.txt", tiny_list, filelist_transform(True, size=8))
    es = EpochSampler(build_sampler("cb", ds.labels, ds.num_classes), seed=1, epochs=2, batch_size=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=es)
    first = [b[2] for b in loader]
    assert sum(len(b) for b in first) == len(ds) == len(es)
    assert all(b[0].shape[1:] == (3, 8, 8) for b in loader)
    again = [b[2] for b in loader]
    assert all(torch.equal(p, q) for p, q in zip(first, again))       # same epoch, same draw
    es.set_epoch(1)
    assert not all(torch.equal(p, q) for p, q in zip(first, [b[2] for b in loader]))
    halves = [EpochSampler(es.sampler, 1, 2, 4, rank=r, world=2) for r in (0, 1)]
    assert sorted(list(halves[0]) + list(halves[1])) == sorted(list(EpochSampler(es.sampler, 1, 2, 4)))


def test_filelist_transforms_are_torchvision_s():
    from PIL import Image
    from torchvision import transforms as T

    train, test = filelist_transform(True, size=8), filelist_transform(False, size=8, resize=10)
    assert [type(t) for t in train.transforms] == [T.RandomResizedCrop, T.RandomHorizontalFlip, T.ToTensor,
                                                   T.Normalize]
    assert [type(t) for t in test.transforms] == [T.Resize, T.CenterCrop, T.ToTensor, T.Normalize]
    img = Image.fromarray(np.full((30, 40, 3), 255, np.uint8))
    torch.manual_seed(0)
    for t in (train, test):
        x = t(img)
        assert x.shape == (3, 8, 8)
        assert torch.allclose(x[:, 0, 0], (1 - torch.tensor(t.transforms[-1].mean)) / torch.tensor(t.transforms[-1].std))


def test_bad_lists_are_clear_errors(tiny_list, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("train/n00/img 0.png 0\nno_label_here\n")
    with pytest.raises(ConfigError, match=r"bad.txt:2: expected 'relative/path label'"):
        read_file_list(bad)
    with pytest.raises(ConfigError, match="not found"):
        read_file_list(tmp_path / "missing.txt")
    missing = tmp_path / "missing_img.txt"
    missing.write_text("train/n00/nothere.jpg 0\n")
    with pytest.raises(ConfigError, match="cannot read image"):
        FileListDataset(missing, tiny_list)[0]
    with pytest.raises(ConfigError, match="num_classes"):
        FileListDataset(tiny_list / "train.txt", tiny_list, num_classes=2)


def test_torchvision_archs_say_what_is_missing():
    from ltlib.models import build_backbone

    try:
        import torchvision.models  # noqa: F401
    except Exception:  # noqa: BLE001 - the CPU wheel here: torchvision does not import
        with pytest.raises(ConfigError, match="arch 'resnet50' needs a working torchvision"):
            build_backbone("resnet50")
    else:
        assert build_backbone("resnet10").out_dim == 512
