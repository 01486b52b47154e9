"""The larger kill-anywhere check: `cxrbench run` killed with SIGKILL at random moments until it
finishes, every rerun resuming the folder, then compared row for row with an uninterrupted run.

Run: python benchmarks/kill_anywhere.py [--models all] [--kills 30] [--seed 0] [--keep DIR] [--tiny]
The CI version (tests/test_kill_anywhere.py) kills at one chosen point per stage with the tiny
presets; this one kills at random times (uniform between --min-s and --max-s after the start), so
it also lands inside training loops, NumPy and torch kernels and between any two writes.
--tiny uses the test suite's tiny presets (minutes); without it the embedded defaults (an hour or
more on 2 cores). Each phase gets its own cache, so the killed chain trains and scores everything
itself. Prints one line per kill (seconds alive, rows so far), then whether the rows are equal.
Exit code 1 when they are not.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def cxrbench(args: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "CXRBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "cxrbench.cli", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(out: Path) -> list[tuple]:
    from cxrbench.results import read_rows

    return sorted(
        (r.key, r.status, r.value, r.ci_low, r.ci_high, r.n_real, r.n_fake, r.reason)
        for r in read_rows(out / "results.jsonl")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--kills", type=int, default=30, help="most kills before the run is let finish")
    parser.add_argument("--min-s", type=float, default=5.0)
    parser.add_argument("--max-s", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="the test suite's tiny presets")
    parser.add_argument("--keep", type=Path, help="keep the folders here (default: a temporary folder)")
    options = parser.parse_args()
    root = options.keep or Path(tempfile.mkdtemp(prefix="kill-anywhere-"))
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(options.seed)

    def config(name: str) -> list[str]:
        if not options.tiny:
            return []
        from conftest import tiny_toml_text

        path = root / f"{name}.toml"
        path.write_text(tiny_toml_text(root / f"cache-{name}"))
        return ["--config", str(path)]

    started = time.perf_counter()
    whole = cxrbench(
        ["run", "--models", options.models, "--out", str(root / "whole"), *config("whole")], root / "cache-whole"
    )
    if whole.wait() != 0:
        raise SystemExit(f"the uninterrupted run failed:\n{whole.stderr.read()[-3000:]}")
    uninterrupted = time.perf_counter() - started
    print(f"uninterrupted: {uninterrupted:.0f} s, {len(rows(root / 'whole'))} rows", flush=True)

    args = ["run", "--models", options.models, "--out", str(root / "killed"), *config("killed")]
    started, kills = time.perf_counter(), 0
    while True:
        process = cxrbench(args, root / "cache-killed")
        delay = rng.uniform(options.min_s, options.max_s) if kills < options.kills else None
        try:
            code = process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            kills += 1
            done = len(rows(root / "killed")) if (root / "killed" / "results.jsonl").exists() else 0
            print(f"kill {kills}: after {delay:.1f} s, {done} rows so far", flush=True)
            continue
        if code != 0:
            raise SystemExit(f"a resumed run failed ({code}):\n{process.stderr.read()[-3000:]}")
        break
    killed = time.perf_counter() - started
    equal = rows(root / "killed") == rows(root / "whole")
    leftovers = [p for p in (root / "killed").rglob("*") if ".tmp-" in p.name or ".previous-" in p.name]
    print(
        f"{kills} kills; killed chain {killed:.0f} s against {uninterrupted:.0f} s uninterrupted "
        f"(load average {os.getloadavg()[0]:.2f}); rows equal: {equal}; partial files left: {len(leftovers)}; "
        f"folders in {root}"
    )
    sys.exit(0 if equal and not leftovers else 1)


if __name__ == "__main__":
    main()
