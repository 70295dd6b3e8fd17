"""Regimes: named settings that move a profile toward the papers' (epochs per image, the full epoch count, depth).

A regime is one transformation of a notebook's parameters: the shared names it sets (images per class, epochs,
backbone), classifier-retraining epochs kept at the profile's share of the epochs, and test evaluations capped at
`evals` per run (a 200-epoch run on 620 images is not dominated by evaluating 10,000 test images every epoch). An
anchor regime (no field set) is the identity: its runs are the profile's own, by hash. The ladders and the rule that
picks the default regime are in docs/protocol.md §9.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ltlib import registry
from ltlib.catalog import KEY_METHODS
from ltlib.config import RunConfig
from ltlib.data import dataset_label
from ltlib.errors import ConfigError, check_name
from ltlib.methods.recipe import Plan
from ltlib.models import CIFAR_DEPTHS
from ltlib.params import Shared, as_dict


@dataclass(frozen=True)
class Regime:
    """A setting: which shared names it sets (None: the profile's) and what it moves toward the papers."""

    name: str
    what: str
    max_per_class: Optional[int] = None
    epochs: Optional[int] = None
    arch: Optional[str] = None
    evals: int = 4                           # test evaluations per run (plus the last epoch's), when epochs are set
    dataset: Optional[str] = None            # another data set (the papers' own setting: cifar10-jpeg)
    stage2_epochs: Optional[int] = None      # classifier retraining's own epochs (else the profile's share)
    native_bf16: bool = False                # trains only where bf16 is native (a CPU with AVX-512 BF16 / AMX, a GPU)
    sliced: bool = False                     # a run may span budget slices (its resumable state is committed)
    methods: Optional[tuple[str, ...]] = None   # only these rows of the ladder (None: every method)
    precision: Optional[str] = None          # a precision named for every run (a confound's control: fp32)
    run_fields: tuple[tuple[str, Any], ...] = ()   # RunConfig fields set in every run (head_init, class_order_seed)
    eval_every: Optional[int] = None         # epochs between test evaluations (None: from `evals`)
    confound: str = ""                       # not a move toward the papers: the confound this setting tests

    @property
    def anchor(self) -> bool:
        """True for the identity (the profile's own setting)."""
        return (self.max_per_class is None and self.epochs is None and self.arch is None and self.dataset is None
                and self.precision is None and not self.run_fields)

    def params(self, params: Any) -> dict[str, Any]:
        """The notebook's parameters in this regime (an anchor: unchanged)."""
        p = as_dict(params)
        if self.epochs is not None:
            base = Shared.of(p).epochs
            if "stage2_epochs" in p:                     # classifier retraining keeps the profile's share of epochs
                p["stage2_epochs"] = self.stage2_epochs or max(1, round(p["stage2_epochs"] * self.epochs / base))
            p["epochs"] = self.epochs
        if "eval_every" in p and (self.epochs is not None or self.eval_every is not None):
            p["eval_every"] = self.every          # every run of the regime, stage-1 runs of two-stage ones included
        if self.max_per_class is not None:
            p["max_per_class"] = self.max_per_class
        if self.arch is not None:
            registry.ARCHS.check(self.arch)
            p["arch"] = self.arch
        if self.dataset is not None:
            p["dataset"] = self.dataset
        if self.precision is not None:
            p["precision"] = self.precision
        if self.run_fields:
            p["run_fields"] = {**(p.get("run_fields") or {}), **dict(self.run_fields)}
        return p

    @property
    def every(self) -> int:
        """The evaluation cadence of a run in this regime (epochs between test evaluations)."""
        if self.eval_every is not None:
            return self.eval_every
        return 1 if self.epochs is None else max(1, self.epochs // self.evals)

    def config(self, cfg: RunConfig) -> RunConfig:
        """A run built from `params(...)` with its evaluations capped (runs that evaluate every epoch, e.g. the
        switching run's per-class curves); eval_every is not part of a run's family, so recipes still find it."""
        if self.anchor or cfg.eval_every >= self.every:
            return cfg
        return cfg.replace(eval_every=self.every)

    def plan(self, plan: Plan) -> Plan:
        """A plan built from `params(...)`, every run's evaluations capped (`config`)."""
        return plan if self.anchor else plan.map(self.config)

    def setting(self, params: Any) -> str:
        """One line naming what is run: dataset, ratio, n_max, backbone, epochs."""
        s = Shared.of(self.params(params))
        n = "full" if s.max_per_class is None else f"{s.max_per_class:,}"
        extra = "".join(f", {k} {v}" for k, v in [("precision", self.precision), *self.run_fields] if v is not None)
        return f"{dataset_label(s.dataset)}-LT IR{s.imbalance_ratio:g}, n_max {n}, {s.arch}, {s.epochs} epochs{extra}"

    def cost(self, params: Any, images: int, base_images: int) -> float:
        """Training image-steps of one run relative to the profile's (images × epochs × convolutions)."""
        s0, s = Shared.of(params), Shared.of(self.params(params))
        return (images * s.epochs * depth_factor(s.arch)) / (base_images * s0.epochs * depth_factor(s0.arch))


def depth_factor(arch: str) -> float:
    """Convolutions of a CIFAR ResNet-(6n+2) relative to ResNet-8 (the stem and 2 per block; others: 1)."""
    n = CIFAR_DEPTHS.get(arch.split("x")[0])
    return 1.0 if n is None else (1 + 6 * n) / 7


# The ladder of the quick profile (Fashion-MNIST-LT IR 100, ResNet-8, 10 epochs at CIFAR-10-LT's class sizes): each
# rung moves one axis toward the papers' setting (CIFAR-LT, ResNet-32, 200 epochs), stated before any was run.
REGIMES: dict[str, Regime] = {r.name: r for r in [
    Regime("quick", "the quick profile itself: 12,406 images, 10 epochs (the 200-epoch schedules compressed 20×)"),
    Regime("more-epochs", "10× the epochs per image at half the compute: n_max 500 (1,240 images), 50 epochs "
           "(schedules compressed 4×)", max_per_class=500, epochs=50),
    Regime("paper-epochs", "the papers' 200 epochs and milestones, uncompressed, at the quick compute: n_max 250 "
           "(620 images)", max_per_class=250, epochs=200),
    Regime("deeper", "more-epochs on ResNet-14 (two blocks per stage: BBN's branch block is a third of the stage-3 "
           "blocks' share it has in ResNet-8)", max_per_class=500, epochs=50, arch="resnet14"),
    # the papers' own setting on the CIFAR-10 images this machine has (JPEG re-encoded: numbers labelled so): CIFAR-10-LT
    # IR 100 at its full class sizes (5,000 -> 50, 12,406 images), ResNet-32, 200 epochs with each paper's schedule
    # and milestones uncompressed, batch 128, pad-crop + flip, bf16; classifier retraining 10 epochs (the paper
    # profiles'); 10 test evaluations a run. Hours a run on one CPU thread: trained in budget slices, state carried.
    Regime("papers-own", "the papers' own setting: CIFAR-10 (JPEG)-LT IR 100 at full size (12,406 images), ResNet-32, "
           "200 epochs uncompressed", dataset="cifar10-jpeg", max_per_class=5000, epochs=200, arch="resnet32",
           evals=10, stage2_epochs=10, native_bf16=True, sliced=True),
    Regime("epochs-only", "more-epochs' data with the papers' 200 epochs: only the epochs move from more-epochs, "
           "only the data size from paper-epochs (n_max 500, 1,240 images; the methods of the claims that flip)",
           max_per_class=500, epochs=200, methods=("CE", "cRT", "CE+RS", "RS", "switching", "switching-CB"),
           precision="fp32"),   # fp32: trainable on any CPU (the fp32 control measures what precision moves)
    # Confounds of the quick profile's verdicts, each one change from it (not moves toward the papers): fp32, the
    # control of the others (they train on CPUs without native bf16, where the quick profile's bf16 runs are not
    # trained); the classifier's starting weights (BBN's re-balancing half of the classifier barely moves from them in
    # 10 epochs); which classes are the tail (Fashion-MNIST's tail classes are easy ones). Test evaluation at epochs
    # 5 and 10 (the last epoch decides). Methods: the key claims' (KEY_METHODS).
    Regime("fp32", "the quick profile in fp32 instead of bf16: the control of the confound settings below",
           precision="fp32", eval_every=5, methods=KEY_METHODS, confound="precision"),
    Regime("kaiming-head", "fp32 with the classifier started from Kaiming-normal weights and zero bias (PyTorch's "
           "default uniform draw elsewhere, as in the official BBN and Decoupling codes)", precision="fp32",
           run_fields=(("head_init", "kaiming"),), eval_every=5, methods=("CE", "BBN"),
           confound="classifier initialisation"),
    *[Regime(f"sizes-{k}", f"fp32 with the long-tailed class sizes given to the classes in a random order (draw {k}): "
             "which classes form the tail is drawn, not Fashion-MNIST's label order", precision="fp32",
             run_fields=(("class_order_seed", k),), eval_every=5, methods=KEY_METHODS,
             confound="which classes are the tail") for k in (1, 2, 3)],
    Regime("resnet32-branch", "fp32 on ResNet-32, where the last residual block each BBN branch owns is 16 % of the "
           "backbone (75 % on ResNet-8): BBN as the paper built it, against CE on the same backbone", arch="resnet32",
           precision="fp32", eval_every=5, methods=("CE", "BBN"), confound="BBN's branch share"),
    Regime("paper", "a paper profile itself (CIFAR-LT, its own backbone and epochs)"),
    # the smoke-sized ladder of the notebooks' defaults and the tests
    Regime("smoke", "the smoke profile itself"),
    Regime("smoke-more-epochs", "smoke at a third of the images and twice the epochs (the key claims' methods)",
           max_per_class=100, epochs=4, evals=2, methods=KEY_METHODS),
]}


# The order of work in a sliced rung, highest value first (seed 0 of every method before seed 1): CE and the
# classifier-retraining runs on it, then the methods the report's claims compare, then the rest of the ladder's rows.
SLICE_PRIORITY = ["CE", "cRT", "LWS", "CE+RS", "CE+CE", "BBN", "switching", "LDAM-DRW", "ResLT", "CE-DRW", "CE-DRS",
                  "RS", "RW", "Focal", "CB-Focal", "aux", "switching-CB"]


def build_regime(name: str) -> Regime:
    """A regime by name (REGIMES)."""
    check_name("regime", name, REGIMES)
    return REGIMES[name]


def rungs(names: Sequence[str]) -> list[str]:
    """The settings among `names` that move toward the papers (a confound setting is a check of one choice)."""
    return [n for n in names if not build_regime(n).confound]


def check_ladder(names: list[str]) -> list[Regime]:
    """A ladder's regimes, each known, no repeats, the first an anchor (the profile's own setting)."""
    out = [build_regime(n) for n in names]
    if not out or not out[0].anchor:
        raise ConfigError(f"regimes must start with the profile's own setting (an anchor: "
                          f"{', '.join(k for k, r in REGIMES.items() if r.anchor)}); got {names}")
    if len(set(names)) != len(names):
        raise ConfigError(f"regimes repeat a name: {names}")
    return out
