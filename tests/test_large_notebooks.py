"""The large-scale profiles' notebooks end to end on the CPU, on generated data in the official layouts
(ImageNet-LT, iNaturalist 2018, Places-LT: a few hundred small JPEGs and the split files, tests/fake_splits.py).

Each profile's parameter files are used with the sizes shrunk: ResNet-10 at 32x32 for the profiles' ResNeXt-50 /
ResNet-50 / ResNet-152 (their arch is validated by tests/test_large_profiles.py), 2 epochs (3 for switching), batch
16, one seed, the run_fields' schedule kept but its milestones moved inside the short run, one sampler where a
notebook sweeps several, fp32, one process, no loader workers. `paper-imagenet-lt` runs every notebook it lists;
`paper-inat2018` runs the notebooks whose code differs there (20: no held-out list, so tau is not chosen on
test; 30: BBN's two streams on a split dataset), `paper-places-lt` runs 20 from local pretrained weights (a
ResNet-10 state dict written here stands in for torchvision's ResNet-152 file). The data and the three run stores
are made once. The test command runs three of them (DEFAULT: ImageNet-LT's 00, 20 and 90: 80 s alone, 170 s
beside another engineer's jobs on 2 cores); every one with LTSTUDY_LARGE_NOTEBOOKS=1 (about 6-10 min more there).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from ltlib.params import declared_params, load_param_file, profile_notebooks, validate_params
from ltlib.paths import NOTEBOOKS, PARAMS

from fake_splits import write_split_dataset

DATASET = {"paper-imagenet-lt": "imagenet_lt", "paper-inat2018": "inat2018", "paper-places-lt": "places_lt"}
EXECUTED = {"paper-imagenet-lt": None,                          # None: every notebook the profile lists
            "paper-inat2018": ["20_decoupling", "30_bbn"], "paper-places-lt": ["20_decoupling"]}
TINY = {"arch": "resnet10", "epochs": 2, "stage2_epochs": 1, "ft_epochs": 1, "n_seeds": 1, "device": "cpu",
        "precision": "fp32", "eval_every": 1, "batch_size": 16, "lr": 0.05}
FEWER = {"backbones": ["IB"], "variants": ["CBS+RRS"], "ratios": [[0.5, 1.0]], "rotation_augment": False}
PER_NOTEBOOK = {"60_class_reversed_switching": {"epochs": 3, "compare": ["CE", "cRT"]},
                "30_bbn": {"compare": ["CE", "CE-DRW"]}}
# Run by the test command; the rest with LTSTUDY_LARGE_NOTEBOOKS=1.
DEFAULT = {("paper-imagenet-lt", "00_data_and_samplers"), ("paper-imagenet-lt", "20_decoupling"),
           ("paper-imagenet-lt", "90_report")}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """One generated data root per dataset, and a local 'pretrained' ResNet-10 state dict (torchvision keys)."""
    from ltlib.models import build_backbone

    base = tmp_path_factory.mktemp("large")
    out = {name: write_split_dataset(base / name, name) for name in DATASET.values()}
    net = build_backbone("resnet10").net
    torch.save({**net.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)},
               base / "resnet10-local.pth")
    out["weights"] = base / "resnet10-local.pth"
    return out


@pytest.fixture(scope="module")
def runs_dirs(tmp_path_factory) -> dict[str, Path]:
    return {p: tmp_path_factory.mktemp(f"runs-{p}") for p in DATASET}


def tiny(profile: str, notebook: str, data: dict, runs_dir: Path) -> dict:
    """The profile's file with the sizes shrunk, validated against the notebook."""
    declared = declared_params(notebook)
    p = load_param_file(PARAMS / profile / f"{notebook}.yaml")
    p.update({k: v for k, v in {**TINY, **FEWER}.items() if k in declared})
    p.update(PER_NOTEBOOK.get(notebook, {}))
    rf = {**p["run_fields"], "batch_size": 16, "lr": 0.05, "image_size": 32, "warmup_epochs": 0}
    if rf.get("milestones"):
        rf["milestones"] = [1]                                     # x0.1 inside the short run (switch at 2)
    if "pretrained" in rf:
        rf["pretrained"] = str(data["weights"])
    p.update(run_fields=rf, data_root=str(data[DATASET[profile]]), runs_dir=str(runs_dir))
    if "profile" in declared:
        p["profile"] = None                                        # 90_report: no outputs/<profile>/results.csv
    validate_params(p, NOTEBOOKS / f"{notebook}.ipynb")
    return p


CASES = [(p, nb) for p, only in EXECUTED.items() for nb in (only or profile_notebooks(p))]
ALL = os.environ.get("LTSTUDY_LARGE_NOTEBOOKS") == "1"


@pytest.mark.slow
@pytest.mark.parametrize("profile,notebook", CASES)
def test_large_scale_notebook_runs(profile, notebook, data, runs_dirs, tmp_path, monkeypatch):
    import papermill as pm

    if not ALL and (profile, notebook) not in DEFAULT:
        pytest.skip("set LTSTUDY_LARGE_NOTEBOOKS=1 to run every large-scale notebook (~6 min more)")

    for k, v in {"LTSTUDY_WORKERS": "1", "LTSTUDY_LOADER_WORKERS": "0", "LTSTUDY_PROGRESS": "none",
                 "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}.items():
        monkeypatch.setenv(k, v)
    params = tiny(profile, notebook, data, runs_dirs[profile])
    t0 = time.perf_counter()
    pm.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / f"{notebook}.ipynb"),
                        parameters=params, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
                        log_output=False)
    print(f"{profile} {notebook}: {time.perf_counter() - t0:.1f} s")
