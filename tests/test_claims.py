"""ltlib.stats and ltlib.claims on synthetic per-seed leaderboards (no runs, no torch work)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ltlib.claims import (CONTRADICTED, INCONCLUSIVE, NOT_TESTED, REPRODUCED, Claim, all_of, beats, judge,
                          judge_all, outcome_counts, samples_from_frame, to_markdown, trades)
from ltlib.errors import ConfigError
from ltlib.stats import fmt_mean_std, mean_std, pearson, spearman, welch_interval

# method -> metric -> per-seed values (%)
SAMPLES = {
    "CE": {"acc": [70.0, 70.5, 69.5], "head": [90.0, 90.5, 89.5], "tail": [50.0, 50.5, 49.5]},
    "ResLT": {"acc": [75.0, 75.4, 74.6], "head": [88.0, 88.3, 87.7], "tail": [60.0, 60.5, 59.5]},
    "Noisy": {"acc": [70.2, 72.5, 68.0]},
    "Bad": {"acc": [60.0, 60.3, 59.7], "head": [95.0, 95.2, 94.8], "tail": [40.0, 40.4, 39.6]},
    "Lucky": {"acc": [99.0]},
}


# ------------------------------------------------------------------------------------------------ stats

def test_mean_std_ignores_nan_and_needs_two_values():
    m, s, n = mean_std([1.0, 2.0, float("nan"), 3.0])
    assert (m, n) == (2.0, 3) and s == pytest.approx(1.0)
    m, s, n = mean_std([5.0, None])
    assert m == 5.0 and math.isnan(s) and n == 1
    m, s, n = mean_std([])
    assert math.isnan(m) and math.isnan(s) and n == 0


def test_fmt_mean_std():
    assert fmt_mean_std(76.7, 0.41, 3) == "76.70 ± 0.41 (n=3)"
    assert fmt_mean_std(76.7, float("nan"), 1) == "76.70 (n=1)"
    assert fmt_mean_std(76.7, None, 1) == "76.70 (n=1)"
    assert fmt_mean_std(76.7, 0.41) == "76.70 ± 0.41"
    assert fmt_mean_std(76.7) == "76.70"
    assert fmt_mean_std(76.7, 0.4123, 3, digits=1) == "76.7 ± 0.4 (n=3)"
    assert fmt_mean_std(float("nan"), 0.4, 3) == "–" and fmt_mean_std(None) == "–"
    assert fmt_mean_std(*mean_std([76.3, 77.1, 76.7])) == "76.70 ± 0.40 (n=3)"


def test_pearson_known_values():
    # dx = (-1, 0, 1), dy = (-4/3, -1/3, 5/3): r = 3 / sqrt(2 * 42/9) = 9 / sqrt(84)
    assert pearson([1, 2, 3], [1, 2, 4]) == pytest.approx(9 / math.sqrt(84))
    assert pearson([1, 2, 3, 4], [8, 6, 4, 2]) == pytest.approx(-1.0)
    assert pearson([1, 2], [3, 5]) == pytest.approx(1.0)                  # two pairs suffice
    assert math.isnan(pearson([1], [2]))
    assert math.isnan(pearson([1, 2, 3], [4, 4, 4]))                      # zero variance
    # NaN pairs dropped: the same as without the third pair
    assert pearson([1, 2, np.nan, 3], [1, 2, 7, 4]) == pytest.approx(9 / math.sqrt(84))


def test_spearman_known_values():
    x = [1, 2, 3, 4, 5]
    assert spearman(x, [v ** 3 for v in x]) == pytest.approx(1.0)        # monotone: rho = 1, r < 1
    assert pearson(x, [v ** 3 for v in x]) < 0.99
    assert spearman(x, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1..5) vs (1, 2, 3, 4.5, 4.5) with a tie; checked against scipy
    y = [5, 6, 7, 8, 8]
    assert spearman(x, y) == pytest.approx(sps.spearmanr(x, y).statistic)
    assert spearman(x, y) == pytest.approx(pearson([1, 2, 3, 4, 5], [1, 2, 3, 4.5, 4.5]))
    assert math.isnan(spearman([1, 2], [2, 1]))                          # fewer than 3 pairs
    assert math.isnan(spearman([1, 2, np.nan], [2, 1, 3]))
    with pytest.raises(ConfigError):
        spearman([1, 2, 3], [1, 2])


def test_welch_interval_against_hand_computation():
    a, b = [1.0, 2.0, 3.0], [0.0, 0.5, 1.0]
    iv = welch_interval(a, b)
    # var a = 1, var b = 0.25, n = 3: se^2 = 1/3 + 1/12 = 5/12, df = (5/12)^2 / ((1/3)^2/2 + (1/12)^2/2) = 50/17
    assert iv.diff == pytest.approx(1.5)
    assert iv.df == pytest.approx(50 / 17)
    half = sps.t.ppf(0.975, 50 / 17) * math.sqrt(5 / 12)
    assert (iv.lo, iv.hi) == (pytest.approx(1.5 - half), pytest.approx(1.5 + half))
    assert (iv.n_a, iv.n_b, iv.method, iv.determined) == (3, 3, "Welch t", True)
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (iv.lo, iv.hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    # a 90 % interval is narrower
    iv90 = welch_interval(a, b, level=0.9)
    assert iv.lo < iv90.lo < iv90.hi < iv.hi


def test_welch_interval_edge_cases():
    one = welch_interval([5.0], [1.0, 2.0, 3.0])
    assert one.diff == pytest.approx(3.0) and (one.lo, one.hi) == (-math.inf, math.inf) and not one.determined
    assert math.isnan(welch_interval([], [1.0, 2.0]).diff)
    flat = welch_interval([2.0, 2.0], [1.0, 1.0, np.nan])
    assert (flat.diff, flat.lo, flat.hi, flat.n_b) == (1.0, 1.0, 1.0, 2)
    # one side without variance: df = n_other - 1
    assert welch_interval([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]).df == pytest.approx(2.0)
    with pytest.raises(ConfigError):
        welch_interval([1, 2], [3, 4], level=95)


# ------------------------------------------------------------------------------------------------ claims

def test_each_outcome():
    v = judge(beats("ResLT", "Table 5", "ResLT beats CE", "ResLT", "CE"), SAMPLES)
    assert v.outcome == REPRODUCED and v.diff == pytest.approx(5.0) and 0 < v.lo < 5 < v.hi
    assert (v.n_a, v.n_b) == (3, 3)
    assert v.detail.startswith("ResLT 75.00 ± 0.40 (n=3) vs CE 70.00 ± 0.50 (n=3): +5.00 [+")
    assert v.detail.endswith(" pts")
    v = judge(beats("X", "T1", "Bad beats CE", "Bad", "CE"), SAMPLES)
    assert v.outcome == CONTRADICTED and v.hi < 0
    v = judge(beats("X", "T1", "Noisy beats CE", "Noisy", "CE"), SAMPLES)
    assert v.outcome == INCONCLUSIVE and v.lo < 0 < v.hi and v.diff > 0       # higher mean, but within noise
    v = judge(beats("X", "T1", "ResLT beats BBN", "ResLT", "BBN"), SAMPLES)
    assert v.outcome == NOT_TESTED and "BBN" in v.detail and v.n_b == 0 and math.isnan(v.diff)
    v = judge(beats("X", "T1", "ResLT beats CE on few", "ResLT", "CE", metric="few"), SAMPLES)
    assert v.outcome == NOT_TESTED                                            # metric not measured


def test_one_seed_is_never_decisive():
    for a, b in (("Lucky", "CE"), ("CE", "Lucky")):
        v = judge(beats("X", "T1", "one seed", a, b), SAMPLES)
        assert v.outcome == INCONCLUSIVE and abs(v.diff) > 25 and not math.isfinite(v.lo)
        assert v.detail.endswith(" pts (1 seed: no interval)")
    row = judge_all([beats("X", "T1", "one seed", "Lucky", "CE")], SAMPLES).iloc[0]
    assert row["seeds"] == "1 vs 3" and "1 seed" in row["detail"] and row["outcome"] == INCONCLUSIVE


def test_sign_minus_one_and_trades():
    drop = Claim("ResLT", "Table 1", "ResLT costs head accuracy", "beats", "ResLT", "CE", metric="head", sign=-1)
    v = judge(drop, SAMPLES)
    assert v.outcome == REPRODUCED and v.diff == pytest.approx(-2.0) and v.hi < 0 and "claimed < 0" in v.detail
    t = trades("ResLT", "Table 1", "ResLT trades head for tail vs CE", "ResLT", "CE")
    assert [(p.metric, p.sign) for p in t.parts] == [("tail", 1), ("head", -1)]
    v = judge(t, SAMPLES)
    assert v.outcome == REPRODUCED and len(v.parts) == 2 and math.isnan(v.diff)
    assert v.detail.startswith("tail: ResLT") and "; head: ResLT" in v.detail
    # Bad vs CE: head is higher and tail lower -> both parts on the wrong side
    assert judge(trades("X", "T", "Bad trades", "Bad", "CE"), SAMPLES).outcome == CONTRADICTED
    # the Claim constructor builds the same parts
    assert judge(Claim("X", "T", "t", "trades", "ResLT", "CE"), SAMPLES).outcome == REPRODUCED
    # Noisy has no head/tail values -> not tested
    assert judge(trades("X", "T", "Noisy trades", "Noisy", "CE"), SAMPLES).outcome == NOT_TESTED


def test_compound_all_and_beats_list():
    good = beats("X", "T", "ResLT > CE", "ResLT", "CE")
    noisy = beats("X", "T", "Noisy > CE", "Noisy", "CE")
    bad = beats("X", "T", "Bad > CE", "Bad", "CE")
    missing = beats("X", "T", "ResLT > BBN", "ResLT", "BBN")
    assert judge(all_of("X", "T", "both", [good, trades("X", "T", "", "ResLT", "CE")]), SAMPLES).outcome == REPRODUCED
    assert judge(all_of("X", "T", "one noisy", [good, noisy]), SAMPLES).outcome == INCONCLUSIVE
    assert judge(all_of("X", "T", "one bad", [good, noisy, bad]), SAMPLES).outcome == CONTRADICTED
    assert judge(all_of("X", "T", "one missing", [good, noisy, missing]), SAMPLES).outcome == NOT_TESTED
    assert judge(all_of("X", "T", "bad and missing", [bad, missing]), SAMPLES).outcome == CONTRADICTED
    v = judge(all_of("X", "T", "single", [good]), SAMPLES)
    assert v.diff == pytest.approx(5.0) and v.lo > 0                          # one part: its numbers
    many = beats("X", "T", "ResLT beats CE and Bad", "ResLT", ["CE", "Bad"])
    assert [p.b for p in many.parts] == ["CE", "Bad"] and judge(many, SAMPLES).outcome == REPRODUCED
    # Noisy's seeds spread too much for a +4.8 gap with 3 vs 3 seeds to be decisive
    assert judge(beats("X", "T", "ResLT beats CE, Noisy", "ResLT", ["CE", "Noisy"]), SAMPLES).outcome == INCONCLUSIVE
    assert judge(beats("X", "T", "CE beats ResLT, Bad", "CE", ["ResLT", "Bad"]), SAMPLES).outcome == CONTRADICTED
    assert beats("X", "T", "one in a list", "ResLT", ["CE"]).b == "CE"


def test_claim_validation():
    with pytest.raises(ConfigError, match="did you mean 'beats'"):
        Claim("X", "T", "t", "beat", "A", "B")
    with pytest.raises(ConfigError):
        Claim("X", "T", "t", "beats", "A", "B", sign=2)
    with pytest.raises(ConfigError):
        Claim("X", "T", "t", "all")
    with pytest.raises(ConfigError):
        Claim("X", "T", "t", "beats", "A", [])


def test_samples_from_frame_and_judge_all_markdown():
    rng = np.random.RandomState(0)
    rows = []
    for method, acc in (("CE", 0.70), ("ResLT", 0.75), ("Noisy", 0.705)):
        for seed in (2, 0, 1):
            noise = 0.02 if method == "Noisy" else 0.003
            rows.append({"method": method, "seed": seed, "acc": acc + noise * rng.randn(), "tail": np.nan})
    df = pd.DataFrame(rows)
    s = samples_from_frame(df, scale=100)
    assert set(s) == {"CE", "ResLT", "Noisy"} and set(s["CE"]) == {"acc", "tail"}
    ce = df[df.method == "CE"].sort_values("seed")["acc"] * 100
    assert s["CE"]["acc"] == pytest.approx(list(ce))                          # ordered by seed, scaled to %
    with pytest.raises(ConfigError):
        samples_from_frame(df, key="label")
    claims = [beats("ResLT", "Table 5", "ResLT beats CE", "ResLT", "CE"),
              beats("ResLT", "Table 5", "CE beats ResLT", "CE", "ResLT"),
              beats("ResLT", "Table 5", "Noisy | CE", "Noisy", "CE"),
              beats("ResLT", "Table 1", "ResLT beats CE on tail", "ResLT", "CE", metric="tail"),
              beats("BBN", "Table 1", "BBN beats CE", "BBN", "CE")]
    table = judge_all(claims, s)
    assert list(table.columns) == ["paper", "where", "claim", "outcome", "difference", "ci_low", "ci_high",
                                   "seeds", "detail", "p"]
    assert list(table["outcome"]) == [REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTED, NOT_TESTED]
    assert table["seeds"].iloc[0] == "3 vs 3"
    assert judge_all(claims, df.assign(acc=df.acc * 100))["outcome"].tolist() == table["outcome"].tolist()
    assert outcome_counts(table) == {REPRODUCED: 1, CONTRADICTED: 1, INCONCLUSIVE: 1, NOT_TESTED: 2}
    md = to_markdown(table, title="Claims")
    lines = md.splitlines()
    assert lines[0] == "**Claims**" and lines[2].startswith("| Paper | Where | Claim | Outcome | Seeds |")
    assert len([ln for ln in lines if ln.startswith("| ")]) == 1 + len(claims)
    assert "Noisy \\| CE" in md and "**reproduced**" in md
    assert lines[-1] == "1 reproduced, 1 contradicted, 1 inconclusive, 2 not tested"
    one_paper = to_markdown(table[table.paper == "ResLT"])
    assert one_paper.splitlines()[0].startswith("| Where |")
    assert to_markdown(table.iloc[:0]).splitlines()[-1] == "0 reproduced, 0 contradicted, 0 inconclusive, 0 not tested"


def test_decoupling_claims_by_the_numbers():
    from ltlib.claims import DECOUPLING

    def s(acc, head=None, tail=None, spread=None):
        d = {"acc": [acc - 0.1, acc, acc + 0.1], "head": [(head or acc) + e for e in (-0.1, 0, 0.1)],
             "tail": [(tail or acc) + e for e in (-0.1, 0, 0.1)]}
        return {**d, "norm_spread": [spread + e for e in (-0.01, 0, 0.01)]} if spread else d

    paper = {"Joint-IB": s(70, head=95), "Joint-CB": s(71, head=90), "Joint-sqrt": s(72, head=92),
             "Joint-PB": s(73, head=91), "Joint": s(70, tail=40, spread=3.0), "NCM-L2": s(73), "NCM-cos": s(74),
             "cRT": s(76, tail=60, spread=1.5), "τ-norm": s(75, tail=58), "LWS": s(75, tail=59, spread=1.4),
             "B+C": s(72), "B+C (0.1× lr)": s(74), "LB+C": s(75), "cRT on IB": s(76), "cRT on CB": s(74),
             "cRT on sqrt": s(75), "cRT on PB": s(75.5), "τ=0": s(70, head=95, tail=40),
             "τ=max": s(72, head=85, tail=60)}
    t = judge_all(DECOUPLING, paper)
    assert list(t["outcome"]) == [REPRODUCED] * len(DECOUPLING)
    assert t.loc[2, "difference"] == pytest.approx(6.0)                          # cRT − Joint
    worse = {**paper, "cRT": s(68, tail=30, spread=3.5)}                       # cRT loses everywhere
    t = judge_all(DECOUPLING, worse).set_index("claim")
    assert t.loc["cRT beats the joint classifier", "outcome"] == CONTRADICTED
    assert t.loc[DECOUPLING[-1].text, "outcome"] == CONTRADICTED               # norm spread rose
    assert t.loc[DECOUPLING[1].text, "outcome"] == REPRODUCED                  # untouched claims stand
    no_pb = {k: v for k, v in paper.items() if k != "cRT on PB"}
    assert judge_all(DECOUPLING, no_pb).loc[8, "outcome"] == NOT_TESTED


def test_welch_p_matches_the_interval_and_holm_adjusts():
    import numpy as np

    from ltlib.stats import holm, welch_interval, welch_p

    a, b = [80.0, 81.0, 82.5], [70.0, 72.0, 71.0]
    assert welch_p(a, b) < 0.05 and welch_interval(a, b).lo > 0
    c = [80.0, 75.0, 70.0]
    assert welch_p(c, b) > 0.05 and welch_interval(c, b).lo < 0
    assert np.isnan(welch_p([1.0], b))
    adj = holm([0.01, 0.04, np.nan, 0.03])
    assert np.allclose(adj[[0, 1, 3]], [0.03, 0.06, 0.06]) and np.isnan(adj[2])


def test_holm_turns_weak_verdicts_inconclusive():
    from ltlib import claims as cl

    s = {"A": {"acc": [90.0, 90.5, 91.0]}, "B": {"acc": [70.0, 70.5, 71.0]},        # p ~ 1e-6
         "C": {"acc": [80.0, 82.0, 84.0]}, "D": {"acc": [76.0, 77.0, 78.0]},        # p ~ 0.032
         "E": {"acc": [80.0, 81.0, 84.0]}}                                          # E vs D: p ~ 0.042
    claims = [cl.Claim("p", "w", "A beats B", a="A", b="B"), cl.Claim("p", "w", "C beats D", a="C", b="D"),
              cl.Claim("p", "w", "E beats D", a="E", b="D")]
    t = cl.with_holm(cl.judge_all(claims, s))
    assert list(t["outcome"]) == [cl.REPRODUCED] * 3
    assert (t["p"].iloc[1:] < 0.05).all() and (t["p_holm"].iloc[1:] > 0.05).all()
    assert list(t["outcome_holm"]) == [cl.REPRODUCED, cl.INCONCLUSIVE, cl.INCONCLUSIVE]
    assert "2 of the 3" in cl.holm_note(t) and "C beats D" in cl.holm_note(t) and "3 tested claims" in cl.holm_note(t)
