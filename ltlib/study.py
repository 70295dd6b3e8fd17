"""The one-command study: run every notebook of a profile with papermill, render HTML and the front page."""
from __future__ import annotations

import argparse
import base64
import html
import io
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ltlib import findings, gpuhours, ladder, plots, report, store
from ltlib.data import dataset_label
from ltlib.errors import ConfigError, closest
from ltlib.params import check_param_file, check_profile, profile_notebooks, profile_params
from ltlib.paths import NOTEBOOKS, OUTPUTS, PARAMS, atomic_write_text, display_path, resolve
from ltlib.plans import export_runs
from ltlib.regimes import build_regime
from ltlib.runs import results_table, runs_root


def plan(profile: str, only: Optional[list[str]] = None) -> list[tuple[Path, dict]]:
    """(notebook, validated parameters) in order; every parameter file is checked before any work."""
    check_profile(profile)
    folder = PARAMS / profile
    notebooks = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    names = [nb.stem for nb in notebooks]
    for f in folder.glob("*.yaml"):
        if f.stem not in names:
            raise ConfigError(f"{f}: no notebook named {f.stem}.ipynb{closest(f.stem, names)}")
    out = []
    listed = profile_notebooks(profile)
    for nb in notebooks:
        if only and not any(nb.stem.startswith(o) for o in only):
            continue
        if listed is not None and nb.stem not in listed:
            continue
        pf = folder / f"{nb.stem}.yaml"
        out.append((nb, check_param_file(pf, nb) if pf.exists() else {}))
    if only and not out:
        raise ConfigError(f"no notebook matches --only {' '.join(only)}; have: {', '.join(names)}")
    return out


# Rendered pages read as a report: code folded (a button shows it), the notebook's title, links to the front page
# and the neighbouring notebooks.
PAGE_STYLE = ("<style>body:not(.show-code) .jp-CodeCell .jp-Cell-inputWrapper{display:none}"
              "body:not(.show-code) .jp-CodeCell.jp-mod-noOutputs{display:none}"
              "nav.ltstudy{position:sticky;top:0;z-index:10;background:#f7f7f7;border-bottom:1px solid #ddd;"
              "padding:6px 12px;font:14px system-ui,sans-serif;display:flex;gap:14px;align-items:center}"
              "nav.ltstudy a{color:#0b57d0;text-decoration:none}nav.ltstudy button{margin-left:auto}</style>")


def page_nav(nb: Path) -> str:
    """The bar at the top of a rendered notebook: front page, previous / next notebook, show / hide code."""
    names = [p.stem for p in sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))]
    i = names.index(nb.stem) if nb.stem in names else -1
    prev = f"<a href='{names[i - 1]}.html'>← {html.escape(names[i - 1])}</a>" if i > 0 else ""
    nxt = f"<a href='{names[i + 1]}.html'>{html.escape(names[i + 1])} →</a>" if 0 <= i < len(names) - 1 else ""
    return (f"<nav class='ltstudy'><a href='index.html'>ltstudy report (front page)</a>{prev}{nxt}"
            "<button onclick=\"document.body.classList.toggle('show-code')\">show / hide code</button></nav>")


def render_html(ipynb: Path) -> Path:
    """Executed notebook -> HTML beside it, as a report page (page_nav, PAGE_STYLE, its title); papermill's record
    of the machine's paths made repository-relative."""
    import nbformat
    from nbconvert import HTMLExporter

    node = nbformat.read(ipynb, as_version=4)
    if strip_volatile(node):
        atomic_write_text(ipynb, nbformat.writes(node))
    title, _ = notebook_question(NOTEBOOKS / ipynb.name if (NOTEBOOKS / ipynb.name).exists() else ipynb)
    body, _ = HTMLExporter().from_notebook_node(node, resources={"metadata": {"name": f"{ipynb.stem[:2]} · {title}"}})
    body = body.replace("</head>", PAGE_STYLE + "</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + page_nav(ipynb), body, count=1)
    out = ipynb.with_suffix(".html")
    atomic_write_text(out, body)
    return out


VOLATILE = ("start_time", "end_time", "duration")       # papermill's clock readings


def strip_volatile(node: Any) -> bool:
    """Make an executed notebook a function of its inputs and records: papermill's clock readings and the kernel's
    execution timestamps dropped, the machine's paths made repository-relative. True if anything changed."""
    changed = False
    pm_meta = node.metadata.get("papermill", {})
    for k in ("input_path", "output_path"):
        if pm_meta.get(k) and os.path.isabs(str(pm_meta[k])):
            pm_meta[k], changed = display_path(pm_meta[k]), True
    for meta in [pm_meta] + [c.metadata.get("papermill", {}) for c in node.cells]:
        for k in VOLATILE:
            changed = meta.pop(k, None) is not None or changed
    for c in node.cells:
        changed = c.metadata.pop("execution", None) is not None or changed
        if "injected-parameters" in c.metadata.get("tags", []) and c.get("id") != "injected-parameters":
            c["id"], changed = "injected-parameters", True          # papermill draws a random id for it
    return changed


def notebook_question(nb: Path) -> tuple[str, str]:
    """(title, question) from a notebook's first Markdown cell: its '# NN · title' line and its **Question.**
    paragraph, the one place where each notebook says what it answers."""
    import nbformat

    cell = next((c for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "markdown"), None)
    text = cell.source if cell else ""
    title = next((ln.lstrip("# ").split("·", 1)[-1].strip() for ln in text.splitlines() if ln.startswith("#")),
                 nb.stem)
    para = next((p for p in text.split("\n\n") if p.strip().startswith("**Question.**")), "")
    return title, " ".join(para.replace("**Question.**", "").split())


def _inline_md(text: str) -> str:
    """Escape text and render Markdown's inline `code`, **bold** and *italic* as HTML."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", out)


def profile_rows(folder: Path, params: dict, table: Optional[pd.DataFrame] = None) -> tuple[pd.DataFrame, str]:
    """The recipes' runs of a profile and where they came from: the run store (`table`: its results table, when
    read already), else the folder's results.csv."""
    rows = report.recipe_rows(params, params.get("runs_dir"), table)
    if len(rows):
        return rows, f"run store {display_path(runs_root(params.get('runs_dir')))}"
    csv = folder / "results.csv"
    if csv.exists():
        return report.read_profile_csv(csv), display_path(csv)
    return rows, "no runs found"


def figure_html(fig: Any, alt: str) -> str:
    """A matplotlib figure as an inline PNG <img> (closed after rendering)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return (f"<img alt='{html.escape(alt)}' style='max-width:100%' "
            f"src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>")


STYLE = ("body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222;"
         "line-height:1.45}td,th{padding:4px 8px;vertical-align:top;text-align:left}"
         "table{border-collapse:collapse;font-size:0.92em;margin:0.5em 0}tr{border-bottom:1px solid #e4e4e4}"
         "th{background:#f0f0f0}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
         "td.outcome{white-space:nowrap}td.detail{font-size:0.88em;color:#444}dl.setup{display:grid;"
         "grid-template-columns:max-content auto;gap:2px 16px}dl.setup dt{font-weight:600}dl.setup dd{margin:0}"
         "h2{margin-top:1.6em;border-bottom:1px solid #ddd}table.board td{text-align:right;"
         "font-variant-numeric:tabular-nums}")


def ladder_html(lv: ladder.View) -> list[str]:
    """The front page's ladder section: every claim in every regime with its stability label, how close each
    regime is (CE's training accuracy, τ against two published orderings) and the rule's default regime."""
    if len(lv.rungs) < 2:
        return []
    cols = ["setting", "compute", "CE train acc (%)", "shortest phase (epochs)", "smallest class"]
    close = lv.close[cols].join(lv.checks["meets the rule"]).join(ladder.tau_table(lv.close)).round(2).loc[lv.rungs]
    return ["<h2>Where each verdict holds: the regime ladder</h2>",
            "<p>The same recipes trained in settings that move toward the papers' (more epochs per image, the papers' "
            "200-epoch schedule on a reduced set, a deeper backbone; <a href='80_regimes.html'>80_regimes</a>). Each "
            "cell: the outcome in that regime, A − B [95 % interval] in points (Holm within the regime where it "
            "changes the outcome); <b>stable</b> = the same decisive outcome in every regime, <b>regime-dependent</b>"
            " = reproduced in one and contradicted in another, <b>undecided</b> = otherwise.</p>",
            ladder.grid_html(lv.long, lv.rungs, lv.records.to_dict()),
            figure_html(plots.claim_panels(lv.long, lv.rungs), "claims per regime"),
            "<p>How close each regime is: CE's final training accuracy, the shortest lr phase, the smallest "
            "class, the rule for the default regime (stated before any rung ran: CE train acc ≥ 95 %, every lr phase "
            "≥ 3 epochs, smallest class ≥ 5 images; the cheapest regime meeting it), and Kendall τ against the "
            "papers' and an independent CIFAR-10-LT IR100 ordering (a check, never a choice).</p>",
            close.to_html(border=0),
            f"<p>{_inline_md(ladder.reading(lv.grid, lv.close.loc[lv.rungs], lv.pick, lv.rungs).split(chr(10))[0])}</p>"]


def seed_summary(rows: pd.DataFrame) -> str:
    """How many seeds stand behind the methods, exactly: '3 seeds for 20 methods; 5 for CE, BBN (seeds 0–4); ...'."""
    per = rows.groupby("method")["seed"].agg(lambda s: sorted({int(x) for x in s}))
    by_n: dict[int, list[str]] = {}
    for m, seeds in per.items():
        by_n.setdefault(len(seeds), []).append(str(m))
    parts = []
    for n, ms in sorted(by_n.items(), key=lambda t: -len(t[1])):
        names = f"{len(ms)} methods" if len(ms) > 4 else ", ".join(ms)
        parts.append(f"{n} seed{'s' * (n != 1)} for {names}")
    return "; ".join(parts)


def first_screen(lv: ladder.View, p: dict) -> list[str]:
    """The scope in one bold line, the findings in sentences, and the claim forest (every claim, every setting)."""
    marks = findings.dependent_groups(report.CLAIMS, findings.families(lv))
    counts = ladder.record_counts(lv.plan, lv.rows)
    shown = [r for r in lv.rungs if counts.loc[r, "recorded"] > 0]
    forest = lv.long[lv.long["regime"].isin(shown)]
    return [f"<p style='font-size:1.08em'><b>{_inline_md(findings.scope_line(lv, p))}</b></p>",
            "<h2>What the study found</h2>",
            "<ul class='findings'>" + "".join(f"<li>{_inline_md(x)}</li>" for x in findings.sentences(lv, p))
            + "</ul>",
            figure_html(plots.claim_forest(forest, shown, marks),
                        "Every claim as a row: its A − B in percentage points with a 95 % interval in each setting "
                        "(one marker shape each) and the paper's own A − B as a black tick"),
            "<p>Each row: one claim (its weakest comparison for a compound claim), A − B in percentage points with "
            "its 95 % Welch interval over seeds, one marker shape and colour per setting, the paper's own A − B on "
            "CIFAR-10-LT IR100 as a black tick where both methods have a published number. Claims with the same "
            "letter rest on the same runs (the same A runs, or the same B runs other than the CE baseline that most "
            "claims share), so they are not independent evidence. Settings with no records are left out.</p>"]


def confounds_html(lv: ladder.View) -> list[str]:
    """The confounds tested: each a one-field change of the quick setting in fp32 (classifier initialisation, which
    classes are the tail), with fp32 itself as the control; the key claims and the methods' accuracies in each."""
    regs = findings.confound_regimes(lv)
    if not regs:
        return []
    table, acc = findings.confound_table(lv), findings.confound_accuracy(lv)
    what = "".join(f"<li><b>{html.escape(r)}</b>: {html.escape(build_regime(r).what)}</li>" for r in regs)
    forest = lv.long[lv.long["regime"].isin([lv.regimes[0], *regs]) & lv.long["claim"].isin(table.index)]
    return ["<h2>Confounds, tested</h2>",
            "<p>Settings that change one thing of the quick profile that is not a move toward the papers, to see "
            "whether a verdict is a property of that choice. They train in fp32 (on CPUs without native bf16), so "
            "<b>fp32</b>, the quick setting itself in fp32, is their control: read each against fp32, and fp32 "
            "against the quick profile (bf16) for precision. Only the key claims' methods are trained (CE, cRT, RS, "
            "BBN, IB→CR).</p>", f"<ul>{what}</ul>",
            "<ul class='findings'>" + "".join(f"<li>{_inline_md(x)}</li>" for x in findings.confound_sentences(lv))
            + "</ul>",
            figure_html(plots.claim_forest(forest, [lv.regimes[0], *regs]),
                        "The key claims' A − B with 95 % intervals in the quick setting, in fp32 and in each "
                        "confound setting (one marker shape each), the paper's own A − B as a black tick"),
            table.to_html(border=0, na_rep="–"),
            "<p>Test accuracy (%) at the last epoch, mean ± std (n = seeds), in each setting:</p>",
            acc.to_html(border=0, na_rep="–")]


def papers_own_html(lv: ladder.View, p: dict) -> list[str]:
    """The papers' own setting beside their published numbers (the sliced rung), with the seeds behind each."""
    own = findings.own_regime(lv)
    if own is None:
        return []
    noise = findings.seed_noise(lv)
    table, diffs = findings.papers_own(lv, p, round(noise, 1))
    n, m = ladder.record_counts(lv.plan, lv.rows).loc[own, ["recorded", "planned"]]
    return ["<h2>The papers' own setting</h2>",
            f"<p><b>{html.escape(build_regime(own).setting(p))}</b> (bf16; the images are CIFAR-10 re-encoded as "
            f"JPEG, so accuracies run lower than on the binary CIFAR-10 the papers used): {n} of {m} runs recorded. Each number is our test accuracy at "
            "the last epoch beside the paper's CIFAR-10-LT IR100 number (BBN Table 1, ResLT Table 5, class-reversed "
            "Table 1) and an independent reproduction's (Bag of Tricks). A comparison with one seed is a number, "
            f"not a verdict: the seed std on the Fashion-MNIST settings is about {noise:.1f} points a method; "
            "verdicts need 3 seeds.</p>",
            table.round(1).to_html(border=0, na_rep="—"),
            diffs.round(1).to_html(border=0, na_rep="—")]


def write_index(folder: Path, profile: str) -> Path:
    """outputs/<profile>/index.html, the report's front page, built from the run store (or results.csv) alone: the
    scope, the findings and the claim forest first; the leaderboard, the claims, the ladder, the papers' own setting,
    the notebooks; the setup and provenance in a footer. No clock readings: the same records give the same page."""
    p = profile_params(profile, "90_report")
    table = results_table(p.get("runs_dir"))                # read once: the profile's rows and the ladder's
    rows, source = profile_rows(folder, p, table)
    lb = report.leaderboard(rows)
    if not len(table) and len(rows):          # no store here: the ladder from results.csv (its anchor rung only)
        table = rows
    lv = ladder.view(p, p["regimes"], p["n_seeds"], p["more_seeds"], p["n_more"], p.get("runs_dir"), table)
    anchor = lv.regimes[0]                    # the profile's own runs, judged once (results.csv when the store has none)
    verdicts = lv.verdicts[anchor] if (lv.rows["regime"] == anchor).any() else report.evaluate_claims(rows)
    setup = {"profile": f"<code>{html.escape(profile)}</code> (<code>params/{html.escape(profile)}/</code>)",
             "data": f"{html.escape(dataset_label(p['dataset']))}-LT, imbalance ratio {p['imbalance_ratio']:g}, "
                     + ("full training set" if p["max_per_class"] is None else f"at most {p['max_per_class']} images "
                        "per class"),
             "model": f"{html.escape(p['arch'])}, {p['epochs']} epochs (classifier retraining "
                      f"{p['stage2_epochs']}), batch {p['batch_size']}, lr {p['lr']:g}",
             "seeds": (f"{seed_summary(rows)}; {len(rows)} runs of {rows['method'].nunique()} methods, from "
                       f"{html.escape(source)}") if len(rows) else "no runs",
             "records": html.escape(report.provenance(rows, p.get("runs_dir"))),
             "rendering": "from the records (a run is trained only where its record is missing); the time each "
                          "notebook took is in <a href='timings.csv'>timings.csv</a>, written by each render and not "
                          "tracked"}
    parts = [f"<h1>ltstudy · five papers on re-balancing for long-tailed recognition, claim by claim</h1>",
             *first_screen(lv, p)]
    board = ["<h2>Leaderboard</h2>"]
    if len(lb):
        board += [figure_html(plots.leaderboard(lb, title=f"{dataset_label(p['dataset'])}-LT IR"
                                                          f"{p['imbalance_ratio']:g}: test accuracy at the last epoch"),
                              "leaderboard figure"),
                  "<p>Test accuracy (%) at the last epoch, mean ± std over seeds (n = seeds; no error bar with one "
                  "seed). head / mid / tail: thirds of the classes by training frequency. <b>aux</b> = CBS+RRS "
                  "(To balance or not: class-balanced main head + instance-balanced auxiliary head), "
                  "<b>switching</b> = IB→CR (class-reversed sampler switching); cRT / LWS: Decoupling's retrained / "
                  "re-scaled classifier on the CE backbone; RW / RS: loss re-weighting / class-balanced re-sampling; "
                  "-DRW / -DRS: deferred to the last 20 % of training.</p>",
                  report.board(lb, ["acc", "head", "mid", "tail"]).rename_axis(None).to_html(classes="board", border=0)]
    else:
        board.append("<p>No finished runs of the study's methods on this profile yet.</p>")
    claims_intro = ("<p>Verdict rule: the difference of the two methods' means over seeds, A − B in percentage points, "
                    "with its 95 % Welch t interval. <b>Reproduced</b> when the whole interval lies on the paper's side "
                    "of 0, <b>contradicted</b> when it lies on the other side, <b>inconclusive</b> otherwise (always "
                    "with one seed), <b>not tested</b> when a method has no runs on this profile.</p>")
    own = ["<h2>Which claims held</h2>", claims_intro,
           f"<p><b>Measured in:</b> {html.escape(build_regime(p['regimes'][0]).setting(p))} (the "
           f"profile's own regime; the ladder below shows every regime). These numbers pool every seed the profile "
           "has of a method (CE, BBN and IB→CR have extra seeds from the ladder), so a notebook page, which judges "
           "its own seeds, can show a slightly different A − B for the same claim.</p>", report.claims_html(verdicts)]
    if lv.pick and lv.pick != lv.regimes[0]:                # the rule's default regime leads the page
        sub = lv.rows[lv.rows["regime"] == lv.pick]
        parts += [f"<h2>Default regime: {html.escape(lv.pick)}</h2>",
                  f"<p>By the rule stated before any rung ran (docs/protocol.md §9), the default regime is "
                  f"<b>{html.escape(lv.pick)}</b>: {html.escape(lv.plan.info['settings'][lv.pick])} "
                  f"({html.escape(lv.records[lv.pick])}). Its leaderboard and verdicts come first; the profile's own "
                  f"setting is one regime among the others below.</p>",
                  report.board(report.leaderboard(sub), ["acc", "head", "mid", "tail"]).rename_axis(None)
                  .to_html(classes="board", border=0),
                  "<h2>Which claims held in the default regime</h2>", claims_intro,
                  report.claims_html(lv.verdicts[lv.pick]), *ladder_html(lv),
                  f"<h2>The profile's own regime: {html.escape(lv.regimes[0])}</h2>",
                  *board[1:], *own[1:]]
    else:
        parts += [*board, *own, *ladder_html(lv)]
    parts += confounds_html(lv)
    parts += papers_own_html(lv, p)
    parts += ["<h2>Notebooks</h2>"]
    items = []
    for nb in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        title, question = notebook_question(nb)
        items.append(f"<tr><td><a href='{html.escape(nb.stem)}.html'>{html.escape(nb.stem)}</a></td>"
                     f"<td><b>{_inline_md(title)}</b><br>{_inline_md(question)}</td></tr>")
    parts += [f"<table class='notebooks'>{''.join(items)}</table>",
              "<p>Every run of this profile: <a href='results.csv'>results.csv</a>.</p>",
              f"<footer><h2>Setup and provenance</h2><p>Profile <code>{html.escape(profile)}</code>; this page is "
              f"rebuilt from the run records by <code>python -m ltlib.study --profile {html.escape(profile)} "
              "--index-only</code>; the full report is <a href='90_report.html'>90_report</a>.</p>"
              "<dl class='setup'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in setup.items()) + "</dl>"
              "</footer>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>ltstudy — {html.escape(profile)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
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
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    extra_arguments=QUIET_KERNEL)
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
    if html_only:                                       # rendering times are not the study's: keep the recorded ones
        write_index(folder, profile)
    elif not only:
        timings.to_csv(folder / "timings.csv", index=False)
        write_index(folder, profile)
    return timings


# The kernel's own log lines (its transport note, "KeyboardInterrupt caught" at shutdown) are not the study's: a
# failing cell still fails the notebook with its traceback, and a dead kernel is reported by papermill.
QUIET_KERNEL = ["--IPKernelApp.log_level=CRITICAL"]


class StudyError(RuntimeError):
    """A notebook of the study failed."""


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.study --profile NAME [--only 00 10] [--html-only | --index-only | --export-runs FILE]"""
    ap = argparse.ArgumentParser(prog="python -m ltlib.study", description=__doc__)
    ap.add_argument("--profile", default="quick", help="params/<profile>/ (smoke, quick, paper-...)")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run (default: all)")
    ap.add_argument("--html-only", action="store_true", help="re-render existing executed notebooks and the front page")
    ap.add_argument("--index-only", action="store_true",
                    help="rebuild only outputs/<profile>/index.html from the run store (or results.csv)")
    ap.add_argument("--status", action="store_true",
                    help="per notebook: recorded and missing runs, and the estimated time of the missing ones here")
    ap.add_argument("--budget", metavar="MINUTES", type=float, default=None,
                    help="train the profile's missing runs for at most MINUTES (a run that cannot finish in the time "
                         "left is not started; records are written as runs end) and stop; call again to go on")
    ap.add_argument("--reproduce", metavar="N", type=int, default=None,
                    help="retrain N recorded runs of the profile (a seeded draw, --seed) from nothing into a scratch "
                         "store and print each recorded metric beside the new one")
    ap.add_argument("--regimes", nargs="*", default=None,
                    help="with --budget: train only these rungs of the ladder notebook (80_regimes), e.g. one a slice")
    ap.add_argument("--seed", type=int, default=0, help="the draw of --reproduce")
    ap.add_argument("--workers", type=int, default=None, help="training processes of --budget (default: one a core)")
    ap.add_argument("--export-runs", metavar="FILE", default=None,
                    help="write every distinct run of the profile (stage-1 runs first) to FILE and stop; train it "
                         "anywhere with python -m ltlib.train FILE [--shard i/N] (docs/clusters.md)")
    args = ap.parse_args(argv)
    try:
        if args.status or args.budget is not None or args.reproduce is not None:
            plan(args.profile, args.only)                   # a known profile, valid parameter files
            if args.status:
                print(store.status(args.profile, workers=args.workers).to_string())
                sliced = store.sliced_status(args.profile)
                if len(sliced):
                    hours = sliced["hours left (1 thread)"].sum()
                    print(f"\nsliced rung (runs that span budget slices), in its order of work: "
                          f"{(sliced.state == 'recorded').sum()} recorded, {(sliced.state == 'partial').sum()} partial, "
                          f"{(sliced.state == 'missing').sum()} missing; ~{hours:.0f} one-thread hours left here")
                    print(sliced.to_string(index=False))
                if gpuhours.is_large_scale(args.profile):
                    print(f"\n[study] profile {args.profile}: estimated GPU-hours on one H100 "
                          f"(assumed throughputs: ltlib/gpuhours.py)")
                    print(gpuhours.profile_hours(args.profile).to_string())
            if args.budget is not None:
                store.train_budget(args.profile, args.budget, workers=args.workers, only=args.only,
                                   regimes=args.regimes)
            if args.reproduce is not None:
                table = store.reproduce(args.profile, args.reproduce, args.seed)
                print(table.round(4).to_string(index=False))
                if not table["identical"].all() and (table["expected"] == "identical").all():
                    print("[reproduce] NOT identical where it should be: the code or the environment changed",
                          file=sys.stderr)
                    return 1
            return 0
        if args.export_runs:
            plan(args.profile, args.only)                   # a known profile, valid parameter files
            cfgs = export_runs(args.profile, resolve(args.export_runs), args.only)
            print(f"[study] {len(cfgs)} runs of profile {args.profile} -> {args.export_runs}")
            return 0
        if args.index_only:
            plan(args.profile)                              # a known profile, valid parameter files
            print(f"[study] wrote {display_path(write_index(OUTPUTS / args.profile, args.profile))}")
            return 0
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
