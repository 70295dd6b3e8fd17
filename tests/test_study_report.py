"""The report's front page (ltlib.study.write_index), its figure and claims table, built from a results table."""
from __future__ import annotations

import re
import shutil

import matplotlib.pyplot as plt
from matplotlib.container import BarContainer
import pandas as pd
import pytest

from ltlib import claims, plots, report, study
from ltlib.paths import NOTEBOOKS, OUTPUTS

QUICK_CSV = OUTPUTS / "quick" / "results.csv"


def _rows(seeds: int = 3) -> pd.DataFrame:
    """Recipe rows of three methods with `seeds` seeds each (fractions, as in the results table)."""
    rows = []
    for m, base in (("CE", 0.70), ("BBN", 0.75), ("cRT", 0.80)):
        for s in range(seeds):
            v = base + 0.01 * s
            rows.append({"method": m, "seed": s, "acc": v, "many": v, "medium": None, "few": None,
                         "head": v + 0.1, "mid": v, "tail": v - 0.1})
    return pd.DataFrame(rows)


def test_leaderboard_figure_has_four_bars_per_method_with_error_bars():
    lb = report.leaderboard(_rows())
    fig = plots.leaderboard(lb)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 * len(lb)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 4 and all(c.errorbar is not None for c in bars)
    assert [t.get_text().split()[0] for t in ax.get_yticklabels()] == list(lb.index[::-1])   # best on top
    plt.close(fig)


def test_claims_html_colours_every_outcome_and_shows_the_interval():
    verdicts = report.evaluate_claims(_rows())
    page = report.claims_html(verdicts)
    assert page.count("<tr>") == len(verdicts) + 1
    for o, n in claims.outcome_counts(verdicts).items():
        assert f"{n} {o}" in page and (n == 0 or report.OUTCOME_COLORS[o] in page)
    assert "[+" in page or "[-" in page                     # a Welch interval with 3 seeds a side
    one = report.claims_html(report.evaluate_claims(_rows(seeds=1)))
    assert "inf" not in one and "—" in one                 # one seed: no interval, never "[-inf, +inf]"


def test_each_claim_shows_the_papers_own_difference_beside_the_measured_one():
    from ltlib.reference import published_acc
    v = report.evaluate_claims(_rows()).set_index("claim")
    bbn_ce = published_acc("BBN", "cifar10", 100) - published_acc("CE", "cifar10", 100)
    assert v.loc["BBN beats plain cross-entropy (CE)", "paper_difference"] == pytest.approx(bbn_ce)
    assert v["paper_difference"].isna().any()              # a compound claim or one without published numbers: blank
    page = report.claims_html(v.reset_index())
    assert "Paper's A − B" in page and f"{bbn_ce:+.1f}" in page


def test_every_notebook_states_its_question():
    for nb in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        title, question = study.notebook_question(nb)
        assert title and not title.startswith("#") and len(question) > 20, nb.stem


@pytest.mark.skipif(not QUICK_CSV.exists(), reason="no committed outputs/quick/results.csv")
def test_front_page_is_rebuilt_from_a_results_table_alone(tmp_path):
    shutil.copy(QUICK_CSV, tmp_path / "results.csv")
    page = study.write_index(tmp_path, "quick").read_text()
    rows = report.read_profile_csv(tmp_path / "results.csv")
    assert set(report.LEADERBOARD) & set(rows["method"]) >= {"CE", "cRT", "LWS", "BBN", "switching"}
    assert "data:image/png;base64," in page and "Welch" in page and not re.search(r"\d min\b", page)   # no clock readings
    assert page.index("What the study found") < page.index("Leaderboard") < page.index("Setup and provenance")
    assert page.count("class='outcome'") == len(report.CLAIMS)
    for nb in NOTEBOOKS.glob("[0-9]*.ipynb"):
        assert f"href='{nb.stem}.html'" in page


def test_with_reference_is_empty_where_nothing_is_published():
    lb = report.leaderboard(_rows())
    assert report.with_reference(lb, "fmnist", 8).empty
    assert "CE" in report.with_reference(lb, "fmnist", 100).index


def test_rendered_notebook_keeps_no_machine_paths(tmp_path):
    """papermill records absolute input/output paths; the rendered copy keeps them repository-relative."""
    import nbformat

    from ltlib.paths import NOTEBOOKS, OUTPUTS
    from ltlib.study import render_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")])
    nb.metadata["papermill"] = {"input_path": str(NOTEBOOKS / "00_data_and_samplers.ipynb"),
                                "output_path": str(OUTPUTS / "quick" / "00_data_and_samplers.ipynb")}
    f = tmp_path / "x.ipynb"
    nbformat.write(nb, f)
    render_html(f)
    meta = nbformat.read(f, as_version=4).metadata["papermill"]
    assert meta["input_path"] == "notebooks/00_data_and_samplers.ipynb"
    assert meta["output_path"] == "outputs/quick/00_data_and_samplers.ipynb"
    assert f.with_suffix(".html").exists()


def test_rendered_pages_read_as_a_report(tmp_path):
    """Code folded behind a button, the notebook's own title, links to the front page and the neighbours."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 30 · BBN\n\n**Question.** q"),
                                         nbformat.v4.new_code_cell("1 + 1")])
    path = tmp_path / "30_bbn.ipynb"
    nbformat.write(nb, path)
    page = study.render_html(path).read_text()
    assert "<title>30 · BBN: bilateral-branch network" in page                # the notebook's title, not "Notebook"
    assert "href='index.html'" in page and "href='20_decoupling.html'" in page and "href='40_reslt.html'" in page
    assert "body:not(.show-code) .jp-CodeCell .jp-Cell-inputWrapper{display:none}" in page and "show-code" in page
