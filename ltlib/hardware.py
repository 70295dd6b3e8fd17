"""What the machine runs natively: the CPU's vector capability, native bf16, and the precision `auto` resolves to.

bf16 autocast is fast only where the hardware has bf16 arithmetic: a CUDA GPU of compute capability >= 8.0, or a
CPU with AVX-512 BF16 or AMX (Intel Sapphire Rapids and later, AMD Zen 4 and later). Elsewhere (an AVX2-only CPU,
most laptops) oneDNN emulates it and a ResNet-8 step is about 10x slower than in fp32, so `precision: auto` (the
default) picks bf16 only where it is native and fp32 everywhere else. The choice is made before a run is hashed:
a run's config.json names the precision it really trained in.
"""
from __future__ import annotations

import functools
import platform
import sys
from pathlib import Path
from typing import Any

import torch

PRECISIONS = ("auto", "bf16", "fp32")

# Measured on a 2-core AVX2-only CPU (AMD Zen 3), torch 2.14.1, ResNet-8 training step: emulated bf16 ~105 img/s,
# fp32 ~1,116 img/s (the hardware issue's bench). Printed with the warning.
EMULATED_BF16_SLOWDOWN = 10


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=None)
def cpu_capability() -> str:
    """torch's CPU vector capability ('AVX512', 'AVX2', 'DEFAULT', ...)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo, else platform), recorded with every run."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=None)
def cpu_bf16_native() -> bool:
    """True where the CPU has bf16 arithmetic (AVX-512 BF16 or AMX) and oneDNN uses it."""
    checks = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(c is None for c in checks):                       # older torch: the kernel's own flags
        native = bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    else:
        native = any(bool(c()) for c in checks if c is not None)
    mkldnn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return native and (mkldnn is None or bool(mkldnn()))


def bf16_native(device: str | torch.device) -> bool:
    """Whether bf16 autocast runs natively on a device (cpu, cuda[:N]; anything else: no)."""
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return False
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:                                    # torch < 2.3: no emulation argument
            return torch.cuda.get_device_capability(dev)[0] >= 8
    if dev.type == "cpu":
        return cpu_bf16_native()
    return False


def default_device() -> torch.device:
    """'auto' as the engine reads it: a CUDA GPU if one is visible, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    return default_device() if device in ("auto", "") else torch.device(device)


def resolve_precision(precision: str, device: str | torch.device = "auto") -> str:
    """'auto' -> 'bf16' where the device runs it natively, else 'fp32'; 'bf16' and 'fp32' stay as they are."""
    if precision != "auto":
        return precision
    return "bf16" if bf16_native(_device(device)) else "fp32"


_warned: set[str] = set()


def warn_if_emulated(precision: str, device: str | torch.device) -> bool:
    """One warning per process and device when bf16 is asked for where it is emulated; True if it warned."""
    dev = _device(device)
    if precision != "bf16" or dev.type != "cpu" or cpu_bf16_native() or "cpu" in _warned:
        return False
    _warned.add("cpu")
    print(f"warning: precision bf16 on this CPU ({cpu_capability()}, no AVX-512 BF16 / AMX) is emulated: training "
          f"is about {EMULATED_BF16_SLOWDOWN}x slower than fp32. Use precision 'auto' (fp32 here) or 'fp32'; "
          f"bf16 keeps only the hashes of runs trained elsewhere.", file=sys.stderr, flush=True)
    return True


def describe(device: str | torch.device = "auto") -> dict[str, Any]:
    """What this machine has and what `auto` picks, for the bench and the GPU script."""
    dev = _device(device)
    out: dict[str, Any] = {"device": str(dev), "cpu_capability": cpu_capability(),
                           "cpu_bf16_native": cpu_bf16_native(), "torch_threads": torch.get_num_threads(),
                           "auto_precision": resolve_precision("auto", dev)}
    if dev.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(dev)
        out["gpu_bf16_native"] = bf16_native(dev)
        out["gpu_count"] = torch.cuda.device_count()
    return out
