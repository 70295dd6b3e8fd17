"""Notebooks 30 and 40 plan every run before training: a small legal parameter file runs them to the end, an
impossible one fails in the plan cell with no run started (papermill, a temporary run store, the tiny image-folder
dataset of conftest so that it takes seconds)."""
import json
from pathlib import Path

import pytest
import yaml

from ltlib.params import check_param_file

pm = pytest.importorskip("papermill")
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["30_bbn", "40_reslt"]
SMALL = {"arch": "resnet8", "epochs": 4, "batch_size": 16, "lr": 0.05, "max_per_class": 40, "imbalance_ratio": 20,
         "ablation_max_per_class": 40, "ablation_epochs": 1, "eval_every": 4, "device": "cpu"}
PER_NOTEBOOK = {"30_bbn": {"compare": ["CE"], "stage2_epochs": 1},
                "40_reslt": {"baseline_names": ["CE"], "alpha_sweep": [1.0], "group_counts": [2]}}


def _execute(nb: str, params: dict, tmp_path: Path) -> Path:
    out = tmp_path / f"{nb}.out.ipynb"
    pf = tmp_path / f"{nb}.yaml"
    pf.write_text(yaml.safe_dump(params))
    check_param_file(pf, ROOT / "notebooks" / f"{nb}.ipynb")      # legal-looking: the file itself validates
    pm.execute_notebook(str(ROOT / "notebooks" / f"{nb}.ipynb"), str(out), parameters=params, kernel_name="python3",
                        progress_bar=False, cwd=str(ROOT))
    return out


@pytest.mark.parametrize("nb", NOTEBOOKS)
def test_small_profile_runs_to_the_end(nb, tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("LTSTUDY_WORKERS", "1")
    runs = tmp_path / "runs"
    _execute(nb, {**SMALL, **PER_NOTEBOOK[nb], "dataset": str(tiny_folder), "runs_dir": str(runs)}, tmp_path)
    assert any(runs.iterdir())


@pytest.mark.parametrize("nb", NOTEBOOKS)
def test_impossible_profile_fails_in_the_plan_before_training(nb, tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("LTSTUDY_WORKERS", "1")
    runs = tmp_path / "runs"
    params = {**SMALL, **PER_NOTEBOOK[nb], "dataset": str(tiny_folder), "max_per_class": 8, "imbalance_ratio": 200,
              "runs_dir": str(runs)}
    with pytest.raises(pm.PapermillExecutionError, match="leaves a class with no image") as e:
        _execute(nb, params, tmp_path)
    cells = json.loads((tmp_path / f"{nb}.out.ipynb").read_text())["cells"]
    failed = [c for c in cells if c["cell_type"] == "code" and any(o.get("output_type") == "error"
                                                                   for o in c.get("outputs", []))]
    assert len(failed) == 1 and "notebook_plan" in "".join(failed[0]["source"]), e.value
    assert not runs.exists() or not any(runs.iterdir())          # nothing was trained
