"""The report's first screen: which claims rest on the same runs, and the claim forest."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from ltlib import claims as cl
from ltlib import findings, plots


def test_claims_on_the_same_runs_share_a_letter_and_the_common_ce_baseline_does_not_join_them():
    cs = [cl.beats("P", "T1", "cRT beats CE", "cRT", "CE"),
          cl.beats("P", "T1", "CE+RS beats CE+CE", "CE+RS", "CE+CE"),      # cRT and CE+RS: one recipe
          cl.beats("P", "T2", "ResLT beats BBN", "ResLT", "BBN"),
          cl.beats("P", "T3", "IB→CR beats BBN", "switching", "BBN"),      # the same B runs (BBN)
          cl.beats("P", "T4", "LWS beats CE", "LWS", "CE")]                 # shares only CE: independent
    marks = findings.dependent_groups(cs, {"cRT": "f1", "CE+RS": "f1", "CE": "f0"})
    assert marks["cRT beats CE"] == marks["CE+RS beats CE+CE"]
    assert marks["ResLT beats BBN"] == marks["IB→CR beats BBN"] != marks["cRT beats CE"]
    assert "LWS beats CE" not in marks


def test_claim_forest_draws_every_claim_on_one_axis_with_the_papers_tick():
    long = pd.DataFrame([
        {"claim": "A beats B", "regime": "r1", "part": "A − B", "difference": 2.0, "ci_low": 1.0, "ci_high": 3.0,
         "paper_difference": 5.0},
        {"claim": "A beats B", "regime": "r2", "part": "A − B", "difference": -1.0, "ci_low": math.nan,
         "ci_high": math.nan, "paper_difference": 5.0},               # one seed a side: a marker, no interval
        {"claim": "C beats D", "regime": "r1", "part": "C − D", "difference": math.nan, "ci_low": math.nan,
         "ci_high": math.nan, "paper_difference": math.nan}])         # not tested: nothing drawn
    fig = plots.claim_forest(long, ["r1", "r2"], {"A beats B": "a"})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 2 and "[a]" in labels[1] and "C beats D" in labels[0]    # first claim on top
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["r1", "r2"] and "paper" in legend[2]
    plt.close(fig)


def test_a_reproduced_sign_far_from_the_papers_size_says_so():
    from ltlib import report

    assert report.size_note("reproduced", 10.3, 0.62) == "size 16.6× the paper's"
    assert report.size_note("reproduced", 8.7, 3.44) == "size 2.5× the paper's"
    assert report.size_note("reproduced", 4.0, 3.44) == ""                 # within 2× of the paper's
    assert report.size_note("contradicted", -2.0, 9.46) == ""              # the sign already says it
    assert report.size_note("reproduced", 1.0, float("nan")) == ""
