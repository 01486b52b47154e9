"""KID against torch-fidelity, PRDC against brute force from the published definitions and the prdc package."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kernel_poly, kid_features_to_metric, mmd2

from cxrbench.metrics.kid import kid_bootstrap_statistic, kid_subsets, mmd2_unbiased, polynomial_kernel
from cxrbench.metrics.prdc import (
    coverage_indicators,
    density_counts,
    inside_counts,
    knn_radii_sq,
    prdc,
    prdc_per_point,
    precision_indicators,
    recall_indicators,
)


def _kid_features(n: int = 300, m: int = 250, d: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.1 + 0.05


def _torch_fidelity_kid(real: np.ndarray, fake: np.ndarray, subsets: int, subset_size: int, seed: int):
    # float64 tensors: torch-fidelity computes in the features' dtype, so float32 would add its own rounding.
    out = kid_features_to_metric(
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=seed,
        verbose=False,
    )
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


# ---------------------------------------------------------------------------------------------- KID


def test_kernel_and_estimator_match_torch_fidelity_pieces():
    x, y = _kid_features(40, 40, 16)
    assert np.allclose(polynomial_kernel(x, y), kernel_poly(x, y), rtol=1e-13, atol=0)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    assert mmd2_unbiased(k_xx, k_yy, k_xy) == pytest.approx(mmd2(k_xx, k_xy, k_yy), rel=1e-12)


@pytest.mark.parametrize(
    "subsets,subset_size,max_bytes",
    [
        (20, 200, 256 * 2**20),  # full kernels computed once and reused
        (20, 200, 0),  # per-subset kernels (forced), as torch-fidelity computes them
        (10, 50, 256 * 2**20),  # per-subset kernels (cheaper than full ones: subset size << n)
    ],
)
def test_kid_subsets_equal_torch_fidelity(subsets, subset_size, max_bytes):
    real, fake = _kid_features()
    ours = kid_subsets(real, fake, subsets=subsets, subset_size=subset_size, seed=7, max_bytes=max_bytes)
    reference = _torch_fidelity_kid(real, fake, subsets, subset_size, seed=7)
    assert ours[0] == pytest.approx(reference[0], rel=1e-5)
    assert ours[1] == pytest.approx(reference[1], rel=1e-5)
    assert reference[1] > 0  # a real spread, so the std comparison means something


def test_kid_subset_size_above_n_is_clamped_not_an_error():
    real, fake = _kid_features()  # 300 real, 250 fake
    with pytest.raises(ValueError):
        _torch_fidelity_kid(real, fake, 10, 1000, seed=3)  # the deliberate difference
    ours = kid_subsets(real, fake, subsets=10, subset_size=1000, seed=3)
    assert ours == kid_subsets(real, fake, subsets=10, subset_size=250, seed=3)
    reference = _torch_fidelity_kid(real, fake, 10, 250, seed=3)
    assert ours == pytest.approx(reference, rel=1e-5)


def test_kid_subsets_of_the_whole_set_have_no_spread():
    real, fake = _kid_features(120, 120, 8)
    mean, std = kid_subsets(real, fake, subsets=5, subset_size=1000)
    assert std == 0.0
    full = mmd2_unbiased(polynomial_kernel(real, real), polynomial_kernel(fake, fake), polynomial_kernel(real, fake))
    assert mean == pytest.approx(full, rel=1e-10)


def test_kid_bootstrap_statistic_identity_and_resamples():
    real, fake = _kid_features(128, 100, 32)
    statistic = kid_bootstrap_statistic(real, fake)
    full = mmd2_unbiased(polynomial_kernel(real, real), polynomial_kernel(fake, fake), polynomial_kernel(real, fake))
    assert statistic(np.arange(128), np.arange(100)) == pytest.approx(full, rel=1e-10)
    rng = np.random.default_rng(5)
    for _ in range(5):
        ri, fi = rng.integers(0, 128, 128), rng.integers(0, 100, 100)
        assert len(np.unique(ri)) < 128  # repeats present: the diagonal-position rule is exercised
        xs, ys = real[ri], fake[fi]
        # mmd2_unbiased drops the diagonal positions i == j of the resampled matrices (not repeated rows).
        direct = mmd2_unbiased(polynomial_kernel(xs, xs), polynomial_kernel(ys, ys), polynomial_kernel(xs, ys))
        assert statistic(ri, fi) == pytest.approx(direct, rel=1e-10)


def test_kid_bootstrap_statistic_is_fast():
    real, fake = _kid_features(128, 128, 64)
    statistic = kid_bootstrap_statistic(real, fake)
    rng = np.random.default_rng(0)
    indices = [(rng.integers(0, 128, 128), rng.integers(0, 128, 128)) for _ in range(1000)]
    start = time.perf_counter()
    for ri, fi in indices:
        statistic(ri, fi)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------------- PRDC


def _reference_prdc(
    real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5, pr_le: bool = True, dc_lt: bool = True
) -> dict[str, np.ndarray]:
    """Per-point arrays straight from the papers, with loops over points (pr_le / dc_lt flip the tie rules)."""

    def d2(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sum((a - b) ** 2))

    def kth(x: np.ndarray, k: int) -> list[float]:
        return [sorted(d2(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))]

    def pr_in(dist: float, radius: float) -> bool:
        return dist <= radius if pr_le else dist < radius

    def dc_in(dist: float, radius: float) -> bool:
        return dist < radius if dc_lt else dist <= radius

    real_pr, real_dc, fake_pr = kth(real, k_pr), kth(real, k_dc), kth(fake, k_pr)
    cross = [[d2(r, f) for f in fake] for r in real]  # cross[i][j]: real i to fake j
    n, m = len(real), len(fake)
    return {
        "precision": np.array([any(pr_in(cross[i][j], real_pr[i]) for i in range(n)) for j in range(m)]),
        "recall": np.array([any(pr_in(cross[i][j], fake_pr[j]) for j in range(m)) for i in range(n)]),
        "density": np.array([sum(dc_in(cross[i][j], real_dc[i]) for i in range(n)) / k_dc for j in range(m)]),
        "coverage": np.array([dc_in(min(cross[i]), real_dc[i]) for i in range(n)]),
        "real_pr": np.array(real_pr),
        "real_dc": np.array(real_dc),
    }


def _float_sets() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    return rng.normal(size=(60, 8)), rng.normal(size=(50, 8)) * 1.2 + 0.3


def _tied_sets() -> tuple[np.ndarray, np.ndarray]:
    # 3 values in 3 dimensions: 27 cells for 110 points, so duplicates and equal distances everywhere.
    rng = np.random.default_rng(4)
    return rng.integers(0, 3, size=(60, 3)).astype(float), rng.integers(0, 3, size=(50, 3)).astype(float)


def _ours(real: np.ndarray, fake: np.ndarray, **kw) -> dict[str, np.ndarray]:
    return {
        "precision": precision_indicators(real, fake, 3, **kw),
        "recall": recall_indicators(real, fake, 3, **kw),
        "density": density_counts(real, fake, 5, **kw),
        "coverage": coverage_indicators(real, fake, 5, **kw),
    }


KEYS = ("precision", "recall", "density", "coverage")


@pytest.mark.parametrize("sets", [_float_sets, _tied_sets], ids=["float", "ties"])
def test_prdc_equals_brute_force_exactly(sets):
    real, fake = sets()
    reference = _reference_prdc(real, fake)
    ours, combined, means = _ours(real, fake), prdc_per_point(real, fake), prdc(real, fake)
    for key in KEYS:
        assert np.array_equal(ours[key], reference[key]), key
        assert np.array_equal(combined[key], reference[key]), key
        assert means[key] == reference[key].mean(), key
    radii = knn_radii_sq(real, 3)
    if sets is _tied_sets:  # integer data: every squared distance is exact
        assert np.array_equal(radii, reference["real_pr"])
    else:
        assert np.allclose(radii, reference["real_pr"], rtol=1e-12, atol=0)


def test_tied_sets_really_sit_on_ball_boundaries():
    real, fake = _tied_sets()
    reference = _reference_prdc(real, fake)
    flipped = _reference_prdc(real, fake, pr_le=False, dc_lt=False)
    # Each rule (<= for precision/recall, < for density/coverage) changes the answer on this data, so the
    # exact-equality test above would catch an implementation using the other one.
    for key in KEYS:
        assert not np.array_equal(reference[key], flipped[key]), key


def test_chunking_does_not_change_results():
    real, fake = _tied_sets()
    assert np.array_equal(knn_radii_sq(real, 5), knn_radii_sq(real, 5, max_bytes=1))
    for real, fake in (_float_sets(), _tied_sets()):
        whole, chunked = _ours(real, fake), _ours(real, fake, max_bytes=1)  # 1 byte: one row per block
        for key in KEYS:
            assert np.array_equal(whole[key], chunked[key]), key
        combined_whole, combined_chunked = prdc_per_point(real, fake), prdc_per_point(real, fake, max_bytes=500)
        for key in KEYS:
            assert np.array_equal(combined_whole[key], combined_chunked[key]), key
        # BLAS rounds a dot product differently for different block shapes (last bit), so float radii agree
        # to rounding only; the memberships above, and everything on integer data, are identical.
        assert np.allclose(knn_radii_sq(real, 5), knn_radii_sq(real, 5, max_bytes=1), rtol=1e-14, atol=0)
        radii = knn_radii_sq(real, 3)
        assert np.array_equal(
            inside_counts(fake, real, radii, strict=False), inside_counts(fake, real, radii, strict=False, max_bytes=1)
        )


def test_prdc_matches_prdc_package():
    prdc_package = pytest.importorskip("prdc")
    # The prdc package (0.2) decides every membership with strict <, also for precision and recall,
    # where Kynkaanniemi et al. use <=. On float data no distance equals a radius, so all four values
    # agree; on tied data its precision/recall are the strict-< variant and differ from ours.
    real, fake = _float_sets()
    theirs = prdc_package.compute_prdc(real, fake, nearest_k=5)
    ours = prdc(real, fake, k_pr=5, k_dc=5)
    for key in KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12), key

    real, fake = _tied_sets()
    theirs = prdc_package.compute_prdc(real, fake, nearest_k=5)
    strict = _reference_prdc(real, fake, k_pr=5, pr_le=False)
    ours = prdc(real, fake, k_pr=5, k_dc=5)
    for key in ("precision", "recall"):
        assert theirs[key] == pytest.approx(strict[key].mean(), abs=1e-12), key
        assert ours[key] != pytest.approx(theirs[key], abs=1e-12), key
    for key in ("density", "coverage"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12), key


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda r, f: knn_radii_sq(r[:3], 3), "3 points"),
        (lambda r, f: precision_indicators(r[:3], f, 3), "real set"),
        (lambda r, f: recall_indicators(r, f[:3], 3), "fake set"),
        (lambda r, f: density_counts(r[:5], f, 5), "real set"),
        (lambda r, f: coverage_indicators(r[:4], f, 5), "real set"),
        (lambda r, f: prdc(r, f[:3]), "fake set"),
        (lambda r, f: prdc(r, f[:, :4]), "dimensions differ"),
    ],
)
def test_too_few_points_or_bad_shapes_raise_value_error(call, message):
    real, fake = _float_sets()
    with pytest.raises(ValueError, match=message):
        call(real, fake)
