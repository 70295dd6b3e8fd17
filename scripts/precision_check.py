"""bf16 autocast against fp32 on the quick profile's data/model: CE and LDAM-DRW, several seeds.

    python scripts/precision_check.py [--profile quick] [--seeds 3]

Trains (or reuses) the runs and prints a Markdown table: mean ± std per precision and the fp32 − bf16 difference
with its 95 % Welch interval; "agree" when that interval contains 0.
"""
from __future__ import annotations

import argparse

from ltlib.methods import baselines
from ltlib.parallel import run_groups
from ltlib.params import load_param_file, validate_params
from ltlib.paths import NOTEBOOKS, PARAMS
from ltlib.stats import fmt_mean_std, mean_std, welch_interval


def main() -> None:
    """Train the grid and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=["CE", "LDAM-DRW"])
    a = ap.parse_args()
    nb = "11_baselines"
    params = validate_params(load_param_file(PARAMS / a.profile / f"{nb}.yaml"), NOTEBOOKS / f"{nb}.ipynb")
    groups = {(m, p): [baselines.baseline(params, m, seed=params["seed"] + s, precision=p) for s in range(a.seeds)]
              for m in a.methods for p in ("bf16", "fp32")}
    runs = run_groups(groups, runs_dir=params.get("runs_dir"))
    print("| method | metric | bf16 | fp32 | fp32 − bf16 (95 % Welch CI) | agree |")
    print("|---|---|---|---|---|---|")
    for m in a.methods:
        for metric in ("acc", "head", "mid", "tail"):
            x = {p: [100 * r.metrics["last"]["test"][metric] for r in runs[(m, p)]] for p in ("bf16", "fp32")}
            iv = welch_interval(x["fp32"], x["bf16"])
            print(f"| {m} | {metric} | {fmt_mean_std(*mean_std(x['bf16']))} | {fmt_mean_std(*mean_std(x['fp32']))} | "
                  f"{iv.diff:+.2f} [{iv.lo:+.2f}, {iv.hi:+.2f}] | {'yes' if iv.lo <= 0 <= iv.hi else 'no'} |")



if __name__ == "__main__":
    main()
