"""One command on a GPU machine: check it, train a profile's leaderboard with several runs at once, tar the runs.

    python -m ltlib.gpu_run --profile paper-cifar10-ir100 --out OUT [--seeds 3] [--jobs 6] [--budget-min 9]
                            [--override '{dataset: cifar10-jpeg}']

Needs torch and torchvision (and ltlib's small pure-Python dependencies), no papermill, Jupyter or network.
Seed by seed (all methods' first seed, then the second, ...: a short budget still gives one seed of every
method), each seed's runs are split into `--jobs` shards (a stage-1 run and the cRT run on it share one) and
trained by that many `python -m ltlib.train --shard` processes on the one GPU. At the budget every process is
stopped; a stopped run keeps its last epoch's checkpoint and resumes wherever the tar is unpacked. OUT gets
`runs.tar` (the run folders, to unpack into outputs/runs) and `gpu_run.json` (the machine and what finished).
Back home: `python -m ltlib merge OUT/runs.tar && python -m ltlib study --profile PROFILE --only 90`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

from ltlib.config import RunConfig
from ltlib.data import find_dataset
from ltlib.errors import ConfigError
from ltlib.hardware import describe
from ltlib.methods.recipe import check_data
from ltlib.parallel import spawn_trainer
from ltlib.params import load_param_file, profile_params, validate_params
from ltlib.recipes import study_configs
from ltlib.runs import Run, record_names, runs_root
from ltlib.train import shard

LEADERBOARD = ("CE", "LDAM-DRW", "cRT", "BBN", "ResLT", "switching")


def leaderboard_waves(profile: str, methods: tuple[str, ...] = LEADERBOARD, seeds: int = 3,
                      override: Optional[dict[str, Any]] = None) -> list[list[RunConfig]]:
    """One list of run configs per seed: the report's recipes on the profile's 90_report parameters (the very
    configs the report looks for), any override on top, seeds from notebook 11's first seed on."""
    p = validate_params({**profile_params(profile, "90_report"), **(override or {})}, "90_report")
    first = profile_params(profile, "11_baselines")["seed"]
    return [list(study_configs({**p, "seed": first + k}, list(methods)).values()) for k in range(seeds)]


def check_machine(waves: list[list[RunConfig]], device: str) -> dict[str, Any]:
    """What the machine has; a missing GPU (when asked for), dataset or library fails here, before any training."""
    hw = describe(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    import torchvision

    hw.update({"torch": torch.__version__, "torchvision": torchvision.__version__, "python": sys.version.split()[0],
               "cpu_count": os.cpu_count()})
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for but no CUDA GPU is visible")
    for name, root in {(c.dataset, c.data_root) for w in waves for c in w}:
        hw.setdefault("datasets", {})[name] = str(find_dataset(name, root))
    check_data([c for w in waves for c in w])               # every run's data, method and model build
    return hw


def _train(cfgs: list[RunConfig], jobs: int, runs_dir: Path, device: str, deadline: float, tmp: Path,
           name: str) -> bool:
    """Train configs in `jobs` processes until done or the deadline; True when all finished."""
    f = tmp / f"{name.replace('/', '-of-').replace(' ', '-')}.yaml"
    f.write_text(yaml.safe_dump({"runs": [c.to_dict() for c in cfgs]}, sort_keys=False))
    n = max(1, min(jobs, len({c.stages()[0].run_id() for c in cfgs})))
    threads = max(1, (os.cpu_count() or 1) // n)
    procs = [spawn_trainer(f, threads, runs_dir, device, shard=(i, n), capture=False) for i in range(n)
             if shard(cfgs, i, n)]
    print(f"[gpu_run] {name}: {len(cfgs)} run(s) in {len(procs)} process(es)", flush=True)
    while any(p.poll() is None for p in procs):
        if time.time() > deadline:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
            print(f"[gpu_run] {name}: budget reached, stopped (runs resume from their checkpoints)", flush=True)
            return False
        time.sleep(1)
    bad = [p.returncode for p in procs if p.returncode]
    if bad:
        raise RuntimeError(f"{name}: a training process failed (exit codes {bad})")
    return True


def write_tar(cfgs: list[RunConfig], runs_dir: Path, out: Path, checkpoints: bool = False) -> list[str]:
    """out/runs.tar: the records of the finished runs (and stage-1 runs) among the configs, their checkpoints only
    when asked, and the whole folder of a stopped run (to resume elsewhere). `python -m ltlib merge` takes it in."""
    ids = list(dict.fromkeys(c.run_id() for top in cfgs for c in top.stages()))
    have = [h for h in ids if (runs_dir / h).is_dir()]
    keep = record_names(checkpoints)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".runs.tar.tmp"
    with tarfile.open(tmp, "w") as tar:
        for h in have:
            done = Run(runs_dir / h).finished
            for f in sorted((runs_dir / h).iterdir()):
                if f.name in keep or (not done and not f.name.endswith(".lock")):
                    tar.add(f, arcname=f"{h}/{f.name}")
    os.replace(tmp, out / "runs.tar")
    return have


def run(profile: str, out: Path, methods: tuple[str, ...] = LEADERBOARD, seeds: int = 3, jobs: int = 6,
        budget_min: float = 9.0, device: str = "auto", override: Optional[dict[str, Any]] = None,
        runs_dir: Optional[str] = None) -> dict[str, Any]:
    """Check, train seed by seed within the budget, tar; the summary written as out/gpu_run.json."""
    t0 = time.time()
    deadline = t0 + 60 * budget_min
    waves = leaderboard_waves(profile, methods, seeds, override)
    hw = check_machine(waves, device)
    print(f"[gpu_run] machine: {json.dumps(hw)}", flush=True)
    root = runs_root(runs_dir)
    done_waves, took = 0, []
    with tempfile.TemporaryDirectory(prefix="gpu_run-") as tmp:
        for k, wave in enumerate(waves):
            left = deadline - time.time()
            if took and left < 0.8 * took[-1]:
                print(f"[gpu_run] seed {k + 1} of {seeds} skipped: {left:.0f} s left, the last seed took "
                      f"{took[-1]:.0f} s", flush=True)
                break
            w0 = time.time()
            finished = _train(wave, jobs, root, device, deadline, Path(tmp), f"seed {k + 1}/{seeds}")
            took.append(time.time() - w0)
            done_waves += finished
            if not finished:
                break
    all_cfgs = [c for w in waves for c in w]
    have = write_tar(all_cfgs, root, out)
    status = {c.run_id(): {"tag": c.tag, "seed": c.seed, "finished": Run(root / c.run_id()).finished}
              for c in all_cfgs}
    summary = {"profile": profile, "override": override or {}, "machine": hw, "seeds_finished": done_waves,
               "seconds": time.time() - t0, "seconds_per_seed": took, "runs": status, "run_folders": len(have)}
    (out / "gpu_run.json").write_text(json.dumps(summary, indent=1))
    n_done = sum(s["finished"] for s in status.values())
    print(f"[gpu_run] {n_done}/{len(status)} runs finished in {summary['seconds']:.0f} s; {len(have)} run folders "
          f"-> {out / 'runs.tar'}", flush=True)
    return summary


def parse_override(text: Optional[str]) -> Optional[dict[str, Any]]:
    """--override: a YAML file's mapping, or an inline YAML mapping."""
    if not text:
        return None
    if Path(text).exists():
        return load_param_file(text)
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError:
        d = None
    if not isinstance(d, dict):
        raise ConfigError(f"--override must be a YAML file or an inline mapping like '{{dataset: cifar10-jpeg}}', "
                          f"got {text!r}")
    return d


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.gpu_run --profile P --out DIR"""
    ap = argparse.ArgumentParser(prog="python -m ltlib.gpu_run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="paper-cifar10-ir100")
    ap.add_argument("--out", required=True, help="folder for runs.tar and gpu_run.json (e.g. $OUT)")
    ap.add_argument("--methods", default=",".join(LEADERBOARD), help="registry keys of the study's recipes")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=6, help="training processes at once on the GPU")
    ap.add_argument("--budget-min", type=float, default=9.0, help="stop training after this many minutes")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--override", default=None,
                    help="shared parameters over the profile's: a YAML file, or inline YAML such as "
                         "'{dataset: cifar10-jpeg}' (CIFAR-10 re-encoded as JPEG, read from data/cifar10-jpeg.tar.gz)")
    args = ap.parse_args(argv)
    try:
        override = parse_override(args.override)
        run(args.profile, Path(args.out), tuple(args.methods.split(",")), args.seeds, args.jobs, args.budget_min,
            args.device, override, args.runs_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
