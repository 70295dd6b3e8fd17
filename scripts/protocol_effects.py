"""What each protocol-2 fix changes on a profile: the study's own runs against the same runs with one fix undone.

    python scripts/protocol_effects.py [--profile quick] [--seeds 3] [--out outputs/quick/protocol_effects.csv]

Every "after" row is a run the study trains anyway (found by hash); every "before" row is that config with one
protocol-1 behaviour switched back on (`RunConfig.legacy`, ltlib.config.LEGACY) or, for the switching batch, with
the batch notebooks 70-72 used before. Prints the training-set sizes the held-out fix gives and a Markdown table:
mean ± std over seeds before and after, after − before with its 95 % Welch interval; "within noise" when that
interval contains 0 (docs/protocol.md §7.3).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ltlib.analysis import effect_table
from ltlib.claims import markdown_table
from ltlib.config import RunConfig
from ltlib.data import long_tail_counts
from ltlib.inference import load_data
from ltlib.methods import aux, bbn, decoupling, switching
from ltlib.parallel import run_groups
from ltlib.params import profile_params
from ltlib.paths import OUTPUTS, atomic_write_text


def legacy(cfgs: list[RunConfig], name: str) -> list[RunConfig]:
    """The same runs with one protocol-1 behaviour back on (stage 1 of a two-stage run untouched)."""
    return [c.replace(legacy=[name]) for c in cfgs]


def comparisons(profile: str, n_seeds: int) -> dict[str, tuple[list[RunConfig], list[RunConfig]]]:
    """{change: (protocol-1 configs, protocol-2 configs)}, n_seeds each, all from the notebooks' own plans."""
    p20, p30 = profile_params(profile, "20_decoupling"), profile_params(profile, "30_bbn")
    p50, p60 = profile_params(profile, "50_aux_learning"), profile_params(profile, "60_class_reversed_switching")
    seeds = [p60["seed"] + i for i in range(n_seeds)]
    ibcr = switching.notebook_plan({**p60, "n_seeds": n_seeds}, check=False).main["IB→CR"]
    aux_main = [aux.aux_config(p50, "CBS+RRS", seed=s) for s in seeds]
    aux_ss = [aux.aux_config(p50, "CBS+RRS+SS", seed=s) for s in seeds]
    bbn_main = [bbn.bbn_config(p30, seed=s) for s in seeds]
    joint_ib = [decoupling.joint_configs(p20, seed=s)["IB"] for s in seeds]
    lbc = [decoupling.parts_configs(c, p20["stage2_epochs"])["LB+C"] for c in joint_ib]
    lbc32 = [decoupling.parts_configs(c.replace(arch="resnet32"), p20["stage2_epochs"])["LB+C"] for c in joint_ib]
    return {
        "within-class sampling without replacement: IB→CR": (legacy(ibcr, "within_class_replacement"), ibcr),
        "within-class sampling without replacement: CBS+RRS": (legacy(aux_main, "within_class_replacement"),
                                                              aux_main),
        "rotation task in a separate one-angle pass: CBS+RRS+SS": (legacy(aux_ss, "rotation_in_batch"), aux_ss),
        "BBN branch blocks initialised apart: BBN": (legacy(bbn_main, "bbn_block_copy"), bbn_main),
        f"frozen batch norm stays in eval: LB+C ({lbc[0].arch}, one block per stage)":
            (legacy(lbc, "frozen_bn_train"), lbc),
        "frozen batch norm stays in eval: LB+C (resnet32, 5 blocks per stage)":
            (legacy(lbc32, "frozen_bn_train"), lbc32),
        "one switching batch (64; 70-72 used 128): IB→CR": ([c.replace(batch_size=128) for c in ibcr], ibcr),
    }


def heldout_sizes(profile: str) -> str:
    """Training-set sizes with the held-out split from unused images only (after) and topped up (before)."""
    p = profile_params(profile, "11_baselines")
    cfg = RunConfig(dataset=p["dataset"], imbalance_ratio=p["imbalance_ratio"], max_per_class=p["max_per_class"],
                    data_root=p.get("data_root"))
    new, old = load_data(cfg), load_data(cfg.replace(legacy=["heldout_from_train"]))
    same = new.train_indices.tolist() == old.train_indices.tolist()
    lines = [f"held-out split from unused images only, {profile} ({p['dataset']}, IR {p['imbalance_ratio']:g}): "
             f"training set {len(old.train)} -> {len(new.train)} images, held-out classes {old.val_classes} -> "
             f"{new.val_classes}; runs {'identical (same training indices)' if same else 'differ'}"]
    for name, n, c, ir in (("CIFAR-10-LT", 5000, 10, 100), ("CIFAR-10-LT", 5000, 10, 50), ("CIFAR-10-LT", 5000, 10, 10),
                           ("CIFAR-100-LT", 500, 100, 100), ("CIFAR-100-LT", 500, 100, 50),
                           ("CIFAR-100-LT", 500, 100, 10)):
        counts = long_tail_counts(n, c, ir)
        lost = sum(min(max(0, 20 - (n - k)), k - 1) for k in counts)   # topped up from a class's own images
        lines.append(f"  {name} IR {ir}: {sum(counts) - lost} -> {sum(counts)} (published {sum(counts)})")
    return "\n".join(lines)


def main() -> None:
    """Train (or reuse) both sides of every comparison; print sizes and the table, write it as CSV."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="CSV of the table (default: outputs/<profile>/...)")
    a = ap.parse_args()
    print(heldout_sizes(a.profile))
    pairs = comparisons(a.profile, a.seeds)
    groups = {(k, side): cfgs for k, both in pairs.items() for side, cfgs in zip(("before", "after"), both)}
    runs = run_groups(groups, runs_dir=profile_params(a.profile, "11_baselines").get("runs_dir"))
    table = effect_table({k: (runs[(k, "before")], runs[(k, "after")]) for k in pairs},
                         labels=("protocol 1", "protocol 2"))
    out = a.out or OUTPUTS / a.profile / "protocol_effects.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, table.to_csv(index=False))
    print(markdown_table(table))


if __name__ == "__main__":
    main()
