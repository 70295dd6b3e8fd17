"""`legacy`: each protocol-1 behaviour switched back on does what protocol 1 did, and only when asked.

These exist to measure what each protocol-2 fix changes (scripts/protocol_effects.py); no study run sets them.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from ltlib.config import LEGACY, RunConfig
from ltlib.data import make_long_tailed
from ltlib.errors import ConfigError
from ltlib.inference import build_for, load_data
from ltlib.models import LTModel, build_backbone
from ltlib.registry import METHODS
from ltlib.samplers import build_sampler
from ltlib.train import _freeze
from fake_cifar import write_cifar
from ltlib.methods.base import Batch


class _Data:
    """The few LTData fields a Method needs (no images)."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.num_classes = len(counts)
        self.in_channels = 1


def _batch(n: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g), torch.arange(n))


def test_empty_legacy_keeps_the_hash_and_names_are_checked():
    cfg = RunConfig()
    assert "legacy" not in cfg.hash_dict()
    assert cfg.replace(legacy=["bbn_block_copy"]).run_id() != cfg.run_id()
    with pytest.raises(ConfigError, match="unknown legacy 'bbn_copy'.*bbn_block_copy"):
        cfg.replace(legacy=["bbn_copy"])
    assert set(LEGACY) == {"heldout_from_train", "within_class_replacement", "frozen_bn_train", "rotation_in_batch",
                           "bbn_block_copy"}


def test_heldout_from_train_takes_the_head_class_images(tmp_path):
    root = write_cifar(tmp_path, 10, 30, 4)
    new = make_long_tailed("cifar10", 10, data_root=str(root), val_per_class=5)
    old = make_long_tailed("cifar10", 10, data_root=str(root), val_per_class=5, heldout_top_up=True)
    assert new.counts[0] == 30 and old.counts[0] == 25            # the head class had no unused image
    assert len(old.train.y) == len(new.train.y) - 5 and old.counts[1:] == new.counts[1:]
    assert np.bincount(old.val.y.numpy(), minlength=10)[0] == 5 and new.val_classes == 9
    cfg = RunConfig(dataset="cifar10", data_root=str(root), imbalance_ratio=10, val_per_class=5)
    assert load_data(cfg.replace(legacy=["heldout_from_train"])).counts == old.counts


@pytest.mark.parametrize("name", ["cr", "cbs", "class_aware"])
def test_within_class_replacement_repeats_images_in_a_pass(name):
    labels = torch.arange(10).repeat_interleave(torch.tensor([50, 40, 30, 20, 12, 8, 6, 4, 3, 2]))
    s = build_sampler(name, labels, 10)
    assert s.without_replacement
    idx = s.indices(torch.Generator().manual_seed(0), batch_size=32)
    tail = idx[labels[idx] == 9][:2]                    # first pass over class 9's two images: both distinct
    assert len(set(tail.tolist())) == 2
    s.without_replacement = False                       # what train._draw does under "within_class_replacement"
    repeats = 0
    for seed in range(20):
        idx = s.indices(torch.Generator().manual_seed(seed), batch_size=32)
        tail = idx[labels[idx] == 9][:2]
        repeats += len(set(tail.tolist())) < 2
    assert repeats > 0


def test_frozen_bn_train_leaves_the_last_stage_siblings_training():
    backbone = build_backbone("resnet14")
    model = LTModel(backbone, nn.Linear(backbone.out_dim, 10))
    frozen = _freeze(model, "last_block", legacy_bn=True)
    model.train()
    for m in frozen:
        m.eval()
    siblings = [m for blk in model.backbone.layer3[:-1] for m in blk.modules() if isinstance(m, nn.BatchNorm2d)]
    earlier = [m for m in model.backbone.layer1.modules() if isinstance(m, nn.BatchNorm2d)]
    assert siblings and all(m.training for m in siblings)          # protocol 1: they updated their statistics
    assert earlier and all(not m.training for m in earlier)


def test_rotation_in_batch_is_one_pass_over_four_copies():
    cfg = RunConfig(arch="resnet8-narrow", method="aux", method_args={"rotation": "task"}, precision="fp32",
                    legacy=["rotation_in_batch"])
    m = METHODS["aux"](cfg, _Data([40, 20, 10, 5]))
    model = m.build_model().train()
    seen = []
    model.backbone.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
    terms, logits = m.loss_terms(model, [_batch(8, 0), _batch(6, 1)])
    assert seen == [56] and set(terms) == {"cbs", "rrs", "ss"} and logits.shape == (8, 4)


def test_bbn_block_copy_starts_both_blocks_equal(tiny_cfg):
    _, model, _ = build_for(tiny_cfg.replace(method="bbn", legacy=["bbn_block_copy"]))
    back = model.backbone
    for p_c, p_r in zip(back.cb_block.parameters(), back.rb_block.parameters()):
        assert torch.equal(p_c, p_r) and p_c.data_ptr() != p_r.data_ptr()


def test_engine_applies_within_class_replacement(tiny_cfg, tmp_path):
    from ltlib.train import fit

    a, b = (fit(tiny_cfg.replace(sampler="cr", epochs=1, legacy=lg), runs_dir=tmp_path, device="cpu",
                progress="none").history["loss"].iloc[-1] for lg in ([], ["within_class_replacement"]))
    assert a != b                                        # a different draw, hence a different first epoch
