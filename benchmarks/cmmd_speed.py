"""CMMD: cxrbench's row-block float64 version side by side with the reference's dense n x n formula.

Run: python benchmarks/cmmd_speed.py [--n 10000] [--dim 768] [--resample-n 2000] [--resamples 20]

Part 1, at n real and n fake unit-norm embeddings (CLIP ViT-L/14@336 gives 768-d): `cmmd` (row
blocks of 32 MiB, upper triangles for the within-set matrices, expm1) against google-research
cmmd/distance.py's `mmd` transcribed to numpy (three dense n x n kernel matrices), in float64 and in
float32 (the reference runs in JAX's default float32). For each: wall and CPU seconds
(time.process_time, all threads), peak traced memory (tracemalloc: numpy's buffers), the value and its
relative difference from the float64 dense value. Prints the load average before and after.

Part 2, at --resample-n: `cmmd_multisets` on R bootstrap resamples in one pass against R separate
`cmmd` calls on the resampled rows.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

from cxrbench.metrics.mmd_rbf import SCALE, SIGMA, cmmd, cmmd_multisets


def reference_dense(x: np.ndarray, y: np.ndarray) -> float:
    """google-research cmmd/distance.py `mmd` with jax.numpy replaced by numpy (same operations, x's dtype)."""
    x_sqnorms = np.diag(x @ x.T)
    y_sqnorms = np.diag(y @ y.T)
    gamma = 1 / (2 * SIGMA**2)
    k_xx = np.mean(np.exp(-gamma * (-2 * (x @ x.T) + x_sqnorms[:, None] + x_sqnorms[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * (x @ y.T) + x_sqnorms[:, None] + y_sqnorms[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * (y @ y.T) + y_sqnorms[:, None] + y_sqnorms[None, :])))
    return float(SCALE * (k_xx + k_yy - 2 * k_xy))


def measured(fn, *args) -> tuple[float, float, float, object]:
    """(wall s, CPU s, peak traced MiB above the start, value) of one call."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    tracemalloc.stop()
    return wall, cpu, peak, value


def unit_rows(rng: np.random.Generator, n: int, dim: int, shift: float) -> np.ndarray:
    x = rng.normal(size=(n, dim)) + shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--resample-n", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, y = unit_rows(rng, args.n, args.dim, 0.0), unit_rows(rng, args.n, args.dim, 0.02)
    print(f"n = {args.n} per set, D = {args.dim}; load average before: {os.getloadavg()}")
    rows = [
        ("cxrbench cmmd (blocks, f64)", cmmd, x, y),
        ("reference dense (f64)", reference_dense, x, y),
        ("reference dense (f32)", reference_dense, x.astype(np.float32), y.astype(np.float32)),
    ]
    results = {name: measured(fn, a, b) for name, fn, a, b in rows}
    exact = results["reference dense (f64)"][3]
    print(f"{'':<30} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'value':>14} {'rel diff':>9}")
    for name, (wall, cpu, peak, value) in results.items():
        print(
            f"{name:<30} {wall:>8.2f} {cpu:>8.2f} {peak:>9.0f} {value:>14.9f} {abs(value - exact) / abs(exact):>9.1e}"
        )
    ours, dense = results["cxrbench cmmd (blocks, f64)"], results["reference dense (f64)"]
    print(
        f"dense f64 / blocks: wall x{dense[0] / ours[0]:.2f}, CPU x{dense[1] / ours[1]:.2f}, "
        f"peak memory x{dense[2] / ours[2]:.1f}"
    )
    print(f"load average after part 1: {os.getloadavg()}")

    n, r = args.resample_n, args.resamples
    xs, ys = x[:n], y[:n]
    draws = [(rng.integers(0, n, n), rng.integers(0, n, n)) for _ in range(r)]
    cx = np.stack([np.bincount(i, minlength=n) for i, _ in draws], axis=1)
    cy = np.stack([np.bincount(j, minlength=n) for _, j in draws], axis=1)
    batch = measured(cmmd_multisets, xs, ys, cx, cy)
    separate = measured(lambda: np.array([cmmd(xs[i], ys[j]) for i, j in draws]))
    gap = np.abs(batch[3] - separate[3]).max() / np.abs(separate[3]).max()
    print(
        f"\n{r} bootstrap resamples at n = {n}: one cmmd_multisets pass {batch[0]:.2f} s wall / {batch[1]:.2f} s CPU, "
        f"{r} cmmd calls {separate[0]:.2f} s / {separate[1]:.2f} s (x{separate[1] / batch[1]:.1f} CPU); "
        f"max rel diff {gap:.1e}"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
