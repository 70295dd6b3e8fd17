"""A run file on a cluster: one submitit job per shard (a Slurm job array), all writing one shared run store.

    python -m ltlib.study --profile paper-cifar10-ir100 --export-runs runs.yaml
    python -m ltlib.launch runs.yaml --executor slurm --shards 8 --partition gpu --gpus-per-node 1 --timeout-min 720
    python -m ltlib.study --profile paper-cifar10-ir100      # anywhere the run store is: every run is reused

`--executor local` runs the same jobs as local processes (submitit's LocalExecutor), which is how it is tested.
A job that dies (pre-emption, time limit) leaves its runs checkpointed; submitting again resumes them.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

from ltlib.errors import ConfigError
from ltlib.paths import REPO_ROOT, display_path, resolve
from ltlib.train import main as train_main
from ltlib.train import read_run_file, shard

EXECUTORS = ("slurm", "local")
GENERIC = ("timeout_min", "mem_gb", "cpus_per_task", "gpus_per_node")


def train_shard(run_file: str, i: int, n: int, runs_dir: Optional[str], device: str) -> int:
    """What one job does: `python -m ltlib.train RUN_FILE --shard i/n` in this process; its exit code."""
    argv = [run_file, "--shard", f"{i}/{n}", "--device", device, "--progress", "line"]
    if runs_dir:
        argv += ["--runs-dir", runs_dir]
    code = train_main(argv)
    if code:
        raise RuntimeError(f"shard {i}/{n} failed with exit code {code}")
    return code


def submit(run_file: str | os.PathLike, shards: int, executor: str = "slurm", runs_dir: Optional[str] = None,
           device: str = "auto", folder: Optional[str | os.PathLike] = None, wait: bool = False,
           **slurm: Any) -> list[Any]:
    """Submit one job per non-empty shard of a run file; the submitit jobs (waited for when wait)."""
    import submitit

    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if shards < 1:
        raise ConfigError(f"shards must be >= 1, got {shards}")
    path = str(resolve(str(run_file)))
    cfgs = read_run_file(path)                             # a bad run file fails here, before any job starts
    todo = [i for i in range(shards) if shard(cfgs, i, shards)]
    logs = resolve(str(folder)) if folder else REPO_ROOT / "outputs" / "launch"
    ex: Any = (submitit.LocalExecutor(folder=logs) if executor == "local"
               else submitit.AutoExecutor(folder=logs, cluster="slurm"))
    params = {k: v for k, v in slurm.items() if v is not None}
    if executor == "local":
        params = {k: v for k, v in params.items() if k == "timeout_min"}
    else:                                  # submitit's generic names, Slurm's own ones prefixed
        params = {(k if k in GENERIC else f"slurm_{k}"): v for k, v in params.items()}
        params.setdefault("slurm_array_parallelism", len(todo))
    ex.update_parameters(name="ltstudy", **params)
    abs_runs = str(resolve(runs_dir)) if runs_dir else None
    jobs = ex.map_array(train_shard, [path] * len(todo), todo, [shards] * len(todo), [abs_runs] * len(todo),
                        [device] * len(todo))
    print(f"[launch] {len(cfgs)} runs in {len(jobs)} {executor} job(s) (shards {todo} of {shards}); logs in "
          f"{display_path(logs)}", flush=True)
    if wait:
        for j in jobs:
            j.result()
    return jobs


def main(argv: Optional[list[str]] = None) -> int:
    """python -m ltlib.launch RUN_FILE --executor slurm|local --shards N [Slurm options]"""
    ap = argparse.ArgumentParser(prog="python -m ltlib.launch", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_file", help="a run file (python -m ltlib.study --profile P --export-runs FILE)")
    ap.add_argument("--executor", choices=EXECUTORS, default="slurm")
    ap.add_argument("--shards", type=int, required=True, help="jobs (array tasks) to split the runs into")
    ap.add_argument("--runs-dir", default=None, help="the shared run store (default outputs/runs)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--folder", default=None, help="submitit's log folder (default outputs/launch)")
    ap.add_argument("--wait", action="store_true", help="wait for every job and fail if one fails")
    ap.add_argument("--partition", default=None)
    ap.add_argument("--gpus-per-node", type=int, default=None)
    ap.add_argument("--cpus-per-task", type=int, default=None)
    ap.add_argument("--mem-gb", type=int, default=None)
    ap.add_argument("--timeout-min", type=int, default=None)
    ap.add_argument("--account", default=None)
    args = ap.parse_args(argv)
    try:
        submit(args.run_file, args.shards, args.executor, args.runs_dir, args.device, args.folder, args.wait,
               partition=args.partition, gpus_per_node=args.gpus_per_node, cpus_per_task=args.cpus_per_task,
               mem_gb=args.mem_gb, timeout_min=args.timeout_min, account=args.account)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
