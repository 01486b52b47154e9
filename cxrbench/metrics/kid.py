"""Kernel Inception Distance: unbiased MMD^2 under the cubic polynomial kernel, in float64.

KID = MMD^2_u with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018). Two ways to get a spread:
- `kid_subsets` reproduces torch-fidelity's mean and std over random subsets (for comparability with
  published numbers);
- `kid_bootstrap_statistic` gives a fast statistic for resampling real and fake rows with replacement
  (what cxrbench reports as its interval).

Both avoid recomputing kernels where they can: a resampled or subsampled set is a multiset of the
original rows, so with c[i] = how often row i is taken, the sum of the resampled kernel matrix is c'Kc
and the sum of its diagonal positions is c . diag(K). That turns each resample into three n x n
matrix-vector products instead of three kernel matrices (d-dimensional dot products) per resample.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

import numpy as np

TORCH_FIDELITY_SEED = 2020  # torch-fidelity's default `rng_seed`
DEFAULT_MAX_BYTES = 256 * 2**20  # whole kernel matrices are held up to this size
BLOCK_BYTES = 32 * 2**20  # otherwise they are made in row blocks this size (large enough for fast products)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3 for features x [N, D] and y [M, D]; float64 [N, M]."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    kernel = x @ y.T  # in place from here: the same operations as (x @ y.T / d + 1) ** 3, one buffer
    kernel /= x.shape[1]
    kernel += 1.0
    kernel **= 3
    return kernel


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 from kernel matrices k_xx [N, N], k_yy [M, M], k_xy [N, M].

    The within-set means leave out the diagonals (N(N-1) and M(M-1) pairs); the cross mean keeps all
    N M pairs. For N == M this is torch-fidelity's `mmd2(..., mmd_est="unbiased")`. Needs N, M >= 2.
    """
    n, m = k_xx.shape[0], k_yy.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"unbiased MMD^2 needs at least 2 points per set, got {n} and {m}")
    xx = k_xx.sum() - np.trace(k_xx)
    yy = k_yy.sum() - np.trace(k_yy)
    return float(xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * k_xy.sum() / (n * m))


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} features must be [N >= 2, D], got shape {x.shape}")
    return x


class _KernelSums:
    """The three kernel matrices of two sets, and the MMD^2 of any multiset of their rows.

    The matrices are held only when they fit in ``max_bytes`` (``full``); otherwise ``mmd2_many``
    computes them in row blocks of at most ``max_bytes`` each, once for all the multisets it is
    given, so memory stays the features plus one block however large the sets are.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.x, self.y, self.max_bytes = x, y, max_bytes
        n, m = len(x), len(y)
        self.full = (n * n + m * m + n * m) * 8 <= max_bytes
        if self.full:
            self.k_xx, self.k_yy, self.k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
            self.diag_xx, self.diag_yy = np.diagonal(self.k_xx).copy(), np.diagonal(self.k_yy).copy()
        else:
            self.diag_xx, self.diag_yy = _kernel_diagonal(x), _kernel_diagonal(y)

    def mmd2(self, cx: np.ndarray, cy: np.ndarray) -> float:
        """Unbiased MMD^2 of the multisets taking row i of x cx[i] times and row j of y cy[j] times.

        Diagonal *positions* are left out (a row drawn twice still pairs with its copy), which is what
        the unbiased estimator computed on the resampled rows does.
        """
        if not self.full:
            return float(self.mmd2_many(cx[:, None], cy[:, None])[0])
        n, m = cx.sum(), cy.sum()
        if n < 2 or m < 2:
            raise ValueError(f"unbiased MMD^2 needs at least 2 points per set, got {n:g} and {m:g}")
        xx = cx @ (self.k_xx @ cx) - cx @ self.diag_xx
        yy = cy @ (self.k_yy @ cy) - cy @ self.diag_yy
        xy = cx @ (self.k_xy @ cy)
        return float(xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (n * m))

    def mmd2_many(self, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        """``mmd2`` for R multisets at once: counts cx [N, R] and cy [M, R] -> float64 [R]."""
        n, m = cx.sum(axis=0), cy.sum(axis=0)
        if (n < 2).any() or (m < 2).any():
            raise ValueError("unbiased MMD^2 needs at least 2 points per set in every multiset")
        xx = self._quadratic(self.x, self.x, cx, cx, "k_xx") - self.diag_xx @ cx
        yy = self._quadratic(self.y, self.y, cy, cy, "k_yy") - self.diag_yy @ cy
        xy = self._quadratic(self.x, self.y, cx, cy, "k_xy")
        return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (n * m)

    def _quadratic(self, a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray, name: str) -> np.ndarray:
        """[R] values ca[:, r]' K(a, b) cb[:, r], K in row blocks of at most ``max_bytes`` unless held."""
        if self.full:
            return np.einsum("ir,ir->r", ca, getattr(self, name) @ cb)
        rows = max(1, min(self.max_bytes, BLOCK_BYTES) // (8 * (len(b) + cb.shape[1])))  # block + its product
        total = np.zeros(ca.shape[1])
        for start in range(0, len(a), rows):
            block = polynomial_kernel(a[start : start + rows], b)
            total += np.einsum("ir,ir->r", ca[start : start + rows], block @ cb)
        return total


def _kernel_diagonal(x: np.ndarray) -> np.ndarray:
    """k(x_i, x_i) for every row of x [N, D]."""
    return (np.einsum("ij,ij->i", x, x) / x.shape[1] + 1.0) ** 3


def kid_subsets(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = TORCH_FIDELITY_SEED,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[float, float]:
    """KID mean and std over random subsets, as torch-fidelity's `kid_features_to_metric`.

    real [N, D] and fake [M, D] features. The subsets are drawn exactly as torch-fidelity 0.4 draws
    them: one `np.random.RandomState(seed)`; for each subset, `choice(N, s, replace=False)` for the
    real rows, then `choice(M, s, replace=False)` for the fake rows. The std is numpy's population
    std (ddof=0) over the `subsets` values. For the same features and seed, mean and std equal
    torch-fidelity's `kernel_inception_distance_mean` / `_std` (which computes in the features'
    dtype: pass float64 features to torch-fidelity to compare beyond float32 rounding).

    One deliberate difference: the subset size is s = min(subset_size, N, M) instead of an error when
    a set is smaller than `subset_size`. When s equals N and M every subset is the whole set, so the
    std over subsets is 0 (rounding noise in torch-fidelity) and says nothing about uncertainty; that
    is why cxrbench reports bootstrap intervals (`kid_bootstrap_statistic`) instead.

    Kernels of the full sets are computed once and reused when they fit in `max_bytes` and cost less
    than per-subset kernels; otherwise each subset gets its own kernels, as in torch-fidelity.
    """
    x, y = _as_features(real, "real"), _as_features(fake, "fake")
    n, m = len(x), len(y)
    s = min(subset_size, n, m)
    if s < 2 or subsets < 1:
        raise ValueError(f"need subset size >= 2 and subsets >= 1, got {s} and {subsets}")
    full_entries = n * n + m * m + n * m
    reuse = full_entries * 8 <= max_bytes and full_entries <= 3 * subsets * s * s
    sums = _KernelSums(x, y) if reuse else None
    rng = np.random.RandomState(seed)  # legacy RNG: the draws must match torch-fidelity's one by one
    values = np.empty(subsets)
    for i in range(subsets):
        ix = rng.choice(n, s, replace=False)
        iy = rng.choice(m, s, replace=False)
        if sums is not None:
            values[i] = sums.mmd2(
                np.bincount(ix, minlength=n).astype(np.float64), np.bincount(iy, minlength=m).astype(np.float64)
            )
        else:
            xs, ys = x[ix], y[iy]
            values[i] = mmd2_unbiased(polynomial_kernel(xs, xs), polynomial_kernel(ys, ys), polynomial_kernel(xs, ys))
    return float(values.mean()), float(values.std())


def kid_bootstrap_statistic(
    real: np.ndarray, fake: np.ndarray, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Callable[[np.ndarray, np.ndarray], float]:
    """A function f(real_index, fake_index) -> unbiased MMD^2 of real[real_index] and fake[fake_index].

    real [N, D], fake [M, D]; indices are int arrays (with repeats, as bootstrap resampling draws them;
    at least 2 each). The kernel matrices are computed once here when their (N^2 + M^2 + N M) float64
    entries fit in ``max_bytes``, and each call costs three matrix-vector products; larger sets
    recompute them in row blocks at every call (``kid_bootstrap`` also gives a function for many
    resamples at once). Positions i == j of the resampled within-set matrices are left out, so a row drawn twice still
    contributes its pairing with its copy:
    f equals `mmd2_unbiased` of `polynomial_kernel` on the resampled rows.
    """
    return _statistic(_KernelSums(_as_features(real, "real"), _as_features(fake, "fake"), max_bytes))


def _statistic(sums: _KernelSums) -> Callable[[np.ndarray, np.ndarray], float]:
    n, m = len(sums.x), len(sums.y)

    def statistic(real_index: np.ndarray, fake_index: np.ndarray) -> float:
        cx = np.bincount(np.asarray(real_index).ravel(), minlength=n).astype(np.float64)
        cy = np.bincount(np.asarray(fake_index).ravel(), minlength=m).astype(np.float64)
        if len(cx) != n or len(cy) != m:
            raise IndexError(f"indices must lie in [0, {n}) and [0, {m})")
        return sums.mmd2(cx, cy)

    return statistic


def kid_bootstrap(
    real: np.ndarray, fake: np.ndarray, *, max_bytes: int = BLOCK_BYTES
) -> tuple[Callable[[np.ndarray, np.ndarray], float], Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """``kid_bootstrap_statistic`` of the two sets, and the same for R resamples at once:
    (real counts [N, R], fake counts [M, R]) -> the R unbiased MMD^2, where column r counts how
    often each row is drawn in resample r.

    The batch function holds whole kernel matrices only up to ``max_bytes`` (else row blocks, so
    memory is the features, the counts and one block); the one-resample function (paired
    comparisons) builds its kernels on its first call only.
    """
    x, y = _as_features(real, "real"), _as_features(fake, "fake")
    batch = _KernelSums(x, y, max_bytes)
    if batch.full:
        return _statistic(batch), batch.mmd2_many
    held = cache(lambda: _statistic(_KernelSums(x, y)))  # whole matrices, made only if a caller needs them
    return (lambda real_index, fake_index: held()(real_index, fake_index)), batch.mmd2_many
