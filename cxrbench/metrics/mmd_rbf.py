"""CMMD: MMD^2 under a Gaussian RBF kernel (Jayasumana et al., CVPR 2024), in float64 and row blocks.

CMMD = scale * MMD^2 with k(a, b) = exp(-gamma |a - b|^2), gamma = 1 / (2 sigma^2), sigma = 10 and
scale = 1000, on L2-normalised CLIP ViT-L/14@336 image embeddings (768-d). These are the constants and
the formula of the released code (google-research `cmmd/distance.py`, `mmd`); the embedding and its
normalisation are the feature extractor's job, not this module's.

Estimators. The paper states the unbiased estimator (U-statistic: within-set means over the N(N-1)
pairs i != j); the released code computes the biased one (V-statistic: `jnp.mean` over all N^2
entries, diagonal included), which is what published CMMD numbers are. The default here is therefore
"biased", so values are comparable with published ones; "unbiased" is available and is the one whose
expectation is 0 when both sets come from the same distribution.

Numerics. The released code works in float32 (JAX's default) on kernel values close to 1 (for unit
vectors, |a - b|^2 <= 4, so k >= exp(-0.02)), and MMD^2 is a small difference of their means, so
float32 leaves about 1e-3 relative error. Here everything is float64 and the sums are taken over
k - 1 = expm1(-gamma d^2) instead of k: the constant 1 cancels exactly between the three means (their
weights are +1, +1, -2), so nothing near 1 is ever summed. Squared distances come from
|a|^2 + |b|^2 - 2 a.b, clipped at 0 (rounding can make them slightly negative), and the diagonal of a
within-set matrix is set to exactly 0 (so k(a_i, a_i) is exactly 1, as it is mathematically).

Memory. Kernel matrices are never held: they are made in row blocks of at most ``max_bytes``, and a
within-set matrix only as its upper triangle (off-diagonal blocks counted twice), so memory is the
features plus one block however large N is, and the within-set work is halved.

Resampling. A bootstrap resample is a multiset of the original rows; with c[i] = how often row i is
taken, the resampled sum of k - 1 over all positions is c'(K - 1)c, and k - 1 is 0 on the diagonal
positions (a row paired with itself or its copy). ``cmmd_multisets`` evaluates R multisets in one pass
over the kernel blocks (each block is made once, then multiplied by the [N, R] counts), which is what
per-resample recomputation would cost for one resample.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

SIGMA = 10.0  # `_SIGMA` in google-research cmmd/distance.py
SCALE = 1000.0  # `_SCALE` there: "to make the metric more human readable"
BLOCK_BYTES = 32 * 2**20  # one kernel row block at most this size (large enough for fast products)

Estimator = Literal["biased", "unbiased"]


def rbf_gamma(sigma: float) -> float:
    """gamma = 1 / (2 sigma^2) of k(a, b) = exp(-gamma |a - b|^2), as in the reference code."""
    return 1.0 / (2.0 * sigma**2)


def cmmd(
    x: np.ndarray,
    y: np.ndarray,
    sigma: float = SIGMA,
    scale: float = SCALE,
    estimator: Estimator = "biased",
    *,
    max_bytes: int = BLOCK_BYTES,
) -> float:
    """scale * MMD^2 between embeddings x [N, D] and y [M, D] under the Gaussian RBF kernel of width sigma.

    estimator "biased" (default, the released code's V-statistic: all N^2, M^2 and N M pairs, diagonals
    included; always >= 0, exactly 0 for x == y) or "unbiased" (the paper's U-statistic: diagonals left
    out of the within-set means; needs N, M >= 2; can be negative). With the defaults and float64
    inputs, "biased" equals google-research's `distance.mmd(x, y)` up to that code's float32 rounding.
    ``max_bytes`` bounds one kernel row block (memory does not grow with N^2).
    """
    a, b = _as_embeddings(x, "x"), _as_embeddings(y, "y")
    _check_pair(a, b)
    ones_x, ones_y = np.ones((len(a), 1)), np.ones((len(b), 1))
    return float(_mmd2_multisets(a, b, ones_x, ones_y, sigma, estimator, max_bytes)[0] * scale)


def cmmd_multisets(
    x: np.ndarray,
    y: np.ndarray,
    counts_x: np.ndarray,
    counts_y: np.ndarray,
    sigma: float = SIGMA,
    scale: float = SCALE,
    estimator: Estimator = "biased",
    *,
    max_bytes: int = BLOCK_BYTES,
) -> np.ndarray:
    """``cmmd`` of R multisets of rows at once: float64 [R].

    counts_x [N, R] and counts_y [M, R] (non-negative, whole numbers as floats or ints): column r says
    how often each row of x [N, D] and y [M, D] is taken in multiset r; for a bootstrap resample with
    indices idx, the column is ``np.bincount(idx, minlength=N)``. Value r equals ``cmmd(x[idx_r],
    y[idy_r])``: a row taken twice pairs with its copy (kernel value 1), and the unbiased estimator
    leaves out only diagonal *positions*, as it does on the resampled rows. Each kernel block is made
    once for all R columns; memory is the features, the counts and one block of ``max_bytes``.
    """
    a, b = _as_embeddings(x, "x"), _as_embeddings(y, "y")
    _check_pair(a, b)
    cx = np.asarray(counts_x, dtype=np.float64)
    cy = np.asarray(counts_y, dtype=np.float64)
    if cx.ndim != 2 or cy.ndim != 2 or cx.shape[0] != len(a) or cy.shape[0] != len(b) or cx.shape[1] != cy.shape[1]:
        raise ValueError(
            f"counts must be [N, R] and [M, R] for N = {len(a)}, M = {len(b)}, got {cx.shape} and {cy.shape}"
        )
    if (cx < 0).any() or (cy < 0).any():
        raise ValueError("counts must be non-negative (how often each row is taken)")
    return _mmd2_multisets(a, b, cx, cy, sigma, estimator, max_bytes) * scale


def _mmd2_multisets(
    a: np.ndarray, b: np.ndarray, cx: np.ndarray, cy: np.ndarray, sigma: float, estimator: str, max_bytes: int
) -> np.ndarray:
    if estimator not in ("biased", "unbiased"):
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    n, m = cx.sum(axis=0), cy.sum(axis=0)
    least = 2 if estimator == "unbiased" else 1
    if (n < least).any() or (m < least).any():
        raise ValueError(f"{estimator} MMD^2 needs at least {least} point(s) per set in every multiset")
    gamma = rbf_gamma(sigma)
    xx = _excess_sums_within(a, cx, gamma, max_bytes)
    yy = _excess_sums_within(b, cy, gamma, max_bytes)
    xy = _excess_sums_between(a, b, cx, cy, gamma, max_bytes)
    # mean(K) = 1 + sum(K - 1) / pairs; the 1s cancel between the three means (weights +1, +1, -2)
    pairs_x, pairs_y = (n * n, m * m) if estimator == "biased" else (n * (n - 1), m * (m - 1))
    return xx / pairs_x + yy / pairs_y - 2.0 * xy / (n * m)


def _excess_kernel(
    a: np.ndarray, norms_a: np.ndarray, b: np.ndarray, norms_b: np.ndarray, gamma: float, zero_diagonal: bool = False
) -> np.ndarray:
    """k - 1 = expm1(-gamma |a_i - b_j|^2) for a [R, D], b [C, D]; float64 [R, C], made in one buffer.

    ``zero_diagonal``: positions (i, i) are the same point (a is the first R rows of b), distance 0.
    """
    block = a @ b.T
    block *= -2.0
    block += norms_a[:, None]
    block += norms_b[None, :]
    np.maximum(block, 0.0, out=block)  # rounding can make a squared distance slightly negative
    if zero_diagonal:
        index = np.arange(len(a))
        block[index, index] = 0.0
    block *= -gamma
    np.expm1(block, out=block)
    return block


def _block_rows(columns: int, multisets: int, max_bytes: int) -> int:
    return max(1, max_bytes // (8 * (columns + multisets)))  # the block and its product with the counts


def _excess_sums_within(a: np.ndarray, counts: np.ndarray, gamma: float, max_bytes: int) -> np.ndarray:
    """[R] values c_r'(K - 1)c_r for K = k(a, a), from upper-triangle row blocks."""
    norms = np.einsum("ij,ij->i", a, a)
    rows = _block_rows(len(a), counts.shape[1], max_bytes)
    total = np.zeros(counts.shape[1])
    for start in range(0, len(a), rows):
        stop = min(start + rows, len(a))
        block = _excess_kernel(a[start:stop], norms[start:stop], a[start:], norms[start:], gamma, zero_diagonal=True)
        width = stop - start  # the diagonal square block counts once; blocks right of it stand for their mirrors too
        product = block[:, :width] @ counts[start:stop] + 2.0 * (block[:, width:] @ counts[stop:])
        total += np.einsum("ir,ir->r", counts[start:stop], product)
    return total


def _excess_sums_between(
    a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray, gamma: float, max_bytes: int
) -> np.ndarray:
    """[R] values ca_r'(K - 1)cb_r for K = k(a, b), from row blocks."""
    norms_a, norms_b = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    rows = _block_rows(len(b), ca.shape[1], max_bytes)
    total = np.zeros(ca.shape[1])
    for start in range(0, len(a), rows):
        block = _excess_kernel(a[start : start + rows], norms_a[start : start + rows], b, norms_b, gamma)
        total += np.einsum("ir,ir->r", ca[start : start + rows], block @ cb)
    return total


def _as_embeddings(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 1:
        raise ValueError(f"{name} embeddings must be [N >= 1, D], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} embeddings contain NaN or infinite values")
    return x


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y embeddings must have the same dimension, got {a.shape[1]} and {b.shape[1]}")
