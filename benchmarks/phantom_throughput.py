"""Phantom generator throughput (target: >= 200 images/s at 128 px on one core).

Run: python benchmarks/phantom_throughput.py [--n 1000] [--resolutions 64 128 256]
It pins torch/numpy to one thread and times render_image end to end (anatomy, findings, noise).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a benchmark script, not the package: pin before numpy loads
import time  # noqa: E402

from cxrbench.data.phantom.dataset import render_image  # noqa: E402


def measure(resolution: int, n: int) -> float:
    render_image(0, 0, 0, resolution)  # warm-up
    start = time.perf_counter()
    for i in range(n):
        render_image(0, i, 0, resolution)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args()
    for resolution in args.resolutions:
        rate = measure(resolution, args.n)
        verdict = "" if resolution != 128 else ("  (target 200: met)" if rate >= 200 else "  (target 200: MISSED)")
        print(f"{resolution:>5} px: {rate:8.1f} images/s on one core{verdict}")


if __name__ == "__main__":
    main()
