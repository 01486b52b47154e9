"""Improved precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020).

The radius of a point is the distance to its k-th nearest neighbour in its own set, itself excluded.
- precision: fraction of fakes inside (<=) the ball of SOME real point (k = 3);
- recall: fraction of reals inside (<=) the ball of some fake point (k = 3);
- density: (1 / (k M)) * sum over fakes of the number of real balls strictly (<) containing it (k = 5);
- coverage: fraction of reals whose nearest fake lies strictly (<) inside their own ball (k = 5).

Everything works in squared Euclidean distances (the comparisons are the same as on distances).
Every radius and every < / <= is decided on the direct distance sum((x - y)^2) in float64
(`distances.DistanceBlock`): a duplicate is at exactly 0, equal pairs give equal values, so the
results are those of the definitions on the full direct distance matrix, for any data and any
block size. The fast BLAS expansion only selects the few entries near a decision that need the
direct value. Distances come in row blocks sized from `max_bytes`, so no N x M matrix is ever
held: 50k x 50k needs the features plus a block, not 20 GB.

Functions return per-point arrays (the metric takes the mean and bootstraps over points).
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.distances import DEFAULT_MAX_BYTES, distance_blocks


def _features(x: np.ndarray, name: str, more_than: int = 0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} features must be a 2-d array [N, D], got shape {x.shape}")
    if len(x) <= more_than:
        raise ValueError(
            f"{name} set has {len(x)} points; k = {more_than} nearest neighbours need more than {more_than}"
        )
    if not np.isfinite(x).all():
        raise ValueError(f"{name} features contain NaN or infinite values")
    return x


def _same_dim(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")


def _knn_radii_sq(x: np.ndarray, ks: list[int], max_bytes: int) -> list[np.ndarray]:
    radii = [np.empty(len(x)) for _ in ks]
    for block in distance_blocks(x, x, max_bytes):
        # Self is excluded by position, not by value: a duplicate point is a neighbour at distance 0.
        for out, values in zip(radii, block.kth_smallest(ks, exclude_self=True)):
            out[block.start : block.stop] = values
    return radii


def knn_radii_sq(x: np.ndarray, k: int, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Squared distance from each point of x [N, D] to its k-th nearest neighbour in x, itself excluded; [N].

    The direct value sum((x_i - x_j)^2) of that neighbour, so it does not depend on `max_bytes`.
    """
    x = _features(x, "input", more_than=k)
    return _knn_radii_sq(x, [k], max_bytes)[0]


def inside_counts(
    points: np.ndarray,
    centres: np.ndarray,
    centres_radii_sq: np.ndarray,
    strict: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Number of balls (centres [C, D], squared radii [C]) containing each of points [P, D]; int64 [P].

    A point on a ball's boundary counts unless `strict`.
    """
    points, centres = _features(points, "points"), _features(centres, "centres")
    _same_dim(points, centres)
    radii = np.asarray(centres_radii_sq, dtype=np.float64)
    if radii.shape != (len(centres),):
        raise ValueError(f"need one squared radius per centre ({len(centres)}), got shape {radii.shape}")
    counts = np.empty(len(points), dtype=np.int64)
    for block in distance_blocks(points, centres, max_bytes):
        counts[block.start : block.stop] = block.within(radii[None, :], strict).sum(axis=1)
    return counts


def precision_indicators(
    real: np.ndarray, fake: np.ndarray, k: int = 3, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray:
    """For each fake [M], whether it lies in some real point's k-NN ball (<=); bool [M]."""
    real, fake = _features(real, "real", more_than=k), _features(fake, "fake")
    return inside_counts(fake, real, knn_radii_sq(real, k, max_bytes), strict=False, max_bytes=max_bytes) > 0


def recall_indicators(real: np.ndarray, fake: np.ndarray, k: int = 3, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """For each real [N], whether it lies in some fake point's k-NN ball (<=); bool [N]."""
    real, fake = _features(real, "real"), _features(fake, "fake", more_than=k)
    return inside_counts(real, fake, knn_radii_sq(fake, k, max_bytes), strict=False, max_bytes=max_bytes) > 0


def density_counts(real: np.ndarray, fake: np.ndarray, k: int = 5, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """For each fake [M], the number of real k-NN balls strictly containing it, divided by k; float64 [M].

    density = the mean of this array (it can exceed 1).
    """
    real, fake = _features(real, "real", more_than=k), _features(fake, "fake")
    counts = inside_counts(fake, real, knn_radii_sq(real, k, max_bytes), strict=True, max_bytes=max_bytes)
    return counts / k


def coverage_indicators(
    real: np.ndarray, fake: np.ndarray, k: int = 5, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray:
    """For each real [N], whether its nearest fake lies strictly inside its k-NN ball; bool [N].

    The nearest fake is strictly inside exactly when some fake is, so this is an "any" over fakes.
    """
    real, fake = _features(real, "real", more_than=k), _features(fake, "fake")
    _same_dim(real, fake)
    radii = knn_radii_sq(real, k, max_bytes)
    covered = np.empty(len(real), dtype=bool)
    for block in distance_blocks(real, fake, max_bytes):
        covered[block.start : block.stop] = block.within(radii[block.start : block.stop, None], strict=True).any(axis=1)
    return covered


def prdc_per_point(
    real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, np.ndarray]:
    """All four per-point arrays in three distance passes instead of eight.

    Returns precision (bool [M]), recall (bool [N]), density (float64 [M], count / k_dc) and coverage
    (bool [N]), identical to the four separate functions.
    """
    real = _features(real, "real", more_than=max(k_pr, k_dc))
    fake = _features(fake, "fake", more_than=k_pr)
    _same_dim(real, fake)
    real_pr, real_dc = _knn_radii_sq(real, [k_pr, k_dc], max_bytes)
    (fake_pr,) = _knn_radii_sq(fake, [k_pr], max_bytes)
    precision = np.empty(len(fake), dtype=bool)
    density = np.empty(len(fake))
    recall = np.zeros(len(real), dtype=bool)
    coverage = np.zeros(len(real), dtype=bool)
    # One pass over fake-vs-real blocks: per-fake results come out per row, per-real results are
    # accumulated over rows (any), so nothing needs the full M x N matrix. Coverage: the nearest fake
    # is strictly inside a real ball exactly when some fake is.
    for block in distance_blocks(fake, real, max_bytes):
        rows = slice(block.start, block.stop)
        precision[rows] = block.within(real_pr[None, :], strict=False).any(axis=1)
        inside_dc = block.within(real_dc[None, :], strict=True)
        density[rows] = inside_dc.sum(axis=1) / k_dc
        coverage |= inside_dc.any(axis=0)
        recall |= block.within(fake_pr[rows, None], strict=False).any(axis=0)
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def prdc(
    real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, float]:
    """precision, recall (k_pr), density, coverage (k_dc) of fake [M, D] against real [N, D]."""
    return {name: float(values.mean()) for name, values in prdc_per_point(real, fake, k_pr, k_dc, max_bytes).items()}
