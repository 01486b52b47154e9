"""Seeded bootstrap intervals (real and fake units resampled independently), and the paired version.

Two interval methods, chosen by each metric:
- ``percentile``: the alpha/2 and 1 - alpha/2 quantiles of the replicates;
- ``bias-shifted``: the same quantiles shifted by the bootstrap bias estimate (mean of replicates
  minus the estimate). Frechet distance and KID need it: resampling with replacement repeats
  points, which shrinks the effective sample and pushes every replicate above the estimate
  (at n = d = 128 all 1,000 FD replicates lie above it), so percentile, basic and BCa intervals
  all fail there (BCa is undefined when no replicate falls below the estimate). The shifted
  interval describes the sampling spread around the estimate; the estimate's own small-n bias
  is why such numbers are compared only at equal n.
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.metric import Statistic

PERCENTILE, BIAS_SHIFTED = "percentile", "bias-shifted"


def _indices(rng: np.random.Generator, n: int) -> np.ndarray | None:
    return rng.integers(0, n, n) if n else None


def replicates(statistic: Statistic, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` bootstrap values of ``statistic`` (NaN replicates kept, e.g. a class missing)."""
    rng = np.random.default_rng(seed)
    if statistic.batch is not None:  # same draws, in the same order, as counts per resample
        counts_real = np.empty((statistic.n_real, resamples))
        counts_fake = np.empty((statistic.n_fake, resamples))
        for i in range(resamples):
            for counts in (counts_real, counts_fake):
                if len(counts):
                    counts[:, i] = np.bincount(_indices(rng, len(counts)), minlength=len(counts))
        return np.asarray(statistic.batch(counts_real, counts_fake), dtype=np.float64)
    values = np.empty(resamples)
    for i in range(resamples):
        values[i] = statistic.function(_indices(rng, statistic.n_real), _indices(rng, statistic.n_fake))
    return values


def interval_from(
    values: np.ndarray, estimate: float, method: str, level: float = 0.95
) -> tuple[float | None, float | None]:
    """The ``level`` interval from bootstrap ``values`` by ``method``; (None, None) if none are finite."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0 or not np.isfinite(estimate):
        return None, None
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    if method == BIAS_SHIFTED:
        shift = finite.mean() - estimate
        low, high = low - shift, high - shift
    elif method != PERCENTILE:
        raise ValueError(f"unknown interval method {method!r}")
    return float(low), float(high)


def bootstrap_interval(
    statistic: Statistic, estimate: float, resamples: int, seed: int, method: str = PERCENTILE, level: float = 0.95
) -> tuple[float | None, float | None]:
    """The interval of ``statistic`` over ``resamples`` seeded replicates; (None, None) if ``resamples`` is 0."""
    if resamples <= 0:
        return None, None
    return interval_from(replicates(statistic, resamples, seed), estimate, method, level)


def paired_difference(
    a: Statistic, b: Statistic, estimate: float, resamples: int, seed: int, method: str, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Interval of b - a when both are computed against the SAME real units, resampled together.

    Each replicate draws one set of real indices for both models (the pairing) and independent
    fake indices for each, so the real set's sampling noise cancels in the difference.
    """
    if a.n_real != b.n_real:
        raise ValueError(f"paired bootstrap needs the same real set; got {a.n_real} and {b.n_real} real units")
    if resamples <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    for i in range(resamples):
        real = _indices(rng, a.n_real)
        values[i] = b.function(real, _indices(rng, b.n_fake)) - a.function(real, _indices(rng, a.n_fake))
    return interval_from(values, estimate, method, level)
