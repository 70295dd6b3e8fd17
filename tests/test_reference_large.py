"""The published large-scale numbers (ImageNet-LT, Places-LT, iNaturalist) are stored, keyed and consistent."""
from __future__ import annotations

import pytest

from ltlib.reference import LARGE_SCALE, PUBLISHED, PUBLISHED_LARGE, large_scale_tables, select, select_large


def test_every_paper_has_its_large_scale_tables():
    have = set(zip(PUBLISHED_LARGE["paper"], PUBLISHED_LARGE["table"], PUBLISHED_LARGE["dataset"]))
    for key in [("Decoupling", t, d) for t, d in (("Table 1", "imagenet_lt"), ("Table 2", "imagenet_lt"),
                                                  ("Table 3", "inat2018"), ("Table 4", "places_lt"),
                                                  ("Table 5", "imagenet_lt"), ("Table 7", "inat2018"))] + \
               [("BBN", "Table 2", "inat2018"), ("BBN", "Table 2", "inat2017"), ("ResLT", "Table 2", "imagenet_lt"),
                ("ResLT", "Table 3", "places_lt"), ("ResLT", "Table 6", "inat2018"), ("ResLT", "Table 9", "imagenet_lt"),
                ("ResLT", "Table 10", "inat2018"), ("class-reversed", "Table 2", "inat2018"),
                ("class-reversed", "Table 5", "imagenet_lt"), ("To balance", "Table 1", "places_lt"),
                ("To balance", "Table 2", "imagenet_lt")]:
        assert key in have, key
    assert all(isinstance(k, tuple) and len(k) == 7 for k in LARGE_SCALE)
    assert set(PUBLISHED_LARGE["metric"]) == {"many", "medium", "few", "acc", "error"}


def test_spot_values_and_consistency():
    assert select_large("Decoupling", "Table 3", "inat2018", "resnet152", 200)["tau-norm"] == 72.5
    assert select_large("Decoupling", "Table 2", "imagenet_lt", "resnext50")["cRT"] == 49.5
    assert select_large("BBN", "Table 2", "inat2018", "resnet50", 180, "error")["BBN"] == 30.38
    assert select_large("class-reversed", "Table 5", "imagenet_lt", "resnet50", 90)["switching"] == 47.9
    assert select_large("ResLT", "Table 3", "places_lt", "resnet152", 30, "few")["ResLT"] == 31.4
    with pytest.raises(ValueError, match="several backbones"):
        select_large("Decoupling", "Table 7", "inat2018")
    # Decoupling's Table 7 overall column is its Table 3 (bar ResNet-50 cRT at 200 epochs: 68.2 vs 67.6, as printed)
    for bb in ("resnet50", "resnet152"):
        for ep in (90, 200):
            t3 = select_large("Decoupling", "Table 3", "inat2018", bb, ep)
            t7 = select_large("Decoupling", "Table 7", "inat2018", bb, ep)
            diff = {r for r in t3.index if t3[r] != t7[r]}
            assert diff == ({"cRT"} if (bb, ep) == ("resnet50", 200) else set())
    # the To-balance rows PUBLISHED held keep their values here
    tb = PUBLISHED[PUBLISHED["paper"] == "To balance"]
    assert len(tb) == len(PUBLISHED_LARGE[(PUBLISHED_LARGE["paper"] == "To balance")
                                          & (PUBLISHED_LARGE["table"] == "Tables 1-5")])
    assert select("BBN", "Table 1", "acc", "cifar10", 100)["BBN"] == 79.82          # the CIFAR table is untouched
    assert set(large_scale_tables("places_lt")["paper"]) == {"Decoupling", "ResLT", "To balance"}
