"""Analyses of SPEC §5 (events, irregularity, bias/variance) and the report's claims on hand-made inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ltlib import analysis, report
from ltlib.methods import METHODS
from ltlib.methods.base import Method

X = analysis.NOT_DRAWN


def test_event_counts_hand_made():
    # epochs x samples; sample 0: 0 1 0 1 1 -> learned 2, forgotten 1, correct 3
    # sample 1: 1 [not drawn] 0 [not drawn] 1 -> drawn 3, correct 2, forgotten 1 (1->0 across a gap), learned 1
    # sample 2: never drawn; sample 3: always right -> learned 0 (never wrong first), forgotten 0
    ev = np.array([[0, 1, X, 1],
                   [1, X, X, 1],
                   [0, 0, X, 1],
                   [1, X, X, 1],
                   [1, 1, X, 1]], dtype=np.uint8)
    c = analysis.event_counts(ev)
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
    bv = analysis.bias_variance(preds, y, 3)
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
    tab = analysis.bias_variance_table({"m": preds}, y, [50, 20, 5])
    assert set(tab["group"]) == {"all", "head", "mid", "tail"}
    assert tab.set_index("group").loc["all", "bias2"] == pytest.approx(0.5)


def test_bias_variance_identical_models_have_no_variance():
    y = np.array([0, 1, 1])
    p = np.tile(np.array([0, 1, 0]), (4, 1))
    bv = analysis.bias_variance(p, y)
    assert bv["variance"] == 0 and bv["bias2"] == pytest.approx(1 / 3) and bv["error"] == pytest.approx(1 / 3)


def test_irregularity_tiny():
    labels = np.array([0, 0, 1, 1, 1, 1])
    L = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 2.0])
    F = np.array([0.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    t = analysis.irregularity(L, F, labels, 3)
    # class 0: var L = 1, var F = 1, cov = 1 (population) -> ||C||_F = 2, I = 2 / 2
    assert t.loc[0, "fnorm"] == pytest.approx(2.0)
    assert t.loc[0, "irregularity"] == pytest.approx(1.0)
    assert t.loc[1, "irregularity"] == 0.0 and t.loc[1, "n"] == 4
    assert t.loc[2, "n"] == 0 and np.isnan(t.loc[2, "irregularity"])
    assert analysis.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(analysis.pearson([1, 1, 1], [3, 2, 1]))


def test_fixed_subset_is_seeded_and_balanced():
    labels = np.repeat(np.arange(4), 20)
    a = analysis.fixed_subset(labels, [0, 2, 3], 5, seed=1)
    assert np.array_equal(a, analysis.fixed_subset(labels, [0, 2, 3], 5, seed=1))
    assert np.bincount(labels[a], minlength=4).tolist() == [5, 0, 5, 5]
    assert analysis.spread_classes(list(range(100, 0, -1)), 10) == sorted(analysis.spread_classes(list(range(100, 0, -1)), 10))
    assert len(analysis.spread_classes([5] * 100, 10)) == 10


def test_method_ready_detects_placeholders():
    class Placeholder(Method):
        """No loss override."""

    METHODS["_placeholder_test"] = Placeholder
    try:
        assert not analysis.method_ready("_placeholder_test")
        assert analysis.method_ready("plain")
        assert not analysis.method_ready("no-such-method")
    finally:
        del METHODS["_placeholder_test"]


def _fake_leaderboard(rows: dict[str, tuple[float, float, float, int]]) -> pd.DataFrame:
    """label -> (acc, head, tail, seeds) as a leaderboard."""
    out = []
    for label, (acc, head, tail, seeds) in rows.items():
        r = {"method": label, "canonical": report.canonical(label), "seeds": seeds}
        for g in analysis.GROUPS:
            r[g], r[f"{g}_std"] = np.nan, np.nan
        r.update(acc=acc, head=head, tail=tail, acc_std=0.5 if seeds > 1 else np.nan)
        out.append(r)
    return pd.DataFrame(out).set_index("method")


def test_claims_on_a_fake_table():
    lb = _fake_leaderboard({"CE": (70.0, 90.0, 40.0, 3), "RS": (68.0, 80.0, 55.0, 3), "BBN": (75.0, 85.0, 60.0, 1),
                            "IB→CR": (69.0, 88.0, 45.0, 1), "CE+RS": (72.0, 86.0, 52.0, 1)})
    claims = report.evaluate_claims(lb).set_index("claim")
    v = claims["verdict"]
    assert v["BBN beats plain cross-entropy (CE)"] == report.REPRODUCED
    assert v["IB→CR switching beats plain CE"] == report.NOT_REPRODUCED
    assert v["ResLT beats BBN"] == report.NOT_TESTED
    assert v["re-balancing trades head accuracy for tail accuracy: RS raises tail, lowers head vs CE"] == report.REPRODUCED
    assert v["cRT (retrained classifier, frozen CE backbone) beats joint CE training"] == report.REPRODUCED
    # only some re-balancing baselines run: tested against those present -> none here -> not tested
    assert v["BBN beats the re-balancing baselines CE-DRW, CE-DRS and LDAM-DRW (those run)"] == report.NOT_TESTED
    assert "70.00" in claims.loc["BBN beats plain cross-entropy (CE)", "detail"]
    counts = report.verdict_counts(claims.reset_index())
    assert sum(counts.values()) == len(report.CLAIMS)
    empty = report.evaluate_claims(report.leaderboard(pd.DataFrame(columns=["label"])))
    assert (empty["verdict"] == report.NOT_TESTED).all()


def test_reference_beside_ours():
    lb = _fake_leaderboard({"CE": (71.0, 90.0, 40.0, 2), "BBN": (75.0, 85.0, 60.0, 1)})
    ref = report.with_reference(lb, "cifar10", 100)
    assert ref.loc["CE", "published"] == pytest.approx(70.36)
    assert ref.loc["CE", "difference"] == pytest.approx(71.0 - 70.36)
    assert pd.isna(ref.loc["ResLT", "ours"])
    other = report.with_reference(lb, "fmnist", 100)
    assert other["difference"].isna().all() and other.loc["CE", "published"] == pytest.approx(70.36)


def _fake_run(root, cfg, acc):
    """A finished run folder without training: config.json + metrics.json."""
    from ltlib.runs import write_json

    d = root / cfg.run_id()
    d.mkdir(parents=True)
    test = {g: acc for g in analysis.GROUPS}
    write_json(d / "config.json", cfg.to_dict())
    write_json(d / "metrics.json", {"last": {"epoch": cfg.epochs, "test": test, "val": {"acc": acc}},
                                    "best_val": {"epoch": cfg.epochs, "test": test, "val": {"acc": acc}}})


def test_profile_rows_and_leaderboard(tmp_path):
    from ltlib.config import RunConfig
    from ltlib.methods.baselines import retrain_classifier
    from ltlib.runs import results_table

    runs = tmp_path / "runs"
    cfg = RunConfig(epochs=4, tag="CE")
    _fake_run(runs, cfg, 0.6)
    _fake_run(runs, cfg.replace(seed=1), 0.7)
    _fake_run(runs, cfg.replace(epochs=8), 0.9)                       # another profile: filtered out
    _fake_run(runs, retrain_classifier(cfg, "RS", epochs=2), 0.75)   # two-stage: counts by stage-1 epochs
    _fake_run(runs, cfg.replace(sampler="cb", tag="CE"), 0.5)        # same tag, another config: own label
    table = results_table(runs)
    rows = report.profile_rows(table, "fmnist", 100, "resnet8", 4, None, runs)
    assert len(rows) == 4
    lb = report.leaderboard(rows)
    assert lb.loc["CE", "seeds"] == 2 and lb.loc["CE", "acc"] == pytest.approx(65.0)
    assert lb.loc["CE", "acc_std"] == pytest.approx(100 * np.std([0.6, 0.7], ddof=1))
    assert lb.loc["CE+RS", "canonical"] == "cRT" and len(lb) == 3
    assert report.profile_rows(table.iloc[0:0], "fmnist", 100, "resnet8", 4, None, runs).empty
