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
