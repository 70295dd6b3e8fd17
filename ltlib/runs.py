"""Run store: one folder per run hash. Its record (config, meta, history, metrics with diagnostics, derived
analyses, training events) is small, sealed and committed; its checkpoints and TensorBoard events are not."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from ltlib.config import RunConfig
from ltlib.errors import ConfigError, RunStoreError
from ltlib.hardware import bf16_native, cpu_capability, cpu_model
from ltlib.inference import build_for
from ltlib.paths import REPO_ROOT, RUNS, atomic_write_text, display_path, resolve


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
            "cpu": cpu_model(), "cpu_capability": cpu_capability(), "bf16_native": bf16_native(device),
            "platform": platform.platform(), "argv": sys.argv[:3]}


def _clean(o: Any) -> Any:
    """Plain JSON values: NaN as null, numpy scalars as Python ones, tuples as lists."""
    if isinstance(o, float) and o != o:
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return _clean(o.item())
    return o


def _scalar(o: Any) -> bool:
    return o is None or isinstance(o, (bool, int, float, str))


def to_json(o: Any, indent: int = 0) -> str:
    """Compact, diff-friendly JSON: a dict key per line, a list of numbers on one line, a matrix a row per line,
    a short flat mapping inline."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(o, dict):
        flat = json.dumps(o, allow_nan=False, separators=(",", ":"))
        if not o or (all(map(_scalar, o.values())) and len(flat) <= 160):
            return flat
        items = [f"{inner}{json.dumps(k)}:{to_json(v, indent + 1)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(o, list) and o and all(isinstance(r, list) and all(map(_scalar, r)) for r in o):
        rows = [inner + json.dumps(r, allow_nan=False, separators=(",", ":")) for r in o]
        return "[\n" + ",\n".join(rows) + "\n" + pad + "]"
    if isinstance(o, list) and not all(map(_scalar, o)):
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in o) + "\n" + pad + "]"
    return json.dumps(o, allow_nan=False, separators=(",", ":"))


def seal_of(obj: dict[str, Any]) -> str:
    """sha256 of a record object's canonical JSON (its own 'sha256' key left out)."""
    body = {k: v for k, v in obj.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_json(path: Path, obj: Any, seal: bool = False) -> None:
    """Atomic compact JSON write (NaN written as null); seal adds the sha256 that read_json checks."""
    obj = _clean(obj)
    if seal:
        obj = {**obj, "sha256": seal_of(obj)}
    atomic_write_text(path, to_json(obj) + "\n")


def read_json(path: Path, sealed: bool = False) -> Any:
    """A record file; a truncated, unreadable or (sealed) edited one raises RunStoreError naming the file."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise RunStoreError(f"{display_path(path)}: unreadable record file ({type(e).__name__}: {e}); delete its "
                            f"run folder to retrain the run") from None
    if sealed and (not isinstance(obj, dict) or obj.get("sha256") != seal_of(obj)):
        raise RunStoreError(f"{display_path(path)}: record does not match its seal (truncated or edited by hand); "
                            f"restore it from git or delete its run folder to retrain the run")
    return obj


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def encode(o: Any) -> Any:
    """JSON-able form of analysis results: arrays / tensors as compressed .npy (base64), DataFrames as split
    dicts, mappings and sequences element by element (decode inverts it)."""
    if isinstance(o, torch.Tensor):
        o = o.detach().cpu().float().numpy() if o.is_floating_point() else o.detach().cpu().numpy()
    if isinstance(o, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, o, allow_pickle=False)
        return {"__array__": base64.b64encode(zlib.compress(buf.getvalue(), 9)).decode(), "shape": list(o.shape),
                "dtype": str(o.dtype)}
    if isinstance(o, pd.DataFrame):
        return {"__frame__": encode(o.reset_index().to_dict(orient="list")), "index": list(o.index.names)}
    if isinstance(o, dict):
        return {str(k): encode(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [encode(v) for v in o]
    return _clean(o)


def decode(o: Any) -> Any:
    """Inverse of encode."""
    if isinstance(o, dict) and "__array__" in o:
        return np.load(io.BytesIO(zlib.decompress(base64.b64decode(o["__array__"]))), allow_pickle=False)
    if isinstance(o, dict) and "__frame__" in o:
        df = pd.DataFrame(decode(o["__frame__"]))
        idx = [n for n in o["index"] if n is not None] or [df.columns[0]]
        out = df.set_index(idx)
        if o["index"] == [None]:
            out.index.name = None
        return out
    if isinstance(o, dict):
        return {k: decode(v) for k, v in o.items()}
    if isinstance(o, list):
        return [decode(v) for v in o]
    return o


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
# The resumable state a budget slice leaves when its deadline comes (a copy of last.pt): committed beside the record
# so far, so the next slice resumes it on this machine or another; deleted when the record lands.
PARTIAL = "partial.pt"


def keep_partial(run_dir: Path) -> int:
    """Copy the newest checkpoint to partial.pt (atomically); its size in bytes."""
    tmp = run_dir / f".partial.{os.getpid()}.tmp"
    shutil.copy2(run_dir / "last.pt", tmp)
    os.replace(tmp, run_dir / PARTIAL)
    return (run_dir / PARTIAL).stat().st_size


def load_checkpoint(run_dir: Path, run_id: str, epoch: Optional[int] = None) -> Optional[dict[str, Any]]:
    """Newest good checkpoint (last.pt, else prev.pt, else a slice's partial.pt when it is further on, e.g. carried
    from another machine); a corrupt one is set aside, never loaded. With epoch, only a checkpoint of that epoch is
    returned (a finished run's weights: never the previous epoch's prev.pt)."""
    wanted = lambda x: x is not None and (epoch is None or int(x["epoch"]) == epoch)   # noqa: E731
    own = next((x for x in map(lambda n: _load_good(run_dir, n, run_id), ("last.pt", "prev.pt")) if wanted(x)), None)
    carried = _load_good(run_dir, PARTIAL, run_id)       # prev.pt is read only where last.pt does not serve
    states = [x for x in (own, carried) if wanted(x)]
    return max(states, key=lambda x: int(x["epoch"]), default=None)       # the first of equals: this machine's


def _load_good(run_dir: Path, name: str, run_id: str) -> Optional[dict[str, Any]]:
    """One checkpoint file if it is readable and this run's; an unreadable one is set aside (None)."""
    path = run_dir / name
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or not REQUIRED_KEYS <= set(state) or state["run_id"] != run_id:
                raise ValueError("missing keys or another run's checkpoint")
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is set aside
            bad = path.with_name(f"{name}.corrupt-{int(time.time())}")
            try:
                os.replace(path, bad)
            except FileNotFoundError:                       # another process (DDP rank) set it aside first
                pass
            print(f"[ltlib] checkpoint {path} is unreadable ({type(e).__name__}); moved to {bad.name}",
                  file=sys.stderr)
            return None
        return state
    return None


# ------------------------------------------------------------------------------------- runs

RECORD_FILES = ("config.json", "meta.json", "history.csv", "events.npz", "metrics.json")   # + derived/*.json
DERIVED = "derived"


def record_names(checkpoints: bool = False) -> set[str]:
    """The names in a run folder that its record is made of (what is committed, packed and merged), and its final
    checkpoint when asked."""
    return {*RECORD_FILES, DERIVED, *(["last.pt"] if checkpoints else [])}


class MissingWeights(ConfigError):
    """A recorded run whose final checkpoint is not here (a record from git or another machine)."""


# "weights": retrain a recorded run for its final checkpoint (ltlib.train fills it when imported).
REBUILD: dict[str, Callable[["Run"], None]] = {}


@dataclass
class Run:
    """A run folder. Record (committed): config.json, meta.json, history.csv, events.npz, metrics.json (written last,
    sealed with the digests of the others), derived/*.json. Not committed: last.pt / prev.pt, events/, train.log."""

    path: Path

    @property
    def run_id(self) -> str:
        """The run hash (the folder name)."""
        return self.path.name

    @property
    def config(self) -> RunConfig:
        """The run's configuration."""
        return RunConfig.from_dict(read_json(self.path / "config.json"))

    @property
    def finished(self) -> bool:
        """True once metrics.json (written last) exists."""
        return (self.path / "metrics.json").exists()

    def check(self) -> "Run":
        """Raise RunStoreError (one line naming the file) unless the record is whole, unedited and current: metrics
        sealed, every other record file matching the digest metrics.json holds, the config hashing to the folder."""
        m = read_json(self.path / "metrics.json", sealed=True)
        for name, digest in (m.get("files") or {}).items():
            f = self.path / name
            if not f.exists() or file_digest(f) != digest:
                raise RunStoreError(f"{display_path(f)}: {'missing' if not f.exists() else 'changed'} record file "
                                    f"(its digest is sealed in metrics.json); restore it from git or delete "
                                    f"{display_path(self.path)} to retrain the run")
        today = self.config.run_id()
        if today != self.run_id:
            raise StaleRecord(f"{display_path(self.path)}: stale record: its config hashes to {today} with today's "
                              f"code (made before a protocol change); it is never shown")
        return self

    @property
    def metrics(self) -> dict[str, Any]:
        """Final metrics (see ltlib.train.fit); an empty class group (stored as null) reads as NaN."""
        m = read_json(self.path / "metrics.json", sealed=True)
        for key in ("last", "best_val"):
            for split in ("test", "val"):
                rep = (m.get(key) or {}).get(split) or {}
                for g, v in rep.items():
                    if v is None and g not in ("per_class", "confusion"):
                        rep[g] = float("nan")
        return m

    @property
    def diagnostics(self) -> dict[str, Any]:
        """What the run computed of itself at its end (weight digests, classifier norms, method readings), decoded."""
        return decode(self.metrics.get("diagnostics") or {})

    @property
    def meta(self) -> dict[str, Any]:
        """Git revision, versions, device, CPU and threads."""
        return read_json(self.path / "meta.json")

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

    def derived_path(self, key: tuple[str, ...]) -> Path:
        """Where an analysis result of this run is kept: derived/<key parts joined by '-'>.json."""
        name = "-".join("".join(c if c.isalnum() or c in "._=+" else "_" for c in str(k)) for k in key)
        return self.path / DERIVED / f"{name}.json"

    def derived(self, key: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """An analysis of the final model, computed once (compute() may need the weights) and kept in the record,
        so a report renders from records alone."""
        path = self.derived_path(key)
        if path.exists():
            obj = read_json(path, sealed=True)
            if obj.get("key") == list(key):
                return decode(obj["value"])
        value = compute()
        write_json(path, {"key": list(key), "run_id": self.run_id, "value": encode(value)}, seal=True)
        return value

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Final model weights (the final epoch's checkpoint only); MissingWeights when the record has none here."""
        epochs = read_json(self.path / "config.json")["epochs"]
        state = load_checkpoint(self.path, self.run_id, epoch=epochs)
        if state is None and "weights" in REBUILD and self.finished:
            REBUILD["weights"](self)
            state = load_checkpoint(self.path, self.run_id, epoch=epochs)
        if state is None:
            raise MissingWeights(f"run {self.run_id} has a record but no final checkpoint here; import ltlib.train "
                                 f"(it retrains a recorded run for its weights) or delete {display_path(self.path)}")
        return state["model"]

    def load(self, device: str | torch.device = "cpu", data: Any = None):
        """(method, model, data) with the final weights, ready for evaluation (data: reuse a loaded LTData)."""
        method, model, data = build_for(self.config, data)
        model.load_state_dict(self.state_dict())
        return method, model.to(device).eval(), data


class StaleRecord(RunStoreError):
    """A record whose config no longer hashes to its folder (a protocol change since it was made)."""


def last_train_acc(run: Run) -> Optional[float]:
    """The running training accuracy of a run's last epoch (None without a history)."""
    try:
        hist = run.history
    except OSError:
        return None
    return float(hist["train_acc"].iloc[-1]) if len(hist) and "train_acc" in hist else None


def row_of(run: Run) -> dict[str, Any]:
    """One results-table row for a finished run."""
    cfg, m = run.config, run.metrics
    row = {"run_id": run.run_id, "tag": cfg.tag, "method": cfg.method, "dataset": cfg.dataset,
           "imbalance_ratio": cfg.imbalance_ratio, "max_per_class": cfg.max_per_class, "arch": cfg.arch,
           "epochs": cfg.epochs, "sampler": cfg.sampler, "loss": cfg.loss, "loss_weights": cfg.loss_weights,
           "train_parts": cfg.train_parts, "precision": cfg.precision, "seed": cfg.seed, "family": cfg.family_id()}
    for key, prefix in (("last", ""), ("best_val", "bestval_")):
        for k, v in m[key]["test"].items():
            if k not in ("per_class", "confusion"):
                row[f"{prefix}{k}"] = v
    row["best_epoch"] = m["best_val"]["epoch"]
    row["val_acc"] = m["last"]["val"].get("acc") if m["last"].get("val") else None
    row["train_seconds"] = m.get("train_seconds")
    row["img_per_s"] = m.get("img_per_s")
    row["device"] = m.get("device")
    row["train_acc"] = last_train_acc(run)
    counts = m.get("counts") or []                                    # training images per class
    row["train_images"], row["smallest_class"] = (sum(counts), min(counts)) if counts else (None, None)
    for c, a in enumerate(m["last"]["test"].get("per_class") or []):   # last epoch, class index order
        row[f"class_{c}"] = a
    return row


def results_table(runs_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every finished run in the runs folder, one row each (built from the run folders, never typed)."""
    root = runs_root(runs_dir)
    rows, stale = [], 0
    for p in sorted(root.glob("*/metrics.json")) if root.exists() else []:
        try:
            rows.append(row_of(Run(p.parent).check()))
        except StaleRecord:
            stale += 1
        except RunStoreError as e:
            print(f"[ltlib] skipped: {e}", file=sys.stderr)
        except (OSError, ValueError, KeyError, ConfigError):
            continue
    if stale:
        print(f"[ltlib] {stale} stale record(s) in {display_path(root)} not shown (made before a protocol change)",
              file=sys.stderr)
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
