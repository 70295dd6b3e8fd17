"""The streaming data path of the split datasets, end to end on a generated ImageNet-LT layout (CPU, seconds):
training (one and two streams), evaluation, classifier retraining, NCM / τ-norm features and per-sample events."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ltlib.config import RunConfig
from ltlib.inference import DeviceData, load_data
from ltlib.stream import StreamImages, is_stream

from fake_splits import TRAIN_COUNTS, write_split_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_split_dataset(tmp_path_factory.mktemp("stream") / "data", "imagenet_lt")


@pytest.fixture(scope="module")
def base(root) -> RunConfig:
    """ResNet-10 at 32x32 (smoke size), 2 epochs, batch 16, fp32."""
    return RunConfig(dataset="imagenet_lt", data_root=str(root), arch="resnet10", image_size=32, epochs=2,
                     batch_size=16, precision="fp32", warmup_epochs=0, eval_every=1, tag="CE")


def _metrics(run) -> dict:
    return json.loads((run.path / "metrics.json").read_text())


def test_data_streams_and_keeps_the_lists(base, monkeypatch):
    monkeypatch.setenv("LTSTUDY_LOADER_WORKERS", "0")
    data = load_data(base)
    dd = DeviceData(data, torch.device("cpu"))
    assert is_stream(dd.x) and isinstance(dd.splits["test"][0], StreamImages)      # nothing decoded up front
    assert data.counts == list(TRAIN_COUNTS) and data.in_channels == 3 and len(dd.y) == sum(TRAIN_COUNTS)
    xb = next(dd.x.batches(5))
    assert xb.shape == (5, 3, 32, 32) and xb.dtype == torch.uint8
    a = next(dd.x.epoch([torch.tensor([3, 1])], seed=0, epoch=1, stream=0))
    b = next(dd.x.epoch([torch.tensor([3, 1])], seed=0, epoch=1, stream=0))
    c = next(dd.x.epoch([torch.tensor([3, 1])], seed=0, epoch=2, stream=0))
    assert torch.equal(a, b) and not torch.equal(a, c)       # augmentation seeded by (seed, epoch, stream, index)


def test_train_evaluate_retrain_features(base, tmp_path, monkeypatch):
    from ltlib.methods.baselines import retrain_classifier
    from ltlib.methods.decoupling import extract_features, ncm, tau_curve
    from ltlib.train import fit

    monkeypatch.setenv("LTSTUDY_LOADER_WORKERS", "0")
    run = fit(base, tmp_path, device="cpu", progress="none")
    m = _metrics(run)
    assert {"acc", "many", "medium", "few"} <= set(m["last"]["test"]) and m["val_classes"] == len(TRAIN_COUNTS)
    events = np.load(run.path / "events.npz")
    assert next(iter(events.values())).shape[-1] == sum(TRAIN_COUNTS)              # per-sample events
    crt = fit(retrain_classifier(base, "RS", 1), tmp_path, device="cpu", progress="none")
    assert _metrics(crt)["last"]["test"]["acc"] >= 0
    fs = extract_features(run)
    assert fs.splits["train"][0].shape == (sum(TRAIN_COUNTS), 512) and len(fs.splits["test"][1]) == 24
    _, rep = ncm(fs)
    assert set(rep) == {"val", "test"} and len(tau_curve(fs, [0.0, 1.0]))
    bbn = fit(base.replace(method="bbn", epochs=1, tag="BBN"), tmp_path, device="cpu", progress="none")   # two streams
    assert _metrics(bbn)["last"]["test"]["acc"] >= 0


def test_workers_draw_what_one_process_draws(base, tmp_path, monkeypatch):
    """A DataLoader with a worker process trains the very run the in-process loader trains (seeded augmentation)."""
    from ltlib.train import fit

    cfg = base.replace(epochs=1)
    monkeypatch.setenv("LTSTUDY_LOADER_WORKERS", "0")
    a = _metrics(fit(cfg, tmp_path / "a", device="cpu", progress="none"))
    monkeypatch.setenv("LTSTUDY_LOADER_WORKERS", "1")
    b = _metrics(fit(cfg, tmp_path / "b", device="cpu", progress="none"))
    assert a["last"]["test"]["per_class"] == b["last"]["test"]["per_class"]


def test_local_pretrained_weights(tmp_path):
    """Weights come from a local torchvision state dict (fc skipped), never downloaded; a missing file is clear."""
    from ltlib.errors import ConfigError
    from ltlib.models import build_backbone, load_pretrained

    src = build_backbone("resnet10").net
    torch.save({**src.state_dict(), "fc.weight": torch.zeros(3, 512)}, tmp_path / "w.pth")
    dst = torch.nn.Sequential(build_backbone("resnet10"))
    assert load_pretrained(dst, str(tmp_path / "w.pth")) == len(src.state_dict())          # the fc is skipped
    assert torch.equal(dst[0].net.conv1.weight, src.conv1.weight)
    with pytest.raises(ConfigError, match="not found.*ResNet152_Weights"):
        load_pretrained(dst, str(tmp_path / "none.pth"))
    with pytest.raises(ConfigError, match="do not fit"):
        load_pretrained(torch.nn.Sequential(build_backbone("resnet50")), str(tmp_path / "w.pth"))
