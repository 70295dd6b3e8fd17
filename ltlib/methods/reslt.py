"""ResLT: residual learning in parameter space for long-tailed recognition (Cui et al.).

The last feature map of the backbone feeds G branches (default 3). Branch i has its own specialised
parameters (a 1x1 convolution, or a BatchNorm in the official CIFAR code), then GAP and a classifier that
is shared by all branches (ResLT Fig. 1: "Classifier is a shared fc layer among the three branches").

Groups. Classes are sorted by training count (largest first, ties by class index) and split into G
consecutive groups of (nearly) equal size, `np.array_split` as for the head/mid/tail thirds of
`ltlib.metrics.shot_groups` (for G = 3 the groups are exactly head/mid/tail). On the exponential
long-tailed profile equal class counts per group give every group (nearly) the same within-group
imbalance factor, the rule of ResLT §3.1 (`groups="equal"`, the default). The authors' CIFAR code splits
the three groups at sorted class positions 2 and 4 of 10 and 35 and 70 of 100 instead (`groups="code"`,
CODE_SPLITS; three groups and 10 or 100 classes only).

Nesting. Branch i covers frequency groups i..G-1 (head+medium+tail, medium+tail, tail for G = 3) and
its branch loss sees only the samples of those classes. With z_i the logits of branch i:

    L_fusion = CE(sum_i z_i, y)                      (Eq. 1)
    L_branch = sum_i CE(z_i[S_i], y[S_i])            (Eq. 2; S_i = samples of the classes branch i covers)
    L        = (1 - alpha) L_fusion + alpha L_branch (Eq. 3)

and inference sums the branch logits. Eq. 2 does not say how J is averaged. The official code divides
the summed per-sample losses of all branches by the number of (branch, sample) pairs
(`branch_norm="pooled"`, the default: the only concrete definition the authors give); reading Eq. 2
literally as the sum over branches of each subset's mean loss is `branch_norm="per_branch"` (it weighs the
few tail samples of a batch as much as the whole batch; an empty subset adds 0).

Ablations (ResLT Fig. 2, Table 1):
- no_shortcut (Fig. 2b): no additive shortcut; the fusion loss and the prediction use the main branch only,
  the other branches only regularise through L_branch.
- no_nesting (Fig. 2c): branch i is trained on the samples of group i only (N_h, N_m, N_t), not nested.
- no_specialisation (Fig. 2d): one branch module used G times, so all branch outputs are the same; the
  losses are unchanged.
- naive fusion baselines (Table 1, Fig. 1c): disjoint branches (no_nesting) trained with their branch losses
  only (alpha = 1), fused at test time by `fusion`: "max" (Baseline-1, argmax of the max over the
  concatenated branch logits), "sum" (Baseline-2, sum of logits), "softmax" (Baseline-3, sum of softmaxes).
  See NAIVE_BASELINES.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib import registry
from ltlib.config import RunConfig
from ltlib.data import LTData
from ltlib.errors import ConfigError, check_fields, check_name
from ltlib.inference import DeviceData, predict
from ltlib.methods.base import Batch, Method
from ltlib.methods.baselines import baseline, baselines
from ltlib.methods.bbn import bbn_config
from ltlib.methods.recipe import Plan, ablation_size, base_config, non_default
from ltlib.metrics import accuracy_report
from ltlib.models import build_backbone
from ltlib.params import as_dict
from ltlib.reference import select

# ResLT's official per-setting alpha (docs/protocol.md §4); (dataset, imbalance ratio) -> alpha
OFFICIAL_ALPHA: dict[tuple[str, int], float] = {
    ("cifar100", 100): 0.995, ("cifar100", 50): 0.99, ("cifar100", 10): 0.72,
    ("cifar10", 100): 0.998, ("cifar10", 50): 0.998, ("cifar10", 10): 0.96,
}
PAPER_ALPHA = 0.995  # "For CIFAR-10-LT and CIFAR-100-LT, alpha = 0.9950 is adopted" (ResLT §4.2)

# The authors' CIFAR code: group boundaries (positions in the count-sorted class order) by number of classes
CODE_SPLITS: dict[int, tuple[int, int]] = {10: (2, 4), 100: (35, 70)}
GROUPINGS = ["equal", "code"]     # equal-count groups (default, §3.1's rule) | the authors' code split

# ResLT Table 1: three disjoint branches N_h, N_m, N_t trained for their own classes, fused naively.
NAIVE_BASELINES: dict[str, dict[str, Any]] = {
    "Baseline-1 (max)": {"no_nesting": True, "alpha": 1.0, "fusion": "max"},
    "Baseline-2 (sum)": {"no_nesting": True, "alpha": 1.0, "fusion": "sum"},
    "Baseline-3 (softmax sum)": {"no_nesting": True, "alpha": 1.0, "fusion": "softmax"},
}

# ResLT Fig. 2 variants
VARIANTS: dict[str, dict[str, Any]] = {
    "no shortcut (Fig. 2b)": {"no_shortcut": True},
    "no nesting (Fig. 2c)": {"no_nesting": True},
    "no specialisation (Fig. 2d)": {"no_specialisation": True},
}


def default_alpha(dataset: str, imbalance_ratio: float) -> float:
    """The official alpha for a CIFAR-LT setting; the paper's 0.995 for any other dataset."""
    return OFFICIAL_ALPHA.get((dataset, int(imbalance_ratio)), PAPER_ALPHA)


@dataclass
class ResLTArgs:
    """method_args of ResLT."""

    alpha: float = PAPER_ALPHA          # weight of L_branch; (1 - alpha) weighs L_fusion
    num_groups: int = 3                 # G frequency groups / branches (2-5 in ResLT Table 4)
    groups: str = "equal"               # equal: equal class counts per group | code: the authors' CIFAR split
    variant: str = "conv"               # conv: 1x1 conv+BN+ReLU per branch (paper) | bn: BatchNorm only (official)
    shared_classifier: bool = True      # one fc for all branches (paper) or one per branch
    branch_norm: str = "pooled"         # pooled: official code, mean over (branch, sample) pairs | per_branch
    fusion: str = "sum"                 # test-time fusion: sum (ResLT) | max | softmax (Table 1 baselines)
    no_shortcut: bool = False           # Fig. 2b: fusion loss and prediction use the main branch only
    no_nesting: bool = False            # Fig. 2c: branch i covers group i only
    no_specialisation: bool = False     # Fig. 2d: one branch module shared by all branches

    def __post_init__(self) -> None:
        check_fields(self)
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"ResLT alpha must be in [0, 1], got {self.alpha}")
        if not 1 <= self.num_groups <= 10:
            raise ConfigError(f"ResLT num_groups must be in 1..10, got {self.num_groups}")
        check_name("ResLT variant", self.variant, ["conv", "bn"])
        check_name("ResLT branch_norm", self.branch_norm, ["pooled", "per_branch"])
        check_name("ResLT fusion", self.fusion, ["sum", "max", "softmax"])
        check_name("ResLT groups", self.groups, GROUPINGS)
        if self.groups == "code" and self.num_groups != 3:
            raise ConfigError(f"ResLT groups='code' (the authors' split) has 3 groups, got num_groups={self.num_groups}")


def frequency_groups(counts: list[int], num_groups: int, split: str = "equal") -> list[list[int]]:
    """Classes sorted by count (largest first, ties by index) split into num_groups groups.

    split="equal": near-equal class counts per group; "code": the authors' CIFAR boundaries (CODE_SPLITS).
    """
    check_name("ResLT groups", split, GROUPINGS)
    if num_groups > len(counts):
        raise ConfigError(f"ResLT num_groups={num_groups} is more than the {len(counts)} classes")
    order = np.array(sorted(range(len(counts)), key=lambda c: (-counts[c], c)))
    if split == "code":
        if num_groups != 3 or len(counts) not in CODE_SPLITS:
            raise ConfigError(f"ResLT groups='code' is the authors' 3-group split of 10 or 100 classes; got "
                              f"{num_groups} groups of {len(counts)} classes")
        parts = np.split(order, list(CODE_SPLITS[len(counts)]))
    else:
        parts = np.array_split(order, num_groups)
    return [sorted(int(c) for c in part) for part in parts]


def branch_masks(counts: list[int], num_groups: int = 3, nested: bool = True, split: str = "equal") -> torch.Tensor:
    """(G, C) bool: the classes each branch covers; nested: groups i..G-1 (0 ⊃ 1 ⊃ ...), else group i."""
    groups = frequency_groups(counts, num_groups, split)
    masks = torch.zeros(num_groups, len(counts), dtype=torch.bool)
    for i in range(num_groups):
        for g in (groups[i:] if nested else groups[i:i + 1]):
            masks[i, g] = True
    return masks


def reslt_loss(branch_logits: torch.Tensor, y: torch.Tensor, masks: torch.Tensor, alpha: float,
               branch_norm: str = "pooled", shortcut: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, fused logits): L = (1 - alpha) CE(fused, y) + alpha L_branch(z_i on S_i); no host syncs.

    branch_logits (B, G, C); masks (G, C) classes per branch; fused = sum_i z_i, or z_0 without shortcut.
    """
    z = branch_logits.float()
    fused = z.sum(1) if shortcut else z[:, 0]
    l_fusion = F.cross_entropy(fused, y)
    B, G, C = z.shape
    ce = F.cross_entropy(z.reshape(B * G, C), y.repeat_interleave(G), reduction="none").view(B, G)
    member = masks.to(z.device)[:, y].t().float()                # (B, G): sample b in S_i
    if branch_norm == "pooled":
        l_branch = (ce * member).sum() / member.sum().clamp_min(1)
    else:
        l_branch = ((ce * member).sum(0) / member.sum(0).clamp_min(1)).sum()
    return (1 - alpha) * l_fusion + alpha * l_branch, fused


def fuse(branch_logits: torch.Tensor, fusion: str = "sum", shortcut: bool = True) -> torch.Tensor:
    """Test-time scores from (B, G, C) branch logits: sum (ResLT), per-class max, or sum of softmaxes."""
    z = branch_logits.float()
    if not shortcut:
        return z[:, 0]
    if fusion == "max":
        return z.max(1).values       # argmax of max over Concat(z_1..z_G) = argmax over classes of this
    if fusion == "softmax":
        return z.softmax(-1).sum(1)
    return z.sum(1)


class ResLTHead(nn.Module):
    """Branch-specialised parameters over the last feature map, GAP, and a (shared) linear classifier."""

    def __init__(self, channels: int, num_classes: int, num_groups: int = 3, variant: str = "conv",
                 shared_classifier: bool = True, specialised: bool = True) -> None:
        super().__init__()
        self.num_groups = num_groups
        self.specialised = specialised
        g = num_groups if specialised else 1
        self.g = g
        if variant == "conv":
            # one 1x1 conv per branch, each over the whole map: a grouped conv on the map repeated g times
            self.conv = nn.Conv2d(g * channels, g * channels, 1, groups=g, bias=False)
            nn.init.kaiming_normal_(self.conv.weight)
            self.bn = nn.BatchNorm2d(g * channels)
        else:
            self.conv = None
            self.bn = nn.BatchNorm2d(g * channels)    # official CIFAR code: one BatchNorm per branch
        n_fc = 1 if shared_classifier or not specialised else num_groups
        self.classifiers = nn.ModuleList([nn.Linear(channels, num_classes) for _ in range(n_fc)])
        for fc in self.classifiers:
            nn.init.kaiming_normal_(fc.weight)

    def branch_features(self, fmap: torch.Tensor) -> torch.Tensor:
        """(B, G, D) pooled features of each branch."""
        B, D = fmap.shape[:2]
        x = fmap.repeat(1, self.g, 1, 1) if self.g > 1 else fmap
        x = self.bn(self.conv(x)) if self.conv is not None else self.bn(x)
        if self.conv is not None:
            x = F.relu(x)
        f = x.mean(dim=(2, 3)).view(B, self.g, D)
        if not self.specialised:
            f = f.expand(B, self.num_groups, D)
        return f

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """(B, G, C) branch logits."""
        f = self.branch_features(fmap)
        if len(self.classifiers) == 1:
            return self.classifiers[0](f)
        return torch.stack([fc(f[:, i]) for i, fc in enumerate(self.classifiers)], 1)

    @property
    def weight(self) -> torch.Tensor:
        """Effective (C, D·k) classifier: the shared fc, or the per-branch fcs side by side."""
        return torch.cat([fc.weight for fc in self.classifiers], 1)


class ResLTModel(nn.Module):
    """Backbone (shared parameters) + ResLT head; forward returns the summed branch logits."""

    def __init__(self, backbone: nn.Module, head: ResLTHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def branch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, G, C) logits of every branch."""
        return self.head(self.backbone.forward_map(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled shared features (the backbone's last map, before the branches)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ResLT prediction: the sum of the branch logits."""
        return self.branch_logits(x).sum(1)


@registry.METHODS.register("reslt")
class ResLTMethod(Method):
    """ResLT: nested branch losses + fusion loss on instance-balanced batches; test sums the branches."""

    Args = ResLTArgs

    def __init__(self, cfg: Any, data: LTData) -> None:
        super().__init__(cfg, data)
        if cfg.loss != "ce" or cfg.loss_weights != "none" or cfg.head != "linear":
            raise ConfigError("ResLT uses plain cross-entropy with its own linear classifier: set loss='ce', "
                              f"loss_weights='none', head='linear' (got {cfg.loss!r}, {cfg.loss_weights!r}, "
                              f"{cfg.head!r})")
        a = self.args
        self.groups = frequency_groups(self.counts, a.num_groups, a.groups)
        self.masks = branch_masks(self.counts, a.num_groups, nested=not a.no_nesting, split=a.groups)

    def build_model(self) -> nn.Module:
        """Backbone + ResLT head over its last feature map."""
        a = self.args
        backbone = build_backbone(self.cfg.arch, self.data.in_channels)
        head = ResLTHead(backbone.out_dim, self.num_classes, a.num_groups, a.variant, a.shared_classifier,
                         specialised=not a.no_specialisation)
        return ResLTModel(backbone, head)

    def loss(self, model: nn.Module, batches: list[Batch], epoch: int,
             progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(1 - alpha) L_fusion + alpha L_branch; returns the fused training logits."""
        b = batches[0]
        a = self.args
        if self.masks.device != b.y.device:
            self.masks = self.masks.to(b.y.device)          # once, so the step has no host copy
        return reslt_loss(model.branch_logits(b.x), b.y, self.masks, a.alpha, a.branch_norm,
                          shortcut=not a.no_shortcut)

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Fused branch outputs (sum of logits unless an ablation says otherwise)."""
        a = self.args
        return fuse(model.branch_logits(x), a.fusion, shortcut=not a.no_shortcut)

    def branch_predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """(B, G, C) branch logits (for per-branch analyses)."""
        return model.branch_logits(x)

    def diagnostics(self, model: nn.Module, dd: Any, data: LTData) -> dict[str, Any]:
        """The cumulative-branch table (branch 1, 1+2, ..., all summed), kept in the record."""
        return {"cumulative_branches": branch_table(model, dd, data, self.cfg.precision, self)}

    def classifier_weight(self, model: nn.Module) -> Optional[torch.Tensor]:
        """The effective classifier of the summed logits (shared fc, or per-branch fcs concatenated)."""
        return model.head.weight.detach()


# ---------------------------------------------------------------- notebook helpers (40_reslt)

# ResLT Table 1 (CIFAR-10-LT IR50, ResNet-32, top-1 %): head / medium / tail / overall, and Table 4 (IR100)
PAPER_TABLE1 = pd.DataFrame({m: select("ResLT", "Table 1", m, "cifar10", 50) for m in ("head", "medium", "tail", "acc")})
PAPER_TABLE4 = {ds: {int(k): v for k, v in select("ResLT", "Table 4", "acc", ds, 100).items()}
                for ds in ("cifar10", "cifar100")}


def reslt_config(params: Any, tag: str = "ResLT", **changes: Any) -> "RunConfig":
    """ResLT on a notebook's data/model parameters with the ResLT schedule; alpha defaults per setting.

    Keyword arguments that name a ResLTArgs field are method_args, the others RunConfig changes. method_args
    equal to their defaults are left out (alpha is always written), so the same recipe has the same run
    hash in every notebook.
    """
    p = as_dict(params)
    fields = {f.name for f in dataclasses.fields(ResLTArgs)}
    alpha = changes.pop("alpha", default_alpha(p.get("dataset", "fmnist"), p.get("imbalance_ratio", 100)))
    args = {"alpha": alpha, **non_default(ResLTArgs, {k: v for k, v in changes.items() if k in fields})}
    rest = {k: v for k, v in changes.items() if k not in fields}
    return base_config(p, "reslt", **{"method": "reslt", "method_args": args, "tag": tag, **rest})


def cumulative_branches(run: Any, device: str = "auto") -> pd.DataFrame:
    """Test accuracy (%) of branch 1 alone, branches 1+2, ..., all summed: overall and per head/mid/tail (computed
    at the end of the run, read from its record)."""
    return run.diagnostics["cumulative_branches"]


def branch_table(model: nn.Module, dd: DeviceData, data: LTData, precision: str, method: Method) -> pd.DataFrame:
    """The cumulative-branch table of a ResLT model on the test set (see cumulative_branches)."""
    z = predict(method, model, dd.splits["test"][0], dd, precision=precision,
                fn=lambda m, x: m.branch_logits(x)).cpu()
    y = data.test.y
    rows = []
    for k in range(1, z.shape[1] + 1):
        rep = accuracy_report(z[:, :k].sum(1).argmax(1), y, data.counts)
        name = "branch 1 (all classes)" if k == 1 else f"branches 1..{k} summed"
        rows.append({"prediction": name, **{g: 100 * rep[g] for g in ("acc", "head", "mid", "tail")}})
    return pd.DataFrame(rows).set_index("prediction")


def ablation_params(params: Any, max_per_class: Optional[int], epochs: Optional[int]) -> dict[str, Any]:
    """The notebook's parameters at ablation size (None keeps the main value), as config.ablation_size."""
    size = ablation_size(params, max_per_class, epochs)
    return {**size["params"], **size["changes"]}


def ablation_configs(a: dict[str, Any], main: dict[str, Any], group_counts: list[int], alphas: list[float],
                     extras: bool = True) -> dict[str, dict[str, "RunConfig"]]:
    """Ablation runs at one size: 'table1' (CE, naive fusion, ResLT), 'variants', 'groups', 'alpha'.

    extras adds to 'variants' the other head (bn <-> conv) and Eq. 2 read as a sum of per-branch means.
    """
    ref = reslt_config(a, **main)
    other = "bn" if main.get("variant", "conv") == "conv" else "conv"
    variants = {"ResLT (abl)": ref, **{n: reslt_config(a, n, **{**main, **x}) for n, x in VARIANTS.items()}}
    if extras:
        variants[f"variant={other}"] = reslt_config(a, **{**main, "variant": other})
        variants["per-branch means (Eq. 2 literally)"] = reslt_config(a, **main, branch_norm="per_branch")
    return {"table1": {"CE (abl)": baseline(a, "CE"),
                       **{n: reslt_config(a, n, **{**main, **x}) for n, x in NAIVE_BASELINES.items()},
                       "ResLT (abl)": ref},
            "variants": variants,
            "groups": {("Table 4", "G", g): reslt_config(a, **{**main, "num_groups": g})
                       for g in sorted({*group_counts, main.get("num_groups", 3)})},
            "alpha": {("Fig. 6", "α", float(x)): reslt_config(a, **{**main, "alpha": x})
                      for x in sorted({*alphas, main["alpha"]})}}


# ---------------------------------------------------------------- text vs code choices and model size (40_reslt)

def width_of(arch: str) -> int:
    """Channel multiplier of an arch name ('resnet32x2' -> 2, 'resnet32' -> 1)."""
    head, _, k = arch.rpartition("x")
    return int(k) if head and k.isdigit() else 1


def width_key(method: str, arch: str) -> str:
    """Row key of a model-size run: 'ResLT (2x)' (ResLT Fig. 5 names ResNet-32 (1x), (2x), (3x))."""
    return f"{method} ({width_of(arch)}x)"


def choice_configs(a: dict[str, Any], main: dict[str, Any], num_classes: int) -> dict[str, "RunConfig"]:
    """The other side of each text-vs-code choice at ablation size, beside the reference ResLT run.

    Defaults (docs/protocol.md §4.5): groups of equal class counts (the paper text's rule), α the authors'
    per-setting value on CIFAR-LT (0.995, the text's value, elsewhere). Rows: 'ResLT (abl)' (the defaults),
    the authors' code split (10 or 100 classes, three groups), and α from the text and from the code.
    """
    ds, ir = a.get("dataset", "fmnist"), a.get("imbalance_ratio", 100)
    out = {"ResLT (abl)": reslt_config(a, **main)}
    if main.get("num_groups", 3) == 3 and num_classes in CODE_SPLITS:
        lo, hi = CODE_SPLITS[num_classes]
        out[f"groups: authors' code split ({lo}/{hi} of {num_classes})"] = reslt_config(a, **{**main, "groups": "code"})
    out[f"α = {PAPER_ALPHA:g} (paper text)"] = reslt_config(a, **{**main, "alpha": PAPER_ALPHA})
    code = OFFICIAL_ALPHA.get((ds, int(ir)))
    if code is not None:
        out[f"α = {code:g} (authors' code)"] = reslt_config(a, **{**main, "alpha": code})
    return out


def width_configs(a: dict[str, Any], main: dict[str, Any], archs: list[str]) -> dict[str, "RunConfig"]:
    """ResLT Fig. 5: ResLT and BBN (the figure's comparison) with each backbone of `archs`."""
    out = {width_key("ResLT", arch): reslt_config(a, width_key("ResLT", arch), **{**main, "arch": arch})
           for arch in archs}
    out.update({width_key("BBN", arch): bbn_config(a, width_key("BBN", arch), arch=arch) for arch in archs})
    return out


def main_args(params: Any) -> dict[str, Any]:
    """The main ResLT run's method_args from notebook 40's parameters (alpha None: default_alpha)."""
    p = as_dict(params)
    alpha = p.get("alpha")
    alpha = default_alpha(p.get("dataset", "fmnist"), p.get("imbalance_ratio", 100)) if alpha is None else alpha
    return {"alpha": alpha, "num_groups": p.get("num_groups", 3), "variant": p.get("variant", "conv")}


def notebook_plan(params: Any, num_classes: int, check: bool = True) -> Plan:
    """Every run of notebook 40, by section: main (baselines + ResLT, every seed) and, at ablation size on the
    first seed, Table 1 (naive fusion), variants, groups, α, the text-vs-code choices and model size (Fig. 5).
    check=True also builds each distinct run's data, method and model (Plan.check) before anything trains."""
    p = as_dict(params)
    if "CE" not in p["baseline_names"]:
        raise ConfigError("baseline_names must include 'CE' (the reference of every ResLT claim)")
    seeds = [p["seed"] + k for k in range(p.get("n_seeds", 1))]
    main = main_args(p)
    cfgs = {**baselines(p, p["baseline_names"]), "ResLT": reslt_config(p, **main)}
    a = ablation_params(p, p["ablation_max_per_class"], p["ablation_epochs"])
    sets = ablation_configs(a, main, p["group_counts"], p["alpha_sweep"], p["extra_ablations"])
    sets["choices"] = choice_configs(a, main, num_classes)
    sets["widths"] = width_configs(a, main, p["width_archs"])
    plan = Plan({"main": {k: [c.replace(seed=s) for s in seeds] for k, c in cfgs.items()},
                 **{k: {n: [c] for n, c in d.items()} for k, d in sets.items()}}, info={"ablation_params": a})
    if check:
        plan.check()
    return plan
