"""The engine against the minimal loops of ltlib.minimal: the same recipe over the same seeds, compared with Welch
intervals, overall, per class and per swapped part. The minimal loops' results are small JSON files kept in git
(outputs/checks/); the engine's are run records."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ltlib.paths import OUTPUTS
from ltlib.runs import Run
from ltlib.stats import fmt_mean_std, welch_interval

CHECKS = OUTPUTS / "checks"


def load_minimal(name: str, folder: Path = CHECKS) -> list[dict[str, Any]]:
    """The runs of one minimal-loop result file (outputs/checks/<name>.json); [] when it is not there."""
    f = folder / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else []


def _accs(minimal: list[dict[str, Any]], key: str = "acc") -> list[float]:
    return [100 * r[key] for r in minimal if key in r]


def compare(rows: dict[str, tuple[list[float], list[float]]]) -> pd.DataFrame:
    """name -> (a values, b values) in %: mean ± std of each, A − B and its 95 % Welch interval, seeds."""
    out = []
    for name, (a, b) in rows.items():
        iv = welch_interval(a, b)
        out.append({"comparison": name, "A": fmt_mean_std(np.mean(a), np.std(a, ddof=1) if len(a) > 1 else None,
                                                           len(a)),
                    "B": fmt_mean_std(np.mean(b), np.std(b, ddof=1) if len(b) > 1 else None, len(b)),
                    "A − B": round(iv.diff, 2), "95 % interval": f"[{iv.lo:+.2f}, {iv.hi:+.2f}]",
                    "beyond noise": bool(iv.lo > 0 or iv.hi < 0)})
    return pd.DataFrame(out).set_index("comparison")


def engine_vs_minimal(engine: Sequence[Run], minimal: list[dict[str, Any]], label: str) -> pd.DataFrame:
    """Overall test accuracy of the engine's runs (A) against the minimal loop's (B), same recipe and seeds."""
    return compare({f"{label}: engine − minimal": ([100 * r.metrics["last"]["test"]["acc"] for r in engine],
                                                   _accs(minimal))})


def per_class(engine: Sequence[Run], minimal: list[dict[str, Any]]) -> pd.DataFrame:
    """Per class: the engine's and the minimal loop's mean test accuracy (%) and their difference."""
    classes = engine[0].metrics["classes"]
    e = 100 * np.mean([r.metrics["last"]["test"]["per_class"] for r in engine], axis=0)
    m = 100 * np.mean([r["per_class"] for r in minimal], axis=0)
    return pd.DataFrame({"engine": e, "minimal": m, "engine − minimal": e - m}, index=classes)


def swaps(base: list[dict[str, Any]], swapped: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Each swapped part's minimal runs (A) against the unswapped minimal loop (B) over the seeds they share."""
    rows = {}
    for name, runs in swapped.items():
        seeds = {r["seed"] for r in runs}
        rows[f"swap {name}"] = (_accs(runs), _accs([r for r in base if r["seed"] in seeds]))
    return compare(rows) if rows else pd.DataFrame()


MATCH = ("dataset", "imbalance_ratio", "max_per_class", "epochs", "batch_size", "lr", "weight_decay", "milestones",
         "gamma", "precision")


def matches(minimal: list[dict[str, Any]], run: Run) -> bool:
    """True when the minimal loop's runs were made in the engine run's setting (data, size, schedule, precision)."""
    cfg = run.config.to_dict()
    return bool(minimal) and all(list(r["parts"][k]) == list(cfg[k]) if isinstance(cfg[k], list)
                                 else r["parts"][k] == cfg[k] for r in minimal for k in MATCH)


def check_tables(engine: Sequence[Run], name: str, label: str, folder: Path = CHECKS) -> dict[str, pd.DataFrame]:
    """The engine-vs-minimal tables of one recipe: overall, per class, and every swap file outputs/checks/
    <name>-swap-<part>.json against the unswapped minimal runs; {} when either side is missing or the settings
    differ."""
    base = load_minimal(name, folder)
    engine = [r for r in engine if r.finished]
    if not engine or not matches(base, engine[0]):
        return {}
    out = {"overall": engine_vs_minimal(engine, base, label), "per class (means over seeds)": per_class(engine, base)}
    swapped = {f.stem.split("-swap-", 1)[1]: json.loads(f.read_text()) for f in sorted(folder.glob(f"{name}-swap-*.json"))}
    if swapped:
        out["one part swapped in the minimal loop (swapped − unswapped, same seeds)"] = swaps(base, swapped)
    return out
