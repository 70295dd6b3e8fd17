"""The large-scale paper profiles (ImageNet-LT, iNaturalist 2018, Places-LT) validate, state each paper's schedule in
full, and list their plan with GPU-hours on one H100 before anything starts (no data needed)."""
from __future__ import annotations

import pytest

from ltlib.gpuhours import profile_hours, run_hours
from ltlib.params import check_param_file, profile_notebooks
from ltlib.paths import NOTEBOOKS, PARAMS
from ltlib.plans import profile_plans

PROFILES = {"paper-imagenet-lt": "imagenet_lt", "paper-inat2018": "inat2018", "paper-places-lt": "places_lt"}


@pytest.fixture(scope="module")
def plans() -> dict:
    return {p: profile_plans(p) for p in PROFILES}


@pytest.mark.parametrize("profile", PROFILES)
def test_files_validate_and_name_their_notebooks(profile):
    listed = profile_notebooks(profile)
    assert listed[0] == "00_data_and_samplers" and listed[-1] == "90_report"
    files = sorted(f.stem for f in (PARAMS / profile).glob("*.yaml"))
    assert files == sorted(listed)
    for nb in listed:
        p = check_param_file(PARAMS / profile / f"{nb}.yaml", NOTEBOOKS / f"{nb}.ipynb")
        assert p["dataset"] == PROFILES[profile] and p["max_per_class"] is None and p["precision"] == "bf16"
        assert {"lr", "batch_size", "weight_decay", "schedule", "milestones", "warmup_epochs"} <= set(p["run_fields"])


def test_every_run_trains_on_its_paper_schedule(plans):
    ce = plans["paper-imagenet-lt"]["20_decoupling"]["joint"]
    cfg = next(iter(ce.values()))[0]
    assert (cfg.dataset, cfg.arch, cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.schedule,
            cfg.warmup_epochs, cfg.imbalance_ratio) == ("imagenet_lt", "resnext50", 90, 512, 0.2, 5e-4, "cosine", 0, 256)
    sw = plans["paper-imagenet-lt"]["60_class_reversed_switching"]["main"]["IB→CR"][0]
    assert (sw.batch_size, sw.lr, sw.milestones, sw.sampler_switch) == (256, 0.2, [60, 80], [[81, "cr"]])
    sw = plans["paper-inat2018"]["60_class_reversed_switching"]["main"]["IB→CR"][0]
    assert (sw.batch_size, sw.lr, sw.milestones, sw.sampler_switch) == (512, 0.05, [120, 160], [[161, "cr"]])
    bbn = plans["paper-inat2018"]["30_bbn"]
    runs = [c for _, (_, _, c) in bbn.distinct_runs().items()]
    assert all((c.batch_size, c.lr, c.weight_decay, c.milestones) == (128, 0.05, 1e-4, [60, 80]) for c in runs
               if c.init_from is None)
    for _, (_, _, c) in plans["paper-places-lt"]["20_decoupling"].distinct_runs().items():
        first = c.stages()[0]
        assert first.pretrained.endswith("resnet152-394f9c45.pth") and first.backbone_lr_mult == 0.1
        assert first.hash_dict()["pretrained"] == "resnet152-394f9c45.pth"


@pytest.mark.parametrize("profile", PROFILES)
def test_gpu_hours_listed_before_anything_starts(profile, plans):
    from ltlib.gpuhours import plan_hours

    t = plan_hours(plans[profile])
    assert t.index[-1] == "all (distinct)" and (t["GPU-hours (1 H100)"] > 0).all()
    total = t.loc["all (distinct)", "GPU-hours (1 H100)"]
    assert total <= t["GPU-hours (1 H100)"].iloc[:-1].sum() + 0.1          # shared runs are counted once
    assert 5 < total < 400


def test_study_status_prints_the_gpu_hours(capsys, tmp_path, monkeypatch):
    from ltlib.study import main

    monkeypatch.setenv("LTSTUDY_RUNS", str(tmp_path))
    assert main(["--profile", "paper-places-lt", "--status"]) == 0
    out = capsys.readouterr().out
    assert "GPU-hours (1 H100)" in out and "all (distinct)" in out and "50_aux_learning" in out
    assert "30_bbn" not in out                                          # only the notebooks that apply


def test_run_hours_scale_with_the_work():
    from ltlib.config import RunConfig

    a = RunConfig(dataset="imagenet_lt", arch="resnet50", epochs=90, eval_every=90)
    assert run_hours(a.replace(epochs=180, eval_every=180)) == pytest.approx(2 * run_hours(a), rel=0.01)
    assert run_hours(a.replace(method="bbn")) > 1.9 * run_hours(a)
    assert run_hours(RunConfig(dataset="cifar10")) == 0.0
