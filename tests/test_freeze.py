"""Frozen parts stay frozen: with train_parts last_block / classifier / lws every batch-norm layer outside the
trained parts is in eval mode during training (its statistics do not move) and has no trainable parameter."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from ltlib.heads import LWSHead
from ltlib.models import LTModel, build_backbone
from ltlib.methods.base import freeze_parts as _freeze


def _model(arch: str = "resnet14", lws: bool = False) -> LTModel:
    backbone = build_backbone(arch)
    head = LWSHead(backbone.out_dim, 10) if lws else nn.Linear(backbone.out_dim, 10)
    return LTModel(backbone, head)


def _train_mode(model: nn.Module, train_parts: str) -> list[nn.Module]:
    """What the engine does each epoch: model.train(), then eval() on the frozen modules."""
    frozen = _freeze(model, train_parts)
    model.train()
    for m in frozen:
        m.eval()
    return frozen


def _bns(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("arch", ["resnet14", "resnet32"])
def test_last_block_leaves_every_other_batch_norm_in_eval(arch):
    model = _model(arch)
    _train_mode(model, "last_block")
    inside = {id(m) for m in _bns(model.backbone.last_block)}
    outside = [m for m in _bns(model) if id(m) not in inside]
    siblings = [m for blk in model.backbone.layer3[:-1] for m in _bns(blk)]   # same stage as the last block
    assert siblings and all(not m.training for m in siblings)
    assert outside and all(not m.training for m in outside)
    assert inside and all(m.training for m in _bns(model.backbone.last_block))
    assert model.head.training
    last = f"backbone.layer3.{len(model.backbone.layer3) - 1}."
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith((last, "head.")) for n in trainable)

def test_last_block_statistics_do_not_move_outside_it():
    model = _model()
    _train_mode(model, "last_block")
    before = {n: b.clone() for n, b in model.named_buffers()}
    model(torch.randn(8, 3, 32, 32))
    moved = {n for n, b in model.named_buffers() if not torch.equal(b, before[n])}
    assert moved and all(n.startswith("backbone.layer3.1.") for n in moved), moved   # resnet14: 2 blocks


@pytest.mark.parametrize("parts,lws", [("classifier", False), ("lws", True)])
def test_classifier_and_lws_freeze_the_whole_backbone(parts, lws):
    model = _model(lws=lws)
    _train_mode(model, parts)
    assert all(not m.training for m in _bns(model.backbone))
    assert not any(p.requires_grad for p in model.backbone.parameters())
    before = {n: b.clone() for n, b in model.named_buffers()}
    model(torch.randn(8, 3, 32, 32))
    assert all(torch.equal(b, before[n]) for n, b in model.named_buffers())
    grads = {n for n, p in model.named_parameters() if p.requires_grad}
    assert grads == ({"head.scale"} if lws else {"head.weight", "head.bias"})


def test_all_freezes_nothing():
    model = _model()
    assert _train_mode(model, "all") == [] and all(m.training for m in model.modules())
