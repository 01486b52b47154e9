"""CMMD (Gaussian-RBF MMD^2) and FD-infinity against brute-force and reference formulas."""

from __future__ import annotations

import numpy as np
import pytest

from cxrbench.metrics.frechet import frechet_distance, frechet_distance_features
from cxrbench.metrics.frechet_infinity import POINTS, default_sizes, dgm_eval_sizes, fd_infinity
from cxrbench.metrics.mmd_rbf import SCALE, SIGMA, cmmd, cmmd_multisets

# ---------------------------------------------------------------- CMMD


def dense_mmd2(x: np.ndarray, y: np.ndarray, sigma: float, unbiased: bool) -> float:
    """Brute force: every pairwise squared distance by broadcasting, then the textbook estimators."""

    def kernel(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    if unbiased:
        return (
            (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def reference_cmmd(x: np.ndarray, y: np.ndarray) -> float:
    """google-research cmmd/distance.py `mmd`, transcribed from jax.numpy to numpy (float64)."""
    x_sqnorms = np.diag(x @ x.T)
    y_sqnorms = np.diag(y @ y.T)
    gamma = 1 / (2 * SIGMA**2)
    k_xx = np.mean(np.exp(-gamma * (-2 * x @ x.T + x_sqnorms[:, None] + x_sqnorms[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * x @ y.T + x_sqnorms[:, None] + y_sqnorms[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * y @ y.T + y_sqnorms[:, None] + y_sqnorms[None, :])))
    return SCALE * (k_xx + k_yy - 2 * k_xy)


def embeddings(seed: int, n: int, d: int = 16, shift: float = 0.0, spread: float = 4.0) -> np.ndarray:
    # spread 4 in 16-d puts pair distances near sigma = 10, where the kernel is far from 0 and from 1
    return np.random.default_rng(seed).normal(size=(n, d)) * spread + shift


BLOCKS = [1, 8 * 80 * 3, 8 * 80 * 20, 2**30]  # one row per block, a few rows, many rows, everything at once


@pytest.mark.parametrize("max_bytes", BLOCKS)
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_cmmd_equals_brute_force_across_block_sizes(max_bytes, estimator):
    x, y = embeddings(0, 61), embeddings(1, 47, shift=0.7)
    expected = SCALE * dense_mmd2(x, y, SIGMA, unbiased=estimator == "unbiased")
    got = cmmd(x, y, estimator=estimator, max_bytes=max_bytes)
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("max_bytes", BLOCKS)
def test_biased_cmmd_equals_reference_code(max_bytes):
    x, y = embeddings(2, 50), embeddings(3, 50, shift=0.3)
    assert cmmd(x, y, max_bytes=max_bytes) == pytest.approx(reference_cmmd(x, y), rel=1e-10)


def test_unit_norm_embeddings_as_clip_gives_them():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(80, 64)), rng.normal(size=(90, 64)) + 0.1
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    assert cmmd(x, y, max_bytes=8 * 100 * 7) == pytest.approx(reference_cmmd(x, y), rel=1e-9)


def test_sigma_and_scale_are_used():
    x, y = embeddings(5, 30), embeddings(6, 30, shift=0.5)
    assert cmmd(x, y, sigma=3.0, scale=1.0) == pytest.approx(dense_mmd2(x, y, 3.0, unbiased=False), rel=1e-10)
    assert cmmd(x, y, scale=1.0) * 1000 == pytest.approx(cmmd(x, y), rel=1e-12)


def test_biased_cmmd_of_a_set_with_itself_is_zero():
    x = embeddings(7, 40)
    assert abs(cmmd(x, x)) < 1e-12
    assert abs(cmmd(x, x[::-1], max_bytes=1)) < 1e-12


def test_unbiased_cmmd_is_zero_in_expectation_for_one_distribution():
    unbiased, biased = [], []
    for i in range(300):
        x, y = embeddings(100 + i, 12), embeddings(10_000 + i, 12)
        unbiased.append(cmmd(x, y, estimator="unbiased"))
        biased.append(cmmd(x, y))
    unbiased, biased = np.array(unbiased), np.array(biased)
    stderr = unbiased.std(ddof=1) / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 4 * stderr
    assert biased.mean() > 20 * stderr  # the V-statistic's positive bias is visible at this size
    assert (biased >= 0).all()


@pytest.mark.parametrize("max_bytes", [1, 8 * 70 * 9, 2**30])
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_multisets_equal_cmmd_of_resampled_rows(max_bytes, estimator):
    x, y = embeddings(8, 33), embeddings(9, 29, shift=0.4)
    rng = np.random.default_rng(10)
    resamples = [(rng.integers(0, 33, 33), rng.integers(0, 29, 29)) for _ in range(5)]
    resamples.append((np.arange(33), np.arange(29)))  # the original sets
    cx = np.stack([np.bincount(ix, minlength=33) for ix, _ in resamples], axis=1)
    cy = np.stack([np.bincount(iy, minlength=29) for _, iy in resamples], axis=1)
    got = cmmd_multisets(x, y, cx, cy, estimator=estimator, max_bytes=max_bytes)
    for value, (ix, iy) in zip(got, resamples):
        expected = SCALE * dense_mmd2(x[ix], y[iy], SIGMA, unbiased=estimator == "unbiased")
        assert value == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cmmd(np.ones((4, 3)), np.ones((4, 2))), "same dimension"),
        (lambda: cmmd(np.ones((1, 3)), np.ones((4, 3)), estimator="unbiased"), "at least 2"),
        (lambda: cmmd(np.ones((4, 3)), np.ones((4, 3)), estimator="V"), "estimator"),
        (lambda: cmmd(np.ones((4, 3)), np.ones((4, 3)), sigma=0.0), "sigma"),
        (lambda: cmmd(np.ones(4), np.ones((4, 1))), "embeddings must be"),
        (lambda: cmmd(np.full((4, 3), np.nan), np.ones((4, 3))), "NaN"),
        (lambda: cmmd_multisets(np.ones((4, 3)), np.ones((4, 3)), np.ones((4, 2)), np.ones((4, 3))), "counts"),
        (lambda: cmmd_multisets(np.ones((4, 3)), np.ones((4, 3)), -np.ones((4, 1)), np.ones((4, 1))), "non-negative"),
    ],
)
def test_cmmd_refuses_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- FD-infinity

D = 16
_rng = np.random.default_rng(20)
_A, _B = _rng.normal(size=(D, D)) / np.sqrt(D), _rng.normal(size=(D, D)) / np.sqrt(D)
COV_REAL, COV_FAKE = _A @ _A.T + 0.1 * np.eye(D), _B @ _B.T + 0.1 * np.eye(D)
MEAN_FAKE = _rng.normal(size=D) * 0.3
TRUE_FD = frechet_distance(np.zeros(D), COV_REAL, MEAN_FAKE, COV_FAKE)  # closed form of the two Gaussians


def gaussian_sets(seed: int, n: int = 128, m: int = 128) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.multivariate_normal(np.zeros(D), COV_REAL, size=n)
    fake = rng.multivariate_normal(MEAN_FAKE, COV_FAKE, size=m)
    return real, fake


def test_fd_infinity_is_closer_to_the_true_fd_than_fd_at_n():
    sets = [gaussian_sets(30 + i) for i in range(20)]
    fd_n = np.mean([frechet_distance_features(x, y) for x, y in sets])
    both = np.mean([fd_infinity(x, y, seed=i)[0] for i, (x, y) in enumerate(sets)])
    generated = np.mean([fd_infinity(x, y, seed=i, subsample="generated")[0] for i, (x, y) in enumerate(sets)])
    bias_n = fd_n - TRUE_FD
    assert bias_n > 0.5  # the finite-sample bias this corrects is really there
    assert abs(both - TRUE_FD) < 0.3 * bias_n
    # the reference scheme (real set fixed) removes only the generated side's share of the bias
    assert abs(both - TRUE_FD) < abs(generated - TRUE_FD) < bias_n


def test_fit_is_least_squares_on_the_documented_draws():
    x, y = gaussian_sets(40, n=100, m=120)
    value, details = fd_infinity(x, y, seed=3)
    sizes = np.array(details["sizes"])
    assert sizes.tolist() == default_sizes(120, D).tolist()
    # redo the draws as documented: per size, the generated rows, then the same fraction of real rows
    rng = np.random.default_rng(3)
    fds = []
    for size in sizes:
        fake = y[rng.choice(120, size, replace=False)]
        real_size = int(round(size * 100 / 120))
        real = x[rng.choice(100, real_size, replace=False)]
        fds.append(frechet_distance_features(real, fake))
    assert details["fd"] == pytest.approx(fds, rel=1e-12)
    # ordinary least squares through the normal equations: FD = intercept + slope / n
    design = np.stack([np.ones(len(sizes)), 1.0 / sizes], axis=1)
    intercept, slope = np.linalg.solve(design.T @ design, design.T @ np.array(fds))
    assert value == details["intercept"] == pytest.approx(intercept, rel=1e-8)
    assert details["slope"] == pytest.approx(slope, rel=1e-8)
    assert details["fd"][-1] == pytest.approx(frechet_distance_features(x, y), rel=1e-9)  # n' = M: the whole sets


def test_generated_subsample_keeps_the_whole_real_set():
    x, y = gaussian_sets(41, n=90, m=128)
    _, details = fd_infinity(x, y, sizes=[40, 80, 128], subsample="generated")
    assert details["real_sizes"] == [90, 90, 90]
    assert details["sizes"] == [40, 80, 128]


def test_fd_infinity_is_deterministic_for_a_seed():
    x, y = gaussian_sets(42)
    assert fd_infinity(x, y, seed=5) == fd_infinity(x, y, seed=5)
    assert fd_infinity(x, y, seed=5)[0] != fd_infinity(x, y, seed=6)[0]


def test_size_schedules():
    assert dgm_eval_sizes(50_000).tolist() == np.linspace(5000, 50_000, 15).astype(int).tolist()
    assert dgm_eval_sizes(128)[0] == 12 and dgm_eval_sizes(128)[-1] == 128
    assert len(default_sizes(128, 2048)) == POINTS
    assert default_sizes(128, 2048)[0] == 64  # D above M / 2: the top half
    assert default_sizes(128, 48)[0] == 48  # D between M / 4 and M / 2
    assert default_sizes(1000, 64)[0] == 250  # D below M / 4
    assert default_sizes(1000, 64)[-1] == 1000


@pytest.mark.parametrize(
    "n, m, sizes, message",
    [
        (128, 128, [64, 129], "do not fit"),
        (128, 128, [1, 64], "do not fit"),
        (2, 2, None, "do not fit"),
        (3, 128, [32, 128], "do not fit"),  # 32 / 128 of 3 real rows rounds to 1 real row
        (128, 128, [64, 64], "two distinct"),
        (128, 128, [64.5, 128], "whole numbers"),
    ],
)
def test_fd_infinity_refuses_sets_too_small_for_the_sizes(n, m, sizes, message):
    x, y = gaussian_sets(43, n=n, m=m)
    with pytest.raises(ValueError, match=message):
        fd_infinity(x, y, sizes=sizes)
