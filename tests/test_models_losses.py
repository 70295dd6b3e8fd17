import math

import torch
import torch.nn.functional as F

from ltlib.heads import NCMHead, tau_normalize
from ltlib.losses import FocalLoss, LDAMLoss, CELoss, cb_weights, rw_weights
from ltlib.models import build_backbone, count_parameters, LTModel


def test_resnet32_parameter_count():
    n = count_parameters(LTModel(build_backbone("resnet32", 3), torch.nn.Linear(64, 10)))
    assert 0.45e6 < n < 0.48e6, n


def test_one_channel_stem_and_trunk():
    b = build_backbone("resnet8", 1)
    x = torch.randn(2, 1, 28, 28)
    assert b(x).shape == (2, b.out_dim)
    assert torch.allclose(b.last_block(b.forward_trunk(x)).mean((2, 3)), b(x))


def test_rw_and_cb_weights():
    assert torch.allclose(rw_weights([100, 10]), torch.tensor([2 / 11, 20 / 11]))
    w = cb_weights([100, 10], 0.9)
    e = torch.tensor([(1 - 0.9) / (1 - 0.9 ** 100), (1 - 0.9) / (1 - 0.9 ** 10)])
    assert torch.allclose(w, e / e.sum() * 2) and math.isclose(float(w.sum()), 2, rel_tol=1e-6)


def test_focal_by_hand():
    logits, y = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    p = math.exp(2) / (math.exp(2) + 1)
    assert math.isclose(float(FocalLoss([1, 1], gamma=1.0)(logits, y)), (1 - p) * -math.log(p), rel_tol=1e-5)


def test_weighted_ce_by_hand():
    loss = CELoss([1, 1])
    loss.set_weight(torch.tensor([1.0, 3.0]))
    logits, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    l0 = -math.log(math.e / (math.e + 1))
    assert math.isclose(float(loss(logits, y)), (1 * l0 + 3 * l0) / 4, rel_tol=1e-5)


def test_ldam_by_hand():
    loss = LDAMLoss([10000, 1], max_m=0.5, s=30)
    assert torch.allclose(loss.margins, torch.tensor([0.05, 0.5]))
    logits, y = torch.tensor([[0.2, 0.1]]), torch.tensor([1])
    z = torch.tensor([[30 * 0.2, 30 * (0.1 - 0.5)]])
    assert math.isclose(float(loss(logits, y)), float(F.cross_entropy(z, y)), rel_tol=1e-5)


def test_tau_norm_and_ncm():
    head = torch.nn.Linear(3, 2)
    head.weight.data = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])
    assert torch.allclose(tau_normalize(head, 1.0).weight.norm(dim=1), torch.ones(2))
    assert torch.allclose(tau_normalize(head, 0.0).weight, head.weight)
    f = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    ncm = NCMHead.fit(f, torch.tensor([0, 0, 1, 1]), 2)
    assert ncm(f).argmax(1).tolist() == [0, 0, 1, 1]
