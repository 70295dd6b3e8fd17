"""The confound settings of the quick ladder: which classes are the tail (a seeded assignment of the class sizes),
the classifier's starting weights, and precision; each a change of one RunConfig field that leaves every other
run's hash as it was."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch.nn as nn

from ltlib import ladder
from ltlib.config import RunConfig
from ltlib.data import assign_sizes, known_counts, long_tail_counts, make_long_tailed
from ltlib.heads import init_head
from ltlib.metrics import shot_groups
from ltlib.regimes import REGIMES, build_regime
from conftest import needs_fmnist


def test_a_class_order_seed_permutes_the_sizes_and_none_keeps_the_papers_order():
    counts = long_tail_counts(5000, 10, 100)
    assert assign_sizes(counts) == counts
    drawn = assign_sizes(counts, 1)
    assert sorted(drawn) == sorted(counts) and drawn != counts and drawn == assign_sizes(counts, 1)
    assert assign_sizes(counts, 2) != drawn
    groups = shot_groups(drawn)                        # head / mid / tail follow the sizes, not the labels
    assert drawn.index(max(drawn)) in groups["head"] and drawn.index(min(drawn)) in groups["tail"]


@needs_fmnist
def test_the_built_set_has_the_drawn_sizes_and_the_plan_knows_them():
    lt = make_long_tailed("fmnist", 10, 300, class_order_seed=3)
    assert list(lt.counts) == known_counts("fmnist", 10, 300, 3) == assign_sizes(long_tail_counts(300, 10, 10), 3)
    assert np.bincount(lt.train.y.numpy(), minlength=10).tolist() == list(lt.counts)


def test_kaiming_head_draws_the_classifier_and_default_leaves_it():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(512, 10)
    m = M()
    before = m.head.weight.clone()
    init_head(m, "default")
    assert m.head.weight.equal(before)
    init_head(m, "kaiming")
    assert m.head.bias.abs().max() == 0 and abs(m.head.weight.std().item() - (2 / 512) ** 0.5) < 0.005


def test_the_new_fields_change_no_hash_at_their_defaults_and_are_checked():
    base = RunConfig()
    assert base.replace(head_init="default", class_order_seed=None).run_id() == base.run_id()
    assert base.replace(head_init="kaiming").run_id() != base.run_id() != base.replace(class_order_seed=1).run_id()
    with pytest.raises(Exception, match="head_init"):
        RunConfig(head_init="xavier")


def test_confound_settings_set_one_field_over_the_profile_and_are_never_the_default_regime():
    p = {"precision": "bf16", "epochs": 10, "max_per_class": 5000, "run_fields": None}
    assert build_regime("fp32").params(p)["precision"] == "fp32"
    assert build_regime("kaiming-head").params(p)["run_fields"] == {"head_init": "kaiming"}
    assert build_regime("sizes-2").params(p)["run_fields"] == {"class_order_seed": 2}
    confounds = [r for r in REGIMES.values() if r.confound]
    assert confounds and not any(r.anchor for r in confounds)
    close = ladder_close(["quick", "fp32"])
    assert ladder.default_regime(close)[0] == "quick"
    assert ladder.default_regime(close.assign(compute=[2.0, 1.0]))[0] == "quick"   # cheaper, but a confound


def ladder_close(names: list[str]):
    import pandas as pd

    return pd.DataFrame({"CE train acc (%)": 99.0, "shortest phase (epochs)": 5, "smallest class": 50,
                         "compute": 1.0}, index=names)


def test_the_report_reads_each_confound_against_its_fp32_control():
    """From records of quick (bf16), fp32 and kaiming-head: the table, the accuracies and the sentences say what moved;
    a confound setting never enters the stability labels."""
    from ltlib.params import profile_params
    from ltlib.plans import ladder_plan
    from ltlib import findings

    regimes = ["quick", "fp32", "kaiming-head"]
    p = profile_params("quick", "80_regimes")
    plan = ladder_plan(p, regimes, 3)
    acc = {("quick", "CE"): 0.74, ("quick", "BBN"): 0.72, ("fp32", "CE"): 0.75, ("fp32", "BBN"): 0.72,
           ("kaiming-head", "CE"): 0.75, ("kaiming-head", "BBN"): 0.78}
    rows = []
    for (reg, m), a in acc.items():
        for i, cfg in enumerate(plan[reg][m][:3]):
            g = {k: a + 0.004 * (i - 1) for k in ("acc", "many", "medium", "few", "head", "mid", "tail")}
            rows.append({"regime": reg, "method": m, "seed": cfg.seed, "family": cfg.family_id(), **g})
    rows = pd.DataFrame(rows)
    long = ladder.claims_by_regime(rows, regimes, plan.info["settings"])
    lv = ladder.View(plan, rows, long, ladder.outcome_grid(long, regimes), pd.DataFrame(), None, pd.DataFrame(),
                     ladder.completeness(plan, rows), {})
    assert findings.confound_regimes(lv) == ["fp32", "kaiming-head"] and lv.rungs == ["quick"]
    table = findings.confound_table(lv)
    assert list(table.columns) == regimes and "BBN beats plain cross-entropy (CE)" in table.index
    assert "+3.0" in table.loc["BBN beats plain cross-entropy (CE)", "kaiming-head"]
    assert findings.confound_accuracy(lv).loc["BBN", "kaiming-head"].startswith("78.0")
    text = " ".join(findings.confound_sentences(lv))
    assert "Precision" in text and "Classifier initialisation" in text and "BBN +6.0" in text
    assert ladder.judged_regimes(long, regimes) == ["quick"]



