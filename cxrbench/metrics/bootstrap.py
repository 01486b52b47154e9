"""Seeded percentile-bootstrap intervals for any metric (real and fake rows resampled independently)."""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.metric import Metric
from cxrbench.tasks.task import Condition


def _take(arrays: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in arrays.items()}


def bootstrap_interval(
    metric: Metric, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], condition: Condition,
    resamples: int, seed: int, level: float = 0.95,
) -> tuple[float | None, float | None]:
    """The ``level`` percentile interval over ``resamples`` bootstrap replicates; (None, None) if 0."""
    if resamples <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    n_real = len(next(iter(real.values()))) if real else 0
    n_fake = len(next(iter(fake.values())))
    values = np.empty(resamples)
    for i in range(resamples):
        real_i = _take(real, rng.integers(0, n_real, n_real)) if n_real else real
        values[i] = metric.compute(real_i, _take(fake, rng.integers(0, n_fake, n_fake)), condition)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)
