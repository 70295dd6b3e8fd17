"""Every published number the study compares with, in one long table keyed by paper, table, dataset and ratio.

Top-1 accuracy (%) unless the metric says otherwise ("error" %, "bias2", "variance", "irregularity", ...).
Rows are named with the study's registry keys where there is one (CE, LDAM-DRW, cRT, BBN, ResLT, switching,
...). The notebooks show these beside their own numbers; results tables are built from runs, never from here.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

C10, C100 = "cifar10", "cifar100"
SETTINGS = [(C10, 100), (C10, 50), (C10, 10), (C100, 100), (C100, 50), (C100, 10)]
COLUMNS = SETTINGS                                     # (dataset, imbalance ratio) of the CIFAR-LT benchmarks

_RECORDS: list[tuple[str, str, Optional[str], Optional[int], str, str, float]] = []


def _six(paper: str, table: str, row: str, values: list[float], metric: str = "acc") -> None:
    for (ds, ir), v in zip(SETTINGS, values):
        _RECORDS.append((paper, table, ds, ir, row, metric, v))


def _one(paper: str, table: str, dataset: Optional[str], ir: Optional[int], values: dict, metric: str) -> None:
    for row, v in values.items():
        _RECORDS.append((paper, table, dataset, ir, str(row), metric, v))


# --- main CIFAR-LT benchmark (ResNet-32, 200 epochs): BBN Table 1, ResLT Table 5, class-reversed Table 1
for _row, _v in {"CE": [70.36, 74.81, 86.39, 38.32, 43.85, 55.71], "Focal": [70.38, 76.72, 86.66, 38.41, 44.32, 55.78],
                 "CE-DRW": [76.34, 79.97, 87.56, 41.51, 45.29, 58.12], "CE-DRS": [75.61, 79.81, 87.38, 41.61, 45.48, 58.11],
                 "CB-Focal": [74.57, 79.27, 87.10, 39.60, 45.17, 57.99],
                 "LDAM-DRW": [77.03, 81.03, 88.16, 42.04, 46.62, 58.71],
                 "BBN": [79.82, 82.18, 88.32, 42.56, 47.02, 59.12]}.items():
    _six("BBN", "Table 1", _row, _v)
# BBN Table 1's mixup rows, given there as error % (accuracy = 100 − error), on the same ResNet-32 CIFAR-LT benchmark
for _row, _err in {"Mixup": [26.94, 22.18, 12.90, 60.46, 55.01, 41.98],
                   "Manifold Mixup": [27.04, 22.05, 12.97, 61.75, 56.91, 43.45],
                   "Manifold Mixup (two samplers)": [26.90, 20.79, 13.17, 63.19, 57.95, 43.54]}.items():
    _six("BBN", "Table 1", _row, [round(100.0 - e, 2) for e in _err])
_six("ResLT", "Table 5", "ResLT", [80.44, 83.46, 89.06, 45.34, 49.98, 60.79])
_six("class-reversed", "Table 1", "cRT", [73.8, 80.7, 86.7, 40.1, 46.4, 57.7])
_six("class-reversed", "Table 1", "LWS", [73.5, 77.5, 86.1, 40.2, 45.7, 58.1])
_six("class-reversed", "Table 1", "switching", [79.7, 82.9, 88.4, 44.7, 49.5, 59.5])

# --- BBN ablations (error %): Table 3 sampler and Table 4 adaptor on CIFAR-10 IR50, Table 5 features on C100 IR50
_one("BBN", "Table 3", C10, 50, {"uniform": 21.31, "balanced": 21.06, "reversed": 17.82}, "error")
_one("BBN", "Table 4", C10, 50, {"equal": 21.56, "beta": 21.75, "parabolic_increment": 22.70, "linear_decay": 18.55,
                                 "cosine_decay": 18.04, "parabolic_decay": 17.82}, "error")
_one("BBN", "Table 5", C100, 50, {"CE": 58.62, "RW": 63.17, "RS": 63.71, "BBN-CB": 58.89, "BBN-RB": 61.09}, "error")

# --- ResLT Table 1 (CIFAR-10-LT IR50): naive fusion; head / medium / tail / overall accuracy
for _row, (_h, _m, _t, _a) in {"CE": (97.10, 83.10, 70.01, 78.50), "Baseline-1 (max)": (97.30, 76.65, 45.20, 61.91),
                               "Baseline-2 (sum)": (97.40, 80.40, 41.05, 62.20),
                               "Baseline-3 (softmax sum)": (91.65, 60.90, 63.63, 68.69),
                               "ResLT": (95.70, 75.95, 81.45, 83.46)}.items():
    _one("ResLT", "Table 1", C10, 50, {_row: _h}, "head")
    _one("ResLT", "Table 1", C10, 50, {_row: _m}, "medium")
    _one("ResLT", "Table 1", C10, 50, {_row: _t}, "tail")
    _one("ResLT", "Table 1", C10, 50, {_row: _a}, "acc")
# ResLT Table 4 (IR100): number of groups
_one("ResLT", "Table 4", C10, 100, {2: 78.83, 3: 80.44, 4: 80.80, 5: 80.44}, "acc")
_one("ResLT", "Table 4", C100, 100, {2: 45.11, 3: 45.34, 4: 45.34, 5: 45.14}, "acc")

# --- To balance or not (ImageNet-LT ResNet-10, Places-LT ResNet-50): many / medium / few / overall
for _ds, _rows in {"ImageNet-LT ResNet-10": {
        "RRS-only": (53.4, 23.5, 4.3, 32.4), "CBS-only": (35.4, 31.5, 18.6, 31.2), "ftRRS+CBS": (48.3, 35.2, 16.4, 37.6),
        "CBS+RRS": (51.0, 38.5, 21.0, 40.9), "CBS+RRS+SS": (52.4, 39.5, 21.0, 41.9),
        "CBS+RRS+rot-aug": (50.5, 39.1, 22.1, 41.0), "CBS:RRS 1:1": (49.4, 37.7, 19.8, 39.6),
        "CBS:RRS 1:0.5": (46.0, 35.5, 17.8, 37.0)},
        "Places-LT ResNet-50": {
        "RRS-only": (39.1, 12.0, 0.3, 19.3), "CBS-only": (32.1, 22.9, 4.6, 22.4), "ftRRS+CBS": (29.3, 27.6, 10.3, 24.6),
        "CBS+RRS": (35.6, 29.3, 11.3, 27.8), "CBS+RRS+SS": (35.8, 31.0, 12.7, 28.9),
        "CBS+RRS+rot-aug": (35.3, 28.2, 11.4, 27.2), "CBS:RRS 1:1": (37.8, 27.6, 7.8, 27.1),
        "CBS:RRS 1:0.5": (34.9, 26.9, 6.9, 25.6)}}.items():
    for _row, _vals in _rows.items():
        for _metric, _v in zip(("many", "medium", "few", "acc"), _vals):
            _one("To balance", "Tables 1-5", _ds, None, {_row: _v}, _metric)

# --- class-reversed sampling: Table 6 (S sweep, IR50), Table 7 (progressive, C10 IR50), Table 9 (sampler grid),
# Table 11 (joint vs decoupled, C10 IR50), Table 12 (features, C10 IR50), Table 13 (bias² / variance, C10 IR50),
# Table 8 (irregularity, CE, C10 IR50)
_one("class-reversed", "Table 6", C10, 50, {0: 82.6, 1: 82.9, 5: 82.9, 10: 82.8, 50: 82.6}, "acc")
_one("class-reversed", "Table 6", C100, 50, {0: 49.7, 1: 49.5, 5: 49.3, 10: 49.1, 50: 49.1}, "acc")
_one("class-reversed", "Table 7", C10, 50, {"IB→CR": 82.9, "IB→CB(5)→CR": 82.7, "IB→CR(5)→CB": 79.2}, "acc")
for _pair, _v in {("ib", "ib"): [73.1, 77.9, 86.4, 40.7, 44.9, 57.2], ("ib", "cb"): [77.1, 81.9, 87.9, 44.2, 48.7, 59.2],
                  ("ib", "cr"): [79.7, 82.9, 88.4, 44.7, 49.5, 59.5], ("cb", "ib"): [66.5, 73.8, 86.7, 33.3, 37.1, 55.0],
                  ("cb", "cb"): [73.0, 78.5, 87.3, 36.2, 40.3, 56.9], ("cb", "cr"): [74.8, 80.7, 87.9, 38.6, 42.4, 57.8],
                  ("cr", "ib"): [63.8, 74.8, 85.2, 24.7, 28.7, 51.3], ("cr", "cb"): [64.2, 72.7, 86.3, 24.7, 29.2, 52.5],
                  ("cr", "cr"): [68.4, 76.3, 86.8, 22.9, 28.0, 53.2]}.items():
    _six("class-reversed", "Table 9", f"{_pair[0]}→{_pair[1]}", _v)
_one("class-reversed", "Table 11", C10, 50, {
    "ib/fixed/continued": 76.3, "ib/joint/continued": 77.9, "ib/fixed/retrained": 77.7, "ib/joint/retrained": 78.9,
    "cb/fixed/continued": 81.9, "cb/joint/continued": 81.9, "cb/fixed/retrained": 81.8, "cb/joint/retrained": 81.9,
    "cr/fixed/continued": 81.4, "cr/joint/continued": 82.9, "cr/fixed/retrained": 81.6, "cr/joint/retrained": 82.4},
    "acc")
_one("class-reversed", "Table 12", C10, 50, {"standard/ib": 77.7, "standard/cb": 80.7, "standard/cr": 82.2,
                                            "switching/ib": 77.0, "switching/cb": 81.4, "switching/cr": 82.6}, "acc")
_one("class-reversed", "Table 13", C10, 50, {"CE": 0.049, "BBN": 0.032, "switching": 0.029}, "bias2")
_one("class-reversed", "Table 13", C10, 50, {"CE": 0.168, "BBN": 0.146, "switching": 0.142}, "variance")
_TABLE8 = {0: (5000, 85.7341, 0.0171), 1: (3237, 44.3574, 0.0137), 2: (2096, 296.3582, 0.1414),
           3: (1357, 397.6501, 0.2930), 4: (878, 267.5524, 0.3047), 5: (568, 447.2937, 0.7875),
           6: (368, 253.5138, 0.6889), 7: (238, 355.5270, 1.4938), 8: (154, 279.5059, 1.8150), 9: (100, 363.4100, 3.6341)}
for _c, (_n, _f, _i) in _TABLE8.items():
    _one("class-reversed", "Table 8", C10, 50, {_c: _n}, "n")
    _one("class-reversed", "Table 8", C10, 50, {_c: _f}, "fnorm")
    _one("class-reversed", "Table 8", C10, 50, {_c: _i}, "irregularity")
_one("class-reversed", "Table 8", C10, 50, {"CE": -0.6112}, "pearson_irregularity_n")
# Table 10 (C10 IR50): sampling weights of the switching stage by class cardinality (CR) or class irregularity
_one("class-reversed", "Table 10", C10, 50, {"cardinality": 82.9, "irregularity": 82.8}, "acc")

PUBLISHED = pd.DataFrame(_RECORDS, columns=["paper", "table", "dataset", "imbalance_ratio", "row", "metric", "value"])

# What BBN Fig. 2 claims (its 3x3 grid is given only as a picture, no numbers in the text).
BBN_FIG2_CLAIM = ("With the representation fixed, classifiers retrained with RW/RS have lower error than CE; "
                  "with the classifier fixed, the CE representation has lower error than RW/RS (CIFAR-100-IR50 and "
                  "CIFAR-10-IR50). Lowest on CIFAR-100-IR50: CE representation + RS classifier.")
# Where each main-benchmark row comes from (the report cites it).
MAIN_SOURCE = {row: (paper, table) for paper, table, row in
               PUBLISHED[PUBLISHED["table"].isin(["Table 1", "Table 5"]) & PUBLISHED["paper"].isin(
                   ["BBN", "ResLT", "class-reversed"]) & (PUBLISHED["dataset"] == C10) & (PUBLISHED["metric"] == "acc")
                   & (PUBLISHED["imbalance_ratio"] == 100)][["paper", "table", "row"]].itertuples(index=False)}


def select(paper: str, table: str, metric: str = "acc", dataset: Optional[str] = None,
           imbalance_ratio: Optional[float] = None) -> pd.Series:
    """row -> value of one published table (one dataset / ratio where the table has several)."""
    t = PUBLISHED[(PUBLISHED["paper"] == paper) & (PUBLISHED["table"] == table) & (PUBLISHED["metric"] == metric)]
    if dataset is not None:
        t = t[t["dataset"] == dataset]
    if imbalance_ratio is not None:
        t = t[t["imbalance_ratio"] == int(imbalance_ratio)]
    return t.drop_duplicates("row").set_index("row")["value"]


def published_acc(method: str, dataset: str, imbalance_ratio: float) -> Optional[float]:
    """The main-benchmark top-1 accuracy (%) of a method (registry key), or None where the papers report none."""
    if method not in MAIN_SOURCE or (dataset, int(imbalance_ratio)) not in SETTINGS:
        return None
    paper, table = MAIN_SOURCE[method]
    return float(select(paper, table, "acc", dataset, imbalance_ratio)[method])


def published() -> pd.DataFrame:
    """The main CIFAR-LT benchmark as a table: rows methods, columns (dataset, IR), plus the source."""
    df = pd.DataFrame({m: [published_acc(m, d, r) for d, r in SETTINGS] for m in MAIN_SOURCE},
                      index=pd.MultiIndex.from_tuples(SETTINGS)).T
    df["source"] = [" ".join(MAIN_SOURCE[m]) for m in df.index]
    return df


# An independent reproduction's CIFAR-LT IR100 top-1 (Zhang et al., "Bag of Tricks for Long-Tailed Visual
# Recognition with Deep Convolutional Neural Networks", AAAI 2021, trick gallery; ResNet-32, 200 epochs): a second
# ordering beside the papers' own (registry keys; its tau-norm and input-mixup rows have no recipe here).
INDEPENDENT: dict[tuple[str, int], dict[str, float]] = {
    (C10, 100): {"CE": 69.88, "Focal": 69.12, "CB-Focal": 73.17, "CE-DRW": 73.34, "LDAM-DRW": 75.39, "CE-DRS": 72.92},
    (C100, 100): {"CE": 38.24, "Focal": 37.41, "CB-Focal": 37.89, "CE-DRW": 40.64, "LDAM-DRW": 40.92,
                  "CE-DRS": 41.34},
}
INDEPENDENT_SOURCE = "Bag of Tricks (Zhang et al., AAAI 2021)"


# ------------------------------------------------------------------------------ large-scale published numbers
# ImageNet-LT, Places-LT and iNaturalist 2017/2018 as the papers print them (top-1 %; BBN's are error % as given),
# keyed (paper, table, dataset, backbone, epochs, row, metric) -> value. `epochs` is the representation run's length
# where the table states it (None: not stated, or copied from another paper); rows keep each paper's own names, with
# the study's keys where there is one (CE for Decoupling's "Joint", tau-norm for "τ-normalized", switching for "Ours").
IN, PL, IN17, IN18 = "imagenet_lt", "places_lt", "inat2017", "inat2018"
GROUP_METRICS = ("many", "medium", "few", "acc")
LARGE_SCALE: dict[tuple[str, str, str, str, Optional[int], str, str], float] = {}


def _mmfa(paper: str, table: str, dataset: str, backbone: str, epochs: Optional[int],
          rows: dict[str, tuple[float, ...]]) -> None:
    """Rows of many / medium / few / overall top-1 (%)."""
    for row, vals in rows.items():
        for metric, v in zip(GROUP_METRICS, vals):
            LARGE_SCALE[(paper, table, dataset, backbone, epochs, row, metric)] = v


def _overall(paper: str, table: str, dataset: str, backbone: str, epochs: Optional[int], rows: dict[str, float],
             metric: str = "acc") -> None:
    """Rows of one number each (overall top-1 %, or error % with metric='error')."""
    for row, v in rows.items():
        LARGE_SCALE[(paper, table, dataset, backbone, epochs, row, metric)] = v


# Decoupling (Kang et al., ICLR 2020). Table 1: which parts are retrained (ResNeXt-50, ImageNet-LT).
_mmfa("Decoupling", "Table 1", IN, "resnext50", 90, {"B+C": (55.4, 45.3, 24.5, 46.3), "B+C (0.1x lr)": (61.9, 45.6, 22.8, 48.8),
                                                     "LB+C": (61.4, 45.8, 24.5, 48.9), "C": (61.5, 46.2, 27.0, 49.5)})
# Table 2: ImageNet-LT overall by backbone († copied from OLTR; OLTR* the authors' code; OLTR** with this representation)
_overall("Decoupling", "Table 2", IN, "resnet10", 90, {
    "FSLwF": 28.4, "Focal": 30.5, "Range Loss": 30.7, "Lifted Loss": 30.8, "OLTR": 35.6, "OLTR*": 34.1, "OLTR**": 37.3,
    "CE": 34.8, "NCM": 35.5, "cRT": 41.8, "tau-norm": 40.6})
_overall("Decoupling", "Table 2", IN, "resnext50", 90, {"OLTR*": 37.7, "OLTR**": 46.3, "CE": 44.4, "NCM": 47.3,
                                                        "cRT": 49.5, "tau-norm": 49.4})
_overall("Decoupling", "Table 2", IN, "resnext152", 90, {"OLTR*": 24.8, "OLTR**": 50.3, "CE": 47.8, "NCM": 51.3,
                                                         "cRT": 52.4, "tau-norm": 52.8})
# Table 3: iNaturalist 2018 overall, 90 / 200 epochs († copied from LDAM, Cao et al. 2019: epochs not stated)
_overall("Decoupling", "Table 3", IN18, "resnet50", None, {"CB-Focal": 61.1, "LDAM": 64.6, "LDAM-DRW": 68.0})
for _ep, _i in ((90, 0), (200, 1)):
    _overall("Decoupling", "Table 3", IN18, "resnet50", _ep, {k: v[_i] for k, v in {
        "CE": (61.7, 65.8), "NCM": (58.2, 63.1), "cRT": (65.2, 67.6), "tau-norm": (65.6, 69.3)}.items()})
    _overall("Decoupling", "Table 3", IN18, "resnet152", _ep, {k: v[_i] for k, v in {
        "CE": (65.0, 69.0), "NCM": (61.9, 67.3), "cRT": (68.5, 71.2), "tau-norm": (68.8, 72.5)}.items()})
# Table 4: Places-LT, an ImageNet-pretrained ResNet-152 fine-tuned († copied from OLTR)
_mmfa("Decoupling", "Table 4", PL, "resnet152", 30, {
    "Lifted Loss": (41.1, 35.4, 24.0, 35.2), "Focal": (41.1, 34.8, 22.4, 34.6), "Range Loss": (41.1, 35.4, 23.2, 35.1),
    "FSLwF": (43.9, 29.9, 29.5, 34.9), "OLTR": (44.7, 37.0, 25.3, 35.9), "CE": (45.7, 27.3, 8.2, 30.2),
    "NCM": (40.4, 37.1, 27.3, 36.4), "cRT": (42.0, 37.6, 24.9, 36.7), "tau-norm": (37.8, 40.7, 31.8, 37.9)})
# Table 5: joint training with each sampler (ResNeXt-50, ImageNet-LT)
_mmfa("Decoupling", "Table 5", IN, "resnext50", 90, {"IB": (65.9, 37.5, 7.7, 44.4), "CB": (61.8, 40.1, 15.5, 45.1),
                                                     "sqrt": (64.3, 41.2, 17.0, 46.8), "PB": (61.9, 43.2, 19.4, 47.2)})
# Table 7: iNaturalist 2018 by backbone and epochs (its ResNet-50 cRT at 200 epochs, 68.2, differs from Table 3's 67.6)
for _bb, _rows in {"resnet50": {"CE": (72.2, 63.0, 57.2, 61.7, 75.7, 66.9, 61.7, 65.8),
                                "NCM": (55.5, 57.9, 59.3, 58.2, 61.0, 63.5, 63.3, 63.1),
                                "cRT": (69.0, 66.0, 63.2, 65.2, 73.2, 68.8, 66.1, 68.2),
                                "tau-norm": (65.6, 65.3, 65.9, 65.6, 71.1, 68.9, 69.3, 69.3)},
                   "resnet101": {"CE": (75.9, 66.0, 59.9, 64.6, 75.5, 68.9, 63.2, 67.3),
                                 "NCM": (58.6, 61.9, 61.8, 61.5, 63.7, 65.7, 65.3, 65.3),
                                 "cRT": (73.0, 68.9, 65.7, 68.1, 73.9, 70.4, 67.8, 69.7),
                                 "tau-norm": (69.7, 68.3, 68.3, 68.5, 68.6, 70.6, 72.2, 71.0)},
                   "resnet152": {"CE": (75.2, 66.3, 60.7, 65.0, 78.2, 70.6, 64.7, 69.0),
                                 "NCM": (59.3, 61.9, 62.6, 61.9, 66.3, 67.5, 67.2, 67.3),
                                 "cRT": (73.6, 69.3, 66.3, 68.5, 75.9, 71.9, 69.1, 71.2),
                                 "tau-norm": (69.8, 68.5, 68.9, 68.8, 74.3, 72.3, 72.2, 72.5)}}.items():
    _mmfa("Decoupling", "Table 7", IN18, _bb, 90, {k: v[:4] for k, v in _rows.items()})
    _mmfa("Decoupling", "Table 7", IN18, _bb, 200, {k: v[4:] for k, v in _rows.items()})

# BBN (Zhou et al., CVPR 2020) Table 2: top-1 error % of ResNet-50; 1x: 90 epochs, 2x: 180 (LDAM-DRW*: LDAM's own)
for _ds, _i in ((IN18, 0), (IN17, 1)):
    _overall("BBN", "Table 2", _ds, "resnet50", 90, {k: v[_i] for k, v in {
        "CE": (42.84, 45.38), "CE-DRW": (36.27, 40.48), "CE-DRS": (36.44, 40.12), "CB-Focal": (38.88, 41.92),
        "LDAM-DRW": (35.42, 39.49), "BBN": (33.71, 36.61)}.items()}, "error")
    _overall("BBN", "Table 2", _ds, "resnet50", 180, {k: v[_i] for k, v in {
        "LDAM-DRW": (33.88, 38.19), "BBN": (30.38, 34.25)}.items()}, "error")
_overall("BBN", "Table 2", IN18, "resnet50", None, {"LDAM-DRW*": 32.00}, "error")

# ResLT (Cui et al.). Table 2: ImageNet-LT ResNeXt-50, 180 epochs († copied; § mixup + autoaugment)
_mmfa("ResLT", "Table 2", IN, "resnext50", 180, {
    "CE": (67.6, 42.8, 13.4, 47.6), "Mixup": (67.3, 41.0, 11.1, 46.3), "Lifted Loss": (41.1, 35.4, 24.0, 35.2),
    "Focal": (41.1, 34.8, 22.4, 34.6), "Range Loss": (41.1, 35.4, 23.2, 35.1), "tau-norm": (60.9, 49.2, 36.8, 51.5),
    "cRT": (63.7, 47.6, 28.3, 50.7), "LWS": (63.3, 48.4, 32.0, 51.5), "ResLT": (63.0, 50.5, 35.5, 52.9),
    "ResLT §": (63.6, 55.7, 38.9, 56.1)})
# Table 3: Places-LT, ImageNet-pretrained ResNet-152 fine-tuned 30 epochs († copied; § cutmix-pretrained)
_mmfa("ResLT", "Table 3", PL, "resnet152", 30, {
    "CE": (45.7, 27.3, 8.2, 30.2), "Lifted Loss": (41.1, 35.4, 24.0, 35.2), "Focal": (41.1, 34.8, 22.4, 34.6),
    "Range Loss": (41.1, 35.4, 23.2, 35.1), "tau-norm": (37.8, 40.7, 31.8, 37.9), "OLTR": (44.7, 37.0, 25.3, 35.9),
    "LFME": (39.3, 39.6, 24.2, 36.2), "NCM": (40.4, 37.1, 27.3, 36.4), "cRT": (42.0, 37.6, 24.9, 36.7),
    "LWS": (40.6, 39.1, 28.6, 37.6), "ResLT": (39.8, 43.6, 31.4, 39.8), "ResLT §": (40.3, 44.4, 34.7, 41.0)})
# Table 6: iNaturalist 2018 ResNet-50, 200 epochs († copied; * 360 epochs of data; § mixup + ImageNet-pretrained)
_overall("ResLT", "Table 6", IN18, "resnet50", 200, {
    "CB-Focal": 61.1, "LDAM": 64.6, "CE": 65.8, "BBN": 69.6, "tau-norm": 69.3, "LDAM-DRW": 68.0, "cRT": 67.6,
    "LWS": 69.5, "ResLT": 70.2, "ResLT *": 70.5, "LWS §": 71.4, "ResLT §": 72.3})
# Table 7: ImageNet-LT ResNet-10 (supplement)
_mmfa("ResLT", "Table 7", IN, "resnet10", 180, {
    "FSLwF": (40.9, 22.1, 15.0, 28.4), "Focal": (36.4, 29.9, 16.0, 30.5), "Range Loss": (35.8, 30.3, 17.6, 30.7),
    "Lifted Loss": (35.8, 30.4, 17.9, 30.8), "SEQL": (49.4, 32.2, 14.5, 36.4), "tau-norm": (50.4, 42.1, 26.7, 42.7),
    "LFME": (47.0, 37.9, 19.2, 38.8), "OLTR": (43.2, 35.1, 18.5, 35.6), "cRT": (53.8, 41.3, 25.4, 43.2),
    "LWS": (51.8, 41.6, 27.6, 43.0), "ResLT": (52.3, 41.6, 29.5, 43.8)})
# Table 9: ImageNet-LT by backbone, 180 epochs (its ResNeXt-101 cRT row repeats Decoupling's iNat ResNet-50 numbers,
# 69.0 / 66.0 / 63.2 / 65.2: stored as printed)
for _bb, _rows in {"resnet10": {"CE": (59.7, 29.4, 5.7, 37.3), "cRT": (53.8, 41.3, 25.4, 43.2),
                                "tau-norm": (50.4, 42.1, 26.7, 42.7), "LWS": (51.8, 41.6, 27.6, 43.0),
                                "ResLT": (52.3, 41.6, 29.5, 43.8)},
                   "resnext50": {"CE": (66.8, 42.0, 14.0, 47.0), "cRT": (63.7, 47.6, 28.3, 50.6),
                                 "tau-norm": (62.3, 48.9, 33.7, 51.5), "LWS": (63.3, 48.4, 32.0, 51.5),
                                 "ResLT": (63.0, 50.5, 35.5, 52.9)},
                   "resnext101": {"CE": (69.6, 44.6, 15.6, 49.6), "cRT": (69.0, 66.0, 63.2, 65.2),
                                  "tau-norm": (65.3, 51.5, 35.2, 53.9), "LWS": (65.7, 51.4, 34.7, 54.0),
                                  "ResLT": (63.3, 53.3, 40.3, 55.1)}}.items():
    _mmfa("ResLT", "Table 9", IN, _bb, 180, _rows)
# Table 10: iNaturalist 2018, 200 epochs (§: mixup + ImageNet-pretrained ResNet-50)
_mmfa("ResLT", "Table 10", IN18, "resnet50", 200, {
    "CE": (75.7, 66.9, 61.7, 65.8), "cRT": (73.2, 68.8, 66.1, 68.2), "tau-norm": (71.1, 68.9, 69.3, 69.3),
    "LWS": (71.0, 69.8, 68.8, 69.5), "ResLT": (68.5, 69.9, 70.4, 70.2)})
_mmfa("ResLT", "Table 10", IN18, "resnet152", 200, {
    "CE": (78.2, 70.6, 64.7, 69.0), "cRT": (75.9, 71.9, 69.1, 71.2), "tau-norm": (74.3, 72.3, 72.2, 72.5),
    "LWS": (74.3, 72.4, 71.2, 72.1), "ResLT": (72.4, 73.3, 72.9, 73.2)})
_mmfa("ResLT", "Table 10", IN18, "resnet50 §", 200, {
    "CE": (78.3, 69.5, 63.7, 67.8), "tau-norm": (71.6, 70.8, 71.1, 71.0), "LWS": (73.4, 72.5, 70.2, 71.4),
    "ResLT": (71.7, 72.5, 72.1, 72.3)})

# Class-reversed switching (ICLR 2021 submission). Table 2: iNaturalist 2018 ResNet-50, 90 / 200 epochs
# († copied; "Ours" S = 1 at both lengths, S = 10 at 90 and S = 40 at 200 epochs)
_overall("class-reversed", "Table 2", IN18, "resnet50", None, {
    "CE": 57.2, "CE-DRW": 63.7, "CE-DRS": 63.6, "CB-Focal": 61.1, "LDAM-DRW": 68.0})
for _ep, _i in ((90, 0), (200, 1)):
    _overall("class-reversed", "Table 2", IN18, "resnet50", _ep, {k: v[_i] for k, v in {
        "cRT": (65.2, 67.6), "LWS": (65.9, 69.5), "BBN": (66.3, 69.6), "switching": (66.7, 70.4)}.items()})
_overall("class-reversed", "Table 2", IN18, "resnet50", 90, {"switching (S=10)": 66.8})
_overall("class-reversed", "Table 2", IN18, "resnet50", 200, {"switching (S=40)": 70.0})
# Table 5 (Table 3's overall column with the groups): ImageNet-LT, 90 epochs (S = 10: 100); BBN from its code
for _bb, _rows in {"resnet50": {"CE": (64.0, 33.8, 5.8, 41.6), "cRT": (58.8, 44.0, 26.1, 47.3),
                                "LWS": (57.1, 45.2, 29.3, 47.7), "BBN": (56.2, 46.6, 14.1, 45.9),
                                "switching": (53.5, 45.2, 41.8, 47.9), "switching (S=10)": (54.5, 45.0, 41.9, 48.2)},
                   "resnext50": {"CE": (65.9, 37.5, 7.7, 44.4), "cRT": (61.8, 46.2, 27.4, 49.5),
                                 "LWS": (60.2, 47.2, 30.3, 49.9), "BBN": (58.1, 47.2, 15.6, 47.1),
                                 "switching": (55.2, 46.7, 39.0, 49.2),
                                 "switching (S=10)": (56.5, 46.1, 39.4, 49.3)}}.items():
    _mmfa("class-reversed", "Table 5", IN, _bb, 90, _rows)
_overall("class-reversed", "Table 3", IN, "resnext50", None, {"OLTR": 37.7})

# To balance or not (Zhang et al. 2019): Tables 3-5 (ImageNet-LT ResNet-10, Places-LT ResNet-50) as PUBLISHED holds them
for _p, _t, _ds, _ir, _row, _metric, _v in _RECORDS:
    if _p == "To balance":
        _ds_key, _bb = (IN, "resnet10") if _ds.startswith("ImageNet-LT") else (PL, "resnet50")
        LARGE_SCALE[(_p, _t, _ds_key, _bb, None, _row, _metric)] = _v

# Table 1: ImageNet-LT ResNet-10 from scratch, Places-LT ImageNet-pretrained ResNet-152 (MemoryNet = OLTR; * re-run
# with the authors' code and this paper's schedule); Table 2: ResNet-50 from scratch on both
_TB1 = {"Lifted Loss": ((35.8, 30.4, 17.9, 30.8), (41.1, 35.4, 24.0, 35.2)),
        "Focal": ((36.4, 29.9, 16.0, 30.5), (41.1, 34.8, 22.4, 34.6)),
        "Range Loss": ((35.8, 30.3, 17.6, 30.7), (41.1, 35.4, 23.2, 35.1)),
        "Cost-Sensitive": ((37.2, 30.9, 15.9, 31.2), (38.8, 36.9, 20.9, 34.2)),
        "FSLwF": ((40.9, 22.1, 15.0, 28.4), (43.9, 29.9, 29.5, 34.9)),
        "OLTR": ((43.2, 35.1, 18.5, 35.6), (44.7, 37.0, 25.3, 35.9)),
        "OLTR*": ((47.9, 37.0, 16.6, 38.3), (44.4, 39.3, 27.3, 38.6)),
        "RRS-only": ((53.4, 23.5, 4.3, 32.4), (47.4, 27.1, 10.5, 31.0)),
        "CBS-only": ((35.4, 31.5, 18.6, 31.2), (46.9, 34.9, 18.1, 35.7)),
        "CBS+RRS": ((51.0, 38.5, 21.0, 40.9), (42.5, 40.3, 32.2, 39.4)),
        "CBS+RRS+SS": ((52.4, 39.5, 21.0, 41.9), (42.5, 40.6, 32.6, 39.6))}
_mmfa("To balance", "Table 1", IN, "resnet10", None, {k: v[0] for k, v in _TB1.items()})
_mmfa("To balance", "Table 1", PL, "resnet152", None, {k: v[1] for k, v in _TB1.items()})
_TB2 = {"Triplet Loss": ((48.3, 39.5, 19.3, 40.0), (30.4, 27.8, 6.8, 24.3)),
        "Focal": ((49.0, 39.2, 19.1, 40.1), (26.2, 22.8, 6.2, 20.5)),
        "Proxy Loss": ((49.0, 38.9, 17.7, 39.8), (30.3, 24.4, 4.8, 22.4)),
        "Cost-Sensitive": ((48.0, 38.8, 19.6, 39.6), (27.1, 26.4, 16.9, 24.6)),
        "OLTR*": ((56.6, 39.3, 16.4, 42.7), (34.1, 26.2, 8.2, 25.3)),
        "RRS-only": ((61.3, 32.2, 7.2, 39.9), (39.1, 12.0, 0.3, 19.3)),
        "CBS-only": ((51.1, 38.2, 16.7, 40.1), (32.1, 22.9, 4.6, 22.4)),
        "CBS+RRS": ((59.0, 43.5, 22.8, 46.5), (35.6, 29.3, 11.3, 27.8)),
        "CBS+RRS+SS": ((60.2, 44.0, 23.1, 47.3), (35.8, 31.0, 12.7, 28.9))}
_mmfa("To balance", "Table 2", IN, "resnet50", None, {k: v[0] for k, v in _TB2.items()})
_mmfa("To balance", "Table 2", PL, "resnet50", None, {k: v[1] for k, v in _TB2.items()})

PUBLISHED_LARGE = pd.DataFrame([(*k, v) for k, v in LARGE_SCALE.items()],
                               columns=["paper", "table", "dataset", "backbone", "epochs", "row", "metric", "value"])


def select_large(paper: str, table: str, dataset: str, backbone: Optional[str] = None, epochs: Optional[int] = None,
                 metric: str = "acc") -> pd.Series:
    """row -> value of one published large-scale table (one backbone / length where it has several)."""
    t = PUBLISHED_LARGE[(PUBLISHED_LARGE["paper"] == paper) & (PUBLISHED_LARGE["table"] == table)
                        & (PUBLISHED_LARGE["dataset"] == dataset) & (PUBLISHED_LARGE["metric"] == metric)]
    if backbone is not None:
        t = t[t["backbone"] == backbone]
    if epochs is not None:
        t = t[t["epochs"] == epochs]
    if t.duplicated("row").any():
        raise ValueError(f"{paper} {table} on {dataset} has several backbones / lengths: name backbone and epochs")
    return t.set_index("row")["value"]


def large_scale_tables(dataset: str) -> pd.DataFrame:
    """The published tables on one large-scale dataset: paper, table, backbones, lengths and number of rows."""
    t = PUBLISHED_LARGE[PUBLISHED_LARGE["dataset"] == dataset]
    return (t.groupby(["paper", "table"]).agg(backbones=("backbone", lambda s: ", ".join(sorted(set(s)))),
                                                epochs=("epochs", lambda s: ", ".join(str(int(e)) for e in
                                                                                     sorted(set(s.dropna())))),
                                                rows=("row", "nunique")).reset_index())
