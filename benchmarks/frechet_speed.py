"""Frechet distance: cxrbench's exact routes side by side with scipy.linalg.sqrtm (pytorch-fid's formula).

Run: python benchmarks/frechet_speed.py [--repeats 3]
Prints seconds per call, the ratio to scipy, and the relative difference of the values.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg

from cxrbench.metrics.frechet import frechet_distance, frechet_distance_features, gaussian_stats

CASES = [(128, 128), (1000, 2048), (5000, 2048)]  # (n per set, feature dimension)


def scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    (mu1, s1), (mu2, s2) = gaussian_stats(a), gaussian_stats(b)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def stats_fd(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def timed(fn, a, b, repeats: int) -> tuple[float, float]:
    best, value = float("inf"), float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn(a, b)
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'n':>6} {'d':>6} {'scipy sqrtm s':>14} {'eigh s':>10} {'x':>6} {'features s':>11} {'x':>6} {'rel diff':>9}"
    )
    for n, d in CASES:
        rng = np.random.default_rng(0)
        mix = rng.normal(size=(d, d)) / np.sqrt(d)
        a = rng.normal(size=(n, d)) @ mix
        b = rng.normal(size=(n, d)) @ mix * 1.1 + 0.05
        t_scipy, v_scipy = timed(scipy_fd, a, b, args.repeats)
        t_eigh, v_eigh = timed(stats_fd, a, b, args.repeats)
        t_feat, v_feat = timed(frechet_distance_features, a, b, args.repeats)
        rel = max(abs(v_eigh - v_scipy), abs(v_feat - v_scipy)) / abs(v_scipy)
        print(
            f"{n:>6} {d:>6} {t_scipy:>14.4f} {t_eigh:>10.4f} {t_scipy / t_eigh:>6.1f} {t_feat:>11.4f} "
            f"{t_scipy / t_feat:>6.1f} {rel:>9.1e}"
        )


if __name__ == "__main__":
    main()
