"""Notebooks 50, 60, 70-72 plan every run before the first training step: schedules that do not fit a short run are
scaled to fit, with a note, and impossible data is one error in the plan cell. (That every notebook runs to the end
on a small legal file is tests/test_shared_params.py's one-file test.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltlib import claims, recipes, report
from ltlib.errors import ConfigError
from ltlib.methods import aux, switching
from ltlib.params import profile_params

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SMALL = {"epochs": 2, "max_per_class": 8, "imbalance_ratio": 8.0}       # the smallest class keeps one image
EXTRA = {
    "50_aux_learning": {"variants": ["RRS-only", "CBS-only", "CBS+RRS", "CBS+RRS+SS"], "aux_epochs": 2, "ft_epochs": 1},
    "60_class_reversed_switching": {"S": 1, "ablations": ["S", "progressive", "irregularity"], "s_values": [0, 1, 5],
                                    "compare": ["CE", "cRT"], "ablation_epochs": 2},
    "70_tsne": {"tsne_methods": ["CE", "cRT", "aux", "switching"], "tsne_per_class": 5},
    "71_bias_variance": {"K": 2, "bv_max_per_class": 8},
    "72_memorization": {"mem_methods": ["CE", "switching"], "balanced_max_per_class": 8},
}
P60 = {"dataset": "fmnist", "imbalance_ratio": 8.0, "max_per_class": 8, "arch": "resnet8", "epochs": 2,
       "batch_size": 128, "lr": 0.1, "seed": 0, "eval_every": 1, "S": 1, "compare": ["CE"], "stage2_epochs": 1,
       "s_values": [0, 1, 5], "progressive_stage_epochs": 5, "ablations": ["S", "progressive", "irregularity"],
       "grid_samplers": ["ib", "cr"], "ablation_max_per_class": 100, "ablation_epochs": None}


def test_switching_plan_scales_short_runs_to_fit_and_says_so():
    plan = switching.notebook_plan(P60)
    main = plan["main"]
    assert plan.info["S"] == 0 and main["IB→CR"][0].sampler_switch == [[1, "cr"]] and len(main["IB→CR"]) == 1
    assert set(plan["ablations"]) == {("Table 6", "S", 0), ("Table 10", "cardinality"), ("Table 10", "irregularity")}
    assert plan.info["ablation_params"]["max_per_class"] == 8               # never above the profile's cap
    text = " ".join(plan.notes)
    assert "S = 1 leaves no epoch" in text and "Table 7 skipped" in text and "[1, 5]" in text
    assert all(c.batch_size == 64 for c in [*main["IB→CR"], *plan.first("ablations").values()])
    full = switching.notebook_plan({**P60, "epochs": 200, "max_per_class": None, "ablations": switching.TABLES,
                                    "s_values": [0, 1, 5, 10, 50], "grid_samplers": ["ib", "cb", "cr"]})
    rows = list(full["ablations"])
    assert not full.notes and full.info["S"] == 1
    assert sum(r[0] == "Table 7" for r in rows) == 3 and sum(r[0] == "Table 9" for r in rows) == 9
    with pytest.raises(ConfigError, match="ablation table"):
        switching.notebook_plan({**P60, "ablations": ["grids"]})
    with pytest.raises(ConfigError):
        switching.notebook_plan({**P60, "epochs": 1})


def test_aux_plan_shares_rows_and_caps_size():
    p = {**P60, "variants": ["RRS-only", "CBS-only", "CBS+RRS"], "ft_epochs": 1, "rotation_augment": True,
         "ratios": [[0.0, 1.0], [0.5, 1.0], [1.0, 0.0]], "aux_max_per_class": 150, "aux_epochs": 3}
    plan = aux.notebook_plan(p)
    main, cfgs, size = plan["main"], plan.first("ablations"), plan.info
    assert size["max_per_class"] == 8 and size["epochs"] == 3 and size["note"] == "one seed, reduced size: not a verdict"
    assert list(main) == aux.MAIN_ROWS and all(len(cs) == 1 and cs[0].epochs == 2 for cs in main.values())
    assert cfgs["CBS:RRS 0.5:1"].run_id() == cfgs["CBS+RRS"].run_id() and "CBS+RRS+rot-aug" in cfgs


@pytest.mark.parametrize("profile", ["quick", "paper-cifar10-ir100"])
def test_main_rows_are_the_reports_runs_for_every_seed(profile):
    """Notebooks 50 and 60 train their main rows with n_seeds seeds, each the very run the report looks for: the
    report's family hash (recipe_configs on the profile's 90_report parameters) and the recipe's run hash per seed."""
    P50, P60, P90 = (profile_params(profile, nb) for nb in ("50_aux_learning", "60_class_reversed_switching", "90_report"))
    assert P50["n_seeds"] == P60["n_seeds"] == 3
    report_cfgs = recipes.recipe_configs(P90)
    main50 = aux.notebook_plan(P50, check=False)["main"]
    main60 = switching.notebook_plan(P60, check=False)["main"]
    for rows, P, keys in ((main50, P50, {"CBS+RRS": "aux", "CBS-only": "CBS-only", "RRS-only": "RRS-only"}),
                          (main60, P60, {"IB→CR": "switching", "CE": "CE", "cRT": "cRT", "BBN": "BBN"})):
        for row, key in keys.items():
            assert [c.seed for c in rows[row]] == [P["seed"] + i for i in range(P["n_seeds"])], row
            assert {c.family_id() for c in rows[row]} == {report_cfgs[key].family_id()}, row
    for s, c in zip(range(P50["seed"], P50["seed"] + 3), main50["CBS+RRS"]):
        assert c.run_id() == recipes.RECIPES["aux"](P50, seed=s).run_id()
    for s, c in zip(range(P60["seed"], P60["seed"] + 3), main60["IB→CR"]):
        assert c.run_id() == recipes.RECIPES["switching"](P60, seed=s).run_id()
    on_main, on_ablations = aux.split_claims(claims.AUX)
    assert len(on_main) == 3 and len(on_main) + len(on_ablations) == len(claims.AUX)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["60_class_reversed_switching", "72_memorization"])
def test_impossible_data_is_one_error_in_the_plan_cell(notebook, tmp_path):
    """n_max 8 at imbalance ratio 200 leaves a class with no image: the plan cell says so, nothing trains."""
    pm = pytest.importorskip("papermill")
    params = {**SMALL, **EXTRA[notebook], "imbalance_ratio": 200.0, "runs_dir": str(tmp_path / "runs"), "device": "cpu"}
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(out), parameters=params, kernel_name="python3",
                            cwd=str(NOTEBOOKS), progress_bar=False)
    assert e.value.ename == "ConfigError" and "leaves a class with no image" in e.value.evalue
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(cells) if any(o.get("output_type") == "error" for o in c["outputs"])]
    assert len(failed) == 1 and "notebook_params(" in "".join(cells[failed[0]]["source"])
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_ablation_tables_and_claims_cover_every_row():
    from ltlib import claims

    plan = switching.notebook_plan({**P60, "epochs": 200, "max_per_class": None, "ablations": switching.TABLES,
                                    "s_values": [0, 1, 5], "grid_samplers": ["ib", "cb", "cr"]}, check=False)
    acc = {k: float(i) for i, k in enumerate(plan["ablations"])}
    tables = switching.ablation_tables(acc, ["ib", "cb", "cr"])
    assert set(tables) == {f"Table {n}" for n in (6, 7, 9, 10, 11, 12)}
    assert tables["Table 9"].shape == (3, 3) and len(tables["Table 11"]) == 12 and len(tables["Table 12"]) == 6
    assert tables["Table 10"]["paper (C10 IR50)"].tolist() == [82.9, 82.8]
    assert tables["Table 11"]["paper (C10 IR50)"].notna().all() and tables["Table 12"]["paper (C10 IR50)"].notna().all()
    keys = set(plan["ablations"]) | {"IB→CR", "IB→CB", "CE", "cRT", "BBN"}
    for c in claims.SWITCHING:                          # every claim names rows the notebook can produce
        assert {p.a for p in (c.parts or [c])} | {p.b for p in (c.parts or [c])} <= keys, c.text
    rows = set(aux.VARIANTS) | {"ftRRS+CBS"} | {f"CBS:RRS {aux.ratio_label(r)}" for r in aux.RATIOS}
    for c in claims.AUX:
        assert {p.a for p in (c.parts or [c])} | {p.b for p in (c.parts or [c])} <= rows, c.text
