"""Run configuration: one dataclass that fixes a training run, strict validation, and its hash."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ltlib import registry
from ltlib.errors import ConfigError, check_name, check_type, closest, require
from ltlib.hardware import PRECISIONS, resolve_precision
from ltlib.paths import resolve


def is_path(dataset: str) -> bool:
    """A dataset given as a folder path rather than a registered name."""
    return any(c in dataset for c in "/\\") or dataset.startswith(".") or dataset.startswith("~")


def check_dataset_name(name: str) -> None:
    """Accept a registered dataset name or an existing image-folder path."""
    if name in registry.DATASETS:
        return
    if is_path(name):
        p = resolve(name)
        if not (p / "train").is_dir():
            raise ConfigError(f"dataset folder {p} not found or has no train/<class>/ subfolders")
        return
    raise ConfigError(f"unknown dataset '{name}'{closest(name, registry.DATASETS)}; choose one of "
                      f"{', '.join(registry.DATASETS)} or give a path to an image folder")


def split_names() -> list[str]:
    """Registered datasets fixed by their split files (ltlib.splits)."""
    return [n for n, info in registry.DATASETS.items() if getattr(info, "lists", None)]


# Fields that do not change a run's result: kept out of its hash (docs/protocol.md §7).
HASH_EXCLUDE = {"tag", "data_root", "image_root"}
# Fields added for the large-scale datasets, hashed only when not at their default, so every earlier run keeps its
# hash (tests/test_run_hashes.py).
HASH_IF_SET: dict[str, Any] = {"image_root": None, "pretrained": None, "image_size": 224, "accum_steps": 1,
                               "sync_bn": False, "class_order_seed": None, "head_init": "default"}

# Version of the training protocol, part of every run hash: bumped when a fix changes what a config computes, so a
# stored run of the old protocol is never reused (2: held-out split from unused images only, within-class sampling
# without replacement, frozen batch norm kept in eval, one-angle rotation pass, BBN branch blocks initialised apart).
PROTOCOL = 2

HEAD_INITS = ("default", "kaiming")      # the classifier's starting weights (ltlib.heads.init_head)

@dataclass
class RunConfig:
    """Everything that fixes the result of one training run."""

    # data
    dataset: str = "fmnist"                 # fmnist | cifar10 | cifar100 | cifar10-jpeg | path to an image folder
    imbalance_ratio: float = 100.0          # n_max / n_min of the long-tailed training set
    max_per_class: Optional[int] = None     # cap on n_max for quick runs (None = full)
    lt_seed: int = 0                        # seed of the per-class subset selection (docs/protocol.md §1)
    class_order_seed: Optional[int] = None  # None: class c gets the c-th largest size; a seed: a random assignment
    val_per_class: int = 20                 # balanced held-out split from unused training images
    data_root: Optional[str] = None         # where datasets are looked for first (not hashed)
    image_root: Optional[str] = None        # split datasets: the folder the list paths are relative to (not hashed)
    image_size: int = 224                   # split datasets: crop size (test: Resize(size * 8/7) + CenterCrop)
    # model
    arch: str = "resnet8"                   # see ltlib.models.ARCHS
    head: str = "linear"                    # see ltlib.heads.HEADS
    head_init: str = "default"              # default (PyTorch's, the official codes') | kaiming (normal, zero bias)
    # optimisation
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    nesterov: bool = False
    warmup_epochs: int = 5                  # linear warm-up, lr*(e+1)/W for epoch e < W
    warmup_start: float = 0.0               # 0: LDAM-style warm-up; 1/3: BBN's official code
    schedule: str = "multistep"             # multistep | cosine | constant
    milestones: list[int] = field(default_factory=list)  # 0-based epochs from which lr *= gamma
    gamma: float = 0.1
    # sampling and loss
    sampler: str = "ib"                     # see ltlib.samplers.SAMPLERS
    sampler_switch: list[list] = field(default_factory=list)  # [[epoch, sampler], ...] switches (DRS, IB->CR)
    loss: str = "ce"                        # see ltlib.losses.LOSSES
    loss_weights: str = "none"              # none | rw (1/n) | cb (effective number)
    reweight_from: int = 0                  # epoch from which loss_weights apply (DRW)
    focal_gamma: float = 1.0
    cb_beta: float = 0.9999
    ldam_max_m: float = 0.5
    ldam_s: float = 30.0
    # method and two-stage training
    method: str = "plain"                   # see ltlib.methods.METHODS
    method_args: dict = field(default_factory=dict)
    init_from: Optional[dict] = None        # stage-1 RunConfig (as dict) whose weights start this run
    train_parts: str = "all"                # all | classifier | last_block | lws
    reinit_head: bool = True                # fresh classifier when init_from is set
    pretrained: Optional[str] = None        # local weights file (torchvision state dict) for the backbone; never fetched
    backbone_lr_mult: float = 1.0           # lr factor of the backbone (B+C at lr x 0.1)
    # other
    augment: bool = True                    # random crop with padding + horizontal flip
    precision: str = "auto"                 # auto (bf16 where native, else fp32; resolved at once) | bf16 | fp32
    accum_steps: int = 1                    # gradient accumulation: batch_size images per step in accum_steps parts
    sync_bn: bool = False                   # synchronised batch norm across the ranks of a torchrun run
    eval_every: int = 1
    seed: int = 0
    tag: str = ""                           # free label for tables (not hashed)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check types and values; raise ConfigError naming the bad field."""
        hints = typing.get_type_hints(RunConfig)
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_type(f.name, getattr(self, f.name), hints[f.name]))
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.imbalance_ratio >= 1, f"imbalance_ratio must be >= 1, got {self.imbalance_ratio}")
        require(self.max_per_class is None or self.max_per_class >= 1,
                 f"max_per_class must be None or >= 1, got {self.max_per_class}")
        require(self.val_per_class >= 0, f"val_per_class must be >= 0, got {self.val_per_class}")
        require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        require(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        require(self.backbone_lr_mult >= 0, f"backbone_lr_mult must be >= 0, got {self.backbone_lr_mult}")
        require(0 <= self.reweight_from, f"reweight_from must be >= 0, got {self.reweight_from}")
        require(0 < self.cb_beta < 1, f"cb_beta must be in (0, 1), got {self.cb_beta}")
        check_name("schedule", self.schedule, ["multistep", "cosine", "constant"])
        check_name("loss_weights", self.loss_weights, ["none", "rw", "cb"])
        check_name("precision", self.precision, PRECISIONS)
        self.precision = resolve_precision(self.precision)     # before any hash: config.json says what ran
        check_name("train_parts", self.train_parts, ["all", "classifier", "last_block", "lws"])
        registry.ARCHS.check(self.arch)
        registry.HEADS.check(self.head)
        check_name("head_init", self.head_init, HEAD_INITS)
        registry.LOSSES.check(self.loss)
        registry.METHODS.check(self.method)
        registry.METHODS[self.method].parse_args(self.method_args)
        registry.SAMPLERS.check(self.sampler)
        for m in self.milestones:
            require(0 <= m, f"milestones must be >= 0, got {self.milestones}")
        for item in self.sampler_switch:
            require(isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], int),
                     f"sampler_switch entries must be [epoch, sampler], got {item!r}")
            registry.SAMPLERS.check(item[1])
        if self.init_from is not None:
            RunConfig.from_dict(self.init_from)
        elif self.train_parts != "all":
            raise ConfigError(f"train_parts={self.train_parts!r} needs init_from (a stage-1 run to start from)")
        if not is_path(self.dataset):
            self.dataset = self.dataset.lower()
            check_dataset_name(self.dataset)                # names now; a folder path when its data load
        require(self.image_size >= 8, f"image_size must be >= 8, got {self.image_size}")
        require(self.accum_steps >= 1 and self.batch_size % self.accum_steps == 0,
                f"accum_steps must be >= 1 and divide batch_size ({self.batch_size}), got {self.accum_steps}")
        split = registry.DATASETS.get(self.dataset)
        if getattr(split, "lists", None):                   # a dataset fixed by its split files (ltlib.splits)
            require(self.max_per_class is None, f"dataset {self.dataset} is used as its split files give it: "
                    f"max_per_class must be None, got {self.max_per_class}")
            self.imbalance_ratio = float(split.imbalance)   # the lists' own n_max / n_min: nothing is re-drawn
        else:
            require(self.image_root is None, f"image_root applies to the split-file datasets only "
                    f"({', '.join(split_names())}), not to {self.dataset}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Build from a mapping; unknown keys are an error that names the closest valid key."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a mapping, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        for k in d:
            if k not in names:
                raise ConfigError(f"unknown parameter '{k}'{closest(k, names)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of every field."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with some fields changed (validated)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})

    def hash_dict(self) -> dict[str, Any]:
        """The fields that change the result; a path dataset counts by its folder name only."""
        d = {k: v for k, v in self.to_dict().items()
             if k not in HASH_EXCLUDE and not (k in HASH_IF_SET and v == HASH_IF_SET[k])}
        d["protocol"] = PROTOCOL
        if d.get("pretrained"):
            d["pretrained"] = Path(d["pretrained"]).name    # the weights by file name, not where they lie
        if is_path(d["dataset"]):
            d["dataset"] = Path(d["dataset"].rstrip("/")).name
        if d["init_from"] is not None:
            d["init_from"] = RunConfig.from_dict(d["init_from"]).run_id()
        return d

    def stages(self) -> list["RunConfig"]:
        """This config and its stage-1 ancestors (init_from), deepest ancestor first."""
        chain = [self]
        while chain[0].init_from is not None:
            chain.insert(0, RunConfig.from_dict(chain[0].init_from))
        return chain

    def family_id(self) -> str:
        """The hash without the seed and the evaluation cadence (stage 1 likewise): all seeds of one recipe."""
        d = {k: v for k, v in self.hash_dict().items() if k not in ("seed", "eval_every")}
        if self.init_from is not None:
            d["init_from"] = RunConfig.from_dict(self.init_from).family_id()
        return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]

    def run_id(self) -> str:
        """Short stable hash of everything that changes the result (not device, paths or progress)."""
        blob = json.dumps(self.hash_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]
