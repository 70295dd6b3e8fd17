"""GPU-hours of a large-scale profile on one H100, estimated before anything starts (`study --status`).

The estimate is images processed / an assumed throughput per backbone: training images x epochs (x 2 for methods
that draw two batches a step: BBN's bilateral samplers, the auxiliary model's two streams), stage-2 runs on a
frozen backbone at FROZEN_SHARE of a training pass, and every evaluation of the held-out and test lists.

The throughputs are assumptions, not measurements made here (no GPU was available): timm's benchmark gives about
2,600 images/s for a ResNet-50 training step on one A100 with AMP and channels-last (huggingface/pytorch-image-
models issue 1491); an H100 computes faster, but decoding JPEGs with RandomResizedCrop on the 16 CPU cores of a
typical H100 slot (about 150-200 images/s a core with PIL) caps a single GPU near 2,500-3,000 images/s, so
ResNet-50 is taken at 2,500 and the other backbones scaled by their FLOPs (torchvision's model cards), never above
the decode cap. Measure on the server (`python -m ltlib.bench`) and replace THROUGHPUT before planning a budget.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from ltlib.config import RunConfig
from ltlib.params import profile_notebooks, profile_params
from ltlib.plans import profile_plans
from ltlib.registry import DATASETS

DECODE_CAP = 3000.0                       # images/s one H100 slot's CPU cores decode and augment
# Training images/s (forward + backward, bf16, channels-last, 224x224) on one H100, by backbone.
THROUGHPUT: dict[str, float] = {"resnet10": 3000.0, "resnet50": 2500.0, "resnext50": 1800.0, "resnet101": 1500.0,
                                "resnext101": 1100.0, "resnet152": 1050.0, "resnext152": 800.0}
EVAL_SPEEDUP = 3.0                        # a forward pass costs about a third of a training step
FROZEN_SHARE = 0.4                        # a classifier-only epoch: the frozen backbone's forward pass and a head
TWO_STREAMS = {"bbn", "aux"}              # methods that draw two batches a step


def split_sizes(cfg: RunConfig) -> Optional[dict[str, int]]:
    """The published list sizes of a config's split dataset (None for any other dataset)."""
    info = DATASETS.get(cfg.dataset)
    return dict(info.sizes) if getattr(info, "lists", None) else None


def run_hours(cfg: RunConfig) -> float:
    """Estimated GPU-hours of one run (this stage only) on one H100; 0 for a dataset that is not a split dataset."""
    sizes = split_sizes(cfg)
    if sizes is None:
        return 0.0
    scale = (cfg.image_size / 224) ** 2
    tput = min(DECODE_CAP, THROUGHPUT.get(cfg.arch, THROUGHPUT["resnet50"]) / scale)
    streams = 2 if cfg.method in TWO_STREAMS else 1
    share = FROZEN_SHARE if cfg.train_parts in ("classifier", "lws") else 1.0
    train = sizes["train"] * cfg.epochs * streams * share / tput
    evals = -(-cfg.epochs // cfg.eval_every) + (cfg.epochs % cfg.eval_every != 0)
    held = sizes.get("val", 0) + sizes.get("test", 0)
    ev = held * evals / min(DECODE_CAP, tput * EVAL_SPEEDUP)
    return (train + ev) / 3600


def plan_hours(plans: dict) -> pd.DataFrame:
    """Per notebook: distinct runs and their GPU-hours (each run once per notebook); a last row, every distinct
    run of the profile once (a run two notebooks share is trained once)."""
    rows, seen = [], {}
    for nb, plan in plans.items():
        cfgs = [c for _, (_, _, c) in plan.distinct_runs().items()]
        stages = {s.run_id(): s for c in cfgs for s in c.stages()}
        seen.update(stages)
        rows.append({"notebook": nb, "runs": len(stages), "GPU-hours (1 H100)": round(sum(map(run_hours,
                                                                                             stages.values())), 1)})
    rows.append({"notebook": "all (distinct)", "runs": len(seen),
                 "GPU-hours (1 H100)": round(sum(map(run_hours, seen.values())), 1)})
    return pd.DataFrame(rows).set_index("notebook")


def profile_hours(profile: str) -> pd.DataFrame:
    """GPU-hours of a profile's plan on one H100 (ltlib.plans.profile_plans), before anything starts."""
    return plan_hours(profile_plans(profile))


def is_large_scale(profile: str) -> bool:
    """Whether a profile trains on a split dataset (its GPU-hours are worth listing)."""
    nbs = profile_notebooks(profile) or ["00_data_and_samplers"]
    return any(getattr(DATASETS.get(profile_params(profile, nb)["dataset"]), "lists", None) for nb in nbs)
