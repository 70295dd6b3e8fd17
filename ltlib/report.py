"""The final report: the study's named recipes found in the run store by their config (every seed), a leaderboard
with mean ± std over seeds, published numbers beside ours, and the five papers' claims judged by ltlib.claims."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ltlib import claims as cl
from ltlib import reference
from ltlib.analysis import run_outputs
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods import aux, baselines, bbn, decoupling, switching
from ltlib.params import as_dict
from ltlib.paths import OUTPUTS, atomic_write_text
from ltlib.metrics import GROUPS, confusion, thirds
from ltlib.catalog import BALANCED, CLAIMS, KEY_METHODS, LEADERBOARD, PAPER_SETTING
from ltlib.recipes import recipe_configs
from ltlib.runs import DIGITS, Run, results_table, runs_root
from ltlib.stats import fmt_mean_std

def recipe_rows(params: Any, runs_dir: str | os.PathLike | None = None,
                table: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Results-table rows of every run of a recipe (any seed), with a `method` column holding its registry key."""
    table = results_table(runs_dir) if table is None else table
    if table.empty:
        return pd.DataFrame(columns=list(dict.fromkeys([*table.columns, "method"])))
    parts = []
    for key, cfg in recipe_configs(params).items():
        hit = table[table["family"] == cfg.family_id()]    # results_table names each run's family (any seed)
        if len(hit):
            parts.append(hit.assign(method=key))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(dict.fromkeys([*table.columns, "method"])))


def samples(rows: pd.DataFrame, which: str = "last") -> dict[str, dict[str, list[float]]]:
    """method key -> metric -> per-seed test accuracy (%) at the last epoch (or the held-out-chosen one)."""
    if rows.empty:                                          # an empty run store: no method has samples
        return {}
    prefix = "" if which == "last" else "bestval_"
    df = rows.rename(columns={f"{prefix}{g}": f"_{g}" for g in GROUPS})
    df = df[["method", "seed", *[f"_{g}" for g in GROUPS]]].rename(columns={f"_{g}": g for g in GROUPS})
    df[GROUPS] = df[GROUPS].apply(pd.to_numeric, errors="coerce")
    return cl.samples_from_frame(df, key="method", metrics=GROUPS, scale=100.0)


def leaderboard(rows: pd.DataFrame, which: str = "last", names: Sequence[str] = LEADERBOARD) -> pd.DataFrame:
    """One row per recipe: seeds, mean and std over seeds (%) of acc / many / medium / few / head / mid / tail."""
    s = samples(rows, which)
    out = []
    for name in names:
        if name not in s:
            continue
        r: dict[str, Any] = {"method": name, "seeds": len(s[name]["acc"])}
        for g in GROUPS:
            v = np.asarray(s[name][g], dtype=float)
            r[g] = np.nanmean(v) if np.isfinite(v).any() else np.nan
            r[f"{g}_std"] = np.nanstd(v, ddof=1) if np.isfinite(v).sum() > 1 else np.nan
        out.append(r)
    cols = ["method", "seeds"] + [c for g in GROUPS for c in (g, f"{g}_std")]
    return pd.DataFrame(out, columns=cols).set_index("method").sort_values("acc", ascending=False)


def board(lb: pd.DataFrame, cols: Sequence[str] = ("acc", "head", "mid", "tail", "many", "medium", "few")) -> pd.DataFrame:
    """The leaderboard for display: seeds and 'mean ± std' strings."""
    out = pd.DataFrame({"seeds": lb["seeds"]}, index=lb.index)
    for c in cols:
        out["overall" if c == "acc" else c] = [fmt_mean_std(m, s) for m, s in zip(lb[c], lb[f"{c}_std"])]
    return out


def with_reference(lb: pd.DataFrame, dataset: str, imbalance_ratio: float) -> pd.DataFrame:
    """Ours beside the published top-1 for every method with a published number.

    On a dataset the papers do not report (Fashion-MNIST), the CIFAR-10-LT number at the same IR is shown for
    context only and no difference is computed: those numbers are new.
    """
    same = (dataset, int(imbalance_ratio)) in reference.SETTINGS
    ref_ds = dataset if same else "cifar10"
    rows = []
    for name in reference.MAIN_SOURCE:
        pub = reference.published_acc(name, ref_ds, imbalance_ratio)
        if pub is None:
            continue
        ours = lb.loc[name] if name in lb.index else None
        rows.append({"method": name, "ours": None if ours is None else fmt_mean_std(ours["acc"], ours["acc_std"],
                                                                                     int(ours["seeds"])),
                     "published": pub, "difference": (float(ours["acc"]) - pub) if same and ours is not None else None,
                     "published on": f"{ref_ds} IR{imbalance_ratio:g}" + ("" if same else " (other dataset)"),
                     "source": " ".join(reference.MAIN_SOURCE[name])})
    cols = ["method", "ours", "published", "difference", "published on", "source"]
    out = pd.DataFrame(rows, columns=cols).set_index("method")        # empty where nothing is published (e.g. IR 8)
    return out if same or out.empty else out.drop(columns=["difference"])   # other dataset: no difference column


def confusions(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None,
               names: Sequence[str] = LEADERBOARD) -> dict[str, np.ndarray]:
    """Each leaderboard method's test confusion matrix at the last epoch, summed over its seeds and normalised by
    row (row = true class: each row sums to 1). From metrics.json, or recomputed from the checkpoint of a run
    written before it was stored there."""
    root = runs_root(runs_dir)
    out: dict[str, np.ndarray] = {}
    for name in names:
        total = None
        for rid in rows.loc[rows["method"] == name, "run_id"] if len(rows) else []:
            run = Run(root / rid)
            if not run.finished:
                continue
            cm = run.metrics["last"]["test"].get("confusion")
            if cm is None:
                logits, y = run_outputs(run)
                cm = confusion(torch.as_tensor(logits.argmax(1)), torch.as_tensor(y), logits.shape[1])
            cm = np.asarray(cm, dtype=float)
            total = cm if total is None else total + cm
        if total is not None:
            out[name] = total / np.maximum(total.sum(1, keepdims=True), 1)
    return out


def class_names(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None) -> list[str]:
    """The class names of the profile's data (from its first finished run)."""
    root = runs_root(runs_dir)
    for rid in rows["run_id"] if len(rows) else []:
        run = Run(root / rid)
        if run.finished:
            return list(run.metrics.get("classes") or [])
    return []


def paper_difference(c: cl.Claim) -> float:
    """The paper's own A − B on CIFAR-10-LT IR100 (accuracy claims whose two methods both have a number), else NaN."""
    if c.metric != "acc" or isinstance(c.b, list) or isinstance(c.a, tuple) or isinstance(c.b, tuple):
        return np.nan
    a, b = (reference.published_acc(k, *PAPER_SETTING) for k in (c.a, c.b))
    return np.nan if a is None or b is None else a - b


def verdict_table(claims: Sequence[cl.Claim], verdicts: Sequence[cl.Verdict]) -> pd.DataFrame:
    """Judged claims as the report's table: claims.judge_all's columns, Holm over them, and the paper's own A − B."""
    return cl.with_holm(cl.verdict_table(claims, verdicts)).assign(
        paper_difference=[paper_difference(c) for c in claims])


def evaluate_claims(rows: pd.DataFrame, which: str = "last", claims: Sequence[cl.Claim] = tuple(CLAIMS)) -> pd.DataFrame:
    """One row per claim: paper, where, claim, outcome, difference, 95 % interval, seeds, detail, the outcome
    after Holm's correction over these claims (claims.with_holm) and the paper's own A − B (CIFAR-10-LT IR100)."""
    s = samples(rows, which)
    return verdict_table(claims, [cl.judge(c, s) for c in claims])


def write_profile_csv(rows: pd.DataFrame, profile: str) -> Any:
    """outputs/<profile>/results.csv: the rows of this profile's recipes, one per run and seed (atomic write)."""
    path = OUTPUTS / profile / "results.csv"
    atomic_write_text(path, rows.round(DIGITS).to_csv(index=False))
    return path


def read_profile_csv(path: Any) -> pd.DataFrame:
    """An outputs/<profile>/results.csv as recipe rows (its `method` column holds the registry keys)."""
    rows = pd.read_csv(path)
    if "method" not in rows:
        raise ConfigError(f"{path} has no 'method' column: it was not written by report.write_profile_table")
    return rows


OUTCOME_COLORS = {cl.REPRODUCED: "#d8f0d8", cl.CONTRADICTED: "#f8d7d4", cl.INCONCLUSIVE: "#fdf1cc",
                  cl.NOT_TESTED: "#e8e8e8"}


def size_note(outcome: str, diff: float, paper: float, far: float = 2.0) -> str:
    """For a reproduced claim whose size is far from the paper's (more than `far` times larger or smaller, in the
    same direction): 'size 17× the paper's' / 'size 0.2× the paper's'; else ''."""
    if outcome != cl.REPRODUCED or pd.isna(diff) or pd.isna(paper) or paper == 0 or diff * paper <= 0:
        return ""
    ratio = diff / paper
    return f"size {ratio:.1f}× the paper's" if ratio > far or ratio < 1 / far else ""


def claims_html(verdicts: pd.DataFrame) -> str:
    """evaluate_claims' rows as an HTML table (the columns of claims.to_markdown), each outcome cell coloured."""
    import html

    def cell(x: Any) -> str:
        return html.escape("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))

    holm = "outcome_holm" in verdicts
    paper = "paper_difference" in verdicts
    head = ["Paper", "Where", "Claim", "Outcome", *(["After Holm"] if holm else []), "A − B (pp)", "95 % CI",
            *(["Paper's A − B<br><small>CIFAR-10-LT IR100</small>"] if paper else []), "Seeds", "Measured"]
    left = "style='text-align:left'"                        # notebook renderers right-align cells by default
    out = ["<table class='claims'><tr>" + "".join(f"<th {left}>{h}</th>" for h in head) + "</tr>"]
    for r in verdicts.itertuples():
        diff = "" if pd.isna(r.difference) else f"{r.difference:+.2f}"
        ci = (f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]" if np.isfinite(r.ci_low) and np.isfinite(r.ci_high)
              else "—" if pd.notna(r.difference) else "")        # one seed on a side: no interval
        color = OUTCOME_COLORS.get(r.outcome, "#ffffff")
        after = ""
        if holm:
            p = "" if pd.isna(r.p_holm) else f"<br><small>adj. p = {r.p_holm:.2g}</small>"
            after = (f"<td class='holm' style='text-align:left;background:{OUTCOME_COLORS.get(r.outcome_holm)}'>"
                     f"{cell(r.outcome_holm)}{p}</td>")
        out.append(f"<tr><td {left}>{cell(r.paper)}</td><td {left}>{cell(r.where)}</td><td {left}>{cell(r.claim)}</td>"
                   f"<td class='outcome' style='text-align:left;background:{color}'><b>{cell(r.outcome)}</b></td>{after}"
                   f"<td class='num'>{diff}</td><td class='num' style='white-space:nowrap'>{ci}</td>"
                   + (f"<td class='num'>{'' if pd.isna(r.paper_difference) else f'{r.paper_difference:+.1f}'}"
                      + (f"<br><small>{note}</small>" if (note := size_note(r.outcome, r.difference,
                                                                            r.paper_difference)) else "")
                      + "</td>" if paper else "") +
                   f"<td {left}>{cell(r.seeds)}</td><td class='detail' {left}>{cell(r.detail)}</td></tr>")
    counts = cl.outcome_counts(verdicts)
    summary = ", ".join(f"<span style='background:{OUTCOME_COLORS[o]};padding:0 4px'>{n} {o}</span>"
                        for o, n in counts.items())
    note = f"<p>{html.escape(cl.holm_note(verdicts))}</p>" if holm else ""
    return "\n".join(out) + "</table>\n<p>" + summary + "</p>" + note


def provenance(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None) -> str:
    """Where the rows' records came from, in one line: the git revisions and the machines (CPU or GPU, threads,
    precision) that trained them, with run counts."""
    root = runs_root(runs_dir)
    revs: dict[str, int] = {}
    machines: dict[str, int] = {}
    for rid in rows["run_id"] if len(rows) and "run_id" in rows else []:
        try:
            run = Run(root / rid)
            meta, cfg = run.meta, run.config
        except (OSError, ValueError, ConfigError):
            continue
        g = meta.get("git") or {}
        rev = (g.get("commit") or "unknown")[:8] + (" (uncommitted changes)" if g.get("dirty") else "")
        dev = meta.get("device", "?")
        where = (f"{meta.get('cpu') or 'CPU'} ({meta.get('cpu_capability', '?')}), {meta.get('threads', '?')} "
                 f"thread(s)" if str(dev).startswith("cpu") else dev) + f", {cfg.precision}"
        revs[rev] = revs.get(rev, 0) + 1
        machines[where] = machines.get(where, 0) + 1
    if not revs:
        return "no records"
    fmt = lambda d: "; ".join(f"{k} ({v} run{'s' * (v != 1)})" for k, v in sorted(d.items(), key=lambda t: -t[1]))
    return f"git revision {fmt(revs)} — trained on {fmt(machines)}"


def _class_cols(rows: pd.DataFrame) -> list[str]:
    return sorted((c for c in rows.columns if str(c).startswith("class_")), key=lambda c: int(str(c)[6:]))


def per_class_means(rows: pd.DataFrame) -> pd.DataFrame:
    """method x class: test accuracy (%) at the last epoch, mean over the method's seeds."""
    cols = _class_cols(rows)
    per = rows.groupby("method")[cols].apply(lambda g: g.apply(pd.to_numeric, errors="coerce").mean())
    return 100 * per.set_axis([int(str(c)[6:]) for c in cols], axis=1)


def relative_accuracy(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None,
                      names: Sequence[str] = LEADERBOARD) -> pd.DataFrame:
    """Each method's accuracy relative to CE on a balanced training set of the same size, backbone and schedule
    (Zhang et al., "Deep long-tailed learning: a survey", 2021, §5.1): per class the ratio of the seed-mean test
    accuracies (%, 100 = as good as with balanced data), and its mean over all classes and over head / mid / tail.
    A class that is hard for the balanced model too (confusable, not rare) then no longer reads as a tail loss."""
    if rows.empty or BALANCED not in set(rows["method"]) or not _class_cols(rows):
        return pd.DataFrame()
    per = per_class_means(rows)
    rel = 100 * per.div(per.loc[BALANCED].replace(0, np.nan), axis=1)
    first = rows.loc[rows["method"] != BALANCED, "run_id"]
    if first.empty:
        return pd.DataFrame()
    counts = Run(runs_root(runs_dir) / first.iloc[0]).metrics["counts"]
    out = pd.DataFrame({("relative acc" if g == "all" else g): rel[idx].mean(axis=1)
                        for g, idx in thirds(counts).items() if idx})
    return out.reindex([n for n in [BALANCED, *names] if n in out.index])


def tradeoff_readings(rows: pd.DataFrame, rel: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """'A trades head for tail against B' read two ways: absolute head / tail accuracy (pp) and relative accuracy
    (points of the balanced-CE reference); `agree` says whether both readings give the same signs."""
    if rel.empty or a not in rel.index or b not in rel.index:
        return pd.DataFrame()
    lb = leaderboard(rows)
    out = pd.DataFrame({"absolute (pp)": [lb.loc[a, g] - lb.loc[b, g] for g in ("head", "tail")],
                        "relative (points)": [rel.loc[a, g] - rel.loc[b, g] for g in ("head", "tail")]},
                       index=[f"head: {a} − {b}", f"tail: {a} − {b}"])
    out["agree"] = np.sign(out["absolute (pp)"]) == np.sign(out["relative (points)"])
    return out


def per_class_delta(rows: pd.DataFrame, versus: str = "CE", runs_dir: str | os.PathLike | None = None,
                    names: Sequence[str] = LEADERBOARD) -> pd.DataFrame:
    """method x class name: the seed-mean per-class test accuracy minus `versus`'s (percentage points): where a
    method's gains and losses sit, beside its confusion matrix."""
    if rows.empty or versus not in set(rows["method"]) or not _class_cols(rows):
        return pd.DataFrame()
    per = per_class_means(rows)
    delta = per.sub(per.loc[versus], axis=1).drop(index=versus)
    delta.columns = class_names(rows, runs_dir)[:delta.shape[1]]
    return delta.reindex([n for n in names if n in delta.index])


def accuracy_by_count(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None,
                      names: Sequence[str] = KEY_METHODS) -> pd.DataFrame:
    """Long table, one row per (method, class): the class's training images (from a run's record) and the method's
    seed-mean test accuracy on it (%): how accuracy follows class size, class by class."""
    record = runs_root(runs_dir) / str(rows["run_id"].iloc[0]) if len(rows) else None
    if record is None or not _class_cols(rows) or not (record / "metrics.json").exists():
        return pd.DataFrame(columns=["method", "class", "training images", "accuracy (%)"])
    per, counts = per_class_means(rows), list(Run(record).metrics["counts"])
    labels = class_names(rows, runs_dir)
    return pd.DataFrame([{"method": m, "class": labels[c] if c < len(labels) else str(c),
                          "training images": counts[c], "accuracy (%)": float(per.loc[m, c])}
                         for m in names if m in per.index for c in per.columns])


def method_runs(rows: pd.DataFrame, method: str, runs_dir: str | os.PathLike | None = None) -> list[Run]:
    """The finished runs (every seed) of one recipe among the rows."""
    root = runs_root(runs_dir)
    return [Run(root / rid) for rid in rows.loc[rows["method"] == method, "run_id"]] if len(rows) else []


def diagnostics(rows: pd.DataFrame, runs_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """What the records say about the two methods whose claims most often fail in short runs: BBN (test accuracy at
    each test-time α; how much each branch trains, against the paper's schedule) and IB→CR switching (training
    accuracy at the switch; head / mid / tail before and after it)."""
    out: dict[str, pd.DataFrame] = {}
    b = method_runs(rows, "BBN", runs_dir)
    if b:
        out["BBN: test accuracy (%) by test-time α"] = bbn.alpha_sweep(b)
        per_epoch = bbn.alpha_by_epoch(b)
        if len(per_epoch):
            out["BBN: test accuracy (%) by test-time α at each evaluated epoch"] = per_epoch
        t = bbn.rebalancing_training(b[0].config)
        out["BBN: Σ(1 − α)·lr/lr₀ and Σ α·lr/lr₀ (epoch-equivalents at the initial lr)"] = pd.DataFrame(
            {"ours": [t["re-balancing branch (ours)"], t["conventional branch (ours)"]],
             "paper (200 epochs)": [t["re-balancing branch (paper, 200 epochs)"],
                                    t["conventional branch (paper, 200 epochs)"]]},
            index=["re-balancing branch", "conventional branch"])
    s = method_runs(rows, "switching", runs_dir)
    if s:
        out["IB→CR: training accuracy and class groups around the switch"] = switching.switch_readings(
            s, s[0].metrics["counts"])
    return out
