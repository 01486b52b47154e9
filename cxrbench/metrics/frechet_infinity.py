"""FD-infinity: the Frechet distance extrapolated to infinitely many samples (Chong & Forsyth, CVPR 2020).

The FD of n samples is biased upwards, to first order by c / n. FD-infinity measures the FD at several
subset sizes n', fits the least-squares line FD = intercept + slope / n', and reports the intercept (the
line at 1 / n' = 0).

What the reference code does (dgm-eval `compute_FD_infinity`, layer6ai-labs; the same as Chong &
Forsyth's `calculate_FID_infinity` with its 50,000 generated images):
- 15 points, sizes ``np.linspace(min(5000, max(M // 10, 2)), M, 15).astype(int32)`` for M generated
  rows: evenly spaced in n' (not in 1 / n'), from M / 10 (capped at 5,000) up to M;
- one random subset per size, drawn without replacement from the *generated* set only, independently
  for each size (an unseeded ``np.random.default_rng()``); the real statistics always come from the
  whole real set, so FD at n' uses n' generated rows against all N real rows;
- an ordinary least-squares line of FD against 1 / n' (sklearn ``LinearRegression``), predicted at 0.

What cxrbench changes, and why (cxrbench's choices, for cells of about 128 images per set):
- ``subsample="both"`` (default) draws the same fraction n' / M of the real set too (round(n' N / M) rows,
  n' when N == M). With a real set as small as the generated one, the real side contributes as much
  bias as the generated side, and a fixed real set leaves that part in the intercept. The bias of
  either side is linear in 1 / n' to first order, so the same line fits. On Gaussians with D = 64,
  n = 128 per set (20 draws, benchmarks/fd_infinity_speed.py) FD at n was 11.9 too high; the
  reference scheme removed 37% of that (56% with cxrbench's sizes), "both" all of it within noise
  (mean error -0.3, standard error 0.35); at n = 1,000: 61%, 56% and 112% (-0.17 of 1.49).
  ``subsample="generated"`` keeps the reference scheme.
- default sizes (``default_sizes``): 15 points evenly spaced from s0 to M, with
  s0 = max(ceil(M / 4), min(D, ceil(M / 2))): the 1 / n' law is first-order and holds once n' is
  well above the feature dimension D, so the smallest subset is at least D where the set allows
  it, but never beyond M / 2 (the line needs a spread of sizes) nor below M / 4 (dgm-eval's M / 10
  reaches sizes far below D for small sets). ``dgm_eval_sizes`` gives the reference's sizes.
- the subsets are seeded (``np.random.default_rng(seed)``), so a result can be reproduced.
- each FD is ``frechet_distance_features`` (exact; no scipy sqrtm, no eps added to the diagonal).

Limit: when n < D the covariance estimates are rank-deficient and FD is far from linear in 1 / n';
FD-infinity is then lower (closer to the truth) than FD at n but keeps most of the bias, and, like
FD itself, is comparable only at equal n and D.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from cxrbench.metrics.frechet import frechet_distance_features

POINTS = 15  # dgm-eval's and Chong & Forsyth's `num_points`

Subsample = Literal["both", "generated"]


def dgm_eval_sizes(m: int, points: int = POINTS) -> np.ndarray:
    """The reference's subset sizes for M generated rows: linspace(min(5000, max(M // 10, 2)), M, points), truncated."""
    return np.linspace(min(5000, max(m // 10, 2)), m, points).astype(np.int64)


def default_sizes(m: int, dim: int, points: int = POINTS) -> np.ndarray:
    """cxrbench's subset sizes for M generated rows of dimension D: ``points`` sizes from s0 to M (truncated).

    s0 = max(ceil(M / 4), min(D, ceil(M / 2))); see the module docstring for why.
    """
    start = max(math.ceil(m / 4), min(dim, math.ceil(m / 2)))
    return np.linspace(start, m, points).astype(np.int64)


def fd_infinity(
    x: np.ndarray,
    y: np.ndarray,
    sizes: np.ndarray | list[int] | None = None,
    seed: int = 0,
    *,
    subsample: Subsample = "both",
) -> tuple[float, dict]:
    """FD-infinity of real features x [N, D] and generated features y [M, D], and the fit behind it.

    sizes: generated-subset sizes n' (each 2 <= n' <= M, at least two distinct), default
    ``default_sizes(M, D)``. For each size, in order: n' rows of y drawn without replacement, then
    (``subsample="both"``) round(n' N / M) rows of x, else all of x; FD between them. Then the
    least-squares line FD = intercept + slope / n'.

    Returns (intercept, details) with details: "sizes" (the n', list of int), "real_sizes" (rows of x
    used at each point), "fd" (FD at each point), "slope", "intercept", "subsample", "seed".
    Raises ValueError when a set is too small for the sizes.
    """
    a = _as_features(x, "x")
    b = _as_features(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y features must have the same dimension, got {a.shape[1]} and {b.shape[1]}")
    if subsample not in ("both", "generated"):
        raise ValueError(f"subsample must be 'both' or 'generated', got {subsample!r}")
    n, m = len(a), len(b)
    fake_sizes = default_sizes(m, a.shape[1]) if sizes is None else np.asarray(sizes)
    if fake_sizes.ndim != 1 or not np.issubdtype(fake_sizes.dtype, np.integer):
        raise ValueError(f"sizes must be a list of whole numbers, got {sizes!r}")
    real_sizes = np.rint(fake_sizes * n / m).astype(np.int64) if subsample == "both" else np.full(len(fake_sizes), n)
    if fake_sizes.min() < 2 or fake_sizes.max() > m or real_sizes.min() < 2:
        raise ValueError(
            f"subset sizes {fake_sizes.min()}..{fake_sizes.max()} do not fit sets of {n} real and {m} "
            "generated rows: each subset needs 2 to M rows (and 2 or more real rows)"
        )
    if len(np.unique(fake_sizes)) < 2:
        raise ValueError(
            f"a line needs at least two distinct subset sizes, got {fake_sizes.tolist()}; "
            f"sets of {m} rows are too small for FD-infinity"
        )
    rng = np.random.default_rng(seed)
    fds = np.empty(len(fake_sizes))
    for i, (size, real_size) in enumerate(zip(fake_sizes, real_sizes)):
        fake = b[rng.choice(m, size, replace=False)]
        real = a[rng.choice(n, real_size, replace=False)] if subsample == "both" else a
        fds[i] = frechet_distance_features(real, fake)
    slope, intercept = np.polyfit(1.0 / fake_sizes, fds, deg=1)  # ordinary least squares, as LinearRegression
    details = {
        "sizes": fake_sizes.tolist(),
        "real_sizes": real_sizes.tolist(),
        "fd": fds.tolist(),
        "slope": float(slope),
        "intercept": float(intercept),
        "subsample": subsample,
        "seed": seed,
    }
    return float(intercept), details


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} features must be [N >= 2, D], got shape {x.shape}")
    return x
