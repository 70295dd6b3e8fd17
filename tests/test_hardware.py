"""Precision by hardware: `auto` is bf16 only where the device runs it natively, resolved before the run hash."""
from __future__ import annotations

import pytest
import torch
import yaml

from ltlib import hardware
from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.methods.baselines import baseline
from ltlib.params import validate_params
from ltlib.paths import PARAMS


def test_auto_is_bf16_where_native(native_bf16):
    assert hardware.resolve_precision("auto", "cpu") == "bf16"
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"
    cfg = RunConfig()
    assert cfg.precision == "bf16" and cfg.to_dict()["precision"] == "bf16"
    assert cfg.run_id() == RunConfig(precision="bf16").run_id()       # the hashes of runs made before `auto`


def test_auto_is_fp32_where_bf16_is_emulated(emulated_bf16):
    assert hardware.resolve_precision("auto", "cpu") == "fp32"
    assert hardware.resolve_precision("bf16", "cpu") == "bf16"        # asked for explicitly: kept (with a warning)
    cfg = RunConfig()
    assert cfg.precision == "fp32"
    assert cfg.run_id() == RunConfig(precision="fp32").run_id() != RunConfig(precision="bf16").run_id()


def test_other_devices_are_fp32():
    assert hardware.resolve_precision("auto", "mps") == "fp32"
    if not torch.cuda.is_available():
        assert not hardware.bf16_native("cuda")
        assert hardware.resolve_precision("auto", "cuda") == "fp32"


def test_recipes_resolve_for_the_notebooks_device(emulated_bf16, monkeypatch):
    """A notebook's `device` decides what `auto` means for the runs it builds (a GPU with bf16: bf16)."""
    p = validate_params({"epochs": 4}, "11_baselines")
    assert baseline(p, "CE").precision == "fp32"
    monkeypatch.setattr(hardware, "bf16_native", lambda dev: torch.device(dev).type == "cuda")
    assert baseline({**p, "device": "cuda"}, "CE").precision == "bf16"
    assert baseline({**p, "device": "cpu"}, "CE").precision == "fp32"


def test_bad_precision_names_the_choices():
    with pytest.raises(ConfigError, match="auto"):
        RunConfig(precision="fp16")
    with pytest.raises(ConfigError, match="'auto', 'bf16' or 'fp32'"):
        validate_params({"precision": "half"}, "00_data_and_samplers")


def test_emulated_bf16_warns_once_with_the_slowdown(emulated_bf16, capsys):
    assert hardware.warn_if_emulated("bf16", "cpu")
    assert not hardware.warn_if_emulated("bf16", "cpu")                # once per process
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "emulated" in err and f"{hardware.EMULATED_BF16_SLOWDOWN}x slower" in err
    assert "AVX2" in err


def test_no_warning_where_native_or_fp32(native_bf16, capsys):
    assert not hardware.warn_if_emulated("bf16", "cpu")
    assert not hardware.warn_if_emulated("fp32", "cpu")
    assert capsys.readouterr().err == ""


def test_fit_warns_before_training_in_emulated_bf16(emulated_bf16, tiny_cfg, tmp_path, capsys):
    from ltlib.train import fit

    fit(tiny_cfg.replace(precision="bf16", epochs=1), tmp_path / "runs", progress="none")
    assert "emulated" in capsys.readouterr().err


def test_paper_profiles_name_their_precision():
    """GPU-trained runs of a paper profile keep their hashes wherever the report is rendered (a CPU without bf16
    too): each of the profile's parameter files names its precision."""
    folders = sorted(PARAMS.glob("paper-*"))
    assert folders
    for f in (f for d in folders for f in d.glob("*.yaml")):
        assert yaml.safe_load(f.read_text()).get("precision") == "bf16", f


def test_describe_says_what_auto_picks(native_bf16):
    d = hardware.describe("cpu")
    assert d["auto_precision"] == "bf16" and d["cpu_bf16_native"] is True and "cpu_capability" in d


def test_channels_last_default_follows_what_was_measured(native_bf16, monkeypatch):
    from ltlib.train import default_channels_last

    cpu = torch.device("cpu")
    assert not default_channels_last(cpu, "fp32") and not default_channels_last(cpu, "bf16")
    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: False)
    assert default_channels_last(cpu, "fp32")                    # AVX2: fp32 with channels_last (+13 % measured)
    assert default_channels_last(torch.device("cuda"), "bf16")
