"""One schema for a published claim and its verdict, used by every paper notebook and the final report.

Verdict rule. For a claim "A beats B on metric m" we take the per-seed values of m for A and for B, the
difference of their means A − B (percentage points) and its 95 % Welch t interval (Welch–Satterthwaite degrees of
freedom). The claim is *reproduced* when the whole interval lies on the paper's side of 0 (A − B > 0 for "beats";
A − B < 0 where the paper claims a drop), *contradicted* when the whole interval lies on the other side, and
*inconclusive* otherwise; it is *not tested* when A or B has no runs. A side with a single seed has no interval,
so such a claim is never reproduced or contradicted: it is inconclusive, and its row says "1 seed".
A compound claim (several comparisons: "beats" against several methods, "trades" = higher tail and lower head,
"all" = a list of parts) is contradicted when any part is contradicted, otherwise not tested when any part is
not tested, reproduced when every part is reproduced, and inconclusive otherwise. Each verdict is at 95 % on its
own; `with_holm` adds the verdict after Holm's step-down correction over a report's claims (family-wise 5 %, on
the Welch p-value of what decided each claim: the largest p of a reproduced compound's parts, the smallest of a
contradicted one's), and `holm_note` says in one sentence what that changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ltlib.errors import check_name, require
from ltlib.metrics import GROUPS
from ltlib.stats import fmt_mean_std, holm, mean_std, welch_interval, welch_p

# A row key: a registry / row name, or a tuple (table, row) or (table, name, value) for an ablation row, e.g.
# ("Table 9", "IB→CR") or ("Table 6", "S", 1); kept as a tuple end to end and only turned into text for display.
Key = Union[str, tuple]


def key_label(key: Key) -> str:
    """A row key for display: 'Table 9: IB→CR', 'Table 6: S = 1', or the name itself."""
    if not isinstance(key, tuple):
        return str(key)
    if len(key) == 3:
        v = key[2]
        return f"{key[0]}: {key[1]} = {v:g}" if isinstance(v, float) else f"{key[0]}: {key[1]} = {v}"
    return ": ".join(map(str, key))


def b_keys(b: Union[Key, list]) -> list[Key]:
    """A claim's B as a list of keys (one key, or several for "beats every one of")."""
    return list(b) if isinstance(b, list) else [b]

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTED = "reproduced", "contradicted", "inconclusive", "not tested"
OUTCOMES = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTED)
KINDS = ("beats", "trades", "all")
COLUMNS = ["paper", "where", "claim", "outcome", "difference", "ci_low", "ci_high", "seeds", "detail", "p"]
ALPHA = 0.05                                   # the 95 % intervals' level; Holm's family-wise level over a report

Samples = Mapping[str, Mapping[str, Sequence[float]]]   # method key -> metric -> per-seed values (percent)


@dataclass
class Claim:
    """A published claim: A beats B on a metric (sign=+1: A − B > 0, sign=−1: A − B < 0), or a compound of parts."""

    paper: str
    where: str
    text: str
    kind: str = "beats"
    a: Key = ""
    b: Union[Key, list] = ""
    metric: str = "acc"
    sign: int = 1
    parts: list["Claim"] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_name("claim kind", self.kind, KINDS)
        require(self.sign in (1, -1), f"claim sign must be +1 or -1, got {self.sign!r}")
        if self.kind == "all":
            require(bool(self.parts), f"claim '{self.text}': kind 'all' needs parts")
            return
        bs = b_keys(self.b)
        require(bool(self.a) and bool(bs) and all(bs), f"claim '{self.text}': kind '{self.kind}' needs a and b")
        if self.kind == "trades" and not self.parts:             # A's tail above B's and A's head below B's
            self.parts = [_part(self, b, m, s) for b in bs for m, s in (("tail", 1), ("head", -1))]
        elif self.kind == "beats" and len(bs) > 1 and not self.parts:
            self.parts = [_part(self, b, self.metric, self.sign) for b in bs]
        elif self.kind == "beats" and len(bs) == 1:
            self.b = bs[0]


def _part(c: Claim, b: Key, metric: str, sign: int) -> Claim:
    """An elementary comparison of c's A with one B."""
    return Claim(c.paper, c.where, f"{key_label(c.a)} {'>' if sign > 0 else '<'} {key_label(b)} ({metric})", "beats",
                 c.a, b, metric, sign)


def beats(paper: str, where: str, text: str, a: Key, b: Union[Key, list], metric: str = "acc") -> Claim:
    """Claim: A's mean metric is above B's (above every B's for a list)."""
    return Claim(paper, where, text, "beats", a, b, metric)


def trades(paper: str, where: str, text: str, a: Key, b: Key, tail: str = "tail", head: str = "head") -> Claim:
    """Claim: A trades head for tail against B (A − B > 0 on tail and A − B < 0 on head)."""
    base = Claim(paper, where, text, "beats", a, b)
    return Claim(paper, where, text, "trades", a, b, parts=[_part(base, b, tail, 1), _part(base, b, head, -1)])


def all_of(paper: str, where: str, text: str, parts: Sequence[Claim]) -> Claim:
    """Claim: every part holds."""
    return Claim(paper, where, text, "all", parts=list(parts))


# ==== The papers' claims, stated once (this module is the only place a claim is stated). Each notebook judges its
# own list on its runs' keys; the final report judges STUDY on the study's recipes. ====

# ---- 10_rebalancing_diagnosis / 11_baselines (BBN §3 diagnosis, baselines)
# The diagnosis grid's cells are keyed (representation, classifier), e.g. ("CE", "RS"): CE backbone, RS classifier.
MANNERS = ("CE", "RW", "RS")


def diagnosis_claims(metric: str = "acc") -> list[Claim]:
    """BBN §3 / Fig. 2 on the 3×3 grid: re-balanced classifiers help (within a row), re-balanced representations
    hurt (within a column), each part one comparison per cell against the CE cell."""
    on = "" if metric == "acc" else f" ({metric})"
    helps = [beats("BBN", "§3, Fig. 2", f"{r} representation: {c} classifier beats CE classifier",
                   (r, c), (r, "CE"), metric) for r in MANNERS for c in MANNERS[1:]]
    hurts = [beats("BBN", "§3, Fig. 2", f"{c} classifier: CE representation beats {r}",
                   ("CE", c), (r, c), metric) for c in MANNERS for r in MANNERS[1:]]
    return [all_of("BBN", "§3, Fig. 2", f"re-balancing (RW / RS) helps the classifier{on}", helps),
            all_of("BBN", "§3, Fig. 2", f"re-balancing (RW / RS) hurts the representation{on}", hurts)]


DIAGNOSIS: list[Claim] = diagnosis_claims("acc") + diagnosis_claims("tail")

# Notebook 11 (methods keyed by their BASELINES names)
BASELINE_CLAIMS: list[Claim] = [
    trades("BBN", "§3, Table 1", "re-weighting (RW) trades head accuracy for tail accuracy against CE", "RW", "CE"),
    trades("BBN", "§3, Table 1", "re-sampling (RS) trades head accuracy for tail accuracy against CE", "RS", "CE"),
    all_of("BBN", "Table 1", "the deferred re-balancing baselines CE-DRW, CE-DRS and LDAM-DRW beat plain CE",
           [beats("BBN", "Table 1", f"{m} beats CE", m, "CE") for m in ("CE-DRW", "CE-DRS", "LDAM-DRW")]),
    beats("BBN", "Table 1", "deferred re-weighting (CE-DRW) beats re-weighting from the start (RW)", "CE-DRW", "RW"),
    beats("BBN", "Table 1", "deferred re-sampling (CE-DRS) beats re-sampling from the start (RS)", "CE-DRS", "RS"),
    beats("BBN", "Table 1", "LDAM-DRW beats CE-DRW", "LDAM-DRW", "CE-DRW"),
]


# ---- 20_decoupling (Kang et al., ICLR 2020)
# Keys: joint samplers "Joint-IB" / "Joint-CB" / "Joint-sqrt" / "Joint-PB"; classifiers on the IB backbone "Joint",
# "NCM-L2", "NCM-cos", "cRT", "τ-norm", "LWS"; the τ sweep's ends "τ=0" and "τ=<max>"; Table 1's stage-2 rows
# "B+C", "B+C (0.1× lr)", "LB+C" (C only is "cRT"); cRT on each backbone "cRT on IB" ... ; per-class weight-norm
# spread (max / min norm) under the metric "norm_spread".
DECOUPLING: list[Claim] = [
    beats("Decoupling", "§5.2, Fig. 1", "joint training: progressively balanced (PB) sampling beats IB, CB and sqrt",
          "Joint-PB", ["Joint-IB", "Joint-CB", "Joint-sqrt"]),
    beats("Decoupling", "§5.2, Fig. 1", "joint training: instance-balanced (IB) sampling has the best head accuracy",
          "Joint-IB", ["Joint-CB", "Joint-sqrt", "Joint-PB"], "head"),
    beats("Decoupling", "Tables 2–4", "cRT beats the joint classifier", "cRT", "Joint"),
    beats("Decoupling", "Tables 2–4", "τ-norm beats the joint classifier", "τ-norm", "Joint"),
    beats("Decoupling", "§5 (appendix)", "LWS beats the joint classifier", "LWS", "Joint"),
    all_of("Decoupling", "Tables 2–4", "cRT, τ-norm and LWS raise tail accuracy over the joint classifier",
           [beats("Decoupling", "Tables 2–4", f"{m} beats joint (tail)", m, "Joint", "tail")
            for m in ("cRT", "τ-norm", "LWS")]),
    beats("Decoupling", "Tables 2–4", "NCM is below cRT (competitive, but a little lower)", "cRT", "NCM-cos"),
    beats("Decoupling", "Table 1", "retraining the classifier only (C = cRT) beats retraining more of the network",
          "cRT", ["B+C", "B+C (0.1× lr)", "LB+C"]),
    beats("Decoupling", "§5.2, Fig. 1", "with cRT, the IB representation beats the CB, sqrt and PB ones",
          "cRT on IB", ["cRT on CB", "cRT on sqrt", "cRT on PB"]),
    trades("Decoupling", "§5.3, Fig. 2", "raising τ (0 → the grid's largest) trades head accuracy for tail accuracy",
           "τ=max", "τ=0"),
    Claim("Decoupling", "§5.3, Fig. 2", "cRT's and LWS's weight norms are flatter than the joint classifier's "
          "(max / min norm over classes)", "all", parts=[Claim("Decoupling", "§5.3, Fig. 2", f"{m} norm spread < joint", "beats", m, "Joint",
                              "norm_spread", -1) for m in ("cRT", "LWS")]),
]


# ---- 30_bbn (Zhou et al., CVPR 2020). Keys: notebook 30's run keys (baselines by registry name, BBN Table 1's
# mixup rows by their names); the ablations' keys are the sampler / adaptor names and the Table 5 backbones.
_BBN_TABLE1 = ["CE", "Focal", "Mixup", "Manifold Mixup", "Manifold Mixup (two samplers)", "CE-DRW", "CE-DRS",
               "CB-Focal", "LDAM-DRW"]
BBN: list[Claim] = [
    beats("BBN", "Table 1", f"BBN beats {b}", "BBN", b) for b in _BBN_TABLE1
]

_DECAY, _NON_DECAY = ["linear_decay", "cosine_decay", "parabolic_decay"], ["equal", "beta", "parabolic_increment"]
BBN_ABLATIONS: list[Claim] = [
    beats("BBN", "Table 3", "the reversed sampler feeds the re-balancing branch best (beats uniform and balanced)",
          "reversed", ["uniform", "balanced"]),
    all_of("BBN", "Table 4", "every decaying α (linear, cosine, parabolic) beats every non-decaying one "
           "(equal, β, parabolic increment)", [beats("BBN", "Table 4", f"{d} beats the non-decaying adaptors", d,
                                                     _NON_DECAY) for d in _DECAY]),
    beats("BBN", "Table 4", "parabolic decay (the paper's α) beats linear and cosine decay", "parabolic_decay",
          ["linear_decay", "cosine_decay"]),
    beats("BBN", "Table 5", "BBN-RB features beat the RW and RS features", "BBN-RB features",
          ["RW features", "RS features"]),
    beats("BBN", "Table 5", "CE features beat the RW and RS features", "CE features", ["RW features", "RS features"]),
    beats("BBN", "Table 5", "BBN-CB features beat BBN-RB features", "BBN-CB features", "BBN-RB features"),
    Claim("BBN", "Fig. 4", "BBN-ALL's per-class weight norms are flatter (lower σ/mean) than CE's", "beats",
          "BBN-ALL", "CE", "norm_cv", -1),
    Claim("BBN", "Fig. 4", "BBN-RB's norms fall with class size where BBN-CB's rise (lower Spearman ρ with n_c)",
          "beats", "BBN-RB", "BBN-CB", "norm_rho", -1),
]


# ---- 40_reslt (Cui et al., TPAMI 2022). Keys: notebook 40's main runs ("ResLT", baselines by registry name) and
# its ablation rows at ablation size ("CE (abl)", "ResLT (abl)", the naive baselines, variants, ("Table 4", "G", k),
# ("Fig. 6", "α", x),
# "ResLT (kx)" / "BBN (kx)").
RESLT: list[Claim] = [
    beats("ResLT", "Table 5", "ResLT beats plain CE", "ResLT", "CE"),
    beats("ResLT", "Table 5", "ResLT beats CE-DRW", "ResLT", "CE-DRW"),
    beats("ResLT", "Table 5", "ResLT beats LDAM-DRW", "ResLT", "LDAM-DRW"),
    trades("ResLT", "Table 1", "ResLT trades head accuracy for tail accuracy against CE", "ResLT", "CE"),
]

_NAIVE = ["Baseline-1 (max)", "Baseline-2 (sum)", "Baseline-3 (softmax sum)"]
_VARIANTS = ["no shortcut (Fig. 2b)", "no nesting (Fig. 2c)", "no specialisation (Fig. 2d)"]
RESLT_ABLATIONS: list[Claim] = [
    beats("ResLT", "Table 1", "the naive fusion baselines fall below CE", "CE (abl)", _NAIVE),
    beats("ResLT", "Table 1", "ResLT beats the naive fusion baselines", "ResLT (abl)", _NAIVE),
] + [
    beats("ResLT", "Figs. 3–4", f"ResLT beats its variant '{v}'", "ResLT (abl)", v) for v in _VARIANTS
] + [
    beats("ResLT", "§4.2, Fig. 6", "α = 1 (branch loss only) beats the naive fusion baselines", ("Fig. 6", "α", 1.0), _NAIVE),
    beats("ResLT", "Table 4", "three groups beat two", ("Table 4", "G", 3), ("Table 4", "G", 2)),
] + [
    beats("ResLT", "Fig. 5", f"ResLT beats BBN at {k}x width (the paper: ResNet-32 ({k}x))", f"ResLT ({k}x)",
          f"BBN ({k}x)")
    for k in (1, 2, 3)
]


# ---- 50_aux_learning ("To balance or not to balance", Zhang et al.): keys are notebook 50's row names
_TB = "To balance or not"
AUX: list[Claim] = [
    beats(_TB, "Table 1", "CBS main head + RRS auxiliary head beats both single-sampler baselines", "CBS+RRS",
          ["RRS-only", "CBS-only"]),
    beats(_TB, "Table 1", "adding the rotation task (SS) improves CBS+RRS", "CBS+RRS+SS", "CBS+RRS"),
    beats(_TB, "Table 3", "joint CBS+RRS beats stage-wise ftRRS+CBS (RRS, then CBS fine-tuning)", "CBS+RRS",
          "ftRRS+CBS"),
    beats(_TB, "Table 4", "CBS:RRS = 0.5:1 beats the other joint ratios 1:1 and 1:0.5", "CBS:RRS 0.5:1",
          ["CBS:RRS 1:1", "CBS:RRS 1:0.5"]),
    beats(_TB, "Table 4", "every joint ratio beats both ends (0:1 = RRS-only, 1:0 = CBS-only)", "CBS:RRS 0.5:1",
          ["CBS:RRS 0:1", "CBS:RRS 1:0"]),
    beats(_TB, "Table 5", "rotation helps as a task, not as plain augmentation", "CBS+RRS+SS", "CBS+RRS+rot-aug"),
    beats(_TB, "Fig. 3", "over CBS-only, CBS+RRS gains on the head classes", "CBS+RRS", "CBS-only", metric="head"),
    beats(_TB, "Fig. 3", "over RRS-only, CBS+RRS gains on the tail classes", "CBS+RRS", "RRS-only", metric="tail"),
]


# ---- 60_class_reversed_switching (class-reversed sampling): keys are notebook 60's row names; the ablation tables'
# rows are (table, row) tuples, e.g. ("Table 9", "IB→CR")
_CR = "Class-reversed"
SWITCHING: list[Claim] = [
    beats(_CR, "Table 1", "IB→CR switching beats plain CE", "IB→CR", "CE"),
    beats(_CR, "Table 1", "IB→CR switching beats Decouple-cRT", "IB→CR", "cRT"),
    beats(_CR, "Table 1", "IB→CR switching beats BBN", "IB→CR", "BBN"),
    beats(_CR, "Tables 4–5", "switching raises tail accuracy over CE", "IB→CR", "CE", metric="tail"),
    beats(_CR, "Table 9", "switching to CR beats switching to CB (same schedule and switch epoch, over seeds)",
          "IB→CR", "IB→CB"),
    beats(_CR, "Table 7", "switching to CR for good beats a later switch to CB (IB→CR(5)→CB)", ("Table 7", "IB→CR"),
          ("Table 7", "IB→CR(5)→CB")),
    beats(_CR, "Table 9", "CR is the best second sampler after IB", ("Table 9", "IB→CR"),
          [("Table 9", "IB→IB"), ("Table 9", "IB→CB")]),
    beats(_CR, "Table 9", "IB is the best first sampler (second sampler CR)", ("Table 9", "IB→CR"),
          [("Table 9", "CB→CR"), ("Table 9", "CR→CR")]),
    beats(_CR, "Table 11", "after switching to CR, joint training beats a retrained classifier on a fixed backbone",
          ("Table 11", "CR joint"), ("Table 11", "CR fixed + new classifier")),
    beats(_CR, "Table 11", "without switching (IB), re-training the classifier on the fixed backbone helps",
          ("Table 11", "IB fixed + new classifier"), ("Table 11", "IB fixed")),
    beats(_CR, "Table 12", "a CR-retrained classifier does better on switching features than on standard ones",
          ("Table 12", "switching + CR"), ("Table 12", "standard + CR")),
    beats(_CR, "Table 12", "a CB-retrained classifier does better on switching features than on standard ones",
          ("Table 12", "switching + CB"), ("Table 12", "standard + CB")),
]


# ---- The claims the final report judges: on the registry keys of the study's recipes (and the diagnosis grid's cells).
STUDY: list[Claim] = [
    beats("BBN", "Table 1", "BBN beats plain cross-entropy (CE)", "BBN", "CE"),
    beats("BBN", "Table 1", "BBN beats the re-balancing baselines CE-DRW, CE-DRS and LDAM-DRW", "BBN",
         ["CE-DRW", "CE-DRS", "LDAM-DRW"]),
    trades("BBN", "§3, Fig. 2", "re-balancing (RS) trades head accuracy for tail accuracy against CE", "RS", "CE"),
    beats("BBN", "§3, Fig. 2", "with the CE representation, RW / RS classifiers beat the CE classifier",
         "CE+RS", "CE+CE"),
    beats("BBN", "§3, Fig. 2", "with an RS classifier, the CE representation beats the RW and RS representations",
         "CE+RS", ["RW+RS", "RS+RS"]),
    beats("ResLT", "Table 5", "ResLT beats plain CE", "ResLT", "CE"),
    beats("ResLT", "Table 5", "ResLT beats BBN", "ResLT", "BBN"),
    beats("Decoupling", "§5 / Table 2", "cRT (retrained classifier, frozen CE backbone) beats joint CE training",
         "cRT", "CE"),
    beats("Decoupling", "§5", "LWS beats joint CE training", "LWS", "CE"),
    beats("Decoupling", "Table 1", "retraining only the classifier (cRT) beats retraining backbone + classifier",
         "cRT", "B+C"),
    beats("To balance or not", "Table 1", "main head (CBS) + auxiliary head (RRS) beats CBS-only and RRS-only",
         "aux", ["CBS-only", "RRS-only"]),
    beats("Class-reversed", "Table 1", "IB→CR switching beats plain CE", "switching", "CE"),
    beats("Class-reversed", "Table 9", "switching to class-reversed beats switching to class-balanced (IB→CB, the "
         "same schedule and switch epoch)", "switching", "switching-CB"),
    beats("Class-reversed", "Table 1", "IB→CR switching beats Decouple-cRT", "switching", "cRT"),
    beats("Class-reversed", "Table 1", "IB→CR switching beats BBN", "switching", "BBN"),
]


@dataclass
class Verdict:
    """A claim's outcome and the numbers behind it (diff, lo, hi in percentage points; NaN for a compound)."""

    outcome: str
    diff: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    n_a: int = 0
    n_b: int = 0
    detail: str = ""
    parts: list["Verdict"] = field(default_factory=list)
    p: float = math.nan                         # Welch p of the decisive comparison (NaN: none or not decisive)


def samples_from_frame(df: pd.DataFrame, key: str = "method", metrics: Optional[Sequence[str]] = None,
                       scale: float = 1.0) -> dict[str, dict[str, list[float]]]:
    """Samples from a long frame (one row per run: key, seed, metric columns); scale=100 turns fractions into %."""
    require(key in df.columns, f"samples_from_frame: no column '{key}' (columns: {', '.join(map(str, df.columns))})")
    metrics = [m for m in (metrics or GROUPS) if m in df.columns]
    rows = df.sort_values("seed", kind="stable") if "seed" in df.columns else df
    return {str(k): {m: [float(v) * scale for v in pd.to_numeric(g[m], errors="coerce")] for m in metrics}
            for k, g in rows.groupby(key, sort=False)}


def _as_samples(samples: Union[Samples, pd.DataFrame]) -> Samples:
    return samples_from_frame(samples) if isinstance(samples, pd.DataFrame) else samples


def _compare(c: Claim, samples: Samples) -> Verdict:
    """Verdict of one comparison A vs B on c.metric."""
    xa, xb = samples.get(c.a, {}).get(c.metric, []), samples.get(c.b, {}).get(c.metric, [])
    (ma, sa, na), (mb, sb, nb) = mean_std(xa), mean_std(xb)
    label = "" if c.metric == "acc" else f"{c.metric}: "
    if na == 0 or nb == 0:
        missing = " and ".join(key_label(m) for m, n in ((c.a, na), (c.b, nb)) if n == 0)
        return Verdict(NOT_TESTED, n_a=na, n_b=nb, detail=f"{label}no {c.metric} values for {missing}")
    iv = welch_interval(xa, xb)
    s = c.sign
    lo, hi = s * iv.lo, s * iv.hi                     # in the paper's direction: > 0 is the paper's side
    outcome = REPRODUCED if min(lo, hi) > 0 else CONTRADICTED if max(lo, hi) < 0 else INCONCLUSIVE
    ci = f" [{iv.lo:+.2f}, {iv.hi:+.2f}] pts" if iv.determined else " pts (1 seed: no interval)"
    side = "" if s > 0 else " (claimed < 0)"
    detail = (f"{label}{key_label(c.a)} {fmt_mean_std(ma, sa, na)} vs {key_label(c.b)} {fmt_mean_std(mb, sb, nb)}: "
              f"{iv.diff:+.2f}{ci}{side}")
    return Verdict(outcome, iv.diff, iv.lo, iv.hi, na, nb, detail, p=welch_p(xa, xb))


def judge(claim: Claim, samples: Union[Samples, pd.DataFrame]) -> Verdict:
    """The verdict of a claim on per-seed samples (or a long frame), by the module's rule."""
    samples = _as_samples(samples)
    if not claim.parts:
        return _compare(claim, samples)
    vs = [judge(p, samples) for p in claim.parts]
    outs = {v.outcome for v in vs}
    outcome = (CONTRADICTED if CONTRADICTED in outs else NOT_TESTED if NOT_TESTED in outs
               else REPRODUCED if outs == {REPRODUCED} else INCONCLUSIVE)
    one = vs[0] if len(vs) == 1 else Verdict(outcome)
    # the p of what decided it: every part (intersection-union: the largest p), or the strongest contradiction
    p = (max(v.p for v in vs) if outcome == REPRODUCED else
         min(v.p for v in vs if v.outcome == CONTRADICTED) if outcome == CONTRADICTED else math.nan)
    return Verdict(outcome, one.diff, one.lo, one.hi, min(v.n_a for v in vs), min(v.n_b for v in vs),
                   "; ".join(v.detail for v in vs), vs, p)


def judge_all(claims: Sequence[Claim], samples: Union[Samples, pd.DataFrame]) -> pd.DataFrame:
    """One row per claim: paper, where, claim, outcome, difference, ci_low, ci_high, seeds ('3 vs 3'), detail."""
    samples = _as_samples(samples)
    return verdict_table(claims, [judge(c, samples) for c in claims])


def verdict_table(claims: Sequence[Claim], verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """judge_all's rows from verdicts already judged (one per claim, in order)."""
    rows = [{"paper": c.paper, "where": c.where, "claim": c.text, "outcome": v.outcome, "difference": v.diff,
             "ci_low": v.lo, "ci_high": v.hi, "seeds": f"{v.n_a} vs {v.n_b}", "detail": v.detail, "p": v.p}
            for c, v in zip(claims, verdicts, strict=True)]
    return pd.DataFrame(rows, columns=COLUMNS)


def with_holm(table: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """judge_all's rows with Holm's correction over all of them: p_holm and outcome_holm (a reproduced or
    contradicted verdict whose Holm-adjusted p is not below alpha becomes inconclusive)."""
    decisive = table["outcome"].isin([REPRODUCED, CONTRADICTED])
    # every tested claim is in the family; one with no single p (an inconclusive compound) counts as p = 1
    p = np.where(table["p"].notna(), table["p"], np.where(table["outcome"] == NOT_TESTED, np.nan, 1.0))
    adj = holm(p)
    keep = decisive & (adj < alpha)
    return table.assign(p_holm=adj, outcome_holm=np.where(keep | ~decisive, table["outcome"], INCONCLUSIVE))


def holm_note(table: pd.DataFrame) -> str:
    """One sentence on what Holm's correction over a report's claims changes."""
    t = table if "outcome_holm" in table else with_holm(table)
    m = int(t["p_holm"].notna().sum())
    lost = t[t["outcome"] != t["outcome_holm"]]
    decisive = int(t["outcome"].isin([REPRODUCED, CONTRADICTED]).sum())
    what = (f"{len(lost)} of the {decisive} reproduced / contradicted verdicts become inconclusive ("
            + "; ".join(f"{r.claim}: was {r.outcome}" for r in lost.itertuples()) + ")") if len(lost) else \
        f"all {decisive} reproduced / contradicted verdicts stand"
    return (f"Holm's correction over the {m} tested claims (family-wise error {100 * ALPHA:.0f} %, Welch "
            f"p-values; a claim without a single p counts as p = 1): {what}.")


def outcome_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many claims have each outcome (all four keys, in OUTCOMES order)."""
    return {o: int((table["outcome"] == o).sum()) if len(table) else 0 for o in OUTCOMES}


def _cell(x: object) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: pd.DataFrame) -> str:
    """Any data frame as a Markdown table (its columns as headers, no index)."""
    lines = ["| " + " | ".join(map(_cell, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def to_markdown(table: pd.DataFrame, title: Optional[str] = None) -> str:
    """A Markdown table of judge_all's rows and a one-line count of outcomes (paper column only if several)."""
    cols = (["paper"] if table["paper"].nunique() > 1 else []) + ["where", "claim", "outcome", "seeds", "detail"]
    head = {"paper": "Paper", "where": "Where", "claim": "Claim", "outcome": "Outcome", "seeds": "Seeds",
            "detail": "Measured (A − B, 95 % Welch CI)"}
    shown = table[cols].assign(outcome=[f"**{o}**" for o in table["outcome"]]).rename(columns=head)
    counts = outcome_counts(table)
    return "\n".join(([f"**{title}**", ""] if title else []) + [markdown_table(shown), "",
                                                                 ", ".join(f"{n} {o}" for o, n in counts.items())])


class Markdown(str):
    """Markdown text that Jupyter renders as Markdown (``_repr_markdown_``), without needing IPython."""

    def _repr_markdown_(self) -> str:
        return str(self)


def reading(claims: Sequence[Claim], samples: Union[Samples, pd.DataFrame], title: Optional[str] = None,
            note: str = "") -> Markdown:
    """A notebook's reading: the claims judged on per-seed samples, as one Markdown table (+ an optional note)."""
    text = to_markdown(judge_all(claims, samples), title)
    return Markdown(text + (f"\n\n{note}" if note else ""))
