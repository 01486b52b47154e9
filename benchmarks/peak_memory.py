"""Peak memory of `cxrbench evaluate` at n = 500 and n = 5,000 images per set, each in a fresh process.

Run: python benchmarks/peak_memory.py [--sizes 500,5000] [--features pixels] [--bootstrap 1000]
Writes n real and n fake 64 px phantom PNGs per size, then runs
`python -m cxrbench.cli evaluate --real R --fake F --out O --features SPACE` (the six default
metrics: fid, kid, precision, recall, density, coverage, with 1,000 bootstrap resamples) in a
subprocess per size and reads its peak resident memory (ru_maxrss from wait4). `pixels` is used
because the CLI accepts only the published Inception file (not a random-weights one) and the
Inception network at 10,000 images takes too long on 2 CPU cores; its memory is per batch of 32
images either way, not per n. Prints each peak, the features' own size (2 sets x n x D float64)
and the ratio of the peaks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from cxrbench.data.phantom.dataset import render_image

REPO = Path(__file__).resolve().parents[1]
DIMS = {"pixels": 32 * 32, "inception-v3": 2048}


def peak_rss(command: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS MiB, wall seconds) of one subprocess."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output.decode()[-3000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--features", default="pixels")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {**os.environ, "CXRBENCH_CACHE": str(root / "cache"), "PYTHONPATH": str(REPO)}
        for n in sizes:
            for name, seed in (("real", 1), ("fake", 2)):
                folder = root / f"{name}-{n}"
                folder.mkdir()
                for i in range(n):
                    Image.fromarray(render_image(seed, i, 0, 64)[0]).save(folder / f"{i:05d}.png")
            command = [
                sys.executable,
                "-m",
                "cxrbench.cli",
                "evaluate",
                "--real",
                str(root / f"real-{n}"),
                "--fake",
                str(root / f"fake-{n}"),
                "--out",
                str(root / f"out-{n}"),
                "--features",
                args.features,
                "--bootstrap",
                str(args.bootstrap),
            ]
            peak, seconds = peak_rss(command, {**env, "CXRBENCH_CACHE": str(root / f"cache-{n}")})
            features = 2 * n * DIMS.get(args.features, 0) * 8 / 2**20
            rows.append((n, peak, seconds, features))
            print(f"  n = {n}: peak RSS {peak:.0f} MiB, {seconds:.1f} s", flush=True)
    base = rows[0][1]
    print(f"\n`cxrbench evaluate --features {args.features} --bootstrap {args.bootstrap}` (6 default metrics)")
    print("| n per set | peak RSS MiB | ratio to first | features MiB (2 x n x D float64) | wall s |")
    print("| --- | --- | --- | --- | --- |")
    for n, peak, seconds, features in rows:
        print(f"| {n:,} | {peak:.0f} | {peak / base:.2f} | {features:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
