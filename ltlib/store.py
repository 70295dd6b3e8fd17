"""The run store as a whole: what a profile has recorded and what it still needs (--status), training its missing
runs in budgeted slices (--budget), retraining a seeded sample of records to check them (--reproduce), and merging
records made elsewhere (a GPU box, a cluster, another clone)."""
from __future__ import annotations

import os
import random
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import torch
import yaml

from ltlib.config import RunConfig
from ltlib.errors import ConfigError, RunStoreError
from ltlib.hardware import cpu_bf16_native, cpu_capability, cpu_model, resolve_precision
from ltlib.parallel import spawn_trainer
from ltlib.paths import display_path
from ltlib.plans import ordered_runs, profile_plans, sliced_runs
from ltlib.runs import PARTIAL, Run, record_names, runs_root, write_results_table
from ltlib.train import fit, run_work, shard

# Seconds of one-thread training per unit of run_work (epochs x images of the largest class) where no record of the
# arch exists yet: measured for ResNet-8 in bf16 on a CPU with native bf16 (quick CE: 10 epochs of 12,406 images in
# ~55 s), scaled by the bench's relative costs of the deeper nets; ResNet-32 from the engine's ~380 img/s a thread on
# an AMD EPYC with AVX-512 BF16 (a 200-epoch CIFAR-10-LT run ~110 min); x4.4 in fp32 on a CPU without native bf16.
DEFAULT_RATE = {"resnet8": 0.0011, "resnet14": 0.0015, "resnet20": 0.0020, "resnet32": 0.0066}
FP32_WITHOUT_NATIVE_BF16 = 4.4


# ------------------------------------------------------------------------------------ estimates


def _rate_key(cfg: RunConfig) -> tuple[str, str, str, bool]:
    return cfg.method, cfg.arch, cfg.precision, cfg.init_from is None


def measured_rates(root: Path) -> dict[tuple[str, str, str, bool], float]:
    """Median seconds per run_work unit of the recorded runs, by (method, arch, precision, trains from scratch)."""
    by: dict[tuple[str, str, str, bool], list[float]] = {}
    for p in root.glob("*/metrics.json") if root.exists() else []:
        try:
            run = Run(p.parent)
            cfg, secs = run.config, run.metrics.get("train_seconds")
        except (RunStoreError, ConfigError, OSError, ValueError, KeyError):
            continue
        if secs:
            by.setdefault(_rate_key(cfg), []).append(float(secs) / run_work(cfg))
    return {k: float(np.median(v)) for k, v in by.items()}


def estimate_seconds(cfg: RunConfig, rates: dict[tuple[str, str, str, bool], float]) -> float:
    """One-thread training seconds of one stage (from the records' rates where there are any, else a default)."""
    rate = rates.get(_rate_key(cfg))
    if rate is None:
        rate = DEFAULT_RATE.get(cfg.arch, DEFAULT_RATE["resnet32"])
        if resolve_precision(cfg.precision, torch.device("cpu")) == "fp32" and not cpu_bf16_native():
            rate *= FP32_WITHOUT_NATIVE_BF16
        if cfg.init_from is not None:
            rate *= 0.5                                         # a frozen backbone: forward only below the head
    return rate * run_work(cfg)


def epochs_done(cfg: RunConfig, root: Path) -> int:
    """Epochs an unfinished run has checkpointed here (its history so far; 0 when not started)."""
    f = root / cfg.run_id() / "history.csv"
    try:
        return min(cfg.epochs, max(0, len(f.read_text().splitlines()) - 1)) if f.exists() else 0
    except OSError:
        return 0


def remaining_seconds(cfg: RunConfig, root: Path, rates: dict) -> float:
    """One-thread seconds of one stage still to train: its estimate less the epochs it has checkpointed here."""
    return estimate_seconds(cfg, rates) * (1 - epochs_done(cfg, root) / cfg.epochs)


def pending_seconds(cfg: RunConfig, root: Path, rates: dict) -> float:
    """Seconds until cfg is recorded: what is left of its own stage and of every unfinished stage-1 run under it."""
    return sum(remaining_seconds(c, root, rates) for c in cfg.stages() if not Run(root / c.run_id()).finished)


def partial(cfg: RunConfig, root: Path) -> bool:
    """True when a run is started and not finished (a slice's carried state or a stopped run's history)."""
    run = root / cfg.run_id()
    return not Run(run).finished and ((run / PARTIAL).exists() or epochs_done(cfg, root) > 0)


def untrainable_here(cfgs: list[RunConfig], device: str) -> list[RunConfig]:
    """The bf16 runs a CPU without native bf16 must not train: emulated bf16 is about ten times slower, and fp32
    would give other runs (other hashes)."""
    return [c for c in cfgs if device == "cpu" and c.precision == "bf16" and not cpu_bf16_native()]


# ------------------------------------------------------------------------------------ status


def status(profile: str, runs_dir: Optional[str] = None, workers: Optional[int] = None) -> pd.DataFrame:
    """Per notebook: its distinct runs, how many are recorded, how many missing, and the estimated minutes of the
    missing ones on this machine (one-thread processes, `workers` at once)."""
    root = runs_root(runs_dir)
    rates = measured_rates(root)
    workers = workers or os.cpu_count() or 1
    rows = []
    for nb, plan in profile_plans(profile).items():
        cfgs = [c for _, (_, _, c) in plan.distinct_runs().items()]
        done = [c for c in cfgs if Run(root / c.run_id()).finished]
        missing = [c for c in cfgs if not Run(root / c.run_id()).finished]
        secs = sum(remaining_seconds(c, root, rates) for c in missing)
        rows.append({"notebook": nb, "runs": len(cfgs), "recorded": len(done),
                     "partial": sum(partial(c, root) for c in missing), "missing": len(missing),
                     "est. minutes": round(secs / 60 / workers, 1)})
    table = pd.DataFrame(rows).set_index("notebook")
    plans = profile_plans(profile)
    every = ordered_runs(plans)
    left = [c for c in every if not Run(root / c.run_id()).finished]
    table.loc["all (distinct)"] = [len(every), len(every) - len(left), sum(partial(c, root) for c in left), len(left),
                                   round(sum(remaining_seconds(c, root, rates) for c in left) / 60 / workers, 1)]
    return table


def sliced_status(profile: str, runs_dir: Optional[str] = None) -> pd.DataFrame:
    """The sliced rungs' runs in their order of work: recorded, partial (epochs done) or missing, with the
    one-thread hours each still needs on this machine (none where this CPU cannot train it)."""
    root = runs_root(runs_dir)
    rates = measured_rates(root)
    rows = []
    for c in sliced_runs(profile_plans(profile)):
        done = Run(root / c.run_id()).finished
        state = "recorded" if done else "partial" if partial(c, root) else "missing"
        hours = 0.0 if done else remaining_seconds(c, root, rates) / 3600
        rows.append({"run": c.run_id(), "row": c.tag, "seed": c.seed, "stage": len(c.stages()), "state": state,
                     "epochs": f"{c.epochs if done else epochs_done(c, root)}/{c.epochs}",
                     "hours left (1 thread)": round(hours, 2),
                     "here": "no: bf16 not native" if untrainable_here([c], "cpu") else "yes"})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ budgeted training


def train_budget(profile: str, minutes: float, runs_dir: Optional[str] = None, workers: Optional[int] = None,
                 device: str = "cpu", only: Optional[list[str]] = None,
                 regimes: Optional[list[str]] = None) -> dict[str, Any]:
    """Train a profile's missing runs for at most `minutes`: stage-1 runs before the runs on them, longest first, in
    `workers` one-thread processes (a stage-1 run and its stage-2 runs in one); a run whose estimate does not fit
    the time left is never started. Each record is written as its run ends; a later call goes on from there."""
    if minutes <= 0:
        raise ConfigError(f"--budget must be > 0 minutes, got {minutes:g}")
    root = runs_root(runs_dir)
    rates = measured_rates(root)
    plans = profile_plans(profile, only, regimes)
    sliced = [c for c in sliced_runs(plans) if not Run(root / c.run_id()).finished]
    todo = [c for c in ordered_runs(plans) if not Run(root / c.run_id()).finished]
    ids = {c.run_id() for c in sliced}
    if sliced and all(c.run_id() in ids for c in todo):   # the sliced rung last, alone, in its order of work, in
        todo, workers = sliced, 1                          # one process (the other core stays free)
    else:
        todo, sliced = [c for c in todo if c.run_id() not in ids], []
    t0 = time.time()
    deadline = t0 + 60 * minutes
    if not todo:
        print(f"[budget] profile {profile}: every run is recorded", flush=True)
        return {"trained": 0, "left": 0}
    slow = untrainable_here(todo, device)
    if slow:
        print(f"[budget] {len(slow)} of {len(todo)} missing runs are bf16 and this CPU ({cpu_model()}, "
              f"{cpu_capability()}) has no native bf16 (emulated: ~10x slower; fp32 would be other runs): not trained "
              f"here; train them on a CPU with AVX-512 BF16 / AMX or a GPU and merge the records", flush=True)
        todo = [c for c in todo if c not in slow]
        if not todo:
            return {"trained": 0, "left": len(slow)}
    est = {c.run_id(): pending_seconds(c, root, rates) for c in todo}
    workers = max(1, min(workers or os.cpu_count() or 1, len({c.stages()[0].run_id() for c in todo})))
    print(f"[budget] profile {profile}: {len(todo)} runs missing, ~{sum(est.values()) / 60 / workers:.0f} min of "
          f"training on {workers} process(es); budget {minutes:g} min", flush=True)
    with tempfile.TemporaryDirectory(prefix="ltstudy-budget-") as tmp:
        f = Path(tmp) / "runs.yaml"
        f.write_text(yaml.safe_dump({"runs": [c.to_dict() for c in todo], "deadline": deadline, "estimates": est,
                                     "sliced": [c.run_id() for c in sliced if c in todo]}, sort_keys=False))
        procs = [spawn_trainer(f, 1, root, device, shard=(i, workers)) for i in range(workers)
                 if shard(todo, i, workers)]
        lock = threading.Lock()

        def pump(proc: Any) -> None:
            for line in proc.stdout:
                with lock:
                    print(line, end="", flush=True)
        pumps = [threading.Thread(target=pump, args=(p,), daemon=True) for p in procs]
        for t in pumps:
            t.start()
        last = -1
        while any(p.poll() is None for p in procs):
            time.sleep(5)
            done = [c for c in todo if Run(root / c.run_id()).finished]
            if len(done) != last:
                last = len(done)
                left = sum(v for h, v in est.items() if not Run(root / h).finished) / max(1, len(procs))
                with lock:
                    print(f"[budget] {len(done)}/{len(todo)} recorded; ~{left / 60:.0f} min of work left; budget "
                          f"ends in {(deadline - time.time()) / 60:.0f} min", flush=True)
        for t in pumps:
            t.join()
        bad = [p.returncode for p in procs if p.returncode]
        if bad:
            raise RuntimeError(f"a training process failed (exit codes {bad}); finished runs are recorded, the "
                               f"stopped one resumes from its checkpoint")
    write_results_table(root)
    trained = sum(Run(root / c.run_id()).finished for c in todo)
    left = len(todo) - trained
    print(f"[budget] {trained} run(s) recorded in {(time.time() - t0) / 60:.1f} min; {left} left"
          + (f" (python -m ltlib study --profile {profile} --budget M goes on)" if left else ""), flush=True)
    return {"trained": trained, "left": left}


# ------------------------------------------------------------------------------------ reproduce


def reproduce(profile: Optional[str], n: int, seed: int = 0, runs_dir: Optional[str] = None,
              scratch: Optional[Path] = None, cheapest: Optional[int] = None) -> pd.DataFrame:
    """Retrain n recorded runs (a seeded draw; of the profile's runs when given, else of the whole store; from the
    `cheapest` k single-stage runs when given) from nothing into a scratch store, with the recorded thread count,
    in the precision this machine runs natively; each recorded metric beside the new one."""
    root = runs_root(runs_dir)
    ids = sorted(p.parent.name for p in root.glob("*/metrics.json"))
    if profile:
        wanted = {c.run_id() for c in ordered_runs(profile_plans(profile))}
        ids = [h for h in ids if h in wanted]
    runs = [Run(root / h).check() for h in ids]
    if cheapest:
        runs = sorted((r for r in runs if r.config.init_from is None), key=lambda r: (run_work(r.config), r.run_id))
        runs = runs[:cheapest]
    if len(runs) < n:
        raise ConfigError(f"--reproduce {n}: only {len(runs)} recorded run(s) to choose from in {display_path(root)}")
    chosen = sorted(random.Random(seed).sample(runs, n), key=lambda r: r.run_id)
    print(f"[reproduce] {n} of {len(runs)} recorded runs, drawn with random.Random({seed}): "
          + ", ".join(f"{r.config.tag or r.config.method} {r.run_id}" for r in chosen), flush=True)
    rows = []
    own = tempfile.mkdtemp(prefix="ltstudy-reproduce-") if scratch is None else None
    scratch = Path(own) if own else scratch
    threads = torch.get_num_threads()
    try:
        for run in chosen:
            rows.extend(_reproduce_one(run, scratch))
    finally:
        torch.set_num_threads(threads)
        if own:
            shutil.rmtree(own, ignore_errors=True)
    return pd.DataFrame(rows)


def _reproduce_one(run: Run, scratch: Path) -> list[dict[str, Any]]:
    """Retrain one recorded run; rows of (metric, recorded, reproduced, expectation)."""
    cfg, meta, m = run.config, run.meta, run.metrics
    native = resolve_precision("auto", torch.device("cpu"))
    again_cfg = cfg if cfg.precision == native else cfg.replace(precision=native)
    same_machine = (meta.get("cpu") == cpu_model() and meta.get("cpu_capability") == cpu_capability())
    torch.set_num_threads(int(meta.get("threads") or m.get("threads") or 1))
    expect = "identical" if (again_cfg is cfg and same_machine) else "within seed noise"
    why = [] if expect == "identical" else [w for w, bad in (
        (f"precision {cfg.precision} -> {native}", again_cfg is not cfg),
        (f"CPU {meta.get('cpu')} -> {cpu_model()}", not same_machine)) if bad]
    t0 = time.time()
    again = fit(again_cfg, scratch, "cpu", "none")
    secs = time.time() - t0
    new = again.metrics
    rows = []
    for g in ("acc", "head", "mid", "tail", "many", "medium", "few"):
        a, b = m["last"]["test"].get(g), new["last"]["test"].get(g)
        if a is None or b is None or a != a or b != b:
            continue
        rows.append({"run_id": run.run_id, "tag": cfg.tag or cfg.method, "metric": g, "recorded": 100 * a,
                     "reproduced": 100 * b, "difference": 100 * (b - a), "threads": torch.get_num_threads(),
                     "expected": expect + (f" ({'; '.join(why)})" if why else ""),
                     "identical": a == b, "seconds": round(secs, 1)})
    rows.append({"run_id": run.run_id, "tag": cfg.tag or cfg.method, "metric": "per-class",
                 "recorded": np.nan, "reproduced": np.nan, "difference": np.nan, "threads": torch.get_num_threads(),
                 "expected": expect, "identical": m["last"]["test"]["per_class"] == new["last"]["test"]["per_class"],
                 "seconds": round(secs, 1)})
    return rows


# ------------------------------------------------------------------------------------ merge


def merge(sources: list[str | os.PathLike], runs_dir: Optional[str] = None, checkpoints: bool = False) -> dict[str, int]:
    """Copy the finished, checked records of other run stores (folders or .tar files) into this one. Each run lands
    by an atomic rename of its whole folder, so concurrent writers adding different runs lose nothing; a run
    already here is kept (and said when its record differs)."""
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    counts = {"added": 0, "present": 0, "differs": 0, "rejected": 0}
    for src in sources:
        with tempfile.TemporaryDirectory(prefix="ltstudy-merge-", dir=root) as tmp:
            folder = Path(src)
            if folder.is_file():
                with tarfile.open(folder) as tar:
                    tar.extractall(tmp, filter="data")
                folder = Path(tmp)
            for m in sorted(folder.glob("*/metrics.json")):
                _merge_one(Run(m.parent), root, checkpoints, counts)
    write_results_table(root)
    return counts


def _merge_one(run: Run, root: Path, checkpoints: bool, counts: dict[str, int]) -> None:
    try:
        run.check()
    except RunStoreError as e:
        print(f"[merge] rejected: {e}", file=sys.stderr)
        counts["rejected"] += 1
        return
    dest = root / run.run_id
    if Run(dest).finished:
        same = (dest / "metrics.json").read_bytes() == (run.path / "metrics.json").read_bytes()
        counts["present" if same else "differs"] += 1
        if not same:
            print(f"[merge] {run.run_id}: kept the record already here (the other one differs, e.g. another machine)",
                  file=sys.stderr)
        return
    tmp = root / f".{run.run_id}.merge-{os.getpid()}-{threading.get_ident()}"
    tmp.mkdir()
    for name in sorted(record_names(checkpoints)):
        src = run.path / name
        if src.is_dir():
            shutil.copytree(src, tmp / name)
        elif src.exists():
            shutil.copy2(src, tmp / name)
    if dest.exists() and not Run(dest).finished:                # a stopped run here: the finished record wins
        shutil.rmtree(dest)
    try:
        os.rename(tmp, dest)
        counts["added"] += 1
    except OSError:                                              # another writer added it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        counts["present"] += 1


def pack(ids: list[str], runs_dir: Optional[str], out: Path, checkpoints: bool = False) -> list[str]:
    """The records of these runs (finished ones; checkpoints only when asked) as one tar, for `merge`."""
    root = runs_root(runs_dir)
    have = [h for h in dict.fromkeys(ids) if Run(root / h).finished]
    keep = record_names(checkpoints)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w") as tar:
        for h in have:
            for name in sorted(keep):
                if (root / h / name).exists():
                    tar.add(root / h / name, arcname=f"{h}/{name}")
    os.replace(tmp, out)
    return have
