"""torchvision where it is the standard tool: CIFAR and image-folder readers, file-list and benchmark transforms,
the ResNet-10/50 and ResNeXt-50 backbones; the engine's uint8 arrays stay exactly what they were."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from ltlib import bench
from ltlib.data import LTData, load_cifar, load_image_folder, torchvision_cifar
from ltlib.errors import ConfigError
from ltlib.models import build_backbone


def _fake_cifar(root, num_classes: int, n: int = 6):
    """A CIFAR pickle folder in torchvision's layout with known pixels; returns (folder, train x, train y)."""
    rng = np.random.RandomState(num_classes)
    if num_classes == 10:
        folder, train, test, meta = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], \
            ["test_batch"], ("batches.meta", "label_names")
        key = "labels"
    else:
        folder, train, test, meta, key = root / "cifar-100-python", ["train"], ["test"], ("meta", "fine_label_names"), \
            "fine_labels"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for fn in train + test:
        x = rng.randint(0, 256, (n, 3072)).astype(np.uint8)
        y = rng.randint(0, num_classes, n).tolist()
        (folder / fn).write_bytes(pickle.dumps({"data": x, key: y}))
        if fn in train:
            xs.append(x), ys.extend(y)
    (folder / meta[0]).write_bytes(pickle.dumps({meta[1]: [f"c{i}" for i in range(num_classes)]}))
    return folder, np.concatenate(xs).reshape(-1, 3, 32, 32), np.asarray(ys)


@pytest.mark.parametrize("num_classes", [10, 100])
def test_cifar_is_read_by_torchvision_into_the_same_uint8_arrays(tmp_path, num_classes):
    from torchvision import datasets

    folder, x, y = _fake_cifar(tmp_path, num_classes)
    train, test = load_cifar(folder, num_classes)
    assert isinstance(torchvision_cifar(folder, num_classes, True), datasets.CIFAR10)
    assert train.x.dtype == torch.uint8 and train.x.shape == (len(y), 3, 32, 32) and train.x.is_contiguous()
    assert np.array_equal(train.x.numpy(), x) and np.array_equal(train.y.numpy(), y)    # pickles' own bytes, NCHW
    assert len(test) == 6 and train.classes == [f"c{i}" for i in range(num_classes)]
    (folder / ("data_batch_2" if num_classes == 10 else "train")).unlink()
    with pytest.raises(ConfigError, match="incomplete or corrupt"):
        load_cifar(folder, num_classes)


def test_image_folder_via_torchvision_matches_a_direct_pil_decode(tiny_folder, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("LTSTUDY_CACHE", str(tmp_path / "cache"))
    train, test = load_image_folder(tiny_folder)
    files = sorted((tiny_folder / "train").glob("*/*"))
    direct = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).transpose(0, 3, 1, 2)
    assert np.array_equal(train.x.numpy(), direct) and train.x.dtype == torch.uint8
    assert train.y.tolist() == [train.classes.index(f.parent.name) for f in files]
    assert len(test) == 40 and train.classes == ["class0", "class1", "class2", "class3"]
    again, _ = load_image_folder(tiny_folder)                                       # from the .npz cache
    assert torch.equal(again.x, train.x) and torch.equal(again.y, train.y)


def test_benchmark_reference_pipeline_is_torchvision_and_deterministic():
    from torchvision import transforms as T

    data: LTData = bench.synthetic_data(num_classes=3, n_max=20, imbalance_ratio=4, size=16)
    t, name = bench.reference_transform(data)
    assert name.startswith("torchvision") and isinstance(t, T.Compose)
    assert [type(s) for s in t.transforms] == [T.RandomCrop, T.RandomHorizontalFlip, T.ToTensor, T.Normalize]
    streams = [torch.arange(len(data.train.y))]
    batches = []
    for _ in range(2):
        torch.manual_seed(0)
        batches.append(next(bench.reference_batches(data, streams, 8, t, 0, torch.device("cpu")))[0])
    assert batches[0].x.shape == (8, 3, 16, 16) and batches[0].x.dtype == torch.float32
    assert torch.equal(batches[0].x, batches[1].x) and torch.equal(batches[0].y, data.train.y[:8])


@pytest.mark.parametrize("arch,dim", [("resnet10", 512), ("resnet50", 2048), ("resnext50", 2048)])
def test_torchvision_backbones_on_tiny_inputs(arch, dim):
    torch.manual_seed(0)
    net = build_backbone(arch, in_channels=1 if arch == "resnet10" else 3).eval()
    x = torch.randn(2, 1 if arch == "resnet10" else 3, 32, 32)
    with torch.no_grad():
        f = net(x)
        trunk = net.forward_trunk(x)
        assert torch.equal(net.last_block(trunk).mean(dim=(2, 3)), f)
    assert net.out_dim == dim and f.shape == (2, dim) and torch.isfinite(f).all()
