"""Warm re-runs of `cxrbench run` against the cold run, on the phantom with fast models.

Run: python benchmarks/rerun_speed.py [--models pca-gaussian,train-copy,noise] [--keep DIR]
Each run is `python -m cxrbench.cli run --models MODELS --out OUT` (defaults otherwise) in a fresh
subprocess with CXRBENCH_CACHE set to one scratch folder:
  cold: empty cache, new run folder;
  (a) the same command on the same run folder (every row complete);
  (b) a new run folder with the warm cache.
Prints wall seconds, peak RSS of each run, and the ratios cold / warm. Pin with taskset to keep
the cores steady (the subprocesses inherit the affinity).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_run(models: str, out: Path, cache: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `cxrbench run` subprocess."""
    env = {**os.environ, "CXRBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far: only trust if it grew
    return seconds, (peak / 1024 if peak > before else float("nan"))


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
    print("| run | wall s | cold / this | load average before |\n| --- | --- | --- | --- |")
    for label, (seconds, _, load) in runs.items():
        print(f"| {label} | {seconds:.1f} | {cold / seconds:.1f}x | {load:.1f} |")


if __name__ == "__main__":
    main()
