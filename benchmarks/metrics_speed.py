"""PRDC and KID: cxrbench's implementations side by side with the `prdc` package and torch-fidelity.

Run: python benchmarks/metrics_speed.py [--quick]
Prints markdown tables. Both sides get the same seeded float64 features.
- PRDC: each (method, size) runs in its own fresh process, so one method's peak memory cannot hide the
  other's; wall time and peak-RSS growth (ru_maxrss after the call minus before it, after a small
  warm-up) are measured there. The prdc package computes with threads (sklearn's threading backend),
  so its RSS covers all its work. Ours runs with k = 5 for all four values, like `compute_prdc`.
- KID: both in this process, torch-fidelity's `kid_features_to_metric` on float64 tensors (the
  exactness check) and on float32 tensors (how it runs on Inception features).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import gc
import io
import multiprocessing
import os
import resource
import time

import numpy as np
import torch

from cxrbench.metrics.kid import kid_subsets
from cxrbench.metrics.prdc import prdc

KEYS = ("precision", "recall", "density", "coverage")


def make_features(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded real and fake features, float64 [n, d] each.

    A 16-dimensional latent mixed into d dimensions plus isotropic noise, so that the sets overlap on a
    low-dimensional manifold as network features do (pure d = 2048 noise gives precision 0). The fake
    latent is scaled and shifted. Built in row blocks so no transient full-size temporary inflates the
    baseline peak memory.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(16, d))
    out = []
    for scale, shift in ((1.0, 0.0), (1.2, 0.3)):
        x = np.empty((n, d))
        for start in range(0, n, 1000):
            rows = min(1000, n - start)
            x[start:start + rows] = (rng.normal(size=(rows, 16)) * scale + shift) @ mixing
            x[start:start + rows] += rng.normal(size=(rows, d)) * 2.0
        out.append(x)
    return out[0], out[1]


def ours_prdc(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    return prdc(real, fake, k_pr=5, k_dc=5)


def package_prdc(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        return {k: float(v) for k, v in compute_prdc(real, fake, nearest_k=5).items()}


PRDC_METHODS = {"cxrbench prdc()": ours_prdc, "prdc.compute_prdc": package_prdc}


def measure_prdc(method: str, n: int, d: int, seed: int) -> dict:
    """Run in a fresh process: wall seconds, peak RSS growth (MiB) and values of one method."""
    real, fake = make_features(n, d, seed)
    fn = PRDC_METHODS[method]
    fn(real[:100], fake[:100])  # warm-up: lazy imports, BLAS and joblib threads
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    values = fn(real, fake)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall": wall, "mib": (after - before) / 1024, "values": values}


def in_fresh_process(*args) -> dict:
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure_prdc, *args).result()


def prdc_table(sizes: list[tuple[int, int]]) -> None:
    print("### Precision / recall / density / coverage (k = 5), peak = ru_maxrss growth in a fresh process\n")
    print("| n real = n fake | d | method | wall s | x slower than ours | peak MiB | precision | recall "
          "| density | coverage | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, d in sizes:
        runs = {method: in_fresh_process(method, n, d, 0) for method in PRDC_METHODS}
        ours = runs["cxrbench prdc()"]
        for method, run in runs.items():
            diff = max(abs(run["values"][k] - ours["values"][k]) for k in KEYS)
            cells = " | ".join(f"{run['values'][k]:.4f}" for k in KEYS)
            print(f"| {n:,} | {d} | {method} | {run['wall']:.2f} | {run['wall'] / ours['wall']:.2f} | "
                  f"{run['mib']:,.0f} | {cells} | {diff:.1e} |", flush=True)


def torch_fidelity_kid(real: np.ndarray, fake: np.ndarray, subsets: int, size: int, dtype) -> tuple[float, float]:
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    out = kid_features_to_metric(torch.from_numpy(real).to(dtype), torch.from_numpy(fake).to(dtype),
                                 kid_subsets=subsets, kid_subset_size=size, rng_seed=2020, verbose=False)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def kid_table(cases: list[tuple[int, int, int, int]]) -> None:
    print("\n### KID (mean, std over subsets), same process, seed 2020\n")
    print("| n | d | subsets x size | method | wall s | x slower than ours | mean | std | rel diff mean "
          "| rel diff std |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, d, subsets, size in cases:
        real, fake = make_features(n, d, 1)
        rows = []
        for name, fn in (
            ("cxrbench kid_subsets (float64)", lambda: kid_subsets(real, fake, subsets, size, seed=2020)),
            ("torch-fidelity, float64 tensors", lambda: torch_fidelity_kid(real, fake, subsets, size, torch.float64)),
            ("torch-fidelity, float32 tensors", lambda: torch_fidelity_kid(real, fake, subsets, size, torch.float32)),
        ):
            start = time.perf_counter()
            value = fn()
            rows.append((name, time.perf_counter() - start, value))
        (_, t_ours, (m_ours, s_ours)) = rows[0]
        for name, wall, (mean, std) in rows:
            # When every subset is the whole set, both stds are rounding noise: comparing them means nothing.
            rel_std = f"{abs(std - s_ours) / abs(s_ours):.1e}" if size < n else "n/a (subset = whole set)"
            print(f"| {n:,} | {d} | {subsets} x {size:,} | {name} | {wall:.2f} | {wall / t_ours:.1f} | {mean:.6e} | "
                  f"{std:.2e} | {abs(mean - m_ours) / abs(m_ours):.1e} | {rel_std} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 points for PRDC, 10 KID subsets")
    args = parser.parse_args()
    n = 2_000 if args.quick else 10_000
    subsets = 10 if args.quick else 100
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}, torch threads: "
          f"{torch.get_num_threads()}; inputs: seeded float64 features (16-d latent + noise)\n")
    prdc_table([(n, 128), (n, 2048)])
    # 1,000 x 1,000 with subsets of 1,000: every subset is the whole set (std ~ 0); 2,000 draws real subsets.
    kid_table([(1_000, 2048, subsets, 1_000), (2_000, 2048, subsets, 1_000)])


if __name__ == "__main__":
    main()
