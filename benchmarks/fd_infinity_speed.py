"""FD-infinity: time per call, and how much finite-sample bias each subsampling scheme removes.

Run: python benchmarks/fd_infinity_speed.py [--repeats 20]

Part 1: best wall and CPU seconds (time.process_time, all threads) of one `fd_infinity` call (15 points, default sizes)
and of one `frechet_distance_features` call, at n = 128 and 1,000 per set, D = 64 and 2,048.

Part 2: on two Gaussians with known means and covariances (so the true FD is known in closed form),
D = 64, n = 128 and 1,000 per set, over --repeats independent draws: the mean and spread of FD at n
and of FD-infinity under three schemes: dgm-eval's (its sizes from M / 10, generated set subsampled,
real set whole), the generated set subsampled with cxrbench's sizes, and cxrbench's default (both
sets subsampled, cxrbench's sizes). Prints the load average before and after.

Small LAPACK calls (D = 64) are dominated by BLAS threading on a loaded machine: compare with
OPENBLAS_NUM_THREADS=1 before reading the D = 64 times.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cxrbench.metrics.frechet import frechet_distance, frechet_distance_features
from cxrbench.metrics.frechet_infinity import dgm_eval_sizes, fd_infinity


def timed(fn, *args, repeats: int = 1) -> tuple[float, float]:
    """Best (wall s, CPU s) of ``repeats`` calls."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(*args)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def gaussians(dim: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(dim, dim)) / np.sqrt(dim), rng.normal(size=(dim, dim)) / np.sqrt(dim)
    cov1, cov2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
    mean2 = rng.normal(size=dim) * 0.1
    return np.linalg.cholesky(cov1), np.linalg.cholesky(cov2), mean2, frechet_distance(np.zeros(dim), cov1, mean2, cov2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--timing-repeats", type=int, default=3, help="best of this many calls per timing")
    args = parser.parse_args()
    warm = np.random.default_rng(0).normal(size=(64, 64))
    fd_infinity(warm, warm + 1.0)  # start BLAS threads and fill caches before anything is timed
    print(f"load average before: {os.getloadavg()}")
    print(f"{'n':>6} {'D':>6} {'fd_infinity wall s':>19} {'CPU s':>8} {'one FD wall s':>14} {'CPU s':>8}")
    for n in (128, 1000):
        for dim in (64, 2048):
            rng = np.random.default_rng(0)
            x, y = rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) * 1.1 + 0.05
            inf_wall, inf_cpu = timed(fd_infinity, x, y, repeats=args.timing_repeats)
            fd_wall, fd_cpu = timed(frechet_distance_features, x, y, repeats=args.timing_repeats)
            print(f"{n:>6} {dim:>6} {inf_wall:>19.3f} {inf_cpu:>8.3f} {fd_wall:>14.3f} {fd_cpu:>8.3f}")

    dim = 64
    root1, root2, mean2, true_fd = gaussians(dim)
    for n in (128, 1000):
        values = {
            "FD at n": [],
            "dgm-eval (generated, M/10 sizes)": [],
            "generated, cxrbench sizes": [],
            "cxrbench (both, cxrbench sizes)": [],
        }
        for i in range(args.repeats):
            rng = np.random.default_rng(100 + i)
            x = rng.normal(size=(n, dim)) @ root1.T
            y = rng.normal(size=(n, dim)) @ root2.T + mean2
            values["FD at n"].append(frechet_distance_features(x, y))
            values["dgm-eval (generated, M/10 sizes)"].append(
                fd_infinity(x, y, sizes=dgm_eval_sizes(n), seed=i, subsample="generated")[0]
            )
            values["generated, cxrbench sizes"].append(fd_infinity(x, y, seed=i, subsample="generated")[0])
            values["cxrbench (both, cxrbench sizes)"].append(fd_infinity(x, y, seed=i)[0])
        bias_n = np.mean(values["FD at n"]) - true_fd
        print(f"\nD = {dim}, n = {n} per set, true FD = {true_fd:.3f}, {args.repeats} draws")
        print(f"{'':<34} {'mean':>9} {'bias':>8} {'sd':>7} {'bias removed':>13}")
        for name, v in values.items():
            v = np.array(v)
            bias = v.mean() - true_fd
            print(f"{name:<34} {v.mean():>9.3f} {bias:>8.3f} {v.std(ddof=1):>7.3f} {1 - bias / bias_n:>12.0%}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
