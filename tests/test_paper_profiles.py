"""The paper profiles proven on a CPU: every notebook executed (papermill) with a `params/paper-*` profile's parameter
files, overridden to a tiny size and with every shared parameter named (some away from their defaults: this is also
the test that a file of shared names a user writes runs every notebook), on CIFAR-format pickles this test writes itself (nothing downloaded).

What is executed and what is only validated, to keep CI short on 2 cores:
- `paper-cifar10-ir100` runs all 12 notebooks (CIFAR-10 pickles, the largest imbalance ratio, every profile
  parameter: the six profiles differ only in dataset, imbalance_ratio and ResLT's α).
- `paper-cifar100-ir10` runs the notebooks whose code paths depend on the number of classes at this size
  (100 classes, CIFAR-100 pickles): 00 (profile, shot groups), 40 (ResLT groups on 100 classes, the profile's
  own α), 70 (t-SNE classes spread over 100) and 90 (the report). Its other notebooks took 55-90 s each
  under load and exercise nothing the CIFAR-10 run does not.
- Every file of all six profiles is validated against its notebook, as is and overridden, and each profile's
  long-tailed set is built from its own pickles (`paper-cifar10-ir50`, `-ir10`, `paper-cifar100-ir100`,
  `-ir50` are validated only).

Measured: 9.4 min for this file (16 executions + 6 validations) with the 2 cores shared by four other test
sessions (load average 7-8); 60 (80 s) and 40 on CIFAR-100 (85 s) are the longest, most notebooks 12-47 s.
Deselect with `-m "not slow"`.

The override keeps each profile's own values (`max_per_class: null`, its ablation lists, samplers, methods) and
shrinks only sizes: ResNet-8 for the profiles' ResNet-32 (4x cheaper on a CPU; the profiles' arch is validated),
the pickles hold n_max = IR images per class (so the tail keeps one image and, as
with full CIFAR, the head class uses every image and gives none to the held-out split), 2 epochs (1 for stage 2 and
ablations; notebook 60: 4, 6 for its ablations, S in {0, 1}), 2 seeds, a few t-SNE images, fp32 (`precision`), runs in a temporary run store, one worker.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from ltlib.data import long_tail_counts, make_long_tailed
from ltlib.params import SHARED, Shared, declared_params, load_param_file, validate_params
from ltlib.paths import NOTEBOOKS, PARAMS

from fake_cifar import write_cifar
from conftest import SMALL_FILE

EXECUTED = {"paper-cifar10-ir100": None,                                        # None: every notebook
            "paper-cifar100-ir10": ["00_data_and_samplers", "40_reslt", "70_tsne", "90_report"]}
VALIDATED = ["paper-cifar10-ir50", "paper-cifar10-ir10", "paper-cifar100-ir100", "paper-cifar100-ir50"]
NOTEBOOK_NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb"))
TEST_PER_CLASS = {10: 6, 100: 2}

# Sizes only; a name applies where the notebook declares it.
TINY = {"arch": "resnet8", "epochs": 2, "stage2_epochs": 1, "ft_epochs": 1, "n_seeds": 2, "K": 2, "ablation_epochs": 1,
        "aux_epochs": 1, "bv_epochs": 2, "tsne_per_class": 2, "tsne_classes": 5, "perplexity": 3.0, "knn_k": 2,
        "device": "cpu", "precision": "fp32", "eval_every": 1}
# Switching needs m_n + S < epochs (S = 1 in the profiles) and, for Table 7, one more epoch per middle sampler;
# S values that do not fit a short run (the profiles' 5, 10, 50 of 200) are left out.
PER_NOTEBOOK = {"60_class_reversed_switching": {"epochs": 4, "ablation_epochs": 6, "s_values": [0, 1]},
                "40_reslt": {"width_archs": ["resnet8", "resnet8x2"]}}     # Fig. 5's ResNet-32 (1x-3x), shrunk


def _profile(profile: str, notebook: str) -> dict:
    f = PARAMS / profile / f"{notebook}.yaml"
    return load_param_file(f) if f.exists() else {}


def _classes(profile: str) -> int:
    return 100 if "cifar100" in profile else 10


def _tiny(profile: str, notebook: str, data_root: Path, runs_dir: Path) -> dict:
    """The profile's parameters with the sizes shrunk; validated against the notebook."""
    declared = declared_params(notebook)
    p = {**_profile(profile, notebook),
         **{k: v for k, v in TINY.items() if k in declared}, **PER_NOTEBOOK.get(notebook, {}), "data_root": str(data_root), "runs_dir": str(runs_dir)}
    p = {**{k: v for k, v in dataclasses.asdict(Shared()).items() if k not in p}, **p}   # every shared name named
    p.update({k: SMALL_FILE[k] for k in ("batch_size", "lr", "seed")})     # and some not at their default
    if "profile" in declared:
        p["profile"] = None                           # 90_report: do not write outputs/<profile>/results.csv
    validate_params(p, NOTEBOOKS / f"{notebook}.ipynb")
    return p


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> dict[str, Path]:
    """One pickle folder per profile: n_max = IR images per class, a few test images per class."""
    out = {}
    for profile in [*EXECUTED, *VALIDATED]:
        ir = int(_profile(profile, "00_data_and_samplers")["imbalance_ratio"])
        c = _classes(profile)
        out[profile] = write_cifar(tmp_path_factory.mktemp(profile), c, ir, TEST_PER_CLASS[c])
    return out


@pytest.fixture(scope="module")
def runs_dirs(tmp_path_factory) -> dict[str, Path]:
    """One run store per profile, shared by its notebooks (70-72 and 90 reuse the runs of 10-60, as in a study)."""
    return {p: tmp_path_factory.mktemp(f"runs-{p}") for p in EXECUTED}


@pytest.mark.parametrize("profile", [*EXECUTED, *VALIDATED])
def test_profile_files_validate_and_build(profile, cifar_root, tmp_path):
    """Every file of the profile validates as is and overridden; its long-tailed set builds at the tiny size."""
    for nb in NOTEBOOK_NAMES:
        validate_params(_profile(profile, nb), NOTEBOOKS / f"{nb}.ipynb")
        _tiny(profile, nb, cifar_root[profile], tmp_path)
    p = _profile(profile, "00_data_and_samplers")
    assert p["max_per_class"] is None and p["arch"] == "resnet32"
    ir, c = p["imbalance_ratio"], _classes(profile)
    lt = make_long_tailed(p["dataset"], ir, data_root=str(cifar_root[profile]))
    assert lt.counts == long_tail_counts(ir, c, ir) and min(lt.counts) == 1
    assert lt.val_classes == c - 1                  # the head uses all its images, as on full CIFAR


@pytest.mark.slow
@pytest.mark.parametrize("profile,notebook", [(p, nb) for p, only in EXECUTED.items() for nb in NOTEBOOK_NAMES
                                              if only is None or nb in only])
def test_notebook_runs_on_paper_profile(profile, notebook, cifar_root, runs_dirs, tmp_path, monkeypatch):
    """Execute the notebook with the profile's parameters at the tiny size (papermill, one worker)."""
    import papermill as pm

    monkeypatch.setenv("LTSTUDY_WORKERS", "1")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):      # one thread: 2 threads on 2 busy cores run 5-7x slower
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("LTSTUDY_PROGRESS", "none")
    params = _tiny(profile, notebook, cifar_root[profile], runs_dirs[profile])
    assert set(SHARED) <= set(params)        # this execution is also the one of a file naming every shared name
    t0 = time.perf_counter()
    pm.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / f"{notebook}.ipynb"),
                        parameters=params, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
                        log_output=False)
    print(f"{profile} {notebook}: {time.perf_counter() - t0:.1f} s")
