"""KID's bootstrap for many resamples at once (row-block kernels) equals the one-resample-at-a-time path."""

from __future__ import annotations

import numpy as np
import pytest

from cxrbench.metrics.bootstrap import replicates
from cxrbench.metrics.kid import kid_bootstrap, kid_bootstrap_statistic, mmd2_unbiased, polynomial_kernel
from cxrbench.metrics.metric import Statistic


def _features(seed: int, n: int, d: int = 16, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, d))


@pytest.mark.parametrize("max_bytes", [1 << 30, 2_000])  # whole matrices held / row blocks of a few rows
def test_batched_replicates_equal_one_at_a_time(max_bytes):
    real, fake = _features(0, 40), _features(1, 33, shift=0.3)
    function, batch = kid_bootstrap(real, fake, max_bytes=max_bytes)
    one_by_one = replicates(Statistic(0.0, kid_bootstrap_statistic(real, fake), 40, 33), 25, seed=7)
    batched = replicates(Statistic(0.0, function, 40, 33, batch=batch), 25, seed=7)
    assert np.allclose(batched, one_by_one, rtol=1e-10, atol=0)
    scalar_chunked = replicates(Statistic(0.0, function, 40, 33), 25, seed=7)
    assert np.allclose(scalar_chunked, one_by_one, rtol=1e-10, atol=0)


def test_counts_of_a_resample_give_the_resampled_sets_unbiased_mmd():
    real, fake = _features(2, 30), _features(3, 20, shift=0.5)
    _, batch = kid_bootstrap(real, fake, max_bytes=3_000)
    rng = np.random.default_rng(0)
    ir, jf = rng.integers(0, 30, 30), rng.integers(0, 20, 20)
    x, y = real[ir], fake[jf]
    expected = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
    counts = (
        np.bincount(ir, minlength=30)[:, None].astype(float),
        np.bincount(jf, minlength=20)[:, None].astype(float),
    )
    assert batch(*counts)[0] == pytest.approx(expected, rel=1e-10)
