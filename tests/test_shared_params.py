"""One parameter file drives the whole study: every notebook accepts the shared names."""
from __future__ import annotations

import pytest

from ltlib.params import SHARED, declared_params, validate_params
from ltlib.paths import NOTEBOOKS
from conftest import needs_fmnist

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


# A small file a user could write, with every shared name: every notebook must run on it end to end (slow: 12
# papermill kernels; measured in the final report of the issue). IR 8 with at most 8 images per class: the largest
# ratio that leaves every class an image (n_c = int(8 · (1/IR)^(c/9)) ≥ 1), so the tail classes hold one image.
SMALL_FILE = {"dataset": "fmnist", "imbalance_ratio": 8, "data_root": None, "max_per_class": 8, "arch": "resnet8",
              "epochs": 2, "batch_size": 16, "lr": 0.05, "seed": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """One run store for the whole file, as in a study: later notebooks reuse earlier runs, 90 reports on them."""
    return tmp_path_factory.mktemp("small_runs")


@pytest.mark.slow
@needs_fmnist
@pytest.mark.parametrize("notebook", NOTEBOOK_NAMES)
def test_one_small_file_executes_every_notebook(notebook, small_runs, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("LTSTUDY_WORKERS", "1")
    monkeypatch.setenv("LTSTUDY_PROGRESS", "none")
    params = {**SMALL_FILE, "runs_dir": str(small_runs)}
    validate_params(params, notebook)
    pm.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / f"{notebook}.ipynb"),
                        parameters=params, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)


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
