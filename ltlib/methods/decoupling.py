"""Decoupling representation and classifier (Kang et al., ICLR 2020): joint samplers, cRT, NCM, τ-norm, LWS.

Training runs are plain RunConfigs built on the shared baselines (so IB = CE and CB = RS are the same runs as in
the other notebooks); the post-hoc classifiers (NCM, τ-norm) work on penultimate features of a finished run.
τ is chosen on the held-out split, never on the test set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ltlib.analysis import GROUPS, mean_std, report_samples, report_table, run_samples, weight_norms
from ltlib.config import RunConfig
from ltlib.errors import ConfigError, check_name
from ltlib.heads import NCMHead, tau_normalize
from ltlib.inference import DeviceData, predict, resolve_device
from ltlib.methods.baselines import baseline, retrain_classifier
from ltlib.methods.recipe import Plan
from ltlib.params import as_dict
from ltlib.metrics import accuracy_report
from ltlib.plots import GROUP_COLORS
from ltlib.runs import Run

# Joint-training samplers of Decoupling §3 (name in the paper -> ltlib sampler)
SAMPLERS: dict[str, str] = {"IB": "ib", "CB": "cb", "sqrt": "sqrt", "PB": "pb"}
# τ grid of docs/protocol.md §4: 0..2 step 0.1
TAUS: list[float] = [round(0.1 * i, 1) for i in range(21)]
# Decoupling Table 1 rows: which parts stage 2 retrains (CB sampler, from the IB joint model)
PARTS: dict[str, dict[str, Any]] = {
    "B+C": {"train_parts": "all"},
    "B+C (0.1× lr)": {"train_parts": "all", "backbone_lr_mult": 0.1},
    "LB+C": {"train_parts": "last_block"},
    "C": {"train_parts": "classifier"},
}


# Configs on the leaderboard or in a claim (all seeds); the rest (sqrt / PB joint, Table 1's other rows) are ablations
MAIN_RUNS = ("IB", "CB", "cRT", "LWS", "B+C", "C")


def seeds_of(name: str, seeds: Sequence[int], ablation_seeds: int) -> list[int]:
    """The seeds a joint sampler / stage-2 row trains with: every seed for MAIN_RUNS, the first ablation_seeds else."""
    return list(seeds) if name in MAIN_RUNS else list(seeds)[:max(1, ablation_seeds)]


# ------------------------------------------------------------------------------------ run configs

def joint_configs(params: Any, **changes: Any) -> dict[str, RunConfig]:
    """Joint training (backbone + linear classifier, CE) under the IB / CB / sqrt / PB samplers."""
    ib = baseline(params, "CE", **changes)
    cb = baseline(params, "RS", **changes)
    return {"IB": ib, "CB": cb, "sqrt": ib.replace(sampler="sqrt", tag="Joint-sqrt"),
            "PB": ib.replace(sampler="pb", tag="Joint-PB")}


def crt_config(stage1: RunConfig, epochs: int = 10) -> RunConfig:
    """cRT: a new linear classifier trained with the CB sampler on the frozen stage-1 backbone."""
    return retrain_classifier(stage1, "RS", epochs)


def lws_config(stage1: RunConfig, epochs: int = 10) -> RunConfig:
    """LWS: the stage-1 linear classifier kept frozen, a per-class scale learned with the CB sampler."""
    return retrain_classifier(stage1, "RS", epochs, train_parts="lws", head="lws", reinit_head=False,
                              tag=f"{stage1.tag or stage1.method}+LWS")


def parts_configs(stage1: RunConfig, epochs: int = 10) -> dict[str, RunConfig]:
    """Decoupling Table 1: retrain B+C, B+C with the backbone at lr×0.1, last block + C, or C only (= cRT)."""
    out = {}
    for name, ch in PARTS.items():
        tag = f"{stage1.tag or stage1.method}+{name}"
        out[name] = crt_config(stage1, epochs) if ch["train_parts"] == "classifier" else \
            retrain_classifier(stage1, "RS", epochs, tag=tag, **ch)
    return out


# ------------------------------------------------------------------------------------ features

@dataclass
class FeatureSet:
    """Penultimate features and labels of a finished run: train (no augmentation), val and test."""

    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    counts: list[int]
    head: nn.Module
    info: dict[str, Any] = field(default_factory=dict)

    def logits(self, split: str, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Linear logits f·Wᵀ (+ b) of a split."""
        f = self.splits[split][0]
        out = f @ weight.to(f).t()
        return out if bias is None else out + bias.to(f)


def extract_features(run: Run, device: str | torch.device = "cpu") -> FeatureSet:
    """Features of the long-tailed training set (un-augmented), the held-out split and the test set."""
    dev = resolve_device(device)
    method, model, data = run.load(dev)
    dd = DeviceData(data, dev)
    prec = run.config.precision
    splits = {"train": (predict(method, model, dd.x, dd, precision=prec, features=True), dd.y)}
    for name, (x, y) in dd.splits.items():
        splits[name] = (predict(method, model, x, dd, precision=prec, features=True), y)
    return FeatureSet(splits, list(data.counts), model.head, {"run_id": run.run_id, "tag": run.config.tag})


# ------------------------------------------------------------------------------------ post-hoc classifiers

@torch.no_grad()
def _reports(fs: FeatureSet, scores: Any, splits: Sequence[str] = ("val", "test")) -> dict[str, dict]:
    """accuracy_report of each split from a function split -> (N, C) scores."""
    out = {}
    for s in splits:
        y = fs.splits[s][1]
        if len(y):
            out[s] = accuracy_report(scores(s).argmax(1).cpu(), y.cpu(), fs.counts)
    return out


def ncm(fs: FeatureSet, metric: str = "l2") -> tuple[NCMHead, dict[str, dict]]:
    """NCM fitted on the training features; reports on val and test (metric 'l2' or 'cosine')."""
    f, y = fs.splits["train"]
    head = NCMHead.fit(f.float(), y, len(fs.counts), metric)
    return head, _reports(fs, lambda s: head(fs.splits[s][0]))


def tau_curve(fs: FeatureSet, taus: Sequence[float] = TAUS, splits: Sequence[str] = ("val", "test")) -> pd.DataFrame:
    """Accuracy of the τ-normalised classifier (bias dropped) for each τ: columns tau, split, acc, groups."""
    rows = []
    for tau in taus:
        w = tau_normalize(fs.head, tau).weight.detach()
        for split, rep in _reports(fs, lambda s: fs.logits(s, w), splits).items():
            rows.append({"tau": float(tau), "split": split, **{g: rep[g] for g in GROUPS}})
    return pd.DataFrame(rows)


NO_HELDOUT_TAU = 1.0      # τ where a dataset has no held-out split (never chosen on test)


def choose_tau(curve: pd.DataFrame, split: str = "val", metric: str = "acc") -> float:
    """τ with the best held-out accuracy (ties: the smallest τ); never looks at the test rows."""
    c = curve[curve["split"] == split]
    if c.empty:
        raise ConfigError(f"no '{split}' rows to choose τ on: the held-out split is empty (val_per_class = 0?)")
    best = c[metric].max()
    return float(c.loc[c[metric] >= best - 1e-12, "tau"].min())


@dataclass
class TauNorm:
    """τ-normalisation result: the chosen τ, the full curve, and the reports at the chosen τ."""

    tau: float
    curve: pd.DataFrame
    reports: dict[str, dict]
    weight: torch.Tensor


def tau_norm(fs: FeatureSet, taus: Sequence[float] = TAUS) -> TauNorm:
    """Sweep τ, choose it on the held-out split, report val and test at that τ."""
    curve = tau_curve(fs, taus)
    # iNaturalist 2018 has no held-out list (its val list is the test set): τ = 1, the plain L2-normalised
    # classifier, is used there rather than a τ chosen on the test set
    tau = choose_tau(curve, "val") if len(fs.splits["val"][1]) else NO_HELDOUT_TAU
    w = tau_normalize(fs.head, tau).weight.detach()
    return TauNorm(tau, curve, _reports(fs, lambda s: fs.logits(s, w)), w)


@dataclass
class PostHoc:
    """NCM (L2, cosine) and τ-norm on one run's backbone."""

    run_id: str
    reports: dict[str, dict[str, dict]]     # classifier -> split -> accuracy report
    tau: TauNorm


def posthoc(run: Run, device: str | torch.device = "cpu", taus: Sequence[float] = TAUS) -> PostHoc:
    """The training-free classifiers of Decoupling §4 on a finished joint run: computed once from its final model,
    then read from its record (derived/posthoc-…)."""
    def compute() -> dict[str, Any]:
        fs = extract_features(run, device)
        tn = tau_norm(fs, taus)
        reports = {"NCM-L2": ncm(fs, "l2")[1], "NCM-cos": ncm(fs, "cosine")[1], "τ-norm": tn.reports}
        return {"reports": reports, "tau": tn.tau, "curve": tn.curve, "tau_reports": tn.reports,
                "weight": tn.weight.float().cpu().numpy()}
    d = run.derived(("posthoc", "taus=" + ",".join(f"{t:g}" for t in taus)), compute)
    tn = TauNorm(float(d["tau"]), d["curve"], d["tau_reports"], torch.as_tensor(np.asarray(d["weight"])))
    return PostHoc(run.run_id, d["reports"], tn)


# ------------------------------------------------------------------------------------ tables

def run_report(run: Run, split: str = "test", which: str = "last") -> dict:
    """A trained run's accuracy report (last epoch by default: the weights the post-hoc classifiers use)."""
    return run.metrics[which][split]


def norm_spread(norms: Sequence[float]) -> float:
    """max / min of per-class weight norms (1 = flat)."""
    n = np.asarray(norms, dtype=float)
    return float(n.max() / n.min())


def tau_end_reports(post: PostHoc, split: str = "test") -> dict[str, dict]:
    """Accuracy reports (fractions) of the τ sweep's two ends on a split: 'τ=0' and 'τ=max'."""
    c = post.tau.curve[post.tau.curve["split"] == split].sort_values("tau")
    return {"τ=0": c.iloc[0].to_dict(), "τ=max": c.iloc[-1].to_dict()}


def claim_samples(joint: dict[str, Sequence[Run]], post: dict[str, Sequence[PostHoc]],
                  stage2: dict[str, Sequence[Run]], parts: dict[str, Sequence[Run]],
                  crt_all: dict[str, Sequence[Run]]) -> dict[str, dict[str, list[float]]]:
    """Per-seed samples (%, and 'norm_spread') under the keys ltlib.claims.DECOUPLING states its claims on."""
    out = run_samples({f"Joint-{s}": rs for s, rs in joint.items()})
    out.update(report_samples(classifier_reports(joint["IB"], post["IB"], stage2)))
    out.update(run_samples({k: rs for k, rs in parts.items() if k != "C"}))
    out.update(run_samples({f"cRT on {s}": rs for s, rs in crt_all.items()}))
    ends = [tau_end_reports(p) for p in post["IB"]]
    out.update(report_samples({k: [e[k] for e in ends] for k in ("τ=0", "τ=max")}))
    for key, runs in (("Joint", joint["IB"]), *((k, stage2[k]) for k in ("cRT", "LWS") if k in stage2)):
        out[key]["norm_spread"] = [norm_spread(weight_norms(r)) for r in runs]
    return out


# ------------------------------------------------------------------------------------ notebook helpers

CLASSIFIERS = ["Joint", "NCM-L2", "NCM-cos", "cRT", "τ-norm", "LWS"]
LAYOUT = {"many": "Many", "medium": "Medium", "few": "Few", "acc": "All", "head": "head", "mid": "mid",
          "tail": "tail"}


def check_backbones(names: Sequence[str]) -> list[str]:
    """Validate joint-sampler names (IB / CB / sqrt / PB) before any work starts."""
    for n in names:
        check_name("backbone sampler", n, SAMPLERS)
    return list(names)


def classifier_reports(joint: Sequence[Run], post: Sequence[PostHoc], stage2: dict[str, Sequence[Run]],
                       split: str = "test") -> dict[str, list[dict]]:
    """Classifier -> one report per seed: Joint, the post-hoc ones, then each stage-2 run list (cRT, LWS, ...)."""
    out: dict[str, list[dict]] = {"Joint": [run_report(r, split) for r in joint]}
    for name in ("NCM-L2", "NCM-cos", "τ-norm"):
        out[name] = [p.reports[name][split] for p in post]
    for name, runs in stage2.items():
        out[name] = [run_report(r, split) for r in runs]
    order = [c for c in CLASSIFIERS if c in out] + [c for c in out if c not in CLASSIFIERS]
    return {c: out[c] for c in order}


def layout(table: pd.DataFrame) -> pd.DataFrame:
    """Decoupling's table layout: Many / Medium / Few / All (+ head / mid / tail thirds), 'mean ± std' strings."""
    out = mean_std(table, list(LAYOUT)).rename(columns=LAYOUT)
    return out.assign(seeds=table["seeds"]) if "seeds" in table else out


def sampler_grid(reports: dict[str, dict[str, Sequence[dict]]], metric: str = "acc") -> pd.DataFrame:
    """Representation sampler (rows) x classifier (columns): mean test `metric` in % (Decoupling Fig. 1)."""
    return pd.DataFrame({s: report_table(r)[metric] for s, r in reports.items()}).T


def plot_tau_curve(curve: pd.DataFrame, chosen: float, groups: Sequence[str] = ("acc", "head", "mid", "tail"),
                   split: str = "test"):
    """Accuracy per class group vs τ (Decoupling Fig. 2 right); held-out accuracy dashed, chosen τ marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    c = curve[curve["split"] == split].sort_values("tau")
    for g in groups:
        if c[g].notna().any():
            ax.plot(c["tau"], 100 * c[g], marker="o", ms=3, color=GROUP_COLORS.get(g, "black"),
                    label=f"{g} ({split})" if g != "acc" else f"all ({split})")
    v = curve[curve["split"] == "val"].sort_values("tau")
    if len(v):
        ax.plot(v["tau"], 100 * v["acc"], ls="--", color="grey", label="all (held-out)")
    ax.axvline(chosen, color="black", lw=0.8, ls=":")
    ax.annotate(f"τ = {chosen:g} (chosen on held-out)", (chosen, ax.get_ylim()[0]), xytext=(4, 4),
                textcoords="offset points", fontsize=8)
    ax.set(xlabel="τ", ylabel="accuracy (%)", title="τ-normalised classifier: accuracy vs τ")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def notebook_plan(params: Any, seeds: Sequence[int], backbones: Sequence[str], check: bool = True) -> Plan:
    """Every run of notebook 20, built (and, with check, built on its data) before anything trains: the joint runs
    by sampler, cRT / LWS on the IB backbone, Decoupling Table 1's parts, and cRT on every compared backbone."""
    p = as_dict(params)
    joint = {s: [joint_configs(p, seed=sd)[s] for sd in seeds_of(s, seeds, p["ablation_seeds"])] for s in SAMPLERS}
    stage2 = p["stage2_epochs"]
    plan = Plan({
        "joint": joint,
        "stage 2": {"cRT": [crt_config(c, stage2) for c in joint["IB"]],
                    "LWS": [lws_config(c, stage2) for c in joint["IB"]]},
        "parts": {k: [parts_configs(c, stage2)[k] for c in joint["IB"]][:len(seeds_of(k, seeds, p["ablation_seeds"]))]
                  for k in PARTS},
        "backbones": {s: [crt_config(c, stage2) for c in joint[s]] for s in dict.fromkeys(["IB", *backbones])},
    })
    if check:
        plan.check()
    return plan

