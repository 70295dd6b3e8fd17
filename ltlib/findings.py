"""The report's first screen, computed from the ladder's records: what was tested and where (one line), the findings
as sentences for a reader, which claims rest on the same runs, and the papers' own setting beside their numbers."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ltlib import claims as cl
from ltlib import report
from ltlib.data import dataset_label
from ltlib.ladder import DEPENDENT, STABLE, UNDECIDED, View, judged_regimes, record_counts
from ltlib.reference import INDEPENDENT, published_acc
from ltlib.regimes import build_regime
from ltlib.stats import fmt_mean_std, mean_std

COMMON = "CE"            # the baseline most claims compare with: sharing it does not make two claims one


def sides(c: cl.Claim) -> tuple[set[str], set[str]]:
    """The method keys on a claim's A side and on its B side (over its parts)."""
    if c.parts:
        a, b = set(), set()
        for p in c.parts:
            pa, pb = sides(p)
            a, b = a | pa, b | pb
        return a, b
    return {c.a}, set(cl.b_keys(c.b))


def dependent_groups(claims: Sequence[cl.Claim], family: Mapping[str, str]) -> dict[str, str]:
    """Claim text -> a letter shared by the claims that rest on the same runs: the same runs on the A side, or the
    same runs on the B side other than the common CE baseline (`family`: method key -> run family, so two keys
    naming one recipe, e.g. cRT and CE+RS, count as the same runs). Claims in no group are left out."""
    fam = {k: family.get(k, k) for c in claims for s in sides(c) for k in s}
    common = fam.get(COMMON, COMMON)
    keys = [({fam[k] for k in a}, {fam[k] for k in b} - {common}) for a, b in (sides(c) for c in claims)]
    parent = list(range(len(claims)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i
    for i in range(len(claims)):
        for j in range(i):
            if keys[i][0] & keys[j][0] or keys[i][1] & keys[j][1]:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(claims)):
        groups.setdefault(root(i), []).append(i)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    return {claims[i].text: next_letter for g in groups.values() if len(g) > 1
            for next_letter in [next(letters)] for i in g}


def families(lv: View) -> dict[str, str]:
    """Method key -> run family in the ladder's anchor regime (keys naming one recipe share it)."""
    sub = lv.rows[lv.rows["regime"] == lv.regimes[0]] if len(lv.rows) else lv.rows
    return dict(zip(sub["method"], sub["family"])) if len(sub) else {}


def _span(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def scope_line(lv: View, params: Mapping) -> str:
    """One line: what was tested, where (the settings measured, and the papers' own once it has records)."""
    counts = record_counts(lv.plan, lv.rows)
    own = own_regime(lv)
    here = [r for r in lv.rungs if counts.loc[r, "recorded"] > 0 and r != own]
    ps = {r: build_regime(r).params(params) for r in lv.regimes}
    data = sorted({f"{dataset_label(ps[r]['dataset'])}-LT IR {ps[r]['imbalance_ratio']:g}" for r in here})
    images = [lv.close.loc[r, "images"] for r in here if pd.notna(lv.close.loc[r, "images"])]
    archs = sorted({str(ps[r]["arch"]) for r in here}, key=lambda a: (len(a), a))
    archs = [a.replace("resnet", "ResNet-") for a in archs]
    epochs = [int(ps[r]["epochs"]) for r in here]
    line = (f"{len(report.CLAIMS)} claims of five papers, tested on {', '.join(data)} in {len(here)} settings "
            f"({'/'.join(archs)}, {_span(epochs)} epochs, {_span(images)} training images) — the papers used "
            f"CIFAR-LT, ResNet-32, 200 epochs")
    if own:
        n, m = counts.loc[own, "recorded"], counts.loc[own, "planned"]
        line += (f"; their own setting ({build_regime(own).setting(params)}) has {n} of {m} runs recorded"
                 + (" so far" if n < m else ""))
    return line + "."


def signed(x: float, digits: int = 2) -> str:
    """+0.16 / −0.05: a signed number with a true minus sign."""
    return f"{x:+.{digits}f}".replace("-", "−")


def _names(texts: Sequence[str]) -> str:
    quoted = [f"*{t}*" for t in texts]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def sentences(lv: View, params: Mapping) -> list[str]:
    """Six or so findings for a reader, one sentence each: what is stable, what depends on the setting and on
    what, where sign and size part, how close the orderings are, what is still open and why."""
    over = judged_regimes(lv.long, lv.rungs)
    grid, anchor = lv.grid, lv.regimes[0]
    out = []
    stable = [(way, grid[(grid["stability"] == STABLE) & (grid["way"] == way)]) for way in (cl.REPRODUCED,
                                                                                          cl.CONTRADICTED)]
    if any(len(h) for _, h in stable):
        text = f"**Stable in all {len(over)} settings with complete records** ({', '.join(over)})"
        side = {cl.REPRODUCED: "in the papers' direction", cl.CONTRADICTED: "against the papers"}
        bits = [f"{side[way]}: {_names([c for _, c in h.index])}" for way, h in stable if len(h)]
        out.append(text + " — " + "; ".join(bits) + ".")
    dep = grid[grid["stability"] == DEPENDENT]
    patterns: dict[tuple, list[str]] = {}
    for (_, claim), r in dep.iterrows():
        patterns.setdefault(tuple(g for g in over if r[g] == cl.REPRODUCED), []).append(claim)
    for yes, claims in patterns.items():
        what = "; ".join(f"{g}: {build_regime(g).what}" + (" — epochs and data size move together there, so "
                                                            "which of the two does it is not yet separated"
                                                            if build_regime(g).epochs and build_regime(g).max_per_class
                                                            else "") for g in yes)
        out.append(f"**Setting-dependent**: {_names(claims)} {'hold' if len(claims) > 1 else 'holds'} only in "
                   f"{', '.join(yes)} and {'are' if len(claims) > 1 else 'is'} contradicted elsewhere ({what}).")
    und = grid[grid["stability"] == UNDECIDED]
    if len(und):
        out.append(f"**Undecided**: {len(und)} claim{'s' * (len(und) != 1)} (inconclusive in at least one setting; "
                   f"each is a row of the figure below).")
    gap = lv.long[(lv.long["regime"] == anchor) & (lv.long["outcome"] == cl.REPRODUCED)].dropna(
        subset=["paper_difference"])
    if len(gap):
        g = gap.assign(off=(gap["difference"] - gap["paper_difference"]).abs()).sort_values("off").iloc[-1]
        out.append(f"**A reproduced sign is not a reproduced size**: in {anchor}, *{g['claim']}* by "
                   f"{signed(g['difference'], 1)} points; the paper's own difference is "
                   f"{signed(g['paper_difference'], 1)}.")
    taus, ind = lv.close["tau papers"].dropna(), lv.close["tau independent"].dropna()
    if len(taus):
        out.append(f"**No setting orders the methods as the papers do**: Kendall τ with the papers' CIFAR-10-LT "
                   f"IR100 numbers is {signed(taus.min())} to {signed(taus.max())} (1 = the same order, 0 = unrelated, "
                   f"−1 = reversed), {signed(ind.min())} to {signed(ind.max())} with an independent reproduction's "
                   f"(Bag of Tricks).")
    own = own_regime(lv)
    if own:
        n, m = record_counts(lv.plan, lv.rows).loc[own, ["recorded", "planned"]]
        out.append(f"**Open**: the papers' own setting ({own}) has {n} of {m} runs; a run takes hours on one CPU "
                   f"thread and trains only where bf16 is native, so until its methods have 3 seeds no verdict "
                   f"here is a test in the papers' setting.")
    return out


def papers_own(lv: View, params: Mapping, noise: Optional[float] = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sliced rung (the papers' own setting) beside the published numbers: per method our accuracy overall and
    head / mid / tail (mean ± std, seeds), the papers' CIFAR-10-LT IR100 number and the difference; and the key
    differences (BBN − CE, IB→CR − cRT, ResLT − CE, ...) as measured with the seeds behind them. `noise`: the seed
    std measured on the Fashion-MNIST rungs, shown beside one-seed numbers."""
    own = own_regime(lv)
    sub = lv.rows[lv.rows["regime"] == own] if own is not None and len(lv.rows) else lv.rows.iloc[:0]
    s = report.samples(sub) if len(sub) else {}
    rows = []
    for m in report.LEADERBOARD:
        paper, bot = published_acc(m, *report.PAPER_SETTING), INDEPENDENT[report.PAPER_SETTING].get(m)
        got = s.get(m, {})
        mean, std, n = mean_std(got.get("acc", []))
        row = {"method": m, "seeds": n, "ours (%)": mean if n else np.nan, "std": std if n > 1 else np.nan}
        for g in ("head", "mid", "tail"):
            row[g] = mean_std(got.get(g, []))[0] if n else np.nan
        row.update({"paper (%)": paper, "ours − paper": mean - paper if n and paper is not None else np.nan,
                    "Bag of Tricks (%)": bot})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("method")
    pairs = [("BBN", "CE"), ("switching", "cRT"), ("ResLT", "CE"), ("cRT", "CE"), ("ResLT", "BBN"),
             ("switching", "switching-CB")]
    diffs = []
    for a, b in pairs:
        (ma, _, na), (mb, _, nb) = mean_std(s.get(a, {}).get("acc", [])), mean_std(s.get(b, {}).get("acc", []))
        pa, pb = published_acc(a, *report.PAPER_SETTING), published_acc(b, *report.PAPER_SETTING)
        diffs.append({"comparison": f"{cl.key_label(a)} − {cl.key_label(b)}",
                      "ours (pts)": ma - mb if na and nb else np.nan, "seeds": f"{na} vs {nb}",
                      "paper (pts)": pa - pb if pa is not None and pb is not None else np.nan,
                      "seed std on Fashion-MNIST (pts)": noise})
    return table, pd.DataFrame(diffs).set_index("comparison")


def seed_noise(lv: View) -> float:
    """The median per-method std over seeds (points) on the complete Fashion-MNIST rungs: the noise a one-seed
    number carries."""
    over = [r for r in judged_regimes(lv.long, lv.rungs) if not build_regime(r).sliced]
    sub = lv.rows[lv.rows["regime"].isin(over)] if len(lv.rows) else lv.rows
    if not len(sub):
        return float("nan")
    acc = pd.to_numeric(sub["acc"], errors="coerce") * 100
    return float(acc.groupby([sub["regime"], sub["method"]]).std().median())


def own_regime(lv: View) -> Optional[str]:
    """The ladder's sliced rung (the papers' own setting), if it has one."""
    return next((r for r in lv.regimes if build_regime(r).sliced), None)


# ------------------------------------------------------------------------------------------------ confounds

CONTROL = "fp32"         # the confound settings' control: the quick profile's setting in their precision


def confound_regimes(lv: View) -> list[str]:
    """The ladder's confound settings (not moves toward the papers) that have records, the control first."""
    counts = record_counts(lv.plan, lv.rows)
    have = [r for r in lv.regimes if build_regime(r).confound and counts.loc[r, "recorded"] > 0]
    return sorted(have, key=lambda r: r != CONTROL)


def confound_claims(lv: View, regs: Sequence[str]) -> pd.DataFrame:
    """The claims measured in a confound setting of `regs`, one row per (claim, setting) with the anchor's beside."""
    long = lv.long[lv.long["regime"].isin([lv.regimes[0], *regs])]
    measured = long[long["regime"].isin(regs)].dropna(subset=["difference"])["claim"].unique()
    return long[long["claim"].isin(measured)]


def confound_table(lv: View) -> pd.DataFrame:
    """Claim × setting: 'A − B [95 % interval] outcome (seeds)' for the anchor and each confound setting."""
    regs = confound_regimes(lv)
    long = confound_claims(lv, regs)
    if not len(long):
        return pd.DataFrame()

    def cell(x: pd.Series) -> str:
        if pd.isna(x["difference"]):
            return "not measured"
        ci = f" [{signed(x['ci_low'], 1)}, {signed(x['ci_high'], 1)}]" if np.isfinite(x["ci_low"]) else ""
        return f"{signed(x['difference'], 1)}{ci} {x['outcome']} ({x['seeds']})"
    t = long.assign(cell=long.apply(cell, axis=1)).pivot(index="claim", columns="regime", values="cell")
    return t[[r for r in [lv.regimes[0], *regs] if r in t.columns]]


def _diff(long: pd.DataFrame, claim: str, regime: str) -> pd.Series:
    return long[(long["claim"] == claim) & (long["regime"] == regime)].iloc[0]


def _measured(x: pd.Series) -> bool:
    """A measured difference with at least 2 seeds a side."""
    return pd.notna(x["difference"]) and all(int(n) >= 2 for n in str(x["seeds"]).split(" vs "))


def confound_accuracy(lv: View) -> pd.DataFrame:
    """Method × setting: test accuracy mean ± std (seeds) of the methods the confound settings train."""
    regs = [lv.regimes[0], *confound_regimes(lv)]
    sub = lv.rows[lv.rows["regime"].isin(regs)] if len(lv.rows) else lv.rows
    methods = [m for m in report.LEADERBOARD if len(sub) and m in set(sub.loc[sub["regime"] != regs[0], "method"])]
    out = {}
    for r in regs:
        s = report.samples(sub[sub["regime"] == r]) if len(sub) else {}
        stats = {m: mean_std(s.get(m, {}).get("acc", [])) for m in methods}
        out[r] = {cl.key_label(m): fmt_mean_std(mu, sd if n > 1 else None, n, 1) if n else "–"
                  for m, (mu, sd, n) in stats.items()}
    return pd.DataFrame(out)


def _accuracy_shift(lv: View, group: Sequence[str]) -> dict[str, float]:
    """Method -> its mean accuracy in the group's settings minus in the control (points; 2+ seeds on each side)."""
    def means(regime: str) -> dict[str, float]:
        s = report.samples(lv.rows[lv.rows["regime"] == regime]) if len(lv.rows) else {}
        return {m: float(np.mean(v["acc"])) for m, v in s.items() if len(v["acc"]) >= 2}
    base, got = means(CONTROL), [means(r) for r in group]
    return {m: float(np.mean([g[m] for g in got if m in g])) - base[m] for m in report.LEADERBOARD
            if m in base and any(m in g for g in got)}


def confound_sentences(lv: View) -> list[str]:
    """Two sentences or so per confound, from the records: how far each moves the key claims and whether an
    outcome changes (nothing is said about a confound with fewer than 2 seeds a side)."""
    regs, anchor = confound_regimes(lv), lv.regimes[0]
    long = confound_claims(lv, regs)
    if not len(long) or CONTROL not in regs:
        return []
    claims = list(dict.fromkeys(long["claim"]))
    out = []
    pairs = [(_diff(long, c, anchor), _diff(long, c, CONTROL)) for c in claims]
    pairs = [(a, b) for a, b in pairs if _measured(a) and _measured(b)]
    if pairs:
        moves = [abs(b["difference"] - a["difference"]) for a, b in pairs]
        same = sum(a["outcome"] == b["outcome"] for a, b in pairs)
        span = f"{min(moves):.1f}" if len(pairs) == 1 else \
            f"{min(moves):.1f}–{max(moves):.1f} (median {float(np.median(moves)):.1f})"
        out.append(f"**Precision** (bf16 → fp32, the control of the settings below): A − B of the {len(pairs)} key "
                   f"claim{'s' * (len(pairs) != 1)} measured in both moves by {span} points; {same} of {len(pairs)} "
                   f"keep{'s' * (len(pairs) == 1)} {'its' if len(pairs) == 1 else 'their'} outcome.")
    for conf in dict.fromkeys(build_regime(r).confound for r in regs if r != CONTROL):
        group = [r for r in regs if build_regime(r).confound == conf]
        rows = []
        for c in claims:
            base = _diff(long, c, CONTROL)
            got = [_diff(long, c, r) for r in group]
            got = [g for g in got if _measured(g)]
            if _measured(base) and got:
                rows.append((c, base, got))
        if not rows:
            continue
        kept = [c for c, base, got in rows if all(g["outcome"] == base["outcome"] for g in got)]
        moved = max(abs(g["difference"] - base["difference"]) for _, base, got in rows for g in got)
        text = (f"**{conf[0].upper() + conf[1:]}** ({', '.join(group)} against {CONTROL}): {len(kept)} of "
                f"{len(rows)} key claim{'s' * (len(rows) != 1)} keep{'s' * (len(kept) == 1)} the control's outcome "
                f"in every setting; A − B moves by up to {moved:.1f} points.")
        shift = _accuracy_shift(lv, group)
        if shift:
            text += " Accuracy against fp32: " + ", ".join(f"{cl.key_label(m)} {signed(d, 1)}" for m, d in shift.items()) + \
                " points (mean over seeds" + (" and the settings" if len(group) > 1 else "") + ")."
        flips = [(c, base, got) for c, base, got in rows if c not in kept]
        if flips:
            c, base, got = flips[0]
            text += (f" *{c}* is {base['outcome']} in {CONTROL} ({signed(base['difference'], 1)}) and "
                     + ", ".join(f"{g['outcome']} in {g['regime']} ({signed(g['difference'], 1)})" for g in got) + ".")
        out.append(text)
    return out
