"""Command line: `python -m ltlib check | study | runs`, the project's one command-line name."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import pandas as pd

from ltlib.errors import ConfigError
from ltlib.params import check_param_file
from ltlib.runs import results_table, runs_root
from ltlib.store import merge
from ltlib.study import main as study_main

RUN_COLUMNS = ["run_id", "tag", "dataset", "imbalance_ratio", "max_per_class", "arch", "epochs", "seed", "acc",
               "head", "mid", "tail", "train_seconds", "device"]


def check(files: list[str], notebook: Optional[str] = None) -> int:
    """Validate parameter files against their notebooks; print one line per file."""
    failed = 0
    for f in files:
        if not Path(f).exists():
            print(f"error {f}: no such file or folder", file=sys.stderr)
            failed += 1
            continue
        paths = sorted(Path(f).glob("*.yaml")) if Path(f).is_dir() else [Path(f)]
        if not paths:
            print(f"error {f}: no .yaml parameter files in this folder", file=sys.stderr)
            failed += 1
        for p in paths:
            try:
                check_param_file(p, notebook)
                print(f"ok    {p}")
            except ConfigError as e:
                print(f"error {e}", file=sys.stderr)
                failed += 1
    return 1 if failed else 0


def runs(runs_dir: Optional[str], where: list[str], sort: Optional[str], columns: Optional[list[str]]) -> int:
    """Print the run store's finished runs as a table, filtered by column=value (several: all must hold)."""
    table = results_table(runs_dir)
    if table.empty:
        print(f"no finished runs in {runs_root(runs_dir)}")
        return 0
    for cond in where:
        if "=" not in cond:
            raise ConfigError(f"--where takes column=value, got {cond!r}")
        col, val = cond.split("=", 1)
        if col not in table:
            raise ConfigError(f"--where: no column {col!r}; have: {', '.join(table.columns)}")
        table = table[table[col].astype(str) == val]
    cols = columns or [c for c in RUN_COLUMNS if c in table]
    missing = [c for c in cols if c not in table]
    if missing:
        raise ConfigError(f"--columns: no column {', '.join(missing)}; have: {', '.join(table.columns)}")
    if sort:
        table = table.sort_values(sort, ascending=False)
    shown = table[cols].copy()
    for c in ("acc", "head", "mid", "tail"):
        if c in shown:
            shown[c] = (100 * pd.to_numeric(shown[c], errors="coerce")).round(1)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(shown.to_string(index=False))
    print(f"{len(shown)} run(s) in {runs_root(runs_dir)} (accuracies in %)")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of `python -m ltlib`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["study"]:                      # the study's own options and --help
        return study_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m ltlib", description="ltstudy tools")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="validate parameter files (or folders of them) against their notebooks")
    c.add_argument("files", nargs="+")
    c.add_argument("--notebook", help="notebook to check against (default: from the file name)")
    sub.add_parser("study", help="run every notebook of a profile (python -m ltlib study --help)")
    r = sub.add_parser("runs", help="list the run store's finished runs as a table")
    r.add_argument("--runs-dir", default=None, help="run store (default outputs/runs)")
    r.add_argument("--where", nargs="*", default=[], metavar="COLUMN=VALUE", help="e.g. tag=BBN arch=resnet8")
    r.add_argument("--sort", default=None, help="column to sort by, descending (e.g. acc)")
    r.add_argument("--columns", nargs="*", default=None, help=f"default: {' '.join(RUN_COLUMNS)}")
    g = sub.add_parser("merge", help="copy the finished records of other run stores (folders or .tar) into this one")
    g.add_argument("sources", nargs="+", help="run stores or tar files (gpu_run's runs.tar, a shard's --runs-dir)")
    g.add_argument("--runs-dir", default=None, help="run store to merge into (default outputs/runs)")
    g.add_argument("--checkpoints", action="store_true", help="copy final checkpoints too, where present")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "check":
            return check(args.files, args.notebook)
        if args.cmd == "merge":
            counts = merge(args.sources, args.runs_dir, args.checkpoints)
            print(f"[merge] into {runs_root(args.runs_dir)}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
            return 0
        return runs(args.runs_dir, args.where, args.sort, args.columns)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
