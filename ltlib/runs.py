"""Run store: one folder per run hash with config, meta, history, metrics and atomic checkpoints."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from ltlib.config import RunConfig
from ltlib.errors import ConfigError, RunStoreError
from ltlib.hardware import bf16_native, cpu_capability
from ltlib.inference import build_for
from ltlib.paths import REPO_ROOT, RUNS, atomic_write_text, resolve


DEFAULT_RUNS_DIR = "outputs/runs"        # every notebook's default runs_dir
DIGITS = 4                                # results tables: accuracies as fractions to 0.01 percentage points


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    """The runs folder: runs_dir (relative to the repository root), else outputs/runs; $LTSTUDY_RUNS, when set,
    replaces that default (the test command points it at a temporary store, leaving outputs/runs as it was)."""
    if (runs_dir is None or str(runs_dir) == DEFAULT_RUNS_DIR) and os.environ.get("LTSTUDY_RUNS"):
        return resolve(os.environ["LTSTUDY_RUNS"])
    return resolve(runs_dir, RUNS)


def git_revision() -> dict[str, Any]:
    """Git commit of the repository and whether the tree had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    rev = git("rev-parse", "HEAD")
    return {"commit": rev or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if rev else None}


def environment(device: torch.device) -> dict[str, Any]:
    """Library versions and the device, recorded with every run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                "pandas": pd.__version__}
    for pkg in ("torchvision", "ltstudy"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    dev = str(device)
    if device.type == "cuda":
        dev = f"{device} ({torch.cuda.get_device_name(device)})"
    return {"versions": versions, "device": dev, "threads": torch.get_num_threads(),
            "cpu_capability": cpu_capability(), "bf16_native": bf16_native(device),
            "platform": platform.platform(), "argv": sys.argv[:3]}


def write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (NaN written as null)."""
    def clean(o: Any) -> Any:
        if isinstance(o, float) and o != o:
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, (np.floating, np.integer)):
            return clean(o.item())
        return o
    atomic_write_text(path, json.dumps(clean(obj), indent=1, allow_nan=False))


def check_writable(folder: Path) -> None:
    """Fail early, with a clear message, if the runs folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe.{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        raise RunStoreError(f"cannot write runs to {folder}: {e.strerror or e}; choose another runs_dir "
                            f"or free disk space") from None


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    """Atomic checkpoint: temp file + os.replace; the previous one is kept as prev.pt."""
    tmp = run_dir / f".last.{os.getpid()}.tmp"
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        last = run_dir / "last.pt"
        if last.exists():
            os.replace(last, run_dir / "prev.pt")
        os.replace(tmp, last)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RunStoreError(f"cannot write checkpoint in {run_dir}: {e.strerror or e}") from None


REQUIRED_KEYS = {"epoch", "model", "optimizer", "history", "run_id", "best", "events"}


def load_checkpoint(run_dir: Path, run_id: str) -> Optional[dict[str, Any]]:
    """Newest good checkpoint (last.pt, else prev.pt); a corrupt one is set aside, never loaded."""
    for name in ("last.pt", "prev.pt"):
        path = run_dir / name
        if not path.exists():
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or not REQUIRED_KEYS <= set(state) or state["run_id"] != run_id:
                raise ValueError("missing keys or another run's checkpoint")
            return state
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is set aside
            bad = path.with_name(f"{name}.corrupt-{int(time.time())}")
            try:
                os.replace(path, bad)
            except FileNotFoundError:                       # another process (DDP rank) set it aside first
                pass
            print(f"[ltlib] checkpoint {path} is unreadable ({type(e).__name__}); moved to {bad.name}",
                  file=sys.stderr)
    return None


# ------------------------------------------------------------------------------------- runs

@dataclass
class Run:
    """A run folder: config.json, meta.json, history.csv, metrics.json, last.pt, indices.npz, events.npz."""

    path: Path

    @property
    def run_id(self) -> str:
        """The run hash (the folder name)."""
        return self.path.name

    @property
    def config(self) -> RunConfig:
        """The run's configuration."""
        return RunConfig.from_dict(json.loads((self.path / "config.json").read_text()))

    @property
    def finished(self) -> bool:
        """True once metrics.json (written last) exists."""
        return (self.path / "metrics.json").exists()

    @property
    def metrics(self) -> dict[str, Any]:
        """Final metrics (see ltlib.train.fit); an empty class group (stored as null) reads as NaN."""
        m = json.loads((self.path / "metrics.json").read_text())
        for key in ("last", "best_val"):
            for split in ("test", "val"):
                rep = (m.get(key) or {}).get(split) or {}
                for g, v in rep.items():
                    if v is None and g != "per_class":
                        rep[g] = float("nan")
        return m

    @property
    def meta(self) -> dict[str, Any]:
        """Git revision, versions, device."""
        return json.loads((self.path / "meta.json").read_text())

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch history."""
        return pd.read_csv(self.path / "history.csv")

    def events(self) -> np.ndarray:
        """(epochs, N) uint8: 1 correct, 0 wrong, 255 not drawn that epoch (first sampler stream)."""
        return np.load(self.path / "events.npz")["events"]

    def indices(self) -> dict[str, np.ndarray]:
        """Indices of the long-tailed training set and held-out split in the original training set."""
        z = np.load(self.path / "indices.npz")
        return {k: z[k] for k in z.files}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Final model weights."""
        state = load_checkpoint(self.path, self.run_id)
        if state is None:
            raise ConfigError(f"run {self.run_id} has no checkpoint (copied without last.pt?); delete "
                              f"{self.path} to retrain it")
        return state["model"]

    def load(self, device: str | torch.device = "cpu", data: Any = None):
        """(method, model, data) with the final weights, ready for evaluation (data: reuse a loaded LTData)."""
        method, model, data = build_for(self.config, data)
        model.load_state_dict(self.state_dict())
        return method, model.to(device).eval(), data


def row_of(run: Run) -> dict[str, Any]:
    """One results-table row for a finished run."""
    cfg, m = run.config, run.metrics
    row = {"run_id": run.run_id, "tag": cfg.tag, "method": cfg.method, "dataset": cfg.dataset,
           "imbalance_ratio": cfg.imbalance_ratio, "max_per_class": cfg.max_per_class, "arch": cfg.arch,
           "epochs": cfg.epochs, "sampler": cfg.sampler, "loss": cfg.loss, "loss_weights": cfg.loss_weights,
           "train_parts": cfg.train_parts, "precision": cfg.precision, "seed": cfg.seed}
    for key, prefix in (("last", ""), ("best_val", "bestval_")):
        for k, v in m[key]["test"].items():
            if k not in ("per_class", "confusion"):
                row[f"{prefix}{k}"] = v
    row["best_epoch"] = m["best_val"]["epoch"]
    row["val_acc"] = m["last"]["val"].get("acc") if m["last"].get("val") else None
    row["train_seconds"] = m.get("train_seconds")
    row["img_per_s"] = m.get("img_per_s")
    row["device"] = m.get("device")
    for c, a in enumerate(m["last"]["test"].get("per_class") or []):   # last epoch, class index order
        row[f"class_{c}"] = a
    return row


def results_table(runs_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every finished run in the runs folder, one row each (built from the run folders, never typed)."""
    root = runs_root(runs_dir)
    rows = []
    for p in sorted(root.glob("*/metrics.json")) if root.exists() else []:
        try:
            rows.append(row_of(Run(p.parent)))
        except (OSError, ValueError, KeyError, ConfigError):
            continue
    return pd.DataFrame(rows)


def write_results_table(runs_dir: str | os.PathLike | None = None) -> Path:
    """Rewrite results.csv from the run folders (atomic; concurrent writers cannot lose rows).

    The lock orders the rebuilds: whoever writes last listed the folders after every earlier writer's
    metrics.json existed, so a slow writer can never overwrite a newer table with an older listing.
    """
    root = runs_root(runs_dir)
    path = root / "results.csv"
    try:
        with FileLock(str(root / ".results.lock")):
            atomic_write_text(path, results_table(root).round(DIGITS).to_csv(index=False))
    except OSError as e:
        raise RunStoreError(f"cannot write {path}: {e.strerror or e}; free disk space or choose another "
                            f"runs_dir") from None
    return path
