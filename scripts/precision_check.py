"""bf16 autocast against fp32 on the quick profile's data/model: CE and LDAM-DRW, several seeds.

    python scripts/precision_check.py [--profile quick] [--seeds 3]

Trains (or reuses) the runs and prints a Markdown table: mean ± std per precision and the fp32 − bf16 difference
with its 95 % Welch interval; the two agree ("within noise") when that interval contains 0.
"""
from __future__ import annotations

import argparse

from ltlib.analysis import effect_table
from ltlib.claims import markdown_table
from ltlib.methods import baselines
from ltlib.parallel import run_groups
from ltlib.params import profile_params


def main() -> None:
    """Train the grid and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=["CE", "LDAM-DRW"])
    a = ap.parse_args()
    nb = "11_baselines"
    params = profile_params(a.profile, nb)
    groups = {(m, p): [baselines.baseline(params, m, seed=params["seed"] + s, precision=p) for s in range(a.seeds)]
              for m in a.methods for p in ("bf16", "fp32")}
    runs = run_groups(groups, runs_dir=params.get("runs_dir"))
    table = effect_table({m: (runs[(m, "bf16")], runs[(m, "fp32")]) for m in a.methods}, labels=("bf16", "fp32"))
    print(markdown_table(table))   # difference = fp32 − bf16; "within noise": the two agree


if __name__ == "__main__":
    main()
