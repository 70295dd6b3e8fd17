"""One parameter file drives the whole study: every notebook accepts the shared names."""
from __future__ import annotations

import pytest

from ltlib.params import SHARED, declared_params, validate_params
from ltlib.paths import NOTEBOOKS
from conftest import SMALL_FILE

NOTEBOOK_NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb"))
ONE_FILE = {"dataset": "fmnist", "imbalance_ratio": 50, "data_root": None, "max_per_class": 200, "arch": "resnet8",
            "epochs": 3, "batch_size": 64, "lr": 0.05, "seed": 1, "device": "cpu", "runs_dir": "outputs/runs",
            "precision": "fp32"}


@pytest.mark.parametrize("notebook", NOTEBOOK_NAMES)
def test_every_notebook_declares_the_shared_names(notebook):
    declared = declared_params(notebook)
    assert set(SHARED) <= set(declared), f"{notebook} lacks {sorted(set(SHARED) - set(declared))}"
    for name, tp in SHARED.items():
        assert declared[name][0] == tp, f"{notebook}: {name} is {declared[name][0]}, not {tp}"


@pytest.mark.parametrize("notebook", NOTEBOOK_NAMES)
def test_one_file_with_every_shared_name_validates_everywhere(notebook):
    p = validate_params(ONE_FILE, notebook)
    assert {k: p[k] for k in ONE_FILE} == {**ONE_FILE, "imbalance_ratio": 50.0}


def test_precision_reaches_every_recipe_and_its_stage_one(native_bf16):
    """precision: fp32 in a profile reaches every run a notebook trains (stage-1 runs of two-stage recipes too)."""
    from ltlib.recipes import RECIPES, study_configs

    p = validate_params({"precision": "fp32", "epochs": 4}, "90_report")
    for name, cfg in study_configs(p, list(RECIPES)).items():
        assert all(c.precision == "fp32" for c in cfg.stages()), name
    default = study_configs(validate_params({}, "90_report"), ["CE"])["CE"]
    assert default.precision == "bf16"                      # auto, resolved on a machine with native bf16
    for name, cfg in study_configs(validate_params({"epochs": 4}, "90_report"), list(RECIPES)).items():
        assert all(c.precision == "bf16" for c in cfg.stages()), name


def test_bad_precision_is_an_error_before_any_work():
    from ltlib.errors import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        validate_params({"precision": "fp16"}, "00_data_and_samplers")


@pytest.mark.parametrize("notebook", NOTEBOOK_NAMES)
def test_the_small_file_validates_everywhere(notebook):
    """SMALL_FILE names every shared parameter but the run store and precision, and every notebook takes it."""
    assert set(SHARED) - set(SMALL_FILE) <= {"runs_dir", "precision", "image_root", "run_fields"}
    p = validate_params(SMALL_FILE, notebook)
    assert p["batch_size"] == 16 and p["seed"] == 1 and p["imbalance_ratio"] == 8.0


@pytest.mark.parametrize("notebook", NOTEBOOK_NAMES)
def test_shared_defaults_are_stated_once(notebook):
    """Each notebook's parameters cell declares Shared's defaults (bar the listed smoke-size exceptions)."""
    import dataclasses

    from ltlib.params import SMOKE_EXCEPTIONS, Shared

    declared = declared_params(notebook)
    want = {**dataclasses.asdict(Shared()), **SMOKE_EXCEPTIONS.get(notebook, {})}
    assert {k: declared[k][1] for k in want} == want


def test_shared_is_typed_and_checked():
    from ltlib.errors import ConfigError
    from ltlib.params import Shared

    s = Shared.of({"epochs": 7, "imbalance_ratio": 10, "unrelated": 1})
    assert s.epochs == 7 and s.imbalance_ratio == 10.0 and s.arch == "resnet8"
    with pytest.raises(ConfigError):
        Shared.of({"epochs": 0})
    with pytest.raises(ConfigError):
        Shared.of({"epochs": "ten"})
