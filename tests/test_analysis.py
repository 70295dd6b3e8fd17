"""Analyses of docs/protocol.md §5 (events, irregularity, bias/variance) and the report's claims on hand-made inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ltlib import analysis, biasvar, features, memorization, report

X = memorization.NOT_DRAWN


def test_event_counts_hand_made():
    # epochs x samples; sample 0: 0 1 0 1 1 -> learned 2, forgotten 1, correct 3
    # sample 1: 1 [not drawn] 0 [not drawn] 1 -> drawn 3, correct 2, forgotten 1 (1->0 across a gap), learned 1
    # sample 2: never drawn; sample 3: always right -> learned 0 (never wrong first), forgotten 0
    ev = np.array([[0, 1, X, 1],
                   [1, X, X, 1],
                   [0, 0, X, 1],
                   [1, X, X, 1],
                   [1, 1, X, 1]], dtype=np.uint8)
    c = memorization.event_counts(ev)
    assert c["drawn"].tolist() == [5, 3, 0, 5]
    assert c["correct"].tolist() == [3, 2, 0, 5]
    assert c["learned"].tolist() == [2, 1, 0, 0]
    assert c["forgotten"].tolist() == [1, 1, 0, 0]
    assert c["first_correct"].tolist() == [1, 0, -1, 0]


def test_bias_variance_hand_made():
    # 3 models, 4 images, true labels y
    y = np.array([0, 1, 2, 0])
    preds = np.array([[0, 1, 1, 2],
                      [0, 2, 1, 2],
                      [1, 1, 2, 0]])
    bv = biasvar.bias_variance(preds, y, 3)
    # main predictions: 0, 1, 1, 2 -> biased on images 2 and 3
    assert bv["bias2"] == pytest.approx(2 / 4)
    # disagreement with main: 1/3, 1/3, 1/3, 1/3
    assert bv["variance"] == pytest.approx(1 / 3)
    assert bv["total"] == pytest.approx(0.5 + 1 / 3)
    err = (preds != y).mean()
    assert bv["error"] == pytest.approx(err)
    # Domingos: error = bias + variance on unbiased images - P(correct) on biased images
    assert bv["error"] == pytest.approx(bv["bias2"] + bv["net_variance"])
    assert bv["var_unbiased"] == pytest.approx((1 / 3 + 1 / 3) / 4)
    assert bv["var_biased"] == pytest.approx((1 / 3 + 1 / 3) / 4)
    tab = biasvar.bias_variance_table({"m": preds}, y, [50, 20, 5])
    assert set(tab["group"]) == {"all", "head", "mid", "tail"}
    assert tab.set_index("group").loc["all", "bias2"] == pytest.approx(0.5)


def test_bias_variance_identical_models_have_no_variance():
    y = np.array([0, 1, 1])
    p = np.tile(np.array([0, 1, 0]), (4, 1))
    bv = biasvar.bias_variance(p, y)
    assert bv["variance"] == 0 and bv["bias2"] == pytest.approx(1 / 3) and bv["error"] == pytest.approx(1 / 3)


def test_irregularity_tiny():
    labels = np.array([0, 0, 1, 1, 1, 1])
    L = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 2.0])
    F = np.array([0.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    t = memorization.irregularity(L, F, labels, 3)
    # class 0: var L = 1, var F = 1, cov = 1 (population) -> ||C||_F = 2, I = 2 / 2
    assert t.loc[0, "fnorm"] == pytest.approx(2.0)
    assert t.loc[0, "irregularity"] == pytest.approx(1.0)
    assert t.loc[1, "irregularity"] == 0.0 and t.loc[1, "n"] == 4
    assert t.loc[2, "n"] == 0 and np.isnan(t.loc[2, "irregularity"])


def test_fixed_subset_is_seeded_and_balanced():
    labels = np.repeat(np.arange(4), 20)
    a = features.fixed_subset(labels, [0, 2, 3], 5, seed=1)
    assert np.array_equal(a, features.fixed_subset(labels, [0, 2, 3], 5, seed=1))
    assert np.bincount(labels[a], minlength=4).tolist() == [5, 0, 5, 5]
    assert features.spread_classes(list(range(100, 0, -1)), 10) == sorted(features.spread_classes(list(range(100, 0, -1)), 10))
    assert len(features.spread_classes([5] * 100, 10)) == 10


def _fake_run(root, cfg, acc, tail=None):
    """A finished run folder without training: config.json + metrics.json."""
    from ltlib.runs import write_json

    d = root / cfg.run_id()
    d.mkdir(parents=True)
    test = {g: acc for g in analysis.GROUPS}
    if tail is not None:
        test["tail"] = tail
    write_json(d / "config.json", cfg.to_dict())
    write_json(d / "metrics.json", {"last": {"epoch": cfg.epochs, "test": test, "val": {"acc": acc}},
                                    "best_val": {"epoch": cfg.epochs, "test": test, "val": {"acc": acc}}}, seal=True)


PARAMS = {"dataset": "fmnist", "imbalance_ratio": 100.0, "max_per_class": 50, "arch": "resnet8", "epochs": 4,
          "batch_size": 128, "lr": 0.1, "seed": 0, "stage2_epochs": 2, "eval_every": 1}


def test_report_finds_recipes_by_config_and_judges_claims(tmp_path):
    from ltlib import claims as cl
    from ltlib.recipes import RECIPES
    from ltlib.runs import results_table

    runs = tmp_path / "runs"
    ce, bbn, crt = (RECIPES[k](PARAMS) for k in ("CE", "BBN", "cRT"))
    for s, (a, b) in enumerate([(0.60, 0.70), (0.61, 0.72), (0.59, 0.71)]):
        _fake_run(runs, ce.replace(seed=s, eval_every=2), a, tail=0.2)   # eval cadence does not split a recipe
        _fake_run(runs, bbn.replace(seed=s), b)
    _fake_run(runs, crt, 0.9)                                            # one seed only
    _fake_run(runs, ce.replace(epochs=8), 0.99)                          # another profile: not found
    rows = report.recipe_rows(PARAMS, runs, results_table(runs))
    assert sorted(rows["method"].unique()) == ["BBN", "CE", "CE+RS", "cRT"]   # cRT is the grid's CE+RS cell too
    lb = report.leaderboard(rows)
    assert lb.loc["CE", "seeds"] == 3 and lb.loc["CE", "acc"] == pytest.approx(60.0)
    assert lb.loc["CE", "acc_std"] == pytest.approx(1.0)
    assert list(lb.index) == ["cRT", "BBN", "CE"]
    v = report.evaluate_claims(rows).set_index("claim")["outcome"]
    assert v["BBN beats plain cross-entropy (CE)"] == cl.REPRODUCED
    assert v["cRT (retrained classifier, frozen CE backbone) beats joint CE training"] == cl.INCONCLUSIVE  # 1 seed
    assert v["ResLT beats BBN"] == cl.NOT_TESTED
    assert len(v) == len(report.CLAIMS)
    shown = report.board(lb)
    assert shown.loc["CE", "overall"] == "60.00 ± 1.00"


def test_reference_beside_ours(tmp_path):
    from ltlib.recipes import RECIPES
    from ltlib.runs import results_table

    runs = tmp_path / "runs"
    _fake_run(runs, RECIPES["CE"](PARAMS), 0.71)
    lb = report.leaderboard(report.recipe_rows(PARAMS, runs, results_table(runs)))
    ref = report.with_reference(lb, "cifar10", 100)
    assert ref.loc["CE", "published"] == pytest.approx(70.36) and pd.isna(ref.loc["CE", "difference"]) is False
    assert ref.loc["CE", "difference"] == pytest.approx(71.0 - 70.36)
    assert pd.isna(ref.loc["ResLT", "ours"])
    other = report.with_reference(lb, "fmnist", 100)
    assert "difference" not in other and other.loc["CE", "published"] == pytest.approx(70.36)   # new numbers


def test_confusion_is_stored_and_summed_over_seeds(tiny_cfg, tmp_path):
    import numpy as np

    from ltlib.metrics import confusion
    from ltlib.runs import results_table
    from ltlib.train import fit

    import torch
    assert confusion(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2) == [[1, 1], [0, 1]]
    runs = [fit(tiny_cfg.replace(epochs=1, seed=s, tag="CE"), tmp_path, progress="none") for s in (0, 1)]
    cm = runs[0].metrics["last"]["test"]["confusion"]
    assert np.asarray(cm).shape == (4, 4) and sum(map(sum, cm)) == 40
    rows = results_table(tmp_path).assign(method="CE")
    m = report.confusions(rows, tmp_path, ["CE"])["CE"]
    assert np.allclose(m.sum(1), 1.0)
    assert report.class_names(rows, tmp_path) == [f"class{c}" for c in range(4)]
