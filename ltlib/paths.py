"""Repository-relative paths, so nothing depends on the working directory."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
PARAMS = REPO_ROOT / "params"
OUTPUTS = REPO_ROOT / "outputs"
RUNS = OUTPUTS / "runs"


def resolve(path: str | os.PathLike | None, default: Path | None = None) -> Path | None:
    """Resolve a user path: absolute as is, relative ones against the repository root."""
    if path is None or path == "":
        return default
    p = Path(os.path.expanduser(str(path)))
    return p if p.is_absolute() else REPO_ROOT / p


def atomic_write_text(path: Path, text: str) -> None:
    """Write text through a temp file and os.replace, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def display_path(path: str | os.PathLike) -> str:
    """A path as printed to a reader: relative to the repository root when inside it, else as given."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)
