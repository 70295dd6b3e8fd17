"""The one-command study: run every notebook of a profile with papermill, render HTML and an index."""
from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path
from typing import Optional

import pandas as pd

from ltlib.errors import ConfigError, closest
from ltlib.params import check_param_file
from ltlib.paths import NOTEBOOKS, OUTPUTS, PARAMS, atomic_write_text


def profiles() -> list[str]:
    """Profiles that have a params/ folder."""
    return sorted(p.name for p in PARAMS.iterdir() if p.is_dir())


def plan(profile: str, only: Optional[list[str]] = None) -> list[tuple[Path, dict]]:
    """(notebook, validated parameters) in order; every parameter file is checked before any work."""
    if profile not in profiles():
        raise ConfigError(f"unknown profile '{profile}'{closest(profile, profiles())}; have: {', '.join(profiles())}")
    folder = PARAMS / profile
    notebooks = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    names = [nb.stem for nb in notebooks]
    for f in folder.glob("*.yaml"):
        if f.stem not in names:
            raise ConfigError(f"{f}: no notebook named {f.stem}.ipynb{closest(f.stem, names)}")
    out = []
    for nb in notebooks:
        if only and not any(nb.stem.startswith(o) for o in only):
            continue
        pf = folder / f"{nb.stem}.yaml"
        out.append((nb, check_param_file(pf, nb) if pf.exists() else {}))
    if only and not out:
        raise ConfigError(f"no notebook matches --only {' '.join(only)}; have: {', '.join(names)}")
    return out


def render_html(ipynb: Path) -> Path:
    """Executed notebook -> HTML beside it."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    out = ipynb.with_suffix(".html")
    atomic_write_text(out, body)
    return out


def write_index(folder: Path, profile: str, timings: pd.DataFrame) -> Path:
    """outputs/<profile>/index.html linking each rendered notebook, with its run time."""
    rows = "".join(
        f"<tr><td><a href='{html.escape(r.notebook)}.html'>{html.escape(r.notebook)}</a></td>"
        f"<td>{r.status}</td><td style='text-align:right'>{r.seconds:.0f} s</td></tr>"
        for r in timings.itertuples())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>ltstudy — {profile}</title>"
            "<style>body{font-family:sans-serif;max-width:780px;margin:2em auto}td,th{padding:4px 12px}"
            "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
            f"<h1>ltstudy report — profile <code>{profile}</code></h1>"
            "<p>Re-balancing methods for long-tailed recognition, reproduced notebook by notebook. "
            "Start with <a href='90_report.html'>90_report</a> for the leaderboard.</p>"
            f"<table><tr><th>notebook</th><th>status</th><th>time</th></tr>{rows}</table>"
            f"<p>Total {timings.seconds.sum() / 60:.1f} min. Results table: "
            "<a href='results.csv'>results.csv</a>.</p></body></html>")
    out = folder / "index.html"
    atomic_write_text(out, page)
    return out


def run(profile: str, only: Optional[list[str]] = None, html_only: bool = False) -> pd.DataFrame:
    """Execute the notebooks of a profile into outputs/<profile>/ and render them."""
    import papermill as pm

    jobs = plan(profile, only)
    # The rendered notebooks show one line per run; every epoch's line stays in the run's train.log.
    os.environ.setdefault("LTSTUDY_PROGRESS", "run")
    folder = OUTPUTS / profile
    folder.mkdir(parents=True, exist_ok=True)
    times = []
    for nb, params in jobs:
        out = folder / nb.name
        t0 = time.perf_counter()
        print(f"[study] {profile}: {nb.stem} ...", flush=True)
        if not html_only:
            try:
                pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(NOTEBOOKS),
                                    kernel_name="python3", progress_bar=False, log_output=False)
            except pm.PapermillExecutionError as e:
                render_html(out)
                first = next((ln.strip() for ln in (e.source or "").splitlines() if ln.strip()), "")
                first = first if len(first) <= 70 else first[:67] + "..."
                raise StudyError(f"notebook {nb.stem} failed in cell In [{e.exec_count}] ({first!r}) with "
                                 f"{e.ename}: {str(e.evalue).splitlines()[0] if e.evalue else ''}; see {out}") from None
        render_html(out)
        secs = time.perf_counter() - t0
        print(f"[study] {nb.stem} done in {secs:.0f} s", flush=True)
        times.append({"notebook": nb.stem, "status": "ok", "seconds": secs})
    timings = pd.DataFrame(times)
    if not only:
        timings.to_csv(folder / "timings.csv", index=False)
        write_index(folder, profile, timings)
    return timings


class StudyError(RuntimeError):
    """A notebook of the study failed."""


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.study --profile NAME [--only 00 10]"""
    ap = argparse.ArgumentParser(prog="python -m ltlib.study", description=__doc__)
    ap.add_argument("--profile", default="quick", help="params/<profile>/ (smoke, quick, paper-...)")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run (default: all)")
    ap.add_argument("--html-only", action="store_true", help="re-render existing executed notebooks")
    args = ap.parse_args(argv)
    try:
        t = run(args.profile, args.only, args.html_only)
    except (ConfigError, StudyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:                                    # e.g. outputs/ read-only or disk full
        print(f"error: cannot write the study outputs: {e.strerror or e}"
              f"{f' ({e.filename})' if e.filename else ''}; free disk space or fix the folder's permissions",
              file=sys.stderr)
        return 1
    print(f"[study] {len(t)} notebooks in {t.seconds.sum() / 60:.1f} min -> {OUTPUTS / args.profile}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
