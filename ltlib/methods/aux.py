"""To balance or not to balance: auxiliary learning (Zhang et al., 2019; docs/protocol.md §4 "To balance or not").

A shared backbone φ; the main head h sees a class-balanced (CBS) batch — k = B/Z classes without
replacement, Z = 4 images each (sampler "cbs", `ltlib.samplers.ClassAware`); an auxiliary head h_a sees a
regular random (RRS = instance-balanced, sampler "ib") batch; optionally a rotation head h_s predicts which
of 0/90/180/270° each image of both batches was rotated by (one angle per image, `ltlib.augment.rotate_random`).
`L = λ1·l_CBS + λ2·l_RRS + λ3·l_SS`, λ = 0.5 : 1 : 1 (paper §4.4), cosine lr (preset "aux"). Test-time
prediction uses φ and h only.

As in the paper's Alg. 1 (lines 9-11) the two batches are concatenated and go through φ in one forward pass
(one set of batch-norm statistics) that feeds h and h_a. With the rotation task, B_θ = Rotate([B_CBS; B_RRS])
rotates each image by one random angle and goes through φ in a second, separate pass that feeds h_s only
(Alg. 1 line 11: l_SS = l(h_s(φ(B_θ)), Y_θ)); that pass neither gives its batch statistics to h / h_a nor
updates the batch-norm running statistics, so test-time normalisation comes from unrotated images only.
The angles are drawn from a generator seeded by (seed, epoch, step), so a resumed run draws the same ones.

Ablations (paper Tables 3–5): the CBS:RRS ratio is λ1:λ2 (rotation off). Its ends are the baselines:
1:0 = CBS-only (no RRS stream at all) and 0:1 = RRS-only (h gets no gradient, so prediction uses h_a —
the paper: "0:1 is equivalent to the RRS-Only baseline"). `rotation="augment"` feeds the same four rotated
copies to h and h_a with their class labels (no h_s, λ3 unused): "rotation as plain augmentation".
ftRRS+CBS (stage-wise) = RRS-only, then the whole network fine-tuned with CBS from the RRS-only weights.
Within a class the CBS sampler draws images without replacement (cycled shuffled lists), as the paper. Deviation,
said plainly: with fewer classes than B/Z (10-class sets: 10 < 128/4) every class gets Z images and the rest of the batch
is topped up with class-uniform draws, i.e. CBS is then class-balanced sampling.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib import registry
from ltlib.augment import rotate_batch, rotate_random
from ltlib.config import RunConfig
from ltlib.errors import ConfigError, check_name, check_type
from ltlib.heads import build_head
from ltlib.methods.base import Batch, Method
from ltlib.methods.baselines import retrain_classifier
from ltlib.methods.recipe import Plan, ablation_size, base_config, non_default
from ltlib.params import as_dict
from ltlib.models import LTModel, build_backbone
from ltlib.reference import PUBLISHED

ROTATIONS = ["none", "task", "augment"]
DEFAULT_LAMBDAS = [0.5, 1.0, 1.0]


@dataclass
class AuxArgs:
    """Method arguments of auxiliary learning (RunConfig.method_args)."""

    lambdas: list = field(default_factory=lambda: list(DEFAULT_LAMBDAS))  # λ1 (CBS, h), λ2 (RRS, h_a), λ3 (SS, h_s)
    rotation: str = "none"      # none | task (h_s predicts the rotation, weight λ3) | augment (rotated copies, class labels)

    def __post_init__(self) -> None:
        self.lambdas = check_type("aux lambdas", self.lambdas, list[float])
        check_name("aux rotation", self.rotation, ROTATIONS)
        if len(self.lambdas) != 3 or min(self.lambdas) < 0:
            raise ConfigError(f"aux lambdas must be three weights >= 0 [λ1 CBS, λ2 RRS, λ3 SS], got {self.lambdas}")
        if self.lambdas[0] == 0 and self.lambdas[1] == 0:
            raise ConfigError("aux lambdas: λ1 (CBS) and λ2 (RRS) cannot both be 0")
        if self.rotation == "task" and self.lambdas[2] == 0:
            raise ConfigError("aux rotation='task' needs λ3 > 0 (use rotation='none' to drop the rotation task)")


@contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """Batch norm normalises with the batch's statistics but leaves the running statistics as they are."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, v in zip(bns, saved):
            m.momentum = v


class AuxModel(LTModel):
    """Backbone + main head h (`head`), auxiliary head h_a (`aux_head`), rotation head h_s (`rot_head`)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, aux_head: Optional[nn.Module],
                 rot_head: Optional[nn.Module]) -> None:
        super().__init__(backbone, head)
        self.aux_head = aux_head
        self.rot_head = rot_head


@registry.METHODS.register("aux")
class AuxMethod(Method):
    """CBS main head + RRS auxiliary head (+ rotation self-supervision) on one backbone."""

    Args = AuxArgs

    def __init__(self, cfg: RunConfig, data: Any) -> None:
        super().__init__(cfg, data)
        self.l1, self.l2, self.l3 = self.args.lambdas
        self.use_cbs, self.use_rrs = self.l1 > 0, self.l2 > 0

    @property
    def mode(self) -> str:
        """'CBS-only', 'RRS-only' or 'joint' (from λ1, λ2)."""
        return "RRS-only" if not self.use_cbs else "CBS-only" if not self.use_rrs else "joint"

    @property
    def predict_head(self) -> str:
        """h, except at the 0:1 end of the ratio sweep where h is untrained and h_a is the RRS-only classifier."""
        return "head" if self.use_cbs else "aux_head"

    def build_model(self) -> nn.Module:
        """φ + h (+ h_a when λ2 > 0, + a 4-way h_s when rotation is a task)."""
        backbone = build_backbone(self.cfg.arch, self.data.in_channels)
        head = build_head(self.cfg.head, backbone.out_dim, self.num_classes)
        aux = build_head(self.cfg.head, backbone.out_dim, self.num_classes) if self.use_rrs else None
        rot = nn.Linear(backbone.out_dim, 4) if self.args.rotation == "task" else None
        return AuxModel(backbone, head, aux, rot)

    def streams(self, epoch: int) -> list[str]:
        """["cbs", "ib"]: a CBS batch for h and a regular random batch for h_a (one of them at the ratio ends)."""
        return (["cbs"] if self.use_cbs else []) + (["ib"] if self.use_rrs else [])

    def rotation_generator(self, epoch: int, progress: float) -> torch.Generator:
        """The generator of one step's rotation angles, seeded by (seed, epoch, step) so a resumed run repeats them."""
        step = int(round(progress * 1e9))
        return torch.Generator().manual_seed((int(self.cfg.seed) * 1_000_003 + epoch * 7_919 + step) % 2**63)

    def loss_terms(self, model: nn.Module, batches: list[Batch], gen: Optional[torch.Generator] = None
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """({'cbs', 'rrs', 'ss'}: unweighted losses present, logits of the first stream on unrotated images)."""
        it = iter(batches)
        cbs = next(it) if self.use_cbs else None
        rrs = next(it) if self.use_rrs else None
        parts = [b for b in (cbs, rrs) if b is not None]
        x = torch.cat([b.x for b in parts])
        m = len(x)
        copies = 4 if self.args.rotation == "augment" else 1
        xc = rotate_batch(x)[0] if copies == 4 else x       # augment: 0/90/180/270° copies, rotation-major
        f = model.backbone(xc)                              # one pass for h and h_a (Alg. 1 line 10)
        views = f.view(copies, m, -1)                       # (copies, images, D)
        n_cbs = len(cbs.y) if cbs is not None else 0
        terms: dict[str, torch.Tensor] = {}
        first = None
        if cbs is not None:
            z = model.head(views[:, :n_cbs].reshape(-1, f.shape[1]))
            terms["cbs"] = self.criterion(z, cbs.y.repeat(copies))
            first = z[:n_cbs]
        if rrs is not None:
            z = model.aux_head(views[:, n_cbs:].reshape(-1, f.shape[1]))
            terms["rrs"] = self.criterion(z, rrs.y.repeat(copies))
            first = z[:len(rrs.y)] if first is None else first
        if self.args.rotation == "task":                  # Alg. 1 lines 9, 11: a separate pass on B_θ
            xr, rot_y = rotate_random(x, gen if gen is not None else torch.Generator().manual_seed(0))
            with frozen_bn_stats(model.backbone):
                fr = model.backbone(xr)
            terms["ss"] = F.cross_entropy(model.rot_head(fr).float(), rot_y)
        return terms, first

    def loss(self, model: nn.Module, batches: list[Batch], epoch: int, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """λ1·l_CBS + λ2·l_RRS + λ3·l_SS (terms that are off are absent)."""
        gen = self.rotation_generator(epoch, progress) if self.args.rotation == "task" else None
        terms, logits = self.loss_terms(model, batches, gen)
        weights = {"cbs": self.l1, "rrs": self.l2, "ss": self.l3}
        return sum(weights[k] * v for k, v in terms.items()), logits

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Logits of h (of h_a for RRS-only)."""
        return getattr(model, self.predict_head)(model.backbone(x))

    def classifier_weight(self, model: nn.Module) -> Optional[torch.Tensor]:
        """(C, D) weights of the predicting head."""
        w = getattr(getattr(model, self.predict_head), "weight", None)
        return None if w is None else w.detach()


# ------------------------------------------------------------------ configs the notebooks share

# name -> method_args; the paper's rows (Tables 1 and 3-5)
VARIANTS: dict[str, dict[str, Any]] = {
    "RRS-only": {"lambdas": [0.0, 1.0, 1.0]},
    "CBS-only": {"lambdas": [1.0, 0.0, 1.0]},
    "CBS+RRS": {},
    "CBS+RRS+SS": {"rotation": "task"},
    "CBS+RRS+rot-aug": {"rotation": "augment"},
}
# the rows trained with every seed at the profile's own size (the leaderboard's "aux" recipe and the baselines the
# report's claims use); the other rows are one-seed ablations at the aux size
MAIN_ROWS = ["CBS+RRS", "CBS-only", "RRS-only"]
# Table 4: CBS:RRS = λ1:λ2 (rotation off); 0:1 is RRS-only and 1:0 CBS-only (the same runs)
RATIOS: list[tuple[float, float]] = [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (1.0, 0.5), (1.0, 0.0)]


def _non_default(args: dict[str, Any]) -> dict[str, Any]:
    """method_args without keys at their default (λ as floats), so equal settings give equal run hashes."""
    if "lambdas" in args:
        args = {**args, "lambdas": [float(v) for v in args["lambdas"]]}
    return non_default(AuxArgs, args)


def aux_config(params: Any, variant: str = "CBS+RRS", **changes: Any) -> RunConfig:
    """One row of the paper on the notebook's data/model parameters, cosine schedule (preset "aux")."""
    check_name("aux variant", variant, VARIANTS)
    args = _non_default({**VARIANTS[variant], **changes.pop("method_args", {})})
    changes.setdefault("tag", variant)
    return base_config(params, "aux", method="aux", method_args=args, **changes)


def ratio_label(ratio: Sequence[float]) -> str:
    """'0.5:1' for (0.5, 1.0)."""
    return f"{ratio[0]:g}:{ratio[1]:g}"


def ratio_config(params: Any, ratio: Sequence[float], **changes: Any) -> RunConfig:
    """Table 4: CBS+RRS with λ1:λ2 = ratio (λ3 unused); 0.5:1 / 1:0 / 0:1 are the CBS+RRS / CBS-only / RRS-only runs."""
    r1, r2 = float(ratio[0]), float(ratio[1])
    name = {(0.0, 1.0): "RRS-only", (1.0, 0.0): "CBS-only"}.get((r1, r2), "CBS+RRS")
    changes.setdefault("tag", f"CBS:RRS {ratio_label(ratio)}")
    return aux_config(params, name, method_args={"lambdas": [r1, r2, 1.0]}, **changes)


def ft_config(params: Any, ft_epochs: int, **changes: Any) -> RunConfig:
    """ftRRS+CBS (Table 3): the RRS-only run, then the whole network fine-tuned with CBS (fresh h).

    The paper gives no fine-tuning schedule; we use the cRT recipe's (cosine from the stage-1 lr, no warm-up).
    """
    stage1 = aux_config(params, "RRS-only", **changes)
    return retrain_classifier(stage1, "RS", ft_epochs, train_parts="all", sampler="cbs", method="aux",
                              method_args=_non_default(VARIANTS["CBS-only"]), tag="ftRRS+CBS")


# ------------------------------------------------------------------ the paper's numbers and readings

def split_claims(claims: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """(claims whose rows are all main rows: judged on every seed, the rest: judged on the one-seed ablation rows)."""
    def rows(c: Any) -> set[str]:
        parts = c.parts or [c]
        return {p.a for p in parts} | {b for p in parts for b in ([p.b] if isinstance(p.b, str) else p.b)}
    on_main = [c for c in claims if rows(c) <= set(MAIN_ROWS)]
    return on_main, [c for c in claims if c not in on_main]


# The paper's top-1 % (many, medium, few, overall) on ImageNet-LT (ResNet-10) and Places-LT (ResNet-50); no CIFAR.
PAPER = (PUBLISHED[PUBLISHED["paper"] == "To balance"]
         .pivot_table(index=["row", "dataset"], columns="metric", values="value").reset_index()
         .rename(columns={"row": "method", "dataset": "setting"}))
PAPER_ALIASES = {"CBS:RRS 0:1": "RRS-only", "CBS:RRS 0.5:1": "CBS+RRS", "CBS:RRS 1:0": "CBS-only"}


def paper_overall(names: Sequence[str]) -> pd.DataFrame:
    """The paper's overall top-1 (%) for our row names: one column per setting (NaN where not reported)."""
    wide = PAPER.pivot(index="method", columns="setting", values="acc")
    rows = {n: wide.loc[PAPER_ALIASES.get(n, n)] if PAPER_ALIASES.get(n, n) in wide.index else None for n in names}
    return pd.DataFrame({n: (r if r is not None else pd.Series(np.nan, index=wide.columns)) for n, r in rows.items()}).T


def accuracy_gains(per_class: dict[str, Sequence[Optional[float]]], ours: str, baselines: Sequence[str],
                   counts: Sequence[int]) -> pd.DataFrame:
    """Fig. 3: per-class accuracy gain (points) of `ours` over each baseline, classes sorted by size (largest first)."""
    order = np.argsort(-np.asarray(counts), kind="stable")
    a = {k: np.array([np.nan if v is None else v for v in per_class[k]], dtype=float) for k in [ours, *baselines]}
    return pd.DataFrame([{"rank": i, "class": int(c), "n_train": int(counts[c]), "baseline": b,
                          "gain": 100 * (a[ours][c] - a[b][c])} for b in baselines for i, c in enumerate(order)])


# ------------------------------------------------------------------ notebook 50's whole plan, before any training

def notebook_plan(params: Any, check: bool = True) -> Plan:
    """Every run of notebook 50, built and validated before anything trains: section "main" (MAIN_ROWS at the
    profile's own size, one config per seed, seed .. seed + n_seeds - 1: the very configs the report finds by
    family hash), section "ablations" (one seed: Table 1 rows, ftRRS+CBS, Table 4 ratios, Table 5 rot-aug) and, as
    info, the size those run at ({"max_per_class", "epochs", "reduced", "note": their caption}).

    The aux size cap is never larger than the profile's own max_per_class; rows that are the same run (the ratio
    sweep's ends and 0.5:1) share one config and hash. check=True also builds their long-tailed data sets."""
    p = as_dict(params)
    seeds = [p["seed"] + i for i in range(p.get("n_seeds", 1))]
    main = {v: [aux_config(p, v, seed=s) for s in seeds] for v in MAIN_ROWS}
    size = ablation_size(p, p["aux_max_per_class"], p["aux_epochs"])   # capped at the profile's own max_per_class
    S, extra = size["params"], size["changes"]
    if S["epochs"] < 1 or p["ft_epochs"] < 1:
        raise ConfigError(f"aux runs need epochs >= 1 and ft_epochs >= 1, got {S['epochs']} and {p['ft_epochs']}")
    cfgs = {v: aux_config(S, v, **extra) for v in p["variants"]}
    cfgs["ftRRS+CBS"] = ft_config(S, p["ft_epochs"], **extra)
    cfgs.update({f"CBS:RRS {ratio_label(r)}": ratio_config(S, r, **extra) for r in p["ratios"]})
    if p["rotation_augment"]:
        cfgs["CBS+RRS+rot-aug"] = aux_config(S, "CBS+RRS+rot-aug", **extra)
    note = f"one seed{', reduced size' if extra else ''}: not a verdict"
    plan = Plan({"main": main, "ablations": {k: [c] for k, c in cfgs.items()}},
                info={"max_per_class": S["max_per_class"], "epochs": S["epochs"], "reduced": bool(extra), "note": note})
    if check:
        plan.check()
    return plan
