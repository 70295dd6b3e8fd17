"""ResLT: branch class masks, the loss formula, fusion at inference, and a tiny end-to-end fit."""
import pytest
import torch
import torch.nn.functional as F

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods.reslt import (NAIVE_BASELINES, ResLTHead, ResLTMethod, branch_masks, default_alpha, fuse,
                                 frequency_groups, reslt_loss)
from ltlib.train import fit

COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]   # CIFAR-10-LT IR100 (docs/protocol.md §1)


def test_groups_and_nested_masks():
    shuffled = [COUNTS[i] for i in (3, 0, 9, 5, 1, 7, 2, 8, 4, 6)]   # class order must not matter
    assert frequency_groups(COUNTS, 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    g = frequency_groups(shuffled, 3)
    expected = [sorted(COUNTS[i:j]) for i, j in ((0, 4), (4, 7), (7, 10))]
    assert [sorted(shuffled[c] for c in grp) for grp in g] == expected
    m = branch_masks(COUNTS, 3)
    assert m.shape == (3, 10) and m[0].all()
    assert m[1].tolist() == [False] * 4 + [True] * 6 and m[2].tolist() == [False] * 7 + [True] * 3
    assert (m[0] >= m[1]).all() and (m[1] >= m[2]).all()           # nested: 0 ⊃ 1 ⊃ 2
    d = branch_masks(COUNTS, 3, nested=False)
    assert (d.sum(0) == 1).all() and d[0, :4].all()                # disjoint groups cover every class once
    for G in (2, 4, 5):
        mg = branch_masks(COUNTS, G)
        assert mg[0].all() and all((mg[i] >= mg[i + 1]).all() for i in range(G - 1))
    with pytest.raises(ConfigError):
        frequency_groups([5, 3], 3)


def _manual(z, y, masks, alpha, norm="pooled"):
    fused = z.sum(1)
    total, pairs, per_branch = 0.0, 0, 0.0
    for i in range(z.shape[1]):
        s = masks[i, y]
        if s.any():
            per_branch = per_branch + F.cross_entropy(z[s, i], y[s])
            total = total + F.cross_entropy(z[s, i], y[s], reduction="sum")
            pairs += int(s.sum())
    lb = total / pairs if norm == "pooled" else per_branch
    return (1 - alpha) * F.cross_entropy(fused, y) + alpha * lb


def test_loss_equals_formula():
    torch.manual_seed(0)
    counts = [50, 30, 20, 10, 6, 3]
    masks = branch_masks(counts, 3)                    # groups {0,1} {2,3} {4,5}
    z = torch.randn(7, 3, 6)
    y = torch.tensor([0, 1, 2, 3, 4, 5, 1])
    for alpha in (0.0, 0.3, 0.995, 1.0):
        for norm in ("pooled", "per_branch"):
            loss, fused = reslt_loss(z, y, masks, alpha, norm)
            assert torch.allclose(loss, _manual(z, y, masks, alpha, norm), atol=1e-6)
            assert torch.allclose(fused, z.sum(1))
    # no tail sample in the batch: the tail branch adds 0 (no NaN)
    y2 = torch.tensor([0, 1, 0, 1, 2, 3, 1])
    loss2, _ = reslt_loss(z, y2, masks, 0.5, "per_branch")
    assert torch.isfinite(loss2) and torch.allclose(loss2, _manual(z, y2, masks, 0.5, "per_branch"), atol=1e-6)
    # the default (official code): summed per-sample branch losses over the number of (branch, sample) pairs
    ce = torch.stack([F.cross_entropy(z[:, i], y, reduction="none") for i in range(3)], 1)
    member = masks[:, y].t().float()
    expected = 0.5 * F.cross_entropy(z.sum(1), y) + 0.5 * (ce * member).sum() / member.sum()
    assert torch.allclose(reslt_loss(z, y, masks, 0.5)[0], expected, atol=1e-6)
    # no shortcut: the fusion loss uses the main branch only
    l3, f3 = reslt_loss(z, y, masks, 0.4, shortcut=False)
    assert torch.allclose(f3, z[:, 0])
    assert torch.allclose(l3, 0.6 * F.cross_entropy(z[:, 0], y) + 0.4 * (_manual(z, y, masks, 1.0)), atol=1e-6)


def test_inference_sums_branch_logits(tiny_cfg):
    from ltlib.inference import build_for

    method, model, _ = build_for(tiny_cfg.replace(method="reslt", method_args={"num_groups": 3}))
    model.eval()
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        zb = model.branch_logits(x)
        assert zb.shape == (5, 3, 4)
        assert torch.allclose(method.predict(model, x), zb.sum(1), atol=1e-5)
        assert torch.allclose(model(x), zb.sum(1), atol=1e-5)
    z = torch.randn(4, 3, 5)
    assert torch.equal(fuse(z, "max").argmax(1), torch.cat(list(z.unbind(1)), 1).argmax(1) % 5)
    assert torch.allclose(fuse(z, "softmax"), z.softmax(-1).sum(1))
    assert torch.allclose(fuse(z, "sum", shortcut=False), z[:, 0])


@pytest.mark.parametrize("variant", ["conv", "bn"])
def test_head_variants_and_no_specialisation(variant):
    fmap = torch.randn(6, 8, 4, 4)
    h = ResLTHead(8, 5, 3, variant)
    assert h(fmap).shape == (6, 3, 5)
    with torch.no_grad():
        h.bn.weight.uniform_(0.5, 1.5)                             # BN branches start equal; train apart
    assert not torch.allclose(h(fmap)[:, 0], h(fmap)[:, 1])        # specialised branches differ
    same = ResLTHead(8, 5, 3, variant, shared_classifier=False, specialised=False)
    out = same(fmap)
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    per = ResLTHead(8, 5, 4, variant, shared_classifier=False)
    assert per(fmap).shape == (6, 4, 5) and per.weight.shape == (5, 32)


def test_args_validation():
    with pytest.raises(ConfigError, match="did you mean 'alpha'"):
        RunConfig(method="reslt", method_args={"alpah": 0.9})
    with pytest.raises(ConfigError, match="variant"):
        RunConfig(method="reslt", method_args={"variant": "conv3"})
    with pytest.raises(ConfigError, match="alpha"):
        RunConfig(method="reslt", method_args={"alpha": 1.5})
    assert RunConfig(method="reslt", method_args={"alpha": 1}).method_args == {"alpha": 1}
    assert default_alpha("cifar100", 10) == 0.72 and default_alpha("cifar10", 100) == 0.998
    assert default_alpha("fmnist", 100) == 0.995


def test_tiny_fit(tiny_cfg, tmp_path):
    cfg = tiny_cfg.replace(method="reslt", method_args={"alpha": 0.9}, nesterov=True, weight_decay=5e-4)
    run = fit(cfg, runs_dir=tmp_path, progress="none")
    h = run.history
    assert len(h) == cfg.epochs and h["loss"].notna().all()
    assert run.metrics["last"]["test"]["acc"] > 0.25
    method, model, data = run.load()
    assert isinstance(method, ResLTMethod) and method.classifier_weight(model).shape[0] == 4
    # the naive baselines and the variants build, and their loss back-propagates
    from ltlib.methods.base import Batch
    from ltlib.inference import build_for

    x, y = torch.randn(8, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for args in [*NAIVE_BASELINES.values(), {"no_shortcut": True}, {"no_specialisation": True},
                 {"variant": "bn", "num_groups": 2, "shared_classifier": False}]:
        m, net, _ = build_for(tiny_cfg.replace(method="reslt", method_args=args), data)
        loss, logits = m.loss(net, [Batch(x, y, torch.arange(8))], 0, 0.0)
        loss.backward()
        assert torch.isfinite(loss) and logits.shape == (8, 4) and m.predict(net, x).shape == (8, 4)


def test_ablation_configs_share_the_reference_run():
    from ltlib.methods.reslt import ablation_configs, ablation_params, reslt_config

    p = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": None, "arch": "resnet8", "epochs": 15}
    a = ablation_params(p, 1000, 8)
    assert (a["max_per_class"], a["epochs"], a["eval_every"]) == (1000, 8, 8)
    main = {"alpha": 0.995, "num_groups": 3, "variant": "conv"}
    sets = ablation_configs(a, main, [2, 4], [0.5, 1.0])
    ref = sets["table1"]["ResLT (abl)"].run_id()
    assert sets["groups"][("Table 4", "G", 3)].run_id() == ref == sets["alpha"][("Fig. 6", "α", 0.995)].run_id()
    ids = {c.run_id() for d in sets.values() for c in d.values()}
    assert len(ids) == 1 + 3 + 1 + 3 + 2 + 2 + 2          # CE, naive, ResLT, variants, bn+official, G, alpha
    assert reslt_config(p, alpha=0.995).method_args == {"alpha": 0.995}   # defaults are left out of the hash
    assert reslt_config(p, alpha=0.995, num_groups=3).run_id() == reslt_config(p, alpha=0.995).run_id()


def test_reslt_config_splits_method_args_from_run_changes():
    from ltlib.methods.reslt import reslt_config

    p = {"dataset": "cifar100", "imbalance_ratio": 50.0, "epochs": 20}
    c = reslt_config(p, seed=3, num_groups=4, tag="x")
    assert c.seed == 3 and c.method_args == {"alpha": 0.99, "num_groups": 4} and c.tag == "x"
    assert c.nesterov and c.weight_decay == 5e-4 and c.milestones == [16, 18]


def test_code_split_groups_and_choices():
    from ltlib.methods.reslt import CODE_SPLITS, choice_configs, reslt_config, width_configs, width_key

    assert frequency_groups(COUNTS, 3, "code") == [[0, 1], [2, 3], [4, 5, 6, 7, 8, 9]]     # authors: 2 and 4 of 10
    c100 = [int(500 * 0.01 ** (i / 99)) for i in range(100)]
    g = frequency_groups(c100, 3, "code")
    assert [len(x) for x in g] == [35, 35, 30] and g[0] == list(range(35))
    m = branch_masks(COUNTS, 3, split="code")
    assert m[1].tolist() == [False] * 2 + [True] * 8 and m[2].tolist() == [False] * 4 + [True] * 6
    with pytest.raises(ConfigError, match="3 groups"):
        RunConfig(method="reslt", method_args={"groups": "code", "num_groups": 4})
    with pytest.raises(ConfigError, match="10 or 100 classes"):
        frequency_groups([9, 5, 3, 1], 3, "code")
    with pytest.raises(ConfigError, match="groups"):
        RunConfig(method="reslt", method_args={"groups": "thirds"})
    assert CODE_SPLITS == {10: (2, 4), 100: (35, 70)}
    p = {"dataset": "cifar10", "imbalance_ratio": 100.0, "max_per_class": None, "arch": "resnet8", "epochs": 4}
    main = {"alpha": 0.998, "num_groups": 3, "variant": "conv"}
    ch = choice_configs(p, main, 10)
    assert ch["ResLT (abl)"].run_id() == reslt_config(p).run_id()            # the default is the code's alpha
    assert ch["groups: authors' code split (2/4 of 10)"].method_args == {"alpha": 0.998, "groups": "code"}
    assert ch["α = 0.995 (paper text)"].method_args == {"alpha": 0.995}
    assert ch["α = 0.998 (authors' code)"].run_id() == ch["ResLT (abl)"].run_id()
    fm = choice_configs({**p, "dataset": "fmnist"}, {**main, "alpha": 0.995}, 10)
    assert list(fm) == ["ResLT (abl)", "groups: authors' code split (2/4 of 10)", "α = 0.995 (paper text)"]
    assert "groups: authors' code split (2/4 of 10)" not in choice_configs(p, main, 7)
    w = width_configs(p, main, ["resnet32", "resnet32x2", "resnet32x3"])
    assert list(w) == [width_key(m, a) for m in ("ResLT", "BBN") for a in ("resnet32", "resnet32x2", "resnet32x3")]
    assert w["ResLT (3x)"].arch == "resnet32x3" and w["BBN (2x)"].method == "bbn" and w["ResLT (1x)"].arch == "resnet32"


def test_reslt_claims_on_notebook_keys():
    from ltlib import claims
    from ltlib.methods.reslt import NAIVE_BASELINES, VARIANTS, ablation_configs

    p = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": None, "arch": "resnet8", "epochs": 15}
    sets = ablation_configs(p, {"alpha": 0.995, "num_groups": 3, "variant": "conv"}, [2], [1.0])
    keys = {k for d in sets.values() for k in d}
    named = {x for c in claims.RESLT_ABLATIONS for part in (c.parts or [c]) for x in (part.a, part.b)}
    assert {*NAIVE_BASELINES, *VARIANTS, "CE (abl)", "ResLT (abl)", ("Table 4", "G", 3), ("Table 4", "G", 2), ("Fig. 6", "α", 1.0)} <= keys
    assert named - keys == {f"{m} ({k}x)" for m in ("ResLT", "BBN") for k in (1, 2, 3)}    # the width rows
    s = {"ResLT": {"acc": [80.0, 81, 82], "head": [90.0, 90.5, 91], "tail": [70.0, 71, 72]},
         "CE": {"acc": [75.0, 75.5, 76], "head": [95.0, 95.5, 96], "tail": [50.0, 51, 52]}}
    t = claims.judge_all(claims.RESLT, s).set_index("claim")
    assert t.loc["ResLT beats plain CE", "outcome"] == claims.REPRODUCED
    assert t.loc["ResLT trades head accuracy for tail accuracy against CE", "outcome"] == claims.REPRODUCED
    assert t.loc["ResLT beats LDAM-DRW", "outcome"] == claims.NOT_TESTED
