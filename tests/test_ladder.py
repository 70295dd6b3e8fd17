"""Regimes and the ladder: a regime is one transformation of the shared parameters, the anchor is the profile
itself (same hashes), claims get one stability label over the ladder, and the default-regime rule is mechanical."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltlib import claims as cl
from ltlib import ladder, plans, recipes
from ltlib.errors import ConfigError
from ltlib.params import profile_params
from ltlib.regimes import REGIMES, build_regime, check_ladder

PINNED = Path(__file__).parent / "data" / "run_hashes.json"


def test_a_regime_moves_only_the_shared_names_it_names():
    p = profile_params("quick", "80_regimes")
    assert build_regime("quick").params(p) == p                          # the anchor is the identity
    q = build_regime("more-epochs").params(p)
    assert (q["epochs"], q["max_per_class"], q["arch"]) == (50, 500, "resnet8")
    assert q["stage2_epochs"] == 25 and q["eval_every"] == 12             # retraining keeps its share; 4 evaluations
    assert {k for k in p if p[k] != q[k]} == {"epochs", "max_per_class", "stage2_epochs", "eval_every"}
    assert build_regime("deeper").params(p)["arch"] == "resnet14"
    assert build_regime("paper-epochs").setting(p) == "Fashion-MNIST-LT IR100, n_max 250, resnet8, 200 epochs"


def test_a_ladder_starts_at_an_anchor_and_names_known_regimes():
    assert [r.name for r in check_ladder(["quick", "deeper"])] == ["quick", "deeper"]
    with pytest.raises(ConfigError, match="anchor"):
        check_ladder(["deeper", "quick"])
    with pytest.raises(ConfigError, match="unknown regime"):
        check_ladder(["quick", "deep"])
    with pytest.raises(ConfigError, match="repeat"):
        check_ladder(["quick", "deeper", "deeper"])
    assert all(r.anchor == (r.max_per_class is None and r.epochs is None and r.arch is None and r.precision is None
                            and not r.run_fields) for r in REGIMES.values())


def test_the_anchor_rung_is_the_method_notebooks_runs(native_bf16):
    """The quick ladder's anchor configs are the very runs the method notebooks train (by hash), except the two
    extra CE seeds the ladder adds; other rungs cap evaluations without leaving the recipe's family."""
    plan = plans.notebook_plan("80_regimes", profile_params("quick", "80_regimes"), check=False)
    pinned = json.loads(PINNED.read_text())["quick"]
    notebooks = {h for nb, d in pinned.items() if nb != "80_regimes" for h in d.values()}
    anchor = {c.run_id(): (m, c.seed) for m, cs in plan["quick"].items() for c in cs}
    assert {v for h, v in anchor.items() if h not in notebooks} == {("CE", 3), ("CE", 4)}
    assert {len(cs) for m, cs in plan["quick"].items() if m in ("CE", "BBN", "switching")} == {5}
    rung = plan["more-epochs"]
    assert all(c.eval_every >= 12 for cs in rung.values() for c in cs)
    uncapped = recipes.ib_cr(build_regime("more-epochs").params(profile_params("quick", "80_regimes")))
    assert uncapped.eval_every == 1 and rung["switching"][0].family_id() == uncapped.family_id()


def test_one_rung_per_slice_keeps_the_anchor():
    p = profile_params("quick", "80_regimes")
    assert plans.with_regimes(p, ["deeper"])["regimes"] == ["quick", "deeper"]
    assert plans.with_regimes(p, None) is p
    with pytest.raises(ConfigError, match="not in this profile's ladder"):
        plans.with_regimes(p, ["smoke-more-epochs"])


@pytest.mark.parametrize("outcomes,label", [
    (["reproduced", "reproduced"], ladder.STABLE), (["contradicted"] * 3, ladder.STABLE),
    (["reproduced", "contradicted"], ladder.DEPENDENT), (["reproduced", "inconclusive", "contradicted"], ladder.DEPENDENT),
    (["reproduced", "inconclusive"], ladder.UNDECIDED), (["not tested", "reproduced"], ladder.UNDECIDED)])
def test_stability_labels(outcomes, label):
    assert ladder.stability(outcomes) == label


def test_kendall_tau_and_its_bootstrap():
    ref = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    same = {k: [v, v + 0.01, v - 0.01] for k, v in ref.items()}
    t = ladder.kendall(same, ref, n_boot=200)
    assert t["tau"] == pytest.approx(1.0) and t["lo"] == pytest.approx(1.0) and t["methods"] == 4
    rev = {k: [-v] * 3 for k, v in ref.items()}
    assert ladder.kendall(rev, ref, n_boot=50)["tau"] == pytest.approx(-1.0)
    assert np.isnan(ladder.kendall({"a": [1.0]}, ref)["tau"])              # fewer than 3 shared methods: no τ


def test_default_regime_is_the_cheapest_meeting_the_rule():
    close = pd.DataFrame({"compute": [1.0, 0.5, 1.0, 0.9], "CE train acc (%)": [90.0, 99.0, 100.0, 99.5],
                          "shortest phase (epochs)": [1, 5, 20, 5], "smallest class": [50, 5, 2, 5]},
                         index=["quick", "more-epochs", "paper-epochs", "deeper"])
    pick, checks = ladder.default_regime(close)
    assert pick == "more-epochs" and list(checks["meets the rule"]) == [False, True, False, True]
    assert ladder.default_regime(close.assign(**{"CE train acc (%)": 50.0}))[0] is None


def test_claims_take_tuple_keys_end_to_end():
    c = cl.beats("X", "Table 9", "CR is the best second sampler", ("Table 9", "IB→CR"),
                 [("Table 9", "IB→IB"), ("Table 9", "IB→CB")])
    s = {("Table 9", "IB→CR"): {"acc": [80.0, 81.0, 80.5]}, ("Table 9", "IB→IB"): {"acc": [70.0, 71.0, 70.5]},
         ("Table 9", "IB→CB"): {"acc": [75.0, 76.0, 75.5]}}
    v = cl.judge(c, s)
    assert v.outcome == cl.REPRODUCED and "Table 9: IB→CR" in v.detail
    assert cl.key_label(("Table 6", "S", 1)) == "Table 6: S = 1" and cl.key_label(("Fig. 6", "α", 0.5)) == "Fig. 6: α = 0.5"
    assert ladder.claim_keys([c]) == [("Table 9", "IB→CR"), ("Table 9", "IB→IB"), ("Table 9", "IB→CB")]


def test_each_claim_is_judged_once_per_regime_and_both_views_agree(monkeypatch):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"regime": reg, "method": m, "seed": s, "acc": v, "many": v, "medium": v, "few": v,
                          "head": v + 0.1, "mid": v, "tail": v - 0.1}
                         for reg, shift in (("quick", 0.0), ("deeper", 0.05))
                         for m, base in (("CE", 0.70), ("BBN", 0.72), ("cRT", 0.78), ("switching", 0.74))
                         for s in range(3) for v in [base + shift * (m == "BBN") + 0.01 * rng.standard_normal()]])
    calls = []
    judge = cl.judge
    monkeypatch.setattr(cl, "judge", lambda c, s: calls.append(c) or judge(c, s))
    judged = ladder.judge_regimes(rows, ["quick", "deeper"])
    long = ladder.claims_by_regime(rows, ["quick", "deeper"], judged=judged)
    top = {id(c) for c in ladder.report.CLAIMS}
    assert sum(id(c) in top for c in calls) == 2 * len(top)             # once per claim and regime, not twice
    for reg in ("quick", "deeper"):
        table = judged[reg][1]
        expect = ladder.report.evaluate_claims(rows[rows["regime"] == reg])
        pd.testing.assert_frame_equal(table, expect)                     # the front page's table, unchanged
        assert list(long.loc[long["regime"] == reg, "holm"]) == list(expect["outcome_holm"])
