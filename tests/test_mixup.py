"""Mixup / Manifold Mixup (BBN Table 1 rows) as a Method of the one engine, and width-multiplied CIFAR ResNets."""
import pytest
import torch
import torch.nn.functional as F

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.inference import build_for
from ltlib.methods.base import Batch
from ltlib.methods.mixup import ROWS, MixupMethod, mix_draw, mixup_config, mixup_configs
from ltlib.models import build_backbone, count_parameters
from ltlib.train import fit


def _method(tiny_cfg, **args):
    return build_for(tiny_cfg.replace(method="mixup", method_args=args))


def test_draws_are_seeded_per_step():
    a = mix_draw(0, 2, 5, 1.0, 8, 3)
    b = mix_draw(0, 2, 5, 1.0, 8, 3)
    assert a[0] == b[0] and a[1] == b[1] and (a[2] == b[2]).all()
    assert 0 <= a[0] <= 1 and a[1] in (0, 1, 2) and sorted(a[2]) == list(range(8))
    lams = {mix_draw(0, 2, s, 1.0, 8, 3)[0] for s in range(20)}
    assert len(lams) == 20
    assert {mix_draw(0, 0, s, 1.0, 4, 1)[1] for s in range(20)} == {0}        # input mixup: depth 0 only


def test_input_mixup_loss_formula(tiny_cfg):
    method, model, _ = _method(tiny_cfg)
    model.eval()
    x, y = torch.randn(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])
    progress = (1 + 2 / method.steps) / tiny_cfg.epochs          # epoch 1, step 2
    loss, z = method.loss(model, [Batch(x, y, y)], 1, progress)
    lam, _, perm = mix_draw(tiny_cfg.seed, 1, 2, 1.0, 6, 1)
    p = torch.as_tensor(perm)
    want_z = model(lam * x + (1 - lam) * x[p])
    assert torch.allclose(z, want_z, atol=1e-5)
    want = lam * F.cross_entropy(want_z, y) + (1 - lam) * F.cross_entropy(want_z, y[p])
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    assert method.streams(0) == ["ib"] and torch.allclose(method.predict(model, x), model(x))


def test_manifold_mixup_mixes_hidden_states(tiny_cfg):
    method, model, _ = _method(tiny_cfg, manifold=True)
    model.eval()
    back = model.backbone
    x, y = torch.randn(5, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0])
    seen = set()
    for step in range(12):
        progress = (0 + step / method.steps) / tiny_cfg.epochs
        loss, z = method.loss(model, [Batch(x, y, y)], 0, progress)
        lam, k, perm = mix_draw(tiny_cfg.seed, 0, step, 1.0, 5, back.MIX_DEPTHS)
        h = back.hidden(x, k)
        want = model.head(back.from_hidden(lam * h + (1 - lam) * h[torch.as_tensor(perm)], k))
        assert torch.allclose(z, want, atol=1e-5)
        seen.add(k)
    assert seen == {0, 1, 2}
    for k in range(back.MIX_DEPTHS):                       # hidden / from_hidden split the plain forward
        assert torch.allclose(back.from_hidden(back.hidden(x, k), k), back(x), atol=1e-5)


def test_two_samplers_mix_the_second_stream(tiny_cfg):
    method, model, _ = _method(tiny_cfg, manifold=True, second_sampler="reversed")
    model.eval()
    assert method.streams(0) == ["ib", "reversed"]
    back = model.backbone
    xa, ya = torch.randn(4, 3, 8, 8), torch.tensor([0, 0, 1, 0])
    xb, yb = torch.randn(4, 3, 8, 8), torch.tensor([3, 2, 3, 3])
    loss, z = method.loss(model, [Batch(xa, ya, ya), Batch(xb, yb, yb)], 0, 0.0)
    lam, k, _ = mix_draw(tiny_cfg.seed, 0, 0, 1.0, 4, back.MIX_DEPTHS)
    h = back.hidden(torch.cat([xa, xb]), k)
    want_z = model.head(back.from_hidden(lam * h[:4] + (1 - lam) * h[4:], k))
    assert torch.allclose(z, want_z, atol=1e-5)
    want = lam * F.cross_entropy(want_z, ya) + (1 - lam) * F.cross_entropy(want_z, yb)
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_args_configs_and_tiny_fit(tiny_cfg, tmp_path):
    with pytest.raises(ConfigError, match="beta"):
        RunConfig(method="mixup", method_args={"beta": 0})
    with pytest.raises(ConfigError, match="second_sampler"):
        RunConfig(method="mixup", method_args={"second_sampler": "reversd"})
    P = dict(dataset="fmnist", imbalance_ratio=100.0, max_per_class=None, arch="resnet8", epochs=10, seed=0)
    cfgs = mixup_configs(P)
    assert list(cfgs) == list(ROWS) and len({c.run_id() for c in cfgs.values()}) == 3
    assert cfgs["Mixup"].method_args == {} and cfgs["Mixup"].milestones == mixup_config(P).milestones
    assert cfgs["Manifold Mixup (two samplers)"].method_args == {"manifold": True, "second_sampler": "reversed"}
    run = fit(tiny_cfg.replace(method="mixup", method_args={"manifold": True, "second_sampler": "reversed"},
                               epochs=2), runs_dir=tmp_path, progress="none")
    assert run.finished and run.history["loss"].notna().all() and (run.history["sampler"] == "ib+reversed").all()
    assert isinstance(run.load()[0], MixupMethod)


def test_width_multiplied_cifar_resnets():
    n = {a: count_parameters(build_backbone(a, 3)) for a in ("resnet32", "resnet32x2", "resnet32x3")}
    dims = {a: build_backbone(a, 3).out_dim for a in n}
    assert dims == {"resnet32": 64, "resnet32x2": 128, "resnet32x3": 192}
    assert 3.5 < n["resnet32x2"] / n["resnet32"] < 4.5 and 8 < n["resnet32x3"] / n["resnet32"] < 10   # ~k² params
    assert build_backbone("resnet8x2", 1)(torch.randn(2, 1, 28, 28)).shape == (2, 128)
    assert RunConfig(arch="resnet32x3").arch == "resnet32x3"
