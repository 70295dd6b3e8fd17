"""Run hashes are pinned: every config each notebook trains on the smoke and quick profiles keeps its hash, so a
refactor cannot silently change a result (a stored run would no longer be found) and a change of protocol must
say so by updating tests/data/run_hashes.json in the same commit."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltlib import recipes as analysis
from ltlib.methods import aux, bbn, reslt
from ltlib.methods import baselines as B
from ltlib.methods import decoupling as dc
from ltlib.methods import switching as sw
from ltlib.methods.recipe import ablation_size
from ltlib.params import profile_params

PINNED = Path(__file__).parent / "data" / "run_hashes.json"


def nb_configs(profile: str) -> dict[str, dict[str, str]]:
    """notebook -> config name -> run hash, built the way each notebook builds them."""
    R = {}
    def add(nb, name, c):
        chain = c.stages()[::-1]                            # the config itself first, then its stage-1 ancestors
        for i, x in enumerate(chain):
            R.setdefault(nb, {})[name + ("" if i == 0 else f"/stage{len(chain)-i}")] = x.run_id()
    P = profile_params(profile, "00_data_and_samplers"); add("00", "CE", B.baseline(P, "CE"))
    P = profile_params(profile, "10_rebalancing_diagnosis")
    for s in range(P["seed"], P["seed"] + P["n_seeds"]):
        for k, c in B.diagnosis({**P, "seed": s}, P["stage2_epochs"], P["representation_dataset"]).items():
            add("10", "+".join(k) + ("" if s == P["seed"] else f"/s{s}"), c)
    P = profile_params(profile, "11_baselines")
    for m in P["methods"]:
        for s in range(P["seed"], P["seed"] + P["n_seeds"]): add("11", f"{m}/s{s}", B.baseline(P, m, seed=s))
    P = profile_params(profile, "20_decoupling"); seeds = [P["seed"] + i for i in range(P["n_seeds"])]
    jc = {s: [dc.joint_configs(P, seed=sd)[s] for sd in dc.seeds_of(s, seeds, P["ablation_seeds"])] for s in dc.SAMPLERS}
    for s, cs in jc.items():
        for i, c in enumerate(cs): add("20", f"joint-{s}/{i}", c)
    for i, c in enumerate(jc["IB"]):
        add("20", f"cRT/{i}", dc.crt_config(c, P["stage2_epochs"])); add("20", f"LWS/{i}", dc.lws_config(c, P["stage2_epochs"]))
        for k, pc in dc.parts_configs(c, P["stage2_epochs"]).items():
            if i < len(dc.seeds_of(k, seeds, P["ablation_seeds"])): add("20", f"parts-{k}/{i}", pc)
    for s in dict.fromkeys(["IB", *P["backbones"]]):
        for i, c in enumerate(jc[s]): add("20", f"crt-{s}/{i}", dc.crt_config(c, P["stage2_epochs"]))
    for nb, plan in (("30", bbn.notebook_plan(profile_params(profile, "30_bbn"), check=False)),
                     ("40", reslt.notebook_plan(profile_params(profile, "40_reslt"), 10, check=False))):   # Fashion-MNIST: 10 classes
        for section, rows in plan.items():
            for k, cs in rows.items():
                for i, c in enumerate(cs): add(nb, f"{section}/{k}" + ("" if i == 0 else f"/s{c.seed}"), c)
    P = profile_params(profile, "50_aux_learning")
    main, cfgs, _ = aux.notebook_plan(P, check=False)
    for v, cs in main.items():
        for c in cs: add("50", f"main {v}" + ("" if c.seed == P["seed"] else f"/s{c.seed}"), c)
    for v in P["variants"]: add("50", v, cfgs[v])
    add("50", "ftRRS+CBS", cfgs["ftRRS+CBS"])
    for r in P["ratios"]: add("50", f"ratio {aux.ratio_label(r)}", cfgs[f"CBS:RRS {aux.ratio_label(r)}"])
    if P["rotation_augment"]: add("50", "rot-aug", cfgs["CBS+RRS+rot-aug"])
    P = profile_params(profile, "60_class_reversed_switching")
    plan = sw.notebook_plan(P, check=False)
    for k, cs in plan.main.items():
        for c in cs: add("60", k + ("" if c.seed == P["seed"] else f"/s{c.seed}"), c)
    for k, c in plan.ablations.items(): add("60", k, c)
    P = profile_params(profile, "70_tsne")
    for k, c in analysis.study_configs(P, P["tsne_methods"]).items(): add("70", k, c)
    P = profile_params(profile, "71_bias_variance")
    bv = ablation_size(P, P["bv_max_per_class"], P["bv_epochs"]); size, reduced = bv["params"], bv["changes"]
    for k in range(P["K"]):
        for n, c in analysis.study_configs(dict(size, seed=P["seed"] + k), P["bv_methods"], **reduced).items(): add("71", f"{n}/{k}", c)
    P = profile_params(profile, "72_memorization")
    for k, c in analysis.study_configs(P, P["mem_methods"]).items(): add("72", k, c)
    return R


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_run_hashes_are_pinned(profile, native_bf16):
    pinned = json.loads(PINNED.read_text())[profile]
    now = nb_configs(profile)
    assert now == pinned
