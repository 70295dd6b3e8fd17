"""Command line: `python -m ltlib check PARAMS.yaml...` validates parameter files before any work."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ltlib.errors import ConfigError
from ltlib.params import check_param_file
from ltlib.study import main as study_main


def check(files: list[str], notebook: Optional[str] = None) -> int:
    """Validate parameter files against their notebooks; print one line per file."""
    failed = 0
    for f in files:
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


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of `python -m ltlib` and the `ltstudy` script."""
    ap = argparse.ArgumentParser(prog="python -m ltlib", description="ltstudy tools")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="validate parameter files (or folders of them) against their notebooks")
    c.add_argument("files", nargs="+")
    c.add_argument("--notebook", help="notebook to check against (default: from the file name)")
    s = sub.add_parser("study", help="run every notebook of a profile (same as python -m ltlib.study)")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if args.cmd == "check":
        return check(args.files, args.notebook)
    return study_main(args.rest)


if __name__ == "__main__":
    sys.exit(main())
