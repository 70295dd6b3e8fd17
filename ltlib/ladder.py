"""The regime ladder: the report's methods in every regime, each claim judged per regime with a stability label,
and how close each regime comes to the papers (Kendall τ against the papers' and an independent CIFAR-10-LT IR100
ordering, CE's final training accuracy, the shortest schedule phase, the smallest class).

Everything here reads run records: a regime's rows are the recipes' runs found by family (any seed) with the
regime's parameters, so a regime with incomplete records shows what it has and says "n of m runs".
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from ltlib import claims as cl
from ltlib import report
from ltlib.config import RunConfig
from ltlib.inference import train_counts
from ltlib.methods import baselines
from ltlib.catalog import METHODS, claim_keys
from ltlib.methods.recipe import Plan
from ltlib.plans import ladder_plan
from ltlib.reference import INDEPENDENT, INDEPENDENT_SOURCE, published_acc
from ltlib.regimes import Regime, build_regime, check_ladder, rungs
from ltlib.runs import results_table
from ltlib.stats import fmt_mean_std, mean_std


REFERENCE = report.PAPER_SETTING          # the published column a regime's leaderboard is compared with
STABLE, DEPENDENT, UNDECIDED = "stable", "regime-dependent", "undecided"
MIN_SEEDS = 3                              # a regime is complete when every claimed method has this many seeds
LABELS = (STABLE, DEPENDENT, UNDECIDED)


def regime_rows(params: Any, regimes: Sequence[str], runs_dir: Any = None,
                table: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Results-table rows of every recipe's runs in each regime (any seed), with `regime` and `method` columns."""
    table = results_table(runs_dir) if table is None else table
    parts = [report.recipe_rows(r.params(params), runs_dir, table).assign(regime=r.name)
             for r in check_ladder(list(regimes))]
    return pd.concat(parts, ignore_index=True)


def record_counts(plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    """Per regime: runs recorded and planned (the plan's distinct runs of that regime, by family and seed)."""
    out = {}
    for name in plan:
        want = {(c.family_id(), c.seed) for cs in plan[name].values() for c in cs}
        sub = rows[rows["regime"] == name] if len(rows) else rows
        have = set(zip(sub["family"], sub["seed"])) if len(sub) else set()
        out[name] = {"recorded": len(want & have), "planned": len(want)}
    return pd.DataFrame.from_dict(out, orient="index")


def completeness(plan: Plan, rows: pd.DataFrame) -> pd.Series:
    """Per regime: 'n of m runs' recorded (m: the plan's distinct runs of that regime, by family and seed)."""
    counts = record_counts(plan, rows)
    return pd.Series({r: f"{c.recorded} of {c.planned} runs" for r, c in counts.iterrows()}, name="records")


def _leaves(c: cl.Claim, v: cl.Verdict) -> list[tuple[cl.Claim, cl.Verdict]]:
    return [(c, v)] if not c.parts else [x for pc, pv in zip(c.parts, v.parts) for x in _leaves(pc, pv)]


def _weakest(c: cl.Claim, v: cl.Verdict) -> tuple[cl.Claim, cl.Verdict]:
    """The comparison of a (compound) claim whose interval reaches least far to the paper's side."""
    return min(_leaves(c, v), key=lambda t: np.nan_to_num(min(t[0].sign * t[1].lo, t[0].sign * t[1].hi),
                                                          nan=-np.inf))


def judge_regimes(rows: pd.DataFrame, regimes: Sequence[str],
                  claims: Sequence[cl.Claim] = tuple(report.CLAIMS)) -> dict[str, tuple[list[cl.Verdict], pd.DataFrame]]:
    """Each regime's claims judged once: the verdicts, and their table with Holm within the regime (the shape of
    report.evaluate_claims)."""
    out = {}
    for regime in regimes:
        sub = rows[rows["regime"] == regime] if len(rows) else rows
        s = report.samples(sub) if len(sub) else {}
        verdicts = [cl.judge(c, s) for c in claims]
        out[regime] = (verdicts, report.verdict_table(claims, verdicts))
    return out


def claims_by_regime(rows: pd.DataFrame, regimes: Sequence[str], settings: Optional[Mapping[str, str]] = None,
                     claims: Sequence[cl.Claim] = tuple(report.CLAIMS),
                     judged: Optional[Mapping[str, tuple[list[cl.Verdict], pd.DataFrame]]] = None) -> pd.DataFrame:
    """One row per (claim, regime): outcome (Holm-adjusted within the regime beside the raw one), the weakest
    comparison's A − B with its 95 % interval, the seeds, the paper's own difference and the regime's setting
    (`judged`: judge_regimes' result, when the caller has it)."""
    judged = judge_regimes(rows, regimes, claims) if judged is None else judged
    out = []
    names = claim_keys(claims)
    for regime in regimes:
        sub = rows[rows["regime"] == regime] if len(rows) else rows
        seeds = sub.groupby("method")["seed"].nunique() if len(sub) else pd.Series(dtype=int)
        complete = all(seeds.get(m, 0) >= MIN_SEEDS for m in names)
        verdicts, table = judged[regime]
        for c, v, holm in zip(claims, verdicts, table["outcome_holm"], strict=True):
            pc, pv = _weakest(c, v)
            out.append({"paper": c.paper, "where": c.where, "claim": c.text, "regime": regime, "outcome": v.outcome,
                        "holm": holm, "part": f"{cl.key_label(pc.a)} − {cl.key_label(pc.b)}" + ("" if pc.metric == "acc" else f" ({pc.metric})"),
                        "difference": pv.diff, "ci_low": pv.lo, "ci_high": pv.hi, "seeds": f"{v.n_a} vs {v.n_b}",
                        "paper_difference": report.paper_difference(pc),
                        "setting": (settings or {}).get(regime, regime), "complete": complete})
    return pd.DataFrame(out)


def stability(outcomes: Sequence[str]) -> str:
    """stable: the same decisive outcome in every regime; regime-dependent: reproduced in one regime and
    contradicted in another; undecided: anything else (inconclusive or untested somewhere)."""
    o = set(outcomes)
    if {cl.REPRODUCED, cl.CONTRADICTED} <= o:
        return DEPENDENT
    if len(o) == 1 and o <= {cl.REPRODUCED, cl.CONTRADICTED}:
        return STABLE
    return UNDECIDED


def judged_regimes(long: pd.DataFrame, regimes: Sequence[str]) -> list[str]:
    """The regimes a stability label is given over: those whose records are complete (every method the claims name
    with at least MIN_SEEDS seeds), or every regime while none is; never a confound setting (a check of one choice,
    not a move toward the papers)."""
    regimes = rungs(regimes)
    done = [r for r in regimes if long.loc[long["regime"] == r, "complete"].all()] if "complete" in long else []
    return done or list(regimes)


def outcome_grid(long: pd.DataFrame, regimes: Sequence[str], column: str = "outcome") -> pd.DataFrame:
    """(paper, claim) × regime outcomes in ladder order, the stability label over the complete regimes
    (judged_regimes), and which way a stable claim went."""
    grid = long.pivot_table(index=["paper", "claim"], columns="regime", values=column, aggfunc="first",
                            sort=False)[list(regimes)]
    over = judged_regimes(long, regimes)
    labels = [stability(list(r)) for r in grid[over].itertuples(index=False)]
    return grid.assign(stability=labels, way=[r[0] if lab == STABLE else "" for r, lab in
                                              zip(grid[over].itertuples(index=False), labels)])


def label_counts(grid: pd.DataFrame) -> dict[str, int]:
    """How many claims are stable, regime-dependent and undecided."""
    return {k: int((grid["stability"] == k).sum()) for k in LABELS}


def kendall(samples: Mapping[str, Sequence[float]], reference: Mapping[str, float], n_boot: int = 2000,
            seed: int = 0) -> dict[str, float]:
    """Kendall τ between measured mean accuracies and a reference ordering over the methods both have, with a 95 %
    percentile bootstrap interval over seeds (each method's seeds resampled with replacement)."""
    names = [m for m in reference if m in samples and len(samples[m])]
    if len(names) < 3:
        return {"tau": math.nan, "lo": math.nan, "hi": math.nan, "methods": len(names)}
    ref = np.array([reference[m] for m in names])
    tau = kendalltau([np.mean(samples[m]) for m in names], ref).statistic
    rng = np.random.default_rng(seed)
    vals = [np.asarray(samples[m], dtype=float) for m in names]
    boots = [kendalltau([rng.choice(v, len(v)).mean() for v in vals], ref).statistic for _ in range(n_boot)]
    lo, hi = np.nanpercentile(boots, [2.5, 97.5])
    return {"tau": float(tau), "lo": float(lo), "hi": float(hi), "methods": len(names)}


def shortest_phase(cfgs: Sequence[RunConfig]) -> int:
    """The fewest epochs between two consecutive lr phase boundaries (the start, lr milestones, the end) over a
    regime's single-stage runs: the deferred re-weighting / re-sampling starts at a milestone, and the class-reversed
    switch one epoch after the last one is that short in the paper too (its S = 1), so it is not counted."""
    best = math.inf
    for c in cfgs:
        edges = sorted({0, c.epochs, *(m for m in c.milestones if 0 < m < c.epochs)})
        best = min(best, min(b - a for a, b in zip(edges, edges[1:])))
    return int(best) if math.isfinite(best) else 0


def closeness(plan: Plan, rows: pd.DataFrame, params: Any) -> pd.DataFrame:
    """Per regime: setting, compute relative to the anchor, CE's final training accuracy, the shortest schedule
    phase, the smallest class, and Kendall τ against (a) the papers' and (b) an independent CIFAR-10-LT IR100
    ordering, each over the methods it shares with the regime's leaderboard."""
    papers = {m: v for m in report.LEADERBOARD if (v := published_acc(m, *REFERENCE)) is not None}
    indep = INDEPENDENT[REFERENCE]
    base = None
    out = []
    for name in plan:
        r: Regime = build_regime(name)
        sub = rows[rows["regime"] == name] if len(rows) else rows
        s = {m: v["acc"] for m, v in (report.samples(sub) if len(sub) else {}).items()}
        ce = sub[sub["method"] == "CE"] if len(sub) else sub
        if len(ce):                            # the records name the training set; load it only when none does
            images, smallest = int(ce["train_images"].iloc[0]), int(ce["smallest_class"].iloc[0])
        else:
            counts = train_counts(baselines.baseline(r.params(params), "CE"))
            images, smallest = int(sum(counts)), int(min(counts))
        base = base or images
        ce_train = ce["train_acc"].astype(float) * 100 if len(ce) else pd.Series([])
        single = [c for cs in plan[name].values() for c in cs if c.init_from is None and c.tag in report.LEADERBOARD]
        m, sd, _ = mean_std(list(ce_train))
        tp, ti = kendall(s, papers), kendall(s, indep)
        out.append({"regime": name, "setting": r.setting(params), "images": images,
                    "compute": r.cost(params, images, base), "CE train acc (%)": m, "CE train std": sd,
                    "shortest phase (epochs)": shortest_phase(single), "smallest class": smallest,
                    "tau papers": tp["tau"], "tau papers lo": tp["lo"], "tau papers hi": tp["hi"],
                    "papers methods": tp["methods"], "tau independent": ti["tau"], "tau independent lo": ti["lo"],
                    "tau independent hi": ti["hi"], "independent methods": ti["methods"]})
    return pd.DataFrame(out).set_index("regime")


# The rule that names the default regime, written down before any ladder run was looked at (docs/protocol.md §9):
# the cheapest regime in which CE fits its training set to within 5 points (the papers' 200-epoch runs nearly fit
# theirs), every lr phase keeps at least 3 epochs, and the smallest class keeps at least 5 images.
RULE = {"CE train acc (%)": 95.0, "shortest phase (epochs)": 3, "smallest class": 5}


def default_regime(close: pd.DataFrame) -> tuple[Optional[str], pd.DataFrame]:
    """The cheapest regime meeting RULE, and each regime's check against each part of it (a confound's setting is
    checked too, never picked: it is not a move toward the papers)."""
    ok = pd.DataFrame({k: close[k] >= v for k, v in RULE.items()}, index=close.index)
    ok["meets the rule"] = ok.all(axis=1)
    passing = close[ok["meets the rule"] & close.index.isin(rungs(close.index))].sort_values("compute")
    return (str(passing.index[0]) if len(passing) else None), ok


def tau_table(close: pd.DataFrame) -> pd.DataFrame:
    """The two τ columns for display: 'τ [lo, hi] (k methods)'."""
    def cell(r: pd.Series, k: str, n: str) -> str:
        if pd.isna(r[k]):
            return f"– ({int(r[n])} methods)"
        return f"{r[k]:+.2f} [{r[k + ' lo']:+.2f}, {r[k + ' hi']:+.2f}] ({int(r[n])} methods)"
    return pd.DataFrame({"τ vs the papers (BBN T1, ResLT T5, class-reversed T1)":
                         [cell(r, "tau papers", "papers methods") for _, r in close.iterrows()],
                         f"τ vs {INDEPENDENT_SOURCE}": [cell(r, "tau independent", "independent methods")
                                                       for _, r in close.iterrows()]}, index=close.index)


def _cell_text(x: pd.Series) -> str:
    finite = np.isfinite(x["ci_low"]) and np.isfinite(x["ci_high"])
    num = "" if pd.isna(x["difference"]) else f" {x['difference']:+.1f}" + (
        f" [{x['ci_low']:+.1f}, {x['ci_high']:+.1f}]" if finite else " (no interval)")
    return f"{x['outcome']}{num}"


LABEL_COLORS = {STABLE: "#d8f0d8", DEPENDENT: "#f8d7d4", UNDECIDED: "#fdf1cc"}


def grid_html(long: pd.DataFrame, regimes: Sequence[str], records: Optional[Mapping[str, str]] = None) -> str:
    """The claim × regime grid as an HTML table: each cell the outcome, A − B and its 95 % interval (coloured as the
    report's outcomes), the paper's own difference, the stability label last; regime headers carry their setting."""
    grid, holm = outcome_grid(long, regimes), outcome_grid(long, regimes, "holm")
    left = "style='text-align:left'"
    settings = long.drop_duplicates("regime").set_index("regime")["setting"]
    heads = "".join(f"<th {left}>{html.escape(r)}<br><small>{html.escape(str(settings.get(r, '')))}"
                    + (f"<br>{html.escape(records[r])}" if records and r in records else "") + "</small></th>"
                    for r in regimes)
    out = [f"<table class='ladder'><tr><th {left}>Paper</th><th {left}>Claim</th>{heads}"
           f"<th {left}>paper's A − B<br><small>CIFAR-10-LT IR100</small></th><th {left}>Stability<br><small>over "
           f"{html.escape(', '.join(judged_regimes(long, regimes)))}</small></th></tr>"]
    for (paper, claim), r in grid.iterrows():
        cells = []
        for reg in regimes:
            x = long[(long["claim"] == claim) & (long["regime"] == reg)].iloc[0]
            extra = "" if x["holm"] == x["outcome"] else f" (Holm: {x['holm']})"
            cells.append(f"<td style='text-align:left;background:{report.OUTCOME_COLORS.get(x['outcome'], '#fff')}'>"
                         f"{html.escape(_cell_text(x) + extra)}<br><small>{html.escape(str(x['part']))}</small></td>")
        pdiff = long.loc[long["claim"] == claim, "paper_difference"].iloc[0]
        lab = str(r["stability"]) + (f" ({r['way']})" if r["way"] else "")
        if holm.loc[(paper, claim), "stability"] != r["stability"]:
            lab += f"; after Holm: {holm.loc[(paper, claim), 'stability']}"
        out.append(f"<tr><td {left}>{html.escape(paper)}</td><td {left}>{html.escape(claim)}</td>{''.join(cells)}"
                   f"<td>{'' if pd.isna(pdiff) else f'{pdiff:+.1f}'}</td>"
                   f"<td style='text-align:left;background:{LABEL_COLORS[r['stability']]}'><b>"
                   f"{html.escape(lab)}</b></td></tr>")
    counts = label_counts(grid)
    return "\n".join(out) + "</table>\n<p>" + ", ".join(f"{n} {k}" for k, n in counts.items()) + "</p>"


def paper_table(long: pd.DataFrame, regimes: Sequence[str], paper: str) -> pd.DataFrame:
    """One paper's report claims: a column per regime ('outcome A − B [lo, hi]'), the paper's own A − B and the
    stability label."""
    sub = long[long["paper"] == paper]
    if sub.empty:
        return pd.DataFrame()
    grid = outcome_grid(sub, regimes)
    shown = pd.DataFrame({reg: [_cell_text(sub[(sub["claim"] == c) & (sub["regime"] == reg)].iloc[0])
                                for _, c in grid.index] for reg in regimes},
                         index=grid.index.get_level_values("claim"))
    shown.columns = [f"{reg}: {sub.loc[sub['regime'] == reg, 'setting'].iloc[0]}" for reg in regimes]
    paper_ab = [sub.loc[sub["claim"] == c, "paper_difference"].iloc[0] for _, c in grid.index]
    return shown.assign(**{"paper's A − B (CIFAR-10-LT IR100)": ["" if pd.isna(x) else f"{x:+.1f}" for x in paper_ab],
                           "stability": list(grid["stability"])})


def leaderboards(rows: pd.DataFrame, regimes: Sequence[str]) -> pd.DataFrame:
    """Method × regime: mean ± std test accuracy (%) over seeds (n)."""
    out = {}
    for reg in regimes:
        s = report.samples(rows[rows["regime"] == reg]) if len(rows) else {}
        out[reg] = {m: fmt_mean_std(*mean_std(v["acc"])) for m, v in s.items()}
    return pd.DataFrame(out, columns=list(regimes)).reindex(
        [m for m in METHODS if any(m in d for d in out.values())])


def noisy(rows: pd.DataFrame, n_more: int, spread: float = 2.0) -> pd.DataFrame:
    """(regime, method) pairs whose seed std is above `spread` points but that have fewer than n_more seeds."""
    if rows.empty:
        return pd.DataFrame(columns=["regime", "method", "seeds", "std"])
    g = (rows.assign(a=100 * rows["acc"].astype(float)).groupby(["regime", "method"])["a"]
         .agg(seeds="count", std="std").reset_index())
    return g[(g["std"] > spread) & (g["seeds"] < n_more)].reset_index(drop=True)


def relative_by_regime(rows: pd.DataFrame, regimes: Sequence[str], runs_dir: Any = None) -> pd.DataFrame:
    """Relative accuracy (%) over all classes and head / mid / tail: method × (regime, group)."""
    parts = {}
    for reg in regimes:
        rel = report.relative_accuracy(rows[rows["regime"] == reg], runs_dir) if len(rows) else pd.DataFrame()
        if len(rel):
            parts[reg] = rel[[c for c in ("relative acc", "head", "mid", "tail") if c in rel.columns]]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


def tradeoffs_by_regime(rows: pd.DataFrame, regimes: Sequence[str], a: str = "RS", b: str = "CE",
                        runs_dir: Any = None) -> pd.DataFrame:
    """'A trades head for tail against B' on absolute and on relative accuracy in every regime with the runs, and
    whether the two readings agree there."""
    parts = {}
    for reg in regimes:
        sub = rows[rows["regime"] == reg] if len(rows) else rows
        rel = report.relative_accuracy(sub, runs_dir) if len(sub) else pd.DataFrame()
        t = report.tradeoff_readings(sub, rel, a, b) if len(rel) else pd.DataFrame()
        if len(t):
            parts[reg] = t
    return pd.concat(parts, names=["regime"]) if parts else pd.DataFrame()


def reading(grid: pd.DataFrame, close: pd.DataFrame, pick: Optional[str], regimes: Sequence[str]) -> str:
    """The ladder's reading: label counts, the claims that move, τ per regime, the rule's pick."""
    counts = label_counts(grid)
    lines = [f"Over the regimes with complete records, the {len(grid)} claims are "
             + ", ".join(f"**{n} {k}**" for k, n in counts.items()) + "."]
    for (paper, claim), r in grid[grid["stability"] == DEPENDENT].iterrows():
        lines.append(f"- *{claim}* ({paper}): " + ", ".join(f"{reg}: {r[reg]}" for reg in regimes) + ".")
    taus = "; ".join(f"{reg} τ = {close.loc[reg, 'tau papers']:+.2f}" for reg in regimes
                     if pd.notna(close.loc[reg, "tau papers"]))
    if taus:
        lines.append(f"Agreement with the papers' CIFAR-10-LT IR100 ordering: {taus} (a check, never a choice).")
    lines.append(f"By the rule stated above, the default regime is **{pick}**." if pick else
                 "No regime meets the rule stated above: the default stays the profile's own setting.")
    return "\n\n".join(lines)


@dataclass
class View:
    """A profile's ladder read from the records: plan, rows, claims per regime, closeness, the rule's pick, and
    each regime's verdict table (report.evaluate_claims' shape, judged once)."""

    plan: Plan
    rows: pd.DataFrame
    long: pd.DataFrame
    grid: pd.DataFrame
    close: pd.DataFrame
    pick: Optional[str]
    checks: pd.DataFrame
    records: pd.Series
    verdicts: dict[str, pd.DataFrame]

    @property
    def regimes(self) -> list[str]:
        """Every setting of the plan, the anchor first."""
        return list(self.plan)

    @property
    def rungs(self) -> list[str]:
        """The settings that move toward the papers (the anchor first), without the confound settings."""
        return rungs(list(self.plan))


def view(params: Any, regimes: Sequence[str], n_seeds: int, more: Sequence[str] = (), n_more: int = 5,
         runs_dir: Any = None, table: Optional[pd.DataFrame] = None) -> View:
    """Everything the report shows of the ladder, from the records alone (nothing is trained)."""
    plan = ladder_plan(params, regimes, n_seeds, more, n_more)
    rows = regime_rows(params, regimes, runs_dir, table)
    judged = judge_regimes(rows, regimes)
    long = claims_by_regime(rows, regimes, plan.info["settings"], judged=judged)
    close = closeness(plan, rows, params)
    pick, checks = default_regime(close)
    return View(plan, rows, long, outcome_grid(long, rungs(regimes)), close, pick, checks, completeness(plan, rows),
                {r: t for r, (_, t) in judged.items()})


def paper_claims(params: Any, regimes: Sequence[str], paper: str, runs_dir: Any = None) -> pd.DataFrame:
    """One paper's report claims judged in every regime of the ladder from the records (a column per regime,
    headed by its setting; 'not tested' where a regime has no runs yet) and the stability label."""
    rows = regime_rows(params, regimes, runs_dir)
    settings = {r: build_regime(r).setting(params) for r in regimes}
    claims = [c for c in report.CLAIMS if c.paper == paper]
    return paper_table(claims_by_regime(rows, regimes, settings, claims), regimes, paper)


def diagnostics_by_regime(rows: pd.DataFrame, regimes: Sequence[str], runs_dir: Any = None) -> dict[str, pd.DataFrame]:
    """The report's diagnostics (BBN's α sweep and branch training, IB→CR around its switch) in every regime that
    has the runs, each table with the regime as its outer index."""
    parts: dict[str, dict[str, pd.DataFrame]] = {}
    for reg in regimes:
        sub = rows[rows["regime"] == reg] if len(rows) else rows
        for title, table in (report.diagnostics(sub, runs_dir) if len(sub) else {}).items():
            parts.setdefault(title, {})[reg] = table
    return {t: pd.concat(d, names=["regime"]) for t, d in parts.items()}
