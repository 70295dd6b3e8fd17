"""The bench: what it times by default, and that the minimal loop is timed in each precision it times."""
from __future__ import annotations

import torch

from ltlib import bench

CPU = torch.device("cpu")


def test_default_precisions_follow_the_hardware(native_bf16):
    assert bench.bench_precisions(CPU) == ["fp32", "bf16"]
    names = [v.name for v in bench.variants(CPU, ["fp32", "bf16"])]
    assert {"reference", "minimal-fp32", "minimal-bf16", "engine-fp32", "engine-bf16-cl"} <= set(names)
    assert not any("compile" in n for n in names)                  # torch.compile only when asked on a CPU


def test_no_emulated_bf16_by_default(emulated_bf16):
    assert bench.bench_precisions(CPU) == ["fp32"]
    assert bench.bench_precisions(CPU, ["bf16", "fp32"]) == ["bf16", "fp32"]
    assert all(v.precision == "fp32" for v in bench.variants(CPU, ["fp32"]))


def test_run_bench_times_minimal_and_engine_per_precision(emulated_bf16):
    res = bench.run_bench(arch="resnet8-narrow", steps=1, dataset="synthetic", batch_size=16, rounds=1, warmup=1,
                          methods=("ce",), eval_share=False)
    got = res["methods"]["ce"]["variants"]
    assert set(got) == {"reference", "minimal-fp32", "engine-fp32", "engine-fp32-cl"}
    assert res["default_precision"] == "fp32" and res["hardware"]["cpu_capability"] == "AVX2"
    assert "x minimal" in bench.summary_table("ce", got)
