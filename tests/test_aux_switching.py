"""Auxiliary learning (To balance or not) and class-reversed switching: losses, batches, schedules, a tiny fit."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltlib.augment import rotate_batch, rotate_random
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods.base import Batch, sampler_at
from ltlib.registry import METHODS
from ltlib.methods import aux, switching
from ltlib.samplers import build_sampler

P = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": None, "arch": "resnet8", "epochs": 200,
     "batch_size": 128, "lr": 0.1, "seed": 0}


class _Data:
    """The few LTData fields a Method needs (no images)."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.num_classes = len(counts)
        self.in_channels = 1


def _method(**args) -> aux.AuxMethod:
    cfg = RunConfig(arch="resnet8-narrow", method="aux", method_args=args, precision="fp32")
    return METHODS["aux"](cfg, _Data([40, 20, 10, 5]))


def _batch(n: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g), torch.arange(n))


def test_registered_and_args_checked():
    assert METHODS["aux"] is aux.AuxMethod
    with pytest.raises(ConfigError):
        RunConfig(method="aux", method_args={"lambda": [1, 1, 1]})
    with pytest.raises(ConfigError):
        RunConfig(method="aux", method_args={"rotation": "spin"})
    with pytest.raises(ConfigError):
        RunConfig(method="aux", method_args={"lambdas": [0, 0, 1]})
    with pytest.raises(ConfigError):
        RunConfig(method="aux", method_args={"lambdas": [0.5, 1, 0], "rotation": "task"})


def test_streams_and_cbs_batch_composition():
    m = _method()
    assert m.streams(0) == ["cbs", "ib"] and m.mode == "joint" and m.predict_head == "head"
    assert _method(lambdas=[0, 1, 1]).streams(0) == ["ib"] and _method(lambdas=[0, 1, 1]).predict_head == "aux_head"
    assert _method(lambdas=[1, 0, 1]).streams(0) == ["cbs"]
    # the "cbs" stream: each batch of B = 16 holds k = B/Z = 4 distinct classes x Z = 4 images
    labels = torch.arange(20).repeat_interleave(torch.arange(20, 0, -1))
    idx = build_sampler("cbs", labels, 20).indices(torch.Generator().manual_seed(0), batch_size=16)
    for b in range(len(idx) // 16):
        counts = torch.bincount(labels[idx[b * 16:(b + 1) * 16]], minlength=20)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4, 4]


def test_cbs_term_uses_the_first_batch_with_h():
    m = _method()
    model = m.build_model().eval()                       # eval: features do not depend on batch statistics
    cbs, rrs = _batch(8, 0), _batch(6, 1)
    terms, logits = m.loss_terms(model, [cbs, rrs])
    assert set(terms) == {"cbs", "rrs"} and logits.shape == (8, 4)
    with torch.no_grad():
        expect_cbs = F.cross_entropy(model.head(model.backbone(cbs.x)), cbs.y)
        expect_rrs = F.cross_entropy(model.aux_head(model.backbone(rrs.x)), rrs.y)
    assert torch.allclose(terms["cbs"], expect_cbs, atol=1e-5)
    assert torch.allclose(terms["rrs"], expect_rrs, atol=1e-5)


def test_loss_is_the_weighted_sum():
    m = _method(lambdas=[0.5, 1.0, 2.0], rotation="task")
    model = m.build_model()
    batches = [_batch(8, 0), _batch(8, 1)]
    torch.manual_seed(0)
    terms, _ = m.loss_terms(model, batches)
    loss, logits = m.loss(model, batches, 0, 0.0)
    assert set(terms) == {"cbs", "rrs", "ss"} and logits.shape == (8, 4)
    assert torch.allclose(loss, 0.5 * terms["cbs"] + 1.0 * terms["rrs"] + 2.0 * terms["ss"], atol=1e-5)
    loss.backward()
    assert model.rot_head.weight.grad.abs().sum() > 0 and model.aux_head.weight.grad.abs().sum() > 0


def test_rotation_labels_and_augment_mode():
    x = torch.arange(2 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
    xs, r = rotate_batch(x)
    assert r.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(xs[2:4], torch.rot90(x, 1, dims=(2, 3))) and torch.equal(xs[:2], x)
    m = _method(rotation="augment")
    model = m.build_model().eval()
    cbs, rrs = _batch(4, 0), _batch(4, 1)
    terms, logits = m.loss_terms(model, [cbs, rrs])
    assert set(terms) == {"cbs", "rrs"} and logits.shape == (4, 4)
    with torch.no_grad():
        rot = torch.cat([torch.rot90(cbs.x, k, dims=(2, 3)) for k in range(4)])
        expect = F.cross_entropy(model.head(model.backbone(rot)), cbs.y.repeat(4))
    assert torch.allclose(terms["cbs"], expect, atol=1e-5)


def test_rotate_random_gives_one_angle_per_image():
    x = torch.randn(64, 1, 5, 5)
    xr, r = rotate_random(x, torch.Generator().manual_seed(0))
    assert xr.shape == x.shape and r.shape == (64,) and set(r.tolist()) == {0, 1, 2, 3}
    for i in range(64):
        assert torch.equal(xr[i], torch.rot90(x[i], int(r[i]), dims=(1, 2)))
    xr2, r2 = rotate_random(x, torch.Generator().manual_seed(0))
    assert torch.equal(r, r2) and torch.equal(xr, xr2)


def test_rotation_task_is_a_separate_pass_of_one_rotated_copy():
    """Alg. 1: h, h_a see φ([B_CBS; B_RRS]) (train-mode batch statistics of unrotated images only); h_s sees
    φ(B_θ) with ONE angle per image; the rotated pass does not move the batch-norm running statistics."""
    m = _method(rotation="task")
    model = m.build_model().train()
    ref = copy.deepcopy(model)
    cbs, rrs = _batch(8, 0), _batch(6, 1)
    seen = []
    hook = model.rot_head.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
    gen = torch.Generator().manual_seed(3)
    terms, logits = m.loss_terms(model, [cbs, rrs], gen)
    hook.remove()
    assert set(terms) == {"cbs", "rrs", "ss"} and seen == [14]          # 8 + 6 images, not 4 x 14
    f = ref.backbone(torch.cat([cbs.x, rrs.x]))                       # one unrotated pass, train mode
    assert torch.allclose(terms["cbs"], F.cross_entropy(ref.head(f[:8]), cbs.y), atol=1e-5)
    assert torch.allclose(terms["rrs"], F.cross_entropy(ref.aux_head(f[8:]), rrs.y), atol=1e-5)
    assert torch.allclose(logits, ref.head(f[:8]), atol=1e-5)
    # running statistics: exactly those of the unrotated pass (the ref model ran only that one)
    for a, b in zip(model.backbone.modules(), ref.backbone.modules()):
        if isinstance(a, torch.nn.BatchNorm2d):
            assert torch.allclose(a.running_mean, b.running_mean) and torch.allclose(a.running_var, b.running_var)
            assert a.momentum == b.momentum
    xr, ry = rotate_random(torch.cat([cbs.x, rrs.x]), torch.Generator().manual_seed(3))
    expect_ss = F.cross_entropy(ref.rot_head(copy.deepcopy(ref).backbone(xr)), ry)
    assert torch.allclose(terms["ss"], expect_ss, atol=1e-5)


def test_rotation_angles_are_seeded_per_step():
    m = _method(rotation="task")
    a = m.rotation_generator(0, 0.01).get_state()
    assert torch.equal(a, m.rotation_generator(0, 0.01).get_state())
    assert not torch.equal(a, m.rotation_generator(0, 0.02).get_state())


def test_aux_configs_share_hashes():
    assert aux.ratio_config(P, (0.5, 1)).run_id() == aux.aux_config(P, "CBS+RRS").run_id()
    assert aux.ratio_config(P, (1, 0)).run_id() == aux.aux_config(P, "CBS-only").run_id()
    assert aux.ratio_config(P, (0, 1)).run_id() == aux.aux_config(P, "RRS-only").run_id()
    c = aux.aux_config(P, "CBS+RRS")
    assert c.schedule == "cosine" and c.method == "aux" and c.method_args == {}
    ft = aux.ft_config(P, 5)
    assert ft.init_from["method_args"] == {"lambdas": [0.0, 1.0, 1.0]} and ft.method_args == {"lambdas": [1.0, 0.0, 1.0]}
    assert ft.train_parts == "all" and ft.reinit_head and ft.epochs == 5


def test_switching_schedule_epochs():
    c = switching.switching_config(P)
    assert c.milestones == [100] and c.sampler_switch == [[101, "cr"]] and c.batch_size == 64
    assert sampler_at(c, 100) == "ib" and sampler_at(c, 101) == "cr" and sampler_at(c, 199) == "cr"
    assert all(cfg.batch_size == 64 for cfg in [*switching.grid_configs(P).values(), *switching.progressive_configs(P).values(),
                                                 *switching.decoupling_configs(P).values()])
    short = {**P, "epochs": 20}
    assert switching.switch_epoch(20, 1) == 11 and switching.switching_config(short, S=0).sampler_switch == [[10, "cr"]]
    with pytest.raises(ConfigError):
        switching.switch_epoch(20, 10)
    assert switching.switching_config(P, "cb", "cb").sampler_switch == []
    prog = switching.progressive_configs(P)
    assert prog["IB→CB(5)→CR"].sampler_switch == [[101, "cb"], [106, "cr"]]
    assert sampler_at(prog["IB→CR(5)→CB"], 105) == "cr" and sampler_at(prog["IB→CR(5)→CB"], 106) == "cb"
    assert len(switching.grid_configs(P)) == 9
    cells = switching.decoupling_configs(P)
    assert cells[("cr", True, False)].run_id() == c.run_id()
    fixed = cells[("cr", False, True)]
    assert fixed.train_parts == "classifier" and fixed.reinit_head and fixed.sampler == "cr"
    assert fixed.epochs == 99 and fixed.lr == pytest.approx(0.01) and fixed.milestones == []
    stage1 = RunConfig.from_dict(fixed.init_from)
    assert stage1.epochs == 101 and stage1.milestones == [100] and stage1.sampler == "ib"


def test_one_switching_config_everywhere():
    """Notebook 60's IB→CR run is the recipe the analyses (70-72) and the report build: the same hash, batch 64."""
    from ltlib import recipes

    q = {**P, "epochs": 10, "batch_size": 128}
    assert recipes.RECIPES["switching"](q).run_id() == switching.switching_config(q, S=1).run_id()
    assert recipes.RECIPES["switching"](q).batch_size == 64


def test_tiny_fit_aux_and_per_class_history(tiny_cfg, tmp_path):
    from ltlib.train import fit

    run = fit(tiny_cfg.replace(method="aux", method_args={"rotation": "task"}, epochs=2), runs_dir=tmp_path,
              device="cpu", progress="none")
    assert run.finished and run.history["loss"].notna().all()
    assert run.metrics["last"]["test"]["acc"] == pytest.approx(run.history["test_acc"].dropna().iloc[-1])
    pc = switching.per_class_history(run)
    assert sorted(pc["epoch"].unique()) == [1, 2] and pc["class"].nunique() == 4
    method, model, _ = run.load()
    assert model.rot_head.out_features == 4 and method.classifier_weight(model).shape[0] == 4


def test_irregularity_sampler_follows_eqs_17_to_21():
    from ltlib.memorization import event_counts, irregularity
    from ltlib.samplers import EVENT_SAMPLERS, class_irregularity, learned_forgotten

    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 30 + [1] * 10 + [2] * 4)
    ev = torch.randint(0, 2, (6, 44), generator=g, dtype=torch.uint8)
    ev[2, :5] = 255                                                    # not drawn: skipped
    L, F = learned_forgotten(ev)
    ec = event_counts(ev.numpy())
    assert L.tolist() == ec["correct"].tolist() and F.tolist() == ec["forgotten"].tolist()
    fnorm, irr = class_irregularity(L, F, labels, 3)
    for j in range(3):
        m = (labels == j).numpy()
        cov = np.cov(np.stack([L.numpy()[m], F.numpy()[m]]), bias=True)
        assert fnorm[j].item() == pytest.approx(np.linalg.norm(cov, "fro"))
        assert irr[j].item() == pytest.approx(np.linalg.norm(cov, "fro") / m.sum())
    table = irregularity(L.numpy(), F.numpy(), labels.numpy(), 3)
    assert np.allclose(table["irregularity"], irr.numpy())
    s = build_sampler("irregular", labels, 3, events=ev)
    assert "irregular" in EVENT_SAMPLERS and torch.allclose(s.class_probs(0, 1), irr / irr.sum())
    idx = s.indices(torch.Generator().manual_seed(1))
    assert len(idx) == 44
    # without events: class-reversed weights; a class with I = 0 is still drawn
    cr = build_sampler("irregular", labels, 3).class_probs(0, 1)
    assert torch.allclose(cr, build_sampler("cr", labels, 3).class_probs(0, 1).double())
    ev0 = ev.clone()
    ev0[:, 40:] = 1                                                    # class 2 always right: I_2 = 0
    p = build_sampler("irregular", labels, 3, events=ev0).class_probs(0, 1)
    assert (p > 0).all()


def test_irregularity_switching_config_and_fit(tiny_cfg, tmp_path):
    from ltlib.train import fit

    c = switching.irregularity_config({**P, "epochs": 10})
    assert c.sampler == "ib" and c.sampler_switch == [[6, "irregular"]] and c.batch_size == 64
    run = fit(tiny_cfg.replace(epochs=3, sampler_switch=[[2, "irregular"]]), runs_dir=tmp_path, device="cpu",
              progress="none")
    assert run.finished and run.history["sampler"].tolist() == ["ib", "ib", "irregular"]
    assert run.history["loss"].notna().all()
