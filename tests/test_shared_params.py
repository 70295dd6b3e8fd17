"""One parameter file drives the whole study: every notebook accepts the shared names."""
from __future__ import annotations

import pytest

from ltlib.params import SHARED, declared_params, validate_params
from ltlib.paths import NOTEBOOKS

NOTEBOOK_NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb"))
ONE_FILE = {"dataset": "fmnist", "imbalance_ratio": 50, "data_root": None, "max_per_class": 200, "arch": "resnet8",
            "epochs": 3, "batch_size": 64, "lr": 0.05, "seed": 1, "device": "cpu", "runs_dir": "outputs/runs"}


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
