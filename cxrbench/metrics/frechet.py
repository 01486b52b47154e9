"""Exact Frechet distance between Gaussians, without scipy's general matrix square root.

FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2). Two exact routes to the last term:
- from statistics: the sum of square roots of the eigenvalues of S1^1/2 S2 S1^1/2, a symmetric
  PSD matrix (two `eigh` calls; no complex parts to discard, no iterative refinement);
- from features, when there are no more samples than dimensions: with S1 = A'A and S2 = B'B
  (A, B the centred features over sqrt(n - 1)), the eigenvalues of S1 S2 are the squared
  singular values of A B', so the term is the nuclear norm of the n1 x n2 matrix A B'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] (float64) of features [N, D]."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


@dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of features [N, D]: count, sum [D], sum of outer products [D, D] (float64).

    Shards (batches, processes, machines) merge exactly by adding the three parts, so the FD of
    merged shards is the FD of the whole set, never an average of per-shard FDs.
    """

    count: int
    total: np.ndarray
    outer: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> "GaussianStats":
        x = np.asarray(features, dtype=np.float64)
        return cls(len(x), x.sum(axis=0), x.T @ x)

    def merge(self, other: "GaussianStats") -> "GaussianStats":
        return GaussianStats(self.count + other.count, self.total + other.total, self.outer + other.outer)

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance (N - 1 in the denominator, as np.cov and torch-fidelity)."""
        mean = self.mean
        return (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)


def frechet_distance_stats(a: GaussianStats, b: GaussianStats) -> float:
    """Frechet distance between the Gaussians of two sets of sufficient statistics."""
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    root1 = _psd_sqrt(np.atleast_2d(sigma1))
    middle = root1 @ np.atleast_2d(sigma2) @ root1
    eigen = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = np.sqrt(np.clip(eigen, 0.0, None)).sum()
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def frechet_distance_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to features [N1, D] and [N2, D] (unbiased covariances).

    Picks the cheaper exact route: the n1 x n2 nuclear norm (one SVD) when min(N1, N2) <= D, else the
    D x D statistics (two eigendecompositions).
    """
    a = np.asarray(real, dtype=np.float64)
    b = np.asarray(fake, dtype=np.float64)
    if min(len(a), len(b)) > a.shape[1]:
        return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca = (a - mu_a) / np.sqrt(len(a) - 1)
    cb = (b - mu_b) / np.sqrt(len(b) - 1)
    trace_sqrt = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    diff = mu_a - mu_b
    return float(diff @ diff + (ca * ca).sum() + (cb * cb).sum() - 2.0 * trace_sqrt)
