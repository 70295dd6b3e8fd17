"""Several runs at once: on a CPU, unfinished runs train in child processes (one per core), stage 1 first."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Iterable, Optional

import torch
import yaml

from ltlib.config import RunConfig
from ltlib.splits import check_available
from ltlib.errors import ConfigError
from ltlib.inference import resolve_device
from ltlib.runs import Run, runs_root
from ltlib.train import balanced_bins, fit, progress_mode, report_reused, run_work, stage_waves


# Below this much pending work (sum of run_work) run_many trains in-process: spawning workers costs seconds.
PARALLEL_MIN_WORK = 20_000


def parallel_workers(pending: list[RunConfig], device: str | torch.device = "auto",
                     workers: Optional[int] = None) -> int:
    """How many processes run_many trains `pending` in: 1 on a GPU or under torchrun, else one per CPU core when
    there are >= 2 runs and enough work (override: workers=, or the LTSTUDY_WORKERS environment variable)."""
    if workers is None and os.environ.get("LTSTUDY_WORKERS"):
        workers = int(os.environ["LTSTUDY_WORKERS"])
    if workers is None:
        if (resolve_device(device).type != "cpu" or int(os.environ.get("WORLD_SIZE", "1")) > 1
                or sum(run_work(c) for c in pending) < PARALLEL_MIN_WORK):
            return 1
        workers = os.cpu_count() or 1
    return max(1, min(workers, len(pending)))


def spawn_trainer(run_file: Path, threads: int, runs_dir: Any = None, device: str = "auto", progress: str = "run",
                  shard: Optional[tuple[int, int]] = None, channels_last: Optional[bool] = None,
                  capture: bool = True) -> subprocess.Popen:
    """The one place a trainer process starts: `python -m ltlib.train RUN_FILE` (a fresh interpreter: nothing of the
    caller's __main__ re-runs) on `threads` threads, its output piped to the caller (capture) or shown as is."""
    cmd = [sys.executable, "-u", "-m", "ltlib.train", str(run_file), "--device", str(device), "--progress", progress]
    if shard is not None:
        cmd += ["--shard", f"{shard[0]}/{shard[1]}"]
    if runs_dir is not None:
        cmd += ["--runs-dir", str(runs_root(runs_dir))]
    if channels_last is not None:
        cmd += ["--channels-last" if channels_last else "--no-channels-last"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "LTSTUDY_WORKERS": "1"}
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "bufsize": 1} if capture else {}
    return subprocess.Popen(cmd, env=env, **pipe)


def _spawn_fit(cfgs: list[RunConfig], threads: int, path: Path, kwargs: dict[str, Any]) -> subprocess.Popen:
    """Write configs to a run file and start a trainer on it with the caller's options."""
    path.write_text(yaml.safe_dump({"runs": [c.to_dict() for c in cfgs]}, sort_keys=False))
    shown = progress_mode(kwargs.get("progress", "auto"))
    return spawn_trainer(path, threads, kwargs.get("runs_dir"), str(kwargs.get("device", "auto")),
                         "none" if shown == "none" else "line" if shown == "line" else "run",
                         channels_last=kwargs.get("channels_last"))


def _partition(cfgs: list[RunConfig], bins: int) -> list[list[RunConfig]]:
    """Longest-first greedy split of configs into `bins` non-empty lists of about equal work."""
    return [b for b in balanced_bins(cfgs, bins, run_work) if b]


def _speed(threads: int) -> float:
    """Relative training speed of a process with `threads` CPU threads (measured: 2 threads ~1.6x one)."""
    return threads ** 0.7


def plan_waves(cfgs: list[RunConfig], workers: int, threads: int) -> list[tuple[list[list[RunConfig]], int]]:
    """[(bins, threads per process)]: one pass of `workers` one-thread processes, or, when the runs do not split
    evenly, the largest ones that way and the last few afterwards with the threads shared out, if faster."""
    per = max(1, threads // workers)
    plans = [[(_partition(cfgs, workers), per)]]
    ordered = sorted(cfgs, key=run_work, reverse=True)
    for r in range(1, workers):
        if len(cfgs) > r:
            plans.append([(_partition(ordered[:-r], workers), per), (_partition(ordered[-r:], r), max(1, threads // r))])

    def seconds(plan: list[tuple[list[list[RunConfig]], int]]) -> float:
        return sum(max(sum(map(run_work, b)) for b in bins) / _speed(t) for bins, t in plan)
    return min(plans, key=seconds)


def _fit_parallel(pending: list[RunConfig], workers: int, kwargs: dict[str, Any]) -> None:
    """Train unfinished configs in `workers` child processes (CPU threads split between them), stage 1 first;
    their progress lines are printed here as they come. A failing child stops the others (their runs resume)."""
    unknown = set(kwargs) - {"runs_dir", "device", "progress", "channels_last"}
    if unknown:
        raise ConfigError(f"run_many: {', '.join(sorted(unknown))} cannot be passed to parallel workers; use workers=1")
    total = max(workers, torch.get_num_threads())
    root = runs_root(kwargs.get("runs_dir"))
    waves = stage_waves([s for c in pending for s in c.stages()])
    lock = threading.Lock()

    def pump(proc: Any, tail: list[str]) -> None:
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            del tail[:-20]
            with lock:
                print(line, end="", flush=True)

    def run_bins(bins: list[list[RunConfig]], threads: int, name: str) -> None:
        procs = []
        try:
            for i, b in enumerate(bins):
                proc, tail = _spawn_fit(b, threads, Path(tmp) / f"{name}-{i}.yaml", kwargs), []
                t = threading.Thread(target=pump, args=(proc, tail), daemon=True)
                t.start()
                procs.append((proc, t, tail))
            for proc, t, tail in procs:
                proc.wait()
                t.join()
                if proc.returncode:
                    msg = next((ln[7:] for ln in reversed(tail) if ln.startswith("error: ")), None)
                    if msg:
                        raise ConfigError(msg)
                    raise RuntimeError(f"a training process failed with exit code {proc.returncode}:\n" + "\n".join(tail))
        finally:
            for proc, t, _ in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                t.join()

    with tempfile.TemporaryDirectory(prefix="ltstudy-") as tmp:
        for level, all_of_wave in enumerate(waves):              # stage-1 runs before the stage-2 runs on them
            wave = [c for c in all_of_wave if not Run(root / c.run_id()).finished]
            for k, (bins, threads) in enumerate(plan_waves(wave, workers, total) if wave else []):
                print(f"training {sum(map(len, bins))} run(s) in {len(bins)} parallel process(es) x {threads} "
                      f"thread(s) (LTSTUDY_WORKERS=1 trains one at a time)", flush=True)
                run_bins(bins, threads, f"{level}-{k}")


def run_many(cfgs: dict[Any, RunConfig] | Iterable[RunConfig], workers: Optional[int] = None,
             **kwargs: Any) -> dict[Any, Run] | list[Run]:
    """fit() each config (finished ones are reused); a dict keeps its keys.

    On a CPU, unfinished runs train in parallel processes (see parallel_workers); the results are the same runs.
    """
    items = list(cfgs.items()) if isinstance(cfgs, dict) else list(enumerate(cfgs))
    root = runs_root(kwargs.get("runs_dir"))
    distinct = {c.run_id(): c for _, c in items}
    done = {h: Run(root / h).finished for h in distinct}                 # one look per run, in the callers' order
    pending = [distinct[h] for h, d in done.items() if not d]
    report_reused([(Run(root / h), distinct[h]) for h, d in done.items() if d], kwargs.get("progress", "auto"))
    n = parallel_workers(pending, kwargs.get("device", "auto"), workers) if len(pending) > 1 else 1
    if n > 1:
        for c in pending:
            c.validate()
        for name, root_, images in {(c.dataset, c.data_root, c.image_root) for ch in pending for c in ch.stages()}:
            check_available(name, root_, images)        # a missing/corrupt dataset fails here, before any work
        _fit_parallel(pending, n, kwargs)
    out = {k: fit(c, **kwargs) for k, c in items}
    return out if isinstance(cfgs, dict) else list(out.values())


def run_groups(groups: dict[Any, list[RunConfig]], **kwargs: Any) -> dict[Any, list[Run]]:
    """run_many over every config of every group at once (one parallel pool); the runs regrouped as given."""
    flat = run_many({(g, i): c for g, cs in groups.items() for i, c in enumerate(cs)}, **kwargs)
    return {g: [flat[(g, i)] for i in range(len(cs))] for g, cs in groups.items()}


def run_plan(plan: Mapping[str, dict[Any, list[RunConfig]]], **kwargs: Any) -> dict[str, dict[Any, list[Run]]]:
    """Every run of a plan (methods.recipe.Plan, or any section -> row -> configs mapping) in one pool, a config
    shared by several rows training once: {section: {row: [run per config]}}."""
    groups = {(sec, k): list(cs) for sec, rows in plan.items() for k, cs in rows.items()}
    out = run_groups(groups, **kwargs)
    return {sec: {k: out[(sec, k)] for k in rows} for sec, rows in plan.items()}
