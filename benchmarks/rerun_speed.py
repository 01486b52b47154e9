"""Warm re-runs of `cxrbench run` against the cold run, on the phantom with fast models (or the main job).

Run: python benchmarks/rerun_speed.py [--models pca-gaussian,train-copy,noise] [--keep DIR]
The main job, cold and warm (issue 21's targets: 15 and 3 minutes on 2 cores):
     python benchmarks/rerun_speed.py --models all --keep DIR
Each run is `python -m cxrbench.cli run --models MODELS --out OUT` (defaults otherwise) in a fresh
subprocess with CXRBENCH_CACHE set to one scratch folder:
  cold: empty cache, new run folder;
  (a) the same command on the same run folder (every row complete);
  (b) a new run folder with the warm cache.
Prints wall seconds, CPU seconds, peak RSS of each run, the ratios cold / warm and each run's steps
(the manifest's ``timings_s``) with their share of the run. Pin with taskset to keep the cores steady
(the subprocesses inherit the affinity).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_run(models: str, out: Path, cache: Path, extra: list[str]) -> tuple[float, float, float, dict]:
    """(wall seconds, CPU seconds, peak RSS MiB, the manifest's step timings) of one `cxrbench run` subprocess."""
    env = {**os.environ, "CXRBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    fresh = not (out / "manifest.json").exists()  # a resumed folder holds the sample sets of earlier runs
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cxrbench.cli", "run", "--models", models, "--out", str(out), *extra],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cxrbench run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak = after.ru_maxrss  # max over children so far: only trust if it grew
    return seconds, cpu, (peak / 1024 if peak > before.ru_maxrss else float("nan")), run_steps(out, fresh)


def run_steps(out: Path, split_models: bool) -> dict[str, float]:
    """The manifest's step timings; with ``split_models`` (a new run folder), each model's split into training
    (its weights' ``train_seconds``, 0 when loaded from the cache), generation (its sample sets'
    ``generation.json`` seconds) and the rest (scoring)."""
    manifest = json.loads((out / "manifest.json").read_text())
    steps = {}
    for step, value in manifest.get("timings_s", {}).items():
        model = step.partition("model:")[2]
        if not model or not split_models:
            steps[step] = value
            continue
        trained = float((manifest["models"].get(model, {}).get("weights") or {}).get("train_seconds") or 0.0)
        logs = (out / "samples" / model).glob("*/*/generation.json")
        generated = sum(float(json.loads(log.read_text()).get("seconds", 0.0)) for log in logs)
        steps.update({f"{model}: training": trained, f"{model}: generation": generated})
        steps[f"{model}: scoring and the rest"] = value - trained - generated
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pca-gaussian,train-copy,noise")
    parser.add_argument(
        "--keep", type=Path, default=None, help="scratch folder to use and keep (default: a temporary one)"
    )
    parser.add_argument(
        "--warm-only",
        action="store_true",
        help="with --keep DIR of an earlier call: skip the cold run, time (a) on DIR/run-1 and (b) "
        "on a new DIR/run-N (e.g. after a code change that adds to the cache)",
    )
    parser.add_argument("extra", nargs="*", help="more `cxrbench run` options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        cache = root / "cache"
        runs = {}
        plan = [
            ("cold (empty cache, new run folder)", root / "run-1"),
            ("(a) same command, same run folder", root / "run-1"),
            ("(b) new run folder, warm cache", root / "run-2"),
        ]
        if args.warm_only:
            fresh = next(i for i in range(2, 100) if not (root / f"run-{i}").exists())
            plan = [plan[1], (plan[2][0], root / f"run-{fresh}")]
        for label, out in plan:
            load = os.getloadavg()[0]
            runs[label] = (*timed_run(args.models, out, cache, args.extra), load)
            print(f"  {label}: {runs[label][0]:.1f} s (load average before {load:.1f})", flush=True)
    cold = next(iter(runs.values()))[0]  # with --warm-only: (a) (compare with the cold run by hand)
    print(f"\nmodels {args.models}; {os.cpu_count()} CPUs visible, affinity {sorted(os.sched_getaffinity(0))}")
    print("| run | wall s | CPU s | peak RSS MiB | cold / this | load average before |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, (seconds, cpu, peak, _, load) in runs.items():
        print(f"| {label} | {seconds:.1f} | {cpu:.0f} | {peak:.0f} | {cold / seconds:.1f}x | {load:.1f} |")
    for label, (seconds, *_, steps, _) in runs.items():
        total = steps.get("total") or seconds
        print(f"\n{label}, steps (manifest timings_s; the rest of the wall time is start-up and writing):")
        print("| step | s | share of the run |\n| --- | --- | --- |")
        for step, value in steps.items():
            if step != "total":
                print(f"| {step} | {value:.1f} | {value / total:.0%} |")


if __name__ == "__main__":
    main()
