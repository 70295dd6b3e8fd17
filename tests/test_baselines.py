"""Baselines of docs/protocol.md §4, DRW/DRS switches, classifier retraining and the BBN §3 diagnosis helpers."""
from __future__ import annotations

import types

import pandas as pd
import pytest
import torch

from ltlib import analysis, claims
from ltlib.errors import ConfigError
from ltlib.methods.recipe import base_config
from ltlib.heads import CosineHead
from ltlib.losses import LDAMLoss, cb_weights, rw_weights
from ltlib.methods.base import PlainMethod, sampler_at
from ltlib.methods import baselines as B
from ltlib.methods.baselines import BASELINES, MANNERS, baseline, baselines, diagnosis, retrain_classifier
from ltlib.train import fit

P200 = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": None, "arch": "resnet8", "epochs": 200,
        "batch_size": 128, "lr": 0.1, "seed": 0}
COUNTS = [1000, 300, 100, 30, 10]


def _method(cfg) -> PlainMethod:
    """A PlainMethod on stub data with COUNTS (no images needed for losses and switches)."""
    data = types.SimpleNamespace(counts=COUNTS, num_classes=len(COUNTS), in_channels=1)
    return PlainMethod(cfg, data)


def test_each_baseline_fields_at_200_epochs():
    c = baselines(P200)
    assert list(c) == list(BASELINES)
    for name, cfg in c.items():
        assert cfg.tag == name and cfg.milestones == [160, 180] and cfg.gamma == 0.01 and cfg.weight_decay == 2e-4
    assert (c["CE"].sampler, c["CE"].loss, c["CE"].loss_weights) == ("ib", "ce", "none")
    assert c["RW"].loss_weights == "rw" and c["RW"].reweight_from == 0
    assert c["RS"].sampler == "cb" and c["RS"].loss_weights == "none"
    assert (c["Focal"].loss, c["Focal"].focal_gamma, c["Focal"].loss_weights) == ("focal", 1.0, "none")
    assert (c["CB-Focal"].loss, c["CB-Focal"].loss_weights, c["CB-Focal"].cb_beta) == ("focal", "cb", 0.9999)
    ldam = c["LDAM-DRW"]
    assert (ldam.loss, ldam.head, ldam.loss_weights, ldam.reweight_from, ldam.ldam_s) == ("ldam", "cosine", "cb", 160, 30)
    assert (c["CE-DRW"].loss, c["CE-DRW"].loss_weights, c["CE-DRW"].reweight_from) == ("ce", "cb", 160)
    assert c["CE-DRS"].sampler == "ib" and c["CE-DRS"].sampler_switch == [[160, "cb"]]


def test_baseline_shares_the_hash_of_base_config_and_scales_epochs():
    p = types.SimpleNamespace(**{**P200, "epochs": 15})
    assert baseline(p, "CE").run_id() == base_config(p, "ldam").run_id()
    assert baseline(p, "CE-DRW").reweight_from == 12 and baseline(p, "CE-DRS").sampler_switch == [[12, "cb"]]
    longer = baseline(p, "CE-DRW", epochs=30)            # an epochs change rescales the whole schedule
    assert (longer.epochs, longer.milestones, longer.reweight_from) == (30, [24, 27], 24)
    short = baseline({**P200, "epochs": 2}, "LDAM-DRW")  # the deferred switch stays inside short runs
    assert short.reweight_from == 1
    with pytest.raises(ConfigError, match="did you mean 'CE-DRW'"):
        baseline(P200, "CE-DWR")


def test_drw_weights_switch_on_at_the_right_epoch():
    m = _method(baseline(P200, "CE-DRW"))
    for epoch in (0, 159):
        m.start_epoch(epoch)
        assert m.criterion.weight is None
    m.start_epoch(160)
    assert torch.allclose(m.criterion.weight, cb_weights(COUNTS, 0.9999))
    assert abs(float(m.criterion.weight.sum()) - len(COUNTS)) < 1e-4
    rw = _method(baseline(P200, "RW"))
    rw.start_epoch(0)                                    # RW is on from the start, weights ~ 1/n, mean 1
    assert torch.allclose(rw.criterion.weight, rw_weights(COUNTS))
    assert abs(float(rw.criterion.weight.mean()) - 1) < 1e-5


def test_drs_switches_sampler_at_the_right_epoch():
    cfg = baseline(P200, "CE-DRS")
    m = _method(cfg)
    assert m.streams(159) == ["ib"] and m.streams(160) == ["cb"] and sampler_at(cfg, 199) == "cb"


def test_ldam_margins_and_cosine_head():
    m = _method(baseline(P200, "LDAM-DRW"))
    assert isinstance(m.criterion, LDAMLoss) and m.criterion.s == 30
    margins = m.criterion.margins
    expected = torch.tensor(COUNTS, dtype=torch.float64) ** -0.25
    assert torch.allclose(margins.double(), expected * 0.5 / expected.max(), atol=1e-6)
    assert abs(float(margins.max()) - 0.5) < 1e-6 and int(margins.argmax()) == len(COUNTS) - 1
    assert isinstance(m.build_model().head, CosineHead)


def test_retrain_classifier_fields():
    s1 = baseline(P200, "RW")
    for manner, (sampler, weights) in {"CE": ("ib", "none"), "RW": ("ib", "rw"), "RS": ("cb", "none")}.items():
        s2 = retrain_classifier(s1, manner, epochs=10)
        assert (s2.sampler, s2.loss_weights, s2.loss, s2.head) == (sampler, weights, "ce", "linear")
        assert (s2.train_parts, s2.reinit_head, s2.epochs, s2.reweight_from, s2.sampler_switch) == \
            ("classifier", True, 10, 0, [])
        assert s2.init_from == s1.to_dict() and s2.tag == f"RW+{manner}"
    grid = diagnosis(P200, stage2_epochs=10)
    assert list(grid) == [(r, c) for r in MANNERS for c in MANNERS]
    assert grid[("RS", "CE")].init_from == baseline(P200, "RS").to_dict()
    other = diagnosis({**P200, "dataset": "cifar10"}, 10, representation_dataset="cifar100")
    assert other[("CE", "RS")].dataset == "cifar10" and other[("CE", "RS")].init_from["dataset"] == "cifar100"


def test_retrain_classifier_freezes_the_backbone(tiny_cfg, tiny_folder, tmp_path):
    import shutil

    s1 = tiny_cfg.replace(epochs=1)
    run2 = fit(retrain_classifier(s1, "RS", epochs=1), runs_dir=tmp_path, progress="none")
    run1 = fit(s1, runs_dir=tmp_path, progress="none")          # trained as stage 1, reused here
    assert run2.meta["stage1"] == run1.run_id
    w1, w2 = run1.state_dict(), run2.state_dict()
    backbone = [k for k in w1 if k.startswith("backbone.")]
    assert backbone and all(torch.equal(w1[k], w2[k]) for k in backbone)   # weights and BN statistics
    assert not torch.equal(w1["head.weight"], w2["head.weight"])
    # BBN Fig. 2 right: the same representation, a classifier retrained on another dataset (3 classes)
    other = tmp_path / "other"
    for split in ("train", "test"):
        for c in range(3):
            shutil.copytree(tiny_folder / split / f"class{c}", other / split / f"class{c}")
    run3 = fit(retrain_classifier(s1, "CE", epochs=1, dataset=str(other)), runs_dir=tmp_path, progress="none")
    assert run3.meta["stage1"] == run1.run_id and len(run3.metrics["counts"]) == 3
    assert run3.state_dict()["head.weight"].shape[0] == 3


def _fake(acc: float, tail: float | None = None) -> types.SimpleNamespace:
    test = {"acc": acc, "head": acc, "mid": acc, "tail": acc if tail is None else tail}
    return types.SimpleNamespace(metrics={"last": {"test": test}})


def test_diagnosis_grid_and_claim():
    # errors (%) shaped like BBN's claim: rows CE < RW < RS, columns CE > RW > RS
    acc = {("CE", "CE"): .60, ("CE", "RW"): .64, ("CE", "RS"): .65, ("RW", "CE"): .55, ("RW", "RW"): .58,
           ("RW", "RS"): .59, ("RS", "CE"): .54, ("RS", "RW"): .57, ("RS", "RS"): .58}
    runs = {k: _fake(v) for k, v in acc.items()}
    grid = B.diagnosis_grid(runs)
    assert grid.index.tolist() == ["CE", "RW", "RS"] and grid.columns.tolist() == ["CE", "RW", "RS"]
    assert grid.loc["CE", "RS"] == pytest.approx(35.0)
    note = B.diagnosis_note(grid).replace("**", "")
    rows, cols = grid.mean(axis=1), grid.mean(axis=0)
    assert ("Mean error by representation: " + ", ".join(f"{k} {v:.2f}" for k, v in rows.items())
            + "; by classifier: " + ", ".join(f"{k} {v:.2f}" for k, v in cols.items())) in note
    assert grid.stack().idxmin() == ("CE", "RS")
    assert f"Lowest error: CE representation + RS classifier ({grid.values.min():.2f}%)" in note
    assert note.endswith("which matches.")
    s = analysis.run_samples(runs)
    assert set(s) == set(acc) and s[("CE", "RS")]["acc"] == [pytest.approx(65.0)]
    seeds = B.diagnosis_groups({("CE", "CE"): [_fake(.6, .2), _fake(.8, .4)]})
    assert seeds.loc[("CE", "CE"), "overall"] == pytest.approx(30.0) and seeds.loc[("CE", "CE"), "tail"] == pytest.approx(70.0)


def test_with_published():
    table = pd.DataFrame({"acc": [70.0, 80.0]}, index=["CE", "RW"])
    out = analysis.with_published(table, "cifar10", 100)
    assert out.loc["CE", "published"] == 70.36 and out.loc["CE", "difference"] == pytest.approx(-0.36)
    assert out["published"].isna().tolist() == [False, True]
    assert analysis.with_published(table, "fmnist", 100)["published"].isna().all()



def test_diagnosis_claims_judged_by_the_numbers():
    # three seeds per cell: BBN's pattern with +-0.1 point seed noise -> both parts reproduced; flipped -> contradicted
    acc = {("CE", "CE"): .60, ("CE", "RW"): .64, ("CE", "RS"): .65, ("RW", "CE"): .55, ("RW", "RW"): .58,
           ("RW", "RS"): .59, ("RS", "CE"): .54, ("RS", "RW"): .57, ("RS", "RS"): .58}
    noise = (-0.001, 0.0, 0.001)
    runs = {k: [_fake(v + e, v + 2 * e) for e in noise] for k, v in acc.items()}
    t = claims.judge_all(claims.DIAGNOSIS, analysis.run_samples(runs))
    assert list(t["outcome"]) == [claims.REPRODUCED] * 4
    part = claims.judge(claims.DIAGNOSIS[0].parts[0], analysis.run_samples(runs))   # CE+RW vs CE+CE: 64 - 60
    assert part.diff == pytest.approx(4.0) and part.n_a == part.n_b == 3 and part.lo > 0
    flipped = {(c, r): rs for (r, c), rs in runs.items()}
    t = claims.judge_all(claims.DIAGNOSIS, analysis.run_samples(flipped))
    assert list(t["outcome"]) == [claims.CONTRADICTED] * 4
    one = {k: rs[:1] for k, rs in runs.items()}                  # one seed never decides
    assert set(claims.judge_all(claims.DIAGNOSIS, analysis.run_samples(one))["outcome"]) == {claims.INCONCLUSIVE}


def test_baseline_claims_and_note():
    base = {"CE": (.70, .90, .50), "RW": (.72, .85, .60), "RS": (.73, .84, .62), "CE-DRW": (.76, .88, .64),
            "CE-DRS": (.75, .87, .63), "LDAM-DRW": (.77, .88, .66)}
    runs = {m: [types.SimpleNamespace(metrics={"last": {"test": {"acc": a + e, "head": h + e, "mid": a, "tail": t + e}}})
                for e in (-0.002, 0.0, 0.002)] for m, (a, h, t) in base.items()}
    t = claims.judge_all(claims.BASELINE_CLAIMS, analysis.run_samples(runs))
    assert list(t["outcome"]) == [claims.REPRODUCED] * len(claims.BASELINE_CLAIMS)
    assert t.loc[5, "difference"] == pytest.approx(1.0)               # LDAM-DRW − CE-DRW
    table = analysis.summary(runs)
    note = B.baselines_note(table, "fmnist", 100)
    assert "Best overall:** LDAM-DRW at 77.00%" in note and "No published numbers" in note


def test_convergence_from_histories():
    h = pd.DataFrame({"epoch": [1, 2, 3, 4], "lr": [0.1, 0.1, 0.001, 0.00001], "train_acc": [0.5, 0.7, 0.8, 0.82],
                      "test_acc": [None, 0.6, 0.75, 0.76]})
    t = analysis.convergence({"CE": types.SimpleNamespace(history=h, metrics={})})
    assert t.loc["CE", "prev_epoch"] == 3 and t.loc["CE", "change"] == pytest.approx(1.0)
    assert t.loc["CE", "train_change_last3"] == pytest.approx(12.0) and t.loc["CE", "lr_last"] == 0.00001
