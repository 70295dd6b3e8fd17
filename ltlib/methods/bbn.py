"""BBN: bilateral-branch network with cumulative learning (Zhou et al., CVPR 2020; docs/protocol.md §4 "BBN").

Two branches share the backbone trunk and each owns a last residual block, constructed (and initialised)
separately, as the authors' code builds its two branch blocks as two modules. The conventional
branch sees instance-balanced batches, the re-balancing branch reversed-sampler batches; the logits are
`z = α·W_c f_c + (1 − α)·W_r f_r` (one linear over `[α f_c, (1 − α) f_r]`), the loss
`α·CE(z, y_c) + (1 − α)·CE(z, y_r)`, with `α = 1 − (T/T_max)²` (T = 0-based epoch, as the official code's
`(epoch − 1)/max_epoch`) and α = 0.5 at test time. The official code's variant scales the mixed features
by 2 (`variant="official"`); its Nesterov momentum and warm-up from lr/3 are RunConfig fields (OFFICIAL).

Feature quality (BBN Table 5): `branch="conventional"|"rebalancing"` turns a run into a plain one-branch
model (same state-dict keys as the two-branch model), so the engine's `init_from` + `train_parts=
"classifier"` freezes that branch and retrains a linear classifier on it (`branch_retrain_config`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ltlib import registry
from ltlib.config import RunConfig
from ltlib.errors import ConfigError, check_name
from ltlib.heads import build_head
from ltlib.inference import classifier_norms, predict
from ltlib.methods.base import Batch, Method, sampler_at
from ltlib.methods.baselines import baselines, diagnosis, retrain_classifier
from ltlib.methods.mixup import mixup_configs
from ltlib.methods.recipe import Plan, ablation_size, base_config, non_default
from ltlib.metrics import accuracy_report
from ltlib.models import LTModel, build_backbone
from ltlib.params import as_dict
from ltlib.reference import select
from ltlib.schedules import PAPER_EPOCHS, lr_at, preset
from ltlib.stats import spearman

BBN_TABLE3 = select("BBN", "Table 3", "error").to_dict()     # error %, CIFAR-10 IR50
BBN_TABLE4 = select("BBN", "Table 4", "error").to_dict()     # error %, CIFAR-10 IR50
BBN_TABLE5 = select("BBN", "Table 5", "error").to_dict()     # error %, CIFAR-100 IR50

# Table 4 adaptors: alpha as a function of t = T / T_max in [0, 1) ("beta" is drawn per step instead).
ADAPTORS: dict[str, Callable[[float], float]] = {
    "equal": lambda t: 0.5,
    "beta": lambda t: float("nan"),                       # alpha ~ Beta(0.2, 0.2), drawn per step (seeded)
    "parabolic_increment": lambda t: t ** 2,
    "linear_decay": lambda t: 1.0 - t,
    "cosine_decay": lambda t: math.cos(t * math.pi / 2),
    "parabolic_decay": lambda t: 1.0 - t ** 2,            # the paper's Eq. (5)
}
VARIANTS = {"paper": 1.0, "official": 2.0}                # scale of the mixed features
BRANCHES = ["", "conventional", "rebalancing"]
BETA_A = 0.2
# The official code's optimiser settings (docs/protocol.md §4): RunConfig changes on top of the "bbn" preset
OFFICIAL: dict[str, Any] = {"nesterov": True, "warmup_start": 1 / 3, "method_args": {"variant": "official"}}


@dataclass
class BBNArgs:
    """Method arguments of BBN (RunConfig.method_args)."""

    rebalance_sampler: str = "reversed"   # sampler of the re-balancing branch: reversed | balanced | uniform | ...
    adaptor: str = "parabolic_decay"      # alpha schedule: see ADAPTORS (Table 4)
    variant: str = "paper"                # paper: z = a W_c f_c + (1-a) W_r f_r | official: 2x scaled features
    branch: str = ""                      # "" (BBN) | conventional | rebalancing: one-branch model (Table 5)

    def __post_init__(self) -> None:
        check_name("BBN rebalance_sampler", self.rebalance_sampler, registry.SAMPLERS)
        check_name("BBN adaptor", self.adaptor, ADAPTORS)
        check_name("BBN variant", self.variant, VARIANTS)
        if self.branch not in BRANCHES:
            raise ConfigError(f"BBN branch must be one of {BRANCHES}, got {self.branch!r}")


def alpha_at(adaptor: str, epoch: int, epochs: int, seed: int = 0, step: int = 0) -> float:
    """α at an epoch (0-based) of `epochs`; 'beta' draws Beta(0.2, 0.2) seeded by (seed, epoch, step)."""
    check_name("BBN adaptor", adaptor, ADAPTORS)
    if adaptor == "beta":
        return float(np.random.default_rng([seed, epoch, step]).beta(BETA_A, BETA_A))
    return float(ADAPTORS[adaptor](epoch / epochs))


def alpha_curve(adaptors: list[str], epochs: int, seed: int = 0) -> pd.DataFrame:
    """Long table (adaptor, epoch, alpha) of each adaptor over a run; 'beta' shows its first step per epoch."""
    return pd.DataFrame([{"adaptor": a, "epoch": e + 1, "alpha": alpha_at(a, e, epochs, seed)}
                         for a in adaptors for e in range(epochs)])


def fresh_last_block(arch: str, in_channels: int) -> nn.Module:
    """A last residual block of `arch` built and initialised on its own (the re-balancing branch's block)."""
    return build_backbone(arch, in_channels).last_block


class BBNBackbone(nn.Module):
    """Shared trunk + conventional last block (inside `net`) + a separately built re-balancing last block."""

    def __init__(self, net: nn.Module, rb_block: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.rb_block = rb_block
        self.branch_dim = net.out_dim
        self.out_dim = 2 * net.out_dim

    @property
    def cb_block(self) -> nn.Module:
        """The conventional branch's last residual block."""
        return self.net.last_block

    @property
    def last_block(self) -> nn.Module:
        """Both branches' last blocks (for train_parts='last_block')."""
        return nn.ModuleList([self.cb_block, self.rb_block])

    def branch(self, x: torch.Tensor, which: str) -> torch.Tensor:
        """Pooled features of one branch ('conventional' or 'rebalancing')."""
        block = self.cb_block if which == "conventional" else self.rb_block
        return block(self.net.forward_trunk(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[f_c, f_r] of the same images (one trunk pass)."""
        t = self.net.forward_trunk(x)
        return torch.cat([self.cb_block(t).mean(dim=(2, 3)), self.rb_block(t).mean(dim=(2, 3))], dim=1)


class BranchBackbone(BBNBackbone):
    """One BBN branch as a plain backbone (same parameters and keys as BBNBackbone; Table 5)."""

    def __init__(self, net: nn.Module, rb_block: nn.Module, which: str) -> None:
        super().__init__(net, rb_block)
        self.which = which
        self.out_dim = self.branch_dim

    @property
    def last_block(self) -> nn.Module:
        """This branch's last block."""
        return self.cb_block if self.which == "conventional" else self.rb_block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of this branch."""
        return self.branch(x, self.which)


class BBNModel(nn.Module):
    """Two-branch BBN: `.backbone` (BBNBackbone) and `.head` = [W_c | W_r] as one linear over 2D features."""

    def __init__(self, backbone: BBNBackbone, num_classes: int, scale: float = 1.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_dim, num_classes)
        self.scale = scale

    def mix(self, f_c: torch.Tensor, f_r: torch.Tensor, alpha: float) -> torch.Tensor:
        """z = α·W_c f_c + (1 − α)·W_r f_r (+ bias), times the variant's feature scale."""
        return self.head(self.scale * torch.cat([alpha * f_c, (1 - alpha) * f_r], dim=1))

    def branch_logits(self, f: torch.Tensor, which: str) -> torch.Tensor:
        """One branch's own logits W f (+ bias), the other branch's features set to zero."""
        z = torch.zeros_like(f)
        return self.head(self.scale * (torch.cat([f, z], 1) if which == "conventional" else torch.cat([z, f], 1)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[f_c, f_r] of the same images."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Test-time logits: α = 0.5."""
        f = self.backbone(x)
        d = self.backbone.branch_dim
        return self.mix(f[:, :d], f[:, d:], 0.5)


def split_weight(model: BBNModel) -> dict[str, torch.Tensor]:
    """W_c, W_r and the combined [W_c | W_r] classifier weights, each (C, ·)."""
    w = model.head.weight.detach()
    d = model.backbone.branch_dim
    return {"BBN-CB": w[:, :d], "BBN-RB": w[:, d:], "BBN-ALL": w}


def _mixed_all(model: BBNModel, x: torch.Tensor, d: int, alphas: tuple[float, ...]) -> torch.Tensor:
    """Logits of the two branches mixed at each test-time α, side by side (N, len(alphas) · C)."""
    f = model.features(x)
    return torch.cat([model.mix(f[:, :d], f[:, d:], a) for a in alphas], 1)


ALPHA_SWEEP = (1.0, 0.8, 0.64, 0.5, 0.0)      # test-time α of the diagnostics (1: conventional branch alone)


def branch_weight_norms(model: BBNModel) -> dict[str, np.ndarray]:
    """Per-class L2 norms of W_c, W_r and [W_c | W_r] (BBN Fig. 4)."""
    return {k: classifier_norms(w) for k, w in split_weight(model).items()}


@registry.METHODS.register("bbn")
class BBNMethod(Method):
    """Two sampler streams, two branches, cumulative α; with Args.branch set, one plain branch (Table 5)."""

    Args = BBNArgs

    # -- model
    def build_model(self) -> nn.Module:
        """BBNModel, or LTModel(BranchBackbone, head) when Args.branch is set."""
        net = build_backbone(self.cfg.arch, self.data.in_channels)
        rb_block = fresh_last_block(self.cfg.arch, self.data.in_channels)   # built and initialised on its own
        if self.args.branch:
            back = BranchBackbone(net, rb_block, self.args.branch)
            return LTModel(back, build_head(self.cfg.head, back.out_dim, self.num_classes))
        if self.cfg.head != "linear":
            raise ConfigError(f"BBN uses a linear classifier over both branches; head={self.cfg.head!r}")
        return BBNModel(BBNBackbone(net, rb_block), self.num_classes, VARIANTS[self.args.variant])

    # -- batches
    def streams(self, epoch: int) -> list[str]:
        """[conventional sampler (cfg.sampler, IB), re-balancing sampler]; one stream for a single branch."""
        first = sampler_at(self.cfg, epoch)
        return [first] if self.args.branch else [first, self.args.rebalance_sampler]

    def alpha(self, epoch: int, progress: float = 0.0) -> float:
        """Training α at an epoch (per step for the 'beta' adaptor, from the fractional progress)."""
        return alpha_at(self.args.adaptor, epoch, self.cfg.epochs, self.cfg.seed, self.step_in_epoch(epoch, progress))

    # -- loss and prediction
    def mixed_loss(self, z: torch.Tensor, y_c: torch.Tensor, y_r: torch.Tensor, alpha: float) -> torch.Tensor:
        """α·CE(z, y_c) + (1 − α)·CE(z, y_r) with the configured criterion (class weights apply)."""
        return alpha * self.criterion(z, y_c) + (1 - alpha) * self.criterion(z, y_r)

    def loss(self, model: nn.Module, batches: list[Batch], epoch: int,
             progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixed BBN loss; the returned logits are the conventional branch's own (W_c f_c) on stream 1."""
        if self.args.branch:
            return super().loss(model, batches, epoch, progress)
        b_c, b_r = batches
        f_c = model.backbone.branch(b_c.x, "conventional")
        f_r = model.backbone.branch(b_r.x, "rebalancing")
        a = self.alpha(epoch, progress)
        z = model.mix(f_c, f_r, a)
        return self.mixed_loss(z, b_c.y, b_r.y, a), model.branch_logits(f_c.detach(), "conventional")

    def alpha_sweep(self, model: nn.Module, dd: Any, data: Any) -> dict[str, dict[str, float]]:
        """Test accuracy (overall, many / medium / few, head / mid / tail) of the mixed prediction at each α of
        ALPHA_SWEEP (α = 1: the conventional branch alone; 0: the re-balancing branch alone; 0.5: the paper's
        test-time rule), from one pass of the backbone."""
        x, y = dd.splits["test"]
        z = predict(self, model, x, dd, precision=self.cfg.precision,
                    fn=partial(_mixed_all, d=model.backbone.branch_dim, alphas=ALPHA_SWEEP))
        c = z.shape[1] // len(ALPHA_SWEEP)
        out = {}
        for i, a in enumerate(ALPHA_SWEEP):
            rep = accuracy_report(z[:, i * c:(i + 1) * c].argmax(1), y, data.counts)
            out[f"{a:g}"] = {k: v for k, v in rep.items() if k != "confusion"}
        return out

    def eval_readings(self, model: nn.Module, dd: Any, data: Any) -> dict[str, Any]:
        """At each evaluated epoch: test accuracy and head / tail at each test-time α (the history's alpha_acc)."""
        if self.args.branch:
            return {}
        sweep = self.alpha_sweep(model, dd, data)
        return {"alpha_acc": json.dumps({a: {k: round(float(r[k]), 6) for k in ("acc", "head", "mid", "tail")}
                                         for a, r in sweep.items()})}

    def diagnostics(self, model: nn.Module, dd: Any, data: Any) -> dict[str, Any]:
        """Kept in the record: per-class norms of W_c, W_r, [W_c | W_r] (Fig. 4) and the final model's α sweep."""
        if self.args.branch:
            return {}
        return {"branch_norms": branch_weight_norms(model), "alpha_sweep": self.alpha_sweep(model, dd, data)}

    # predict / features / classifier_weight are Method's: the model's forward tests with α = 0.5,
    # its features are [f_c, f_r] and its head weight is [W_c | W_r] ('BBN-ALL').


# ------------------------------------------------------------------ configs the notebooks share

def bbn_config(params: Any, tag: str = "BBN", **changes: Any) -> RunConfig:
    """BBN on the notebook's data/model parameters with the BBN schedule preset (the study's "BBN" run)."""
    args = non_default(BBNArgs, changes.pop("method_args", {}))
    return base_config(params, "bbn", method="bbn", method_args=args, tag=tag, **changes)


def ablation_configs(params: Any, samplers: list[str], adaptors: list[str], max_per_class: Optional[int] = None,
                     epochs: Optional[int] = None) -> dict[str, dict[str, RunConfig]]:
    """Table 3 (re-balancing sampler) and Table 4 (adaptor) runs at an ablation size (None: the notebook's).

    The default sampler/adaptor run is the same config in both tables; at the notebook's own size it is the
    main BBN run. Smaller ablation runs are evaluated at their last epoch only (the tables report last epochs).
    """
    size = ablation_size(params, max_per_class, epochs)
    p, extra = size["params"], size["changes"]
    return {"sampler": {s: bbn_config(p, f"BBN sampler={s}", method_args={"rebalance_sampler": s}, **extra)
                        for s in samplers},
            "adaptor": {a: bbn_config(p, f"BBN adaptor={a}", method_args={"adaptor": a}, **extra)
                        for a in adaptors}}


def feature_quality_configs(params: Any, bbn: RunConfig, manner: str = "RS",
                            epochs: int = 10) -> dict[str, RunConfig]:
    """Table 5: a fresh classifier (manner CE/RW/RS) on each frozen backbone: CE, RW, RS, BBN-CB, BBN-RB.

    The CE/RW/RS cells are those of the BBN §3 diagnosis grid (ltlib.methods.baselines.diagnosis), shared runs.
    """
    grid = diagnosis(params, stage2_epochs=epochs)
    out = {m: grid[(m, manner)] for m in ("CE", "RW", "RS")}
    out["BBN-CB"] = branch_retrain_config(bbn, "conventional", manner, epochs)
    out["BBN-RB"] = branch_retrain_config(bbn, "rebalancing", manner, epochs)
    return out


def official_config(params: Any, tag: str = "BBN (official)", **changes: Any) -> RunConfig:
    """The official code's variant: 2x-scaled concatenated features, Nesterov, warm-up from lr/3."""
    d = {**OFFICIAL, **changes}
    d["method_args"] = {**OFFICIAL["method_args"], **changes.get("method_args", {})}
    return bbn_config(params, tag=tag, **d)


def branch_retrain_config(stage1: RunConfig, branch: str, manner: str = "RS", epochs: int = 10,
                          **changes: Any) -> RunConfig:
    """Table 5: freeze one BBN branch (trunk + its last block), retrain a fresh linear classifier on it."""
    if branch not in BRANCHES[1:]:
        raise ConfigError(f"branch must be 'conventional' or 'rebalancing', got {branch!r}")
    tag = f"{stage1.tag or 'BBN'}-{'CB' if branch == 'conventional' else 'RB'}+{manner}"
    return retrain_classifier(stage1, manner, epochs, method_args={**stage1.method_args, "branch": branch},
                              tag=tag, **changes)


def notebook_plan(params: Any, check: bool = True) -> Plan:
    """Every run of notebook 30, by section: Table 1 (baselines, mixup rows, BBN; every seed), Table 3 (samplers),
    Table 4 (adaptors), Table 5 (frozen backbones + fresh classifier); the ablations on the first seed. check=True
    also builds each distinct run's data, method and model (Plan.check) before anything trains."""
    p = as_dict(params)
    seeds = [p["seed"] + i for i in range(p.get("n_seeds", 1))]
    main = {**baselines(p, p["compare"]), **mixup_configs(p, p["mixups"]), "BBN": bbn_config(p)}
    if p.get("official_variant"):
        main["BBN (official)"] = official_config(p)
    abl = ablation_configs(p, p["samplers"], p["adaptors"], p["ablation_max_per_class"], p["ablation_epochs"])
    fq = feature_quality_configs(p, main["BBN"], p["feature_manner"], p["stage2_epochs"])
    sections = {"check": {"BBN": [main["BBN"].replace(seed=p["seed"] + i) for i in range(p["check_seeds"])]}} \
        if p.get("check_seeds") else {}
    plan = Plan({**sections, "Table 1": {k: [c.replace(seed=s) for s in seeds] for k, c in main.items()},
                 "Table 3": {k: [c] for k, c in abl["sampler"].items()},
                 "Table 4": {k: [c] for k, c in abl["adaptor"].items()},
                 "Table 5": {k: [c] for k, c in fq.items()}})
    if check:
        plan.check()
    return plan


# ------------------------------------------------------------------ diagnostics (from the runs' records)


def rebalancing_training(cfg: RunConfig) -> dict[str, float]:
    """How much the re-balancing branch trains: Σ_epochs (1 − α)·lr / lr₀ (epoch-equivalents at the initial lr), for
    this run's schedule and for the paper's 200-epoch one (α = 1 − (T/T_max)², lr ×0.01 at 120 and 160), and the same
    for the conventional branch (Σ α·lr / lr₀)."""
    def sums(c: Any) -> tuple[float, float]:
        a = [alpha_at("parabolic_decay", e, c.epochs) for e in range(c.epochs)]
        lr = [lr_at(c, e) / c.lr for e in range(c.epochs)]
        return sum((1 - x) * y for x, y in zip(a, lr)), sum(x * y for x, y in zip(a, lr))
    paper = cfg.replace(**preset("bbn", PAPER_EPOCHS))
    ours, theirs = sums(cfg), sums(paper)
    return {"re-balancing branch (ours)": ours[0], "re-balancing branch (paper, 200 epochs)": theirs[0],
            "conventional branch (ours)": ours[1], "conventional branch (paper, 200 epochs)": theirs[1]}


def alpha_sweep(runs: list[Any]) -> pd.DataFrame:
    """Test accuracy (%) of the final BBN models at each test-time α (ALPHA_SWEEP; 1 = the conventional branch alone,
    0 = the re-balancing branch alone, 0.5 = the paper's rule): mean over the runs (seeds), from their records."""
    rows = []
    for r in runs:
        for a, rep in (r.diagnostics.get("alpha_sweep") or {}).items():
            rows.append({"test α": float(a), **{g: 100 * rep[g] for g in ("acc", "head", "mid", "tail")}})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).groupby("test α").mean().sort_index(ascending=False)


def alpha_by_epoch(runs: list[Any]) -> pd.DataFrame:
    """Test accuracy (%) at each test-time α (columns) at each evaluated epoch (rows) with the training α of that
    epoch: mean over the runs (seeds) that recorded it (history's alpha_acc); empty for runs recorded without it."""
    rows = []
    for r in runs:
        h = r.history
        if "alpha_acc" not in h:
            continue
        for _, e in h[h["alpha_acc"].notna()].iterrows():
            row = {"epoch": int(e["epoch"])}
            row.update({f"α={a}": 100 * v["acc"] for a, v in json.loads(e["alpha_acc"]).items()})
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).groupby("epoch").mean()


# ------------------------------------------------------------------ tables of the notebook (its claims: ltlib.claims)


def vs_paper(table: pd.DataFrame, paper_error: dict[str, float], setting: str) -> pd.DataFrame:
    """Measured accuracy (%, a summary table) with its error beside the paper's error rates and both rankings."""
    cols = [c for c in ("acc", "acc_std", "head", "mid", "tail") if c in table]
    out = table[cols].copy()
    out["error"] = 100.0 - table["acc"]
    out[f"paper error ({setting})"] = [paper_error.get(k, np.nan) for k in table.index]
    out["rank"] = out["error"].rank(method="min").astype("Int64")
    out["paper rank"] = out[f"paper error ({setting})"].rank(method="min").astype("Int64")
    return out


def norm_stats(norms: dict[str, Any], counts: list[int]) -> pd.DataFrame:
    """Per classifier: σ/mean of the per-class weight norms (flatness) and their Spearman ρ with class size."""
    rows = {k: {"mean norm": float(np.mean(v)), "σ/mean": float(np.std(v) / np.mean(v)),
                "Spearman ρ with n_c": spearman(v, counts)} for k, v in norms.items()}
    return pd.DataFrame(rows).T


def norm_samples(stats: pd.DataFrame) -> dict[str, dict[str, list[float]]]:
    """Fig. 4's norm statistics as claim samples (one model each): 'norm_cv' (σ/mean), 'norm_rho' (ρ with n_c)."""
    return {k: {"norm_cv": [float(r["σ/mean"])], "norm_rho": [float(r["Spearman ρ with n_c"])]}
            for k, r in stats.iterrows()}
