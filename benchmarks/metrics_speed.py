"""PRDC and KID: cxrbench's implementations side by side with the `prdc` package and torch-fidelity.

Run: python benchmarks/metrics_speed.py [--quick] [--ties-only]
Prints markdown tables. Both sides get the same seeded float64 features.
- PRDC: each (method, size) runs in its own fresh process, so one method's peak memory cannot hide the
  other's; wall time and peak-RSS growth (ru_maxrss after the call minus before it, after a small
  warm-up) are measured there. The prdc package computes with threads (sklearn's threading backend),
  so its RSS covers all its work. Ours runs with k = 5 for all four values, like `compute_prdc`.
- Exact ties: cxrbench `prdc()` (k-NN decisions on direct distances) against the expansion-only rule
  it replaced (every decision on the rounded BLAS expansion), alternating in this process, CPU time
  (time.process_time, all threads) and wall time, with the load average before each run.
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

from cxrbench.metrics.distances import squared_distance_chunks
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
            x[start : start + rows] = (rng.normal(size=(rows, 16)) * scale + shift) @ mixing
            x[start : start + rows] += rng.normal(size=(rows, d)) * 2.0
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
    print(
        "| n real = n fake | d | method | wall s | x slower than ours | peak MiB | precision | recall "
        "| density | coverage | max abs diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, d in sizes:
        runs = {method: in_fresh_process(method, n, d, 0) for method in PRDC_METHODS}
        ours = runs["cxrbench prdc()"]
        for method, run in runs.items():
            diff = max(abs(run["values"][k] - ours["values"][k]) for k in KEYS)
            cells = " | ".join(f"{run['values'][k]:.4f}" for k in KEYS)
            print(
                f"| {n:,} | {d} | {method} | {run['wall']:.2f} | {run['wall'] / ours['wall']:.2f} | "
                f"{run['mib']:,.0f} | {cells} | {diff:.1e} |",
                flush=True,
            )


def _expansion_radii(x: np.ndarray, k: int) -> np.ndarray:
    radii = np.empty(len(x))
    for start, block in squared_distance_chunks(x, x):
        rows = np.arange(len(block))
        block[rows, start + rows] = np.inf
        radii[start : start + len(block)] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return radii


def expansion_only_prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """The rule before exact ties: radii and comparisons on the rounded expansion (k = 5 for all four)."""
    real_r, fake_r = _expansion_radii(real, k), _expansion_radii(fake, k)
    precision, density = np.empty(len(fake), dtype=bool), np.empty(len(fake))
    recall, nearest_fake = np.zeros(len(real), dtype=bool), np.full(len(real), np.inf)
    for start, block in squared_distance_chunks(fake, real):
        rows = slice(start, start + len(block))
        precision[rows] = (block <= real_r[None, :]).any(axis=1)
        density[rows] = (block < real_r[None, :]).sum(axis=1) / k
        recall |= (block <= fake_r[rows, None]).any(axis=0)
        np.minimum(nearest_fake, block.min(axis=0), out=nearest_fake)
    return {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "density": float(density.mean()),
        "coverage": float((nearest_fake < real_r).mean()),
    }


def ties_table(cases: list[tuple[int, int]], repeats: int = 2) -> None:
    print("\n### Exact ties: cost of deciding k-NN ties on direct distances (k = 5), same process\n")
    print(
        "| n real = n fake | d | data | method | CPU s (median) | wall s (median) | load avg (1 min) "
        "| CPU x expansion-only | precision | recall | density | coverage |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    methods = {"expansion only (before)": expansion_only_prdc, "exact ties (cxrbench prdc())": ours_prdc}
    for n, d in cases:
        real, fake = make_features(n, d, 2)
        for data, (r, f) in (("generic", (real, fake)), ("fake = real", (real, real.copy()))):
            times: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
            values = {}
            methods["expansion only (before)"](r[:100], f[:100])  # warm-up: BLAS threads
            for _ in range(repeats):  # alternate, so load changes hit both methods alike
                for name, fn in methods.items():
                    load = os.getloadavg()[0]
                    cpu, wall = time.process_time(), time.perf_counter()
                    values[name] = fn(r, f)
                    times[name].append((time.process_time() - cpu, time.perf_counter() - wall, load))
            base = float(np.median([t[0] for t in times["expansion only (before)"]]))
            for name in methods:
                cpu, wall = (float(np.median([t[i] for t in times[name]])) for i in (0, 1))
                loads = "/".join(f"{t[2]:.1f}" for t in times[name])
                cells = " | ".join(f"{values[name][k]:.6f}" for k in KEYS)
                print(
                    f"| {n:,} | {d} | {data} | {name} | {cpu:.2f} | {wall:.2f} | {loads} | {cpu / base:.3f} | "
                    f"{cells} |",
                    flush=True,
                )


def torch_fidelity_kid(real: np.ndarray, fake: np.ndarray, subsets: int, size: int, dtype) -> tuple[float, float]:
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    out = kid_features_to_metric(
        torch.from_numpy(real).to(dtype),
        torch.from_numpy(fake).to(dtype),
        kid_subsets=subsets,
        kid_subset_size=size,
        rng_seed=2020,
        verbose=False,
    )
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def kid_table(cases: list[tuple[int, int, int, int]]) -> None:
    print("\n### KID (mean, std over subsets), same process, seed 2020\n")
    print(
        "| n | d | subsets x size | method | wall s | x slower than ours | mean | std | rel diff mean | rel diff std |"
    )
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
            print(
                f"| {n:,} | {d} | {subsets} x {size:,} | {name} | {wall:.2f} | {wall / t_ours:.1f} | {mean:.6e} | "
                f"{std:.2e} | {abs(mean - m_ours) / abs(m_ours):.1e} | {rel_std} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 points for PRDC, 10 KID subsets")
    parser.add_argument("--ties-only", action="store_true", help="only the exact-ties overhead table")
    args = parser.parse_args()
    n = 2_000 if args.quick else 10_000
    subsets = 10 if args.quick else 100
    print(
        f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}, torch threads: "
        f"{torch.get_num_threads()}; inputs: seeded float64 features (16-d latent + noise)\n"
    )
    if args.ties_only:
        ties_table([(1_000, 128), (5_000, 2048)])
        return
    prdc_table([(n, 128), (n, 2048)])
    # 1,000 x 1,000 with subsets of 1,000: every subset is the whole set (std ~ 0); 2,000 draws real subsets.
    kid_table([(1_000, 2048, subsets, 1_000), (2_000, 2048, subsets, 1_000)])
    ties_table([(1_000, 128), (5_000, 2048)])


if __name__ == "__main__":
    main()
