"""Split-file datasets by name (ImageNet-LT, Places-LT, iNat 2018) on generated data in the official layouts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.splits import describe, is_split_dataset, load_splits

from fake_splits import TEST_PER_CLASS, TRAIN_COUNTS, VAL_PER_CLASS, write_split_dataset

NAMES = ["imagenet_lt", "places_lt", "inat2018"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict:
    """One generated data root per dataset (Places-LT's images in a separate image root, as on most servers)."""
    out = {}
    for name in NAMES:
        base = tmp_path_factory.mktemp(name)
        image_root = base / "places365" if name == "places_lt" else None
        out[name] = (write_split_dataset(base / "data", name, image_root=image_root), image_root)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_lists_used_as_given(name, roots):
    root, images = roots[name]
    sd = load_splits(name, str(root), str(images) if images else None)
    assert is_split_dataset(name) and sd.num_classes == len(TRAIN_COUNTS)
    assert sd.counts == list(TRAIN_COUNTS)                             # no re-drawing, no imbalance ratio
    assert sd.groups["many"] == [0] and sd.groups["medium"] == [1, 2] and sd.groups["few"] == [3, 4, 5]
    n = len(TRAIN_COUNTS)
    if name == "inat2018":                                             # its val list is its test set
        assert sd.sizes() == {"train": sum(TRAIN_COUNTS), "val": 0, "test": TEST_PER_CLASS * n}
    else:
        assert sd.sizes() == {"train": sum(TRAIN_COUNTS), "val": VAL_PER_CLASS * n, "test": TEST_PER_CLASS * n}
    first = sd.paths["train"][0]
    lines = (sd.list_dir / {"imagenet_lt": "ImageNet_LT_train.txt", "places_lt": "Places_LT_train.txt",
                            "inat2018": "iNaturalist18_train.txt"}[name]).read_text().split("\n")
    assert lines[0].rpartition(" ")[0] == first                        # in the list's own order
    torch.manual_seed(0)
    tr, te = sd.dataset("train", train=True, size=16), sd.dataset("test", size=16, resize=18)
    x, y, i = tr[0]
    assert x.shape == (3, 16, 16) and y == int(sd.labels["train"][0]) and i == 0
    assert torch.equal(te[1][0], te[1][0])                              # the test transform is deterministic
    types = [type(t).__name__ for t in tr.transform.transforms]
    assert types == ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter", "ToTensor", "Normalize"]
    assert [type(t).__name__ for t in te.transform.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]


def test_missing_data_is_one_clear_error(tmp_path, roots):
    with pytest.raises(ConfigError) as e:
        load_splits("imagenet_lt", str(tmp_path))
    msg = str(e.value)
    for part in ("ImageNet_LT_train.txt", "ImageNet_LT_val.txt", "ImageNet_LT_test.txt", "image_root",
                 str(tmp_path / "ImageNet_LT"), "OpenLongTailRecognition-OLTR", "ILSVRC-2012"):
        assert part in msg
    root, images = roots["places_lt"]
    with pytest.raises(ConfigError, match=r"first image of Places_LT_train.txt.*does not exist.*Expected layout"):
        load_splits("places_lt", str(root))                           # images elsewhere, image_root not given
    with pytest.raises(ConfigError, match="iNaturalist18_train.txt.*classifier-balancing"):
        load_splits("inat2018", str(tmp_path))


def test_run_config_of_a_split_dataset(roots):
    root, _ = roots["imagenet_lt"]
    cfg = RunConfig(dataset="imagenet_lt", arch="resnet10", data_root=str(root), max_per_class=None,
                    imbalance_ratio=100)
    assert cfg.imbalance_ratio == 256.0                                # the published lists' n_max / n_min
    assert cfg.run_id() == cfg.replace(imbalance_ratio=10, data_root=None, image_root="/x").run_id()
    assert cfg.run_id() != cfg.replace(image_size=32).run_id()
    with pytest.raises(ConfigError, match="used as its split files give it: max_per_class must be None"):
        cfg.replace(max_per_class=100)
    with pytest.raises(ConfigError, match="image_root applies to the split-file datasets only"):
        RunConfig(dataset="cifar10", image_root="/x")
    with pytest.raises(ConfigError, match="accum_steps"):
        cfg.replace(batch_size=10, accum_steps=3)
    assert describe("inat2018")["classes"] == 8142 and describe("places_lt")["imbalance"] == 996.0


def test_new_fields_keep_old_hashes():
    """A config that does not set the large-scale fields hashes as before they existed."""
    cfg = RunConfig(dataset="cifar10")
    d = cfg.hash_dict()
    assert not {"image_root", "image_size", "pretrained", "accum_steps", "sync_bn"} & set(d)
    assert "pretrained" in cfg.replace(pretrained="/w/resnet152.pth").hash_dict()
    assert cfg.replace(pretrained="/a/r.pth").run_id() == cfg.replace(pretrained="/b/r.pth").run_id()
    assert np.isclose(cfg.imbalance_ratio, 100.0)
