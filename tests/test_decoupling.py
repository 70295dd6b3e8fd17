"""Decoupling (Kang et al.): τ-norm, NCM, LWS and the held-out choice of τ."""
import math
import types

import pandas as pd
import pytest
import torch
import torch.nn as nn

from ltlib.inference import classifier_norms
from ltlib.stats import spearman
from ltlib.heads import LWSHead, tau_normalize
from ltlib.methods import decoupling as dc
from ltlib.train import fit


def _fs(splits, counts, weight, bias=None):
    head = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    head.weight.data = weight.clone()
    if bias is not None:
        head.bias.data = bias.clone()
    return dc.FeatureSet(splits, counts, head)


def test_tau_zero_is_identity_and_one_is_l2():
    head = nn.Linear(5, 3)
    w0 = tau_normalize(head, 0.0).weight
    assert torch.allclose(w0, head.weight) and tau_normalize(head, 0.0).bias is None
    assert torch.allclose(tau_normalize(head, 1.0).weight.norm(dim=1), torch.ones(3), atol=1e-6)
    f = torch.randn(7, 5)
    fs = _fs({"val": (f, torch.zeros(7, dtype=torch.long)), "test": (f, torch.zeros(7, dtype=torch.long))},
             [10, 5, 2], head.weight.detach())
    assert torch.allclose(fs.logits("test", tau_normalize(head, 0.0).weight), f @ head.weight.t(), atol=1e-6)


def test_ncm_on_separable_features():
    torch.manual_seed(0)
    centers = torch.eye(4, 8) * 10
    y_tr = torch.tensor([0] * 50 + [1] * 20 + [2] * 5 + [3] * 2)
    y_te = torch.arange(4).repeat_interleave(10)
    mk = lambda y: centers[y] + 0.3 * torch.randn(len(y), 8)  # noqa: E731
    fs = _fs({"train": (mk(y_tr), y_tr), "val": (mk(y_te), y_te), "test": (mk(y_te), y_te)}, [50, 20, 5, 2],
             torch.randn(4, 8))
    for metric in ("l2", "cosine"):
        head, reps = dc.ncm(fs, metric)
        assert reps["test"]["acc"] == 1.0 and reps["val"]["acc"] == 1.0, metric
        assert torch.allclose(head.means.norm(dim=1), torch.ones(4), atol=0.05)


def test_tau_chosen_on_val_not_test():
    # class 0 has the larger weight norm; identical features: τ < 0.415 predicts class 0, larger τ class 1
    w = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    f = torch.tensor([[1.0, 1.5]]).repeat(6, 1)
    val = (f, torch.zeros(6, dtype=torch.long))            # held-out: all class 0 -> small τ is best
    test = (f, torch.ones(6, dtype=torch.long))            # test: all class 1 -> large τ would be best
    fs = _fs({"train": val, "val": val, "test": test}, [100, 10], w)
    tn = dc.tau_norm(fs)
    assert tn.tau == 0.0 and tn.reports["val"]["acc"] == 1.0 and tn.reports["test"]["acc"] == 0.0
    test_curve = tn.curve[tn.curve.split == "test"]
    assert test_curve.acc.max() == 1.0 and len(tn.curve) == 2 * len(dc.TAUS)
    # choose_tau ignores test rows even when they look better
    curve = pd.DataFrame({"tau": [0.0, 0.5, 1.0] * 2, "split": ["val"] * 3 + ["test"] * 3,
                          "acc": [0.5, 0.7, 0.6, 0.9, 0.1, 0.2]})
    assert dc.choose_tau(curve) == 0.5
    with pytest.raises(ValueError, match="held-out"):
        dc.choose_tau(curve[curve.split == "test"])


def test_configs_share_baselines():
    from ltlib.methods.baselines import baseline

    P = types.SimpleNamespace(dataset="fmnist", imbalance_ratio=100.0, max_per_class=300, arch="resnet8", epochs=4,
                              batch_size=128, lr=0.1, seed=0)
    j = dc.joint_configs(P)
    assert j["IB"].run_id() == baseline(P, "CE").run_id() and j["CB"].run_id() == baseline(P, "RS").run_id()
    assert j["sqrt"].sampler == "sqrt" and j["PB"].sampler == "pb" and len({c.run_id() for c in j.values()}) == 4
    parts = dc.parts_configs(j["IB"], 2)
    assert parts["C"].run_id() == dc.crt_config(j["IB"], 2).run_id()
    assert parts["B+C (0.1× lr)"].backbone_lr_mult == 0.1 and parts["LB+C"].train_parts == "last_block"
    assert all(c.sampler == "cb" and c.init_from == j["IB"].to_dict() for c in parts.values())
    lws = dc.lws_config(j["IB"], 2)
    assert (lws.head, lws.train_parts, lws.reinit_head, lws.sampler) == ("lws", "lws", False, "cb")


def test_lws_trains_only_the_scales(tiny_cfg, tmp_path):
    stage1 = tiny_cfg.replace(epochs=1)
    lws = dc.lws_config(stage1, 1)
    r1 = fit(stage1, runs_dir=tmp_path, progress="none")
    r2 = fit(lws, runs_dir=tmp_path, progress="none")
    s1, s2 = r1.state_dict(), r2.state_dict()
    for k, v in s1.items():
        if k.startswith("backbone."):
            assert torch.equal(v, s2[k]), k                 # weights and BN statistics unchanged
    assert torch.equal(s1["head.weight"], s2["head.linear.weight"])   # the stage-1 classifier, loaded and frozen
    assert torch.equal(s1["head.bias"], s2["head.linear.bias"])
    assert not torch.equal(s2["head.scale"], torch.ones_like(s2["head.scale"]))
    method, model, _ = r2.load()
    assert isinstance(model.head, LWSHead)
    norms = classifier_norms(method.classifier_weight(model))
    expected = (s1["head.weight"] * s2["head.scale"][:, None]).norm(dim=1).numpy()
    assert all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(norms, expected))


def test_report_table_and_correlation():
    reps = [{"acc": 0.5, "many": 0.6, "medium": 0.4, "few": float("nan"), "head": 0.7, "mid": 0.5, "tail": 0.3},
            {"acc": 0.7, "many": 0.8, "medium": 0.6, "few": float("nan"), "head": 0.9, "mid": 0.7, "tail": 0.5}]
    t = dc.report_table({"x": reps, "y": reps[0]})
    assert t.loc["x", "acc"] == pytest.approx(60.0) and t.loc["x", "seeds"] == 2 and "acc_std" in t
    assert spearman([3, 2, 1], [100, 10, 1]) == pytest.approx(1.0)


def test_norm_spread_and_tau_ends():
    import types as _t

    import pandas as _pd

    from ltlib.methods.decoupling import norm_spread, tau_end_reports
    assert norm_spread([1.0, 2.0, 4.0]) == 4.0
    curve = _pd.DataFrame([{"tau": t, "split": sp, "acc": a, "head": a, "tail": a}
                           for t, sp, a in ((0.0, "test", .5), (1.0, "test", .6), (2.0, "test", .7), (0.0, "val", .1))])
    ends = tau_end_reports(_t.SimpleNamespace(tau=_t.SimpleNamespace(curve=curve)))
    assert ends["τ=0"]["acc"] == .5 and ends["τ=max"]["acc"] == .7


def test_seeds_of_main_runs_and_ablations():
    from ltlib.methods.decoupling import PARTS, SAMPLERS, seeds_of
    seeds = [0, 1, 2]
    assert {s: len(seeds_of(s, seeds, 1)) for s in SAMPLERS} == {"IB": 3, "CB": 3, "sqrt": 1, "PB": 1}
    assert {k: len(seeds_of(k, seeds, 2)) for k in PARTS} == {"B+C": 3, "B+C (0.1× lr)": 2, "LB+C": 2, "C": 3}
    assert seeds_of("sqrt", seeds, 0) == [0]


def test_notebook_plan_builds_every_run_and_fails_before_training():
    """Notebook 20's whole plan (joint, stage 2, parts, backbones) is built up front; an impossible setting is one
    ConfigError there, before any run trains."""
    import pytest

    from ltlib.errors import ConfigError
    from ltlib.params import validate_params

    p = validate_params({"epochs": 2, "stage2_epochs": 1, "n_seeds": 2, "backbones": ["IB", "CB"]}, "20_decoupling")
    plan = dc.notebook_plan(p, [0, 1], ["IB", "CB"], check=False)
    assert set(plan) == {"joint", "stage 2", "parts", "backbones"}
    assert len(plan["joint"]["IB"]) == 2 and plan["stage 2"]["cRT"][1].seed == 1
    assert plan["stage 2"]["cRT"][0].run_id() == plan["parts"]["C"][0].run_id()
    with pytest.raises(ConfigError):
        dc.notebook_plan({**p, "stage2_epochs": 0}, [0], ["IB"], check=False)
