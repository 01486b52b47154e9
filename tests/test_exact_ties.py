"""k-NN metrics decide ties exactly: duplicates, copies and real == fake, on float features, any block size.

The reference is the published definitions (REFERENCES.md, "Improved precision/recall" and
"Density/coverage") applied to the full matrix of direct squared distances sum((a - b)^2), built pair by
pair. Every comparison is on squared distances, which order like distances.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from cxrbench.metrics.distances import _row_groups, nearest
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

KEYS = ("precision", "recall", "density", "coverage")
BLOCK_SIZES = [1, 5_000, 32 * 2**20]  # one row per block, a few rows, everything in one block


def _direct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances [len(a), len(b)], each entry sum((a_i - b_j)^2) on its own."""
    return np.array([[np.sum((p - q) ** 2) for q in b] for p in a])


def _radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance to the k-th nearest neighbour, the point itself left out by position."""
    d = _direct(x, x)
    return np.array([np.sort(np.delete(d[i], i))[k - 1] for i in range(len(x))])


def _definition(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, np.ndarray]:
    cross = _direct(real, fake)  # [N, M]: real i to fake j
    real_pr, fake_pr, real_dc = _radii(real, k_pr), _radii(fake, k_pr), _radii(real, k_dc)
    return {
        "precision": (cross <= real_pr[:, None]).any(axis=0),
        "recall": (cross <= fake_pr[None, :]).any(axis=1),
        "density_counts": (cross < real_dc[:, None]).sum(axis=0),
        "coverage": cross.min(axis=1) < real_dc,
        "real_pr": real_pr,
        "real_dc": real_dc,
    }


def _rows(n: int, d: int = 64, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale


def _unit_rows(n: int, seed: int = 0) -> np.ndarray:
    x = _rows(n, 1024, seed=seed)  # like the `pixels` space: 32 x 32, centred, unit norm
    x -= x.mean(axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _same_20():
    x = _rows(20)
    return x, x.copy()


def _same_35():
    # At 35 rows OpenBLAS rounds a pair's dot product differently in the real-vs-real and the
    # fake-vs-real products, so the expansion alone decides some k-th-neighbour ties by noise.
    x = _rows(35)
    return x, x.copy()


def _copies_in_real():
    real = _rows(30, scale=1e3, seed=1)
    real[[3, 11, 17]] = real[5]
    return real, _rows(25, scale=1e3, seed=2)


def _copies_in_fake():
    fake = _rows(25, scale=1e-3, seed=3)
    fake[[0, 9]] = fake[4]
    fake[20] = fake[21]
    return _rows(30, scale=1e-3, seed=4), fake


def _copies_across():
    real, fake = _unit_rows(30, seed=5), _unit_rows(25, seed=6)
    fake[:12] = real[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 18, 18]]  # 12 copies, one real copied 3 times
    return real, fake


def _one_copied_image():
    # The folders: the same images as real and fake, one image appearing twice in each.
    real = _unit_rows(35, seed=0)
    real[34] = real[0]
    return real, real.copy()


def _copies_at_zero_radius():
    # 6 equal reals (their 3- and 5-NN radii are 0) and 4 equal fakes (3-NN radius 0), each also copied
    # into the other set: those copies sit exactly on a zero radius, where < and <= part ways.
    real, fake = _rows(30, scale=10.0, seed=10), _rows(25, scale=10.0, seed=11)
    real[:6] = real[6]
    fake[:4] = fake[4]
    real[29], fake[24] = fake[4], real[6]
    return real, fake


def _far_from_origin():
    # Norms ~1e6 times the distances: the expansion loses nearly all digits, so most entries are
    # recomputed; the answer must not change.
    real, fake = _rows(30, seed=12) + 1e6, _rows(25, seed=13) + 1e6
    fake[:5] = real[:5]
    return real, fake


SETS = [
    _same_20,
    _same_35,
    _copies_in_real,
    _copies_in_fake,
    _copies_across,
    _one_copied_image,
    _copies_at_zero_radius,
    _far_from_origin,
]


@pytest.mark.parametrize("max_bytes", BLOCK_SIZES)
@pytest.mark.parametrize("sets", SETS, ids=lambda f: f.__name__.strip("_"))
def test_prdc_equals_the_definition_on_direct_distances(sets, max_bytes):
    real, fake = sets()
    reference = _definition(real, fake)
    expected = {
        "precision": reference["precision"],
        "recall": reference["recall"],
        "density": reference["density_counts"] / 5,
        "coverage": reference["coverage"],
    }
    combined = prdc_per_point(real, fake, max_bytes=max_bytes)
    separate = {
        "precision": precision_indicators(real, fake, 3, max_bytes),
        "recall": recall_indicators(real, fake, 3, max_bytes),
        "density": density_counts(real, fake, 5, max_bytes),
        "coverage": coverage_indicators(real, fake, 5, max_bytes),
    }
    means = prdc(real, fake, max_bytes=max_bytes)
    for key in KEYS:
        assert np.array_equal(combined[key], expected[key]), key
        assert np.array_equal(separate[key], expected[key]), key
        assert means[key] == expected[key].mean(), key
    # Radii are the direct values themselves, whatever the block size.
    assert np.array_equal(knn_radii_sq(real, 3, max_bytes), reference["real_pr"])
    assert np.array_equal(knn_radii_sq(real, 5, max_bytes), reference["real_dc"])
    assert np.array_equal(
        inside_counts(fake, real, reference["real_dc"], strict=True, max_bytes=max_bytes), reference["density_counts"]
    )


@pytest.mark.parametrize("max_bytes", BLOCK_SIZES)
@pytest.mark.parametrize("sets", [_same_20, _same_35], ids=["20", "35"])
def test_real_equal_to_fake_gives_density_one_and_duplicates_zero_radii(sets, max_bytes):
    real, fake = sets()
    counts = density_counts(real, fake, 5, max_bytes) * 5
    # Each real ball strictly holds the point itself and its 4 nearer neighbours: 5 N in all, so the
    # definition's (1 / kM) sum is exactly 1.
    assert counts.sum() / (5 * len(fake)) == 1.0
    real, _ = _copies_in_real()
    radii = knn_radii_sq(real, 3, max_bytes)
    assert (radii[[3, 5, 11, 17]] == 0).all()  # 4 equal rows: each has 3 neighbours at exactly 0
    assert (radii[[0, 1, 2, 4]] > 0).all()


def _flipped(real: np.ndarray, fake: np.ndarray) -> dict[str, bool]:
    """Per metric, whether swapping < and <= changes the definition's per-point values."""
    cross, real_pr, fake_pr, real_dc = _direct(real, fake), _radii(real, 3), _radii(fake, 3), _radii(real, 5)
    return {
        "precision": not np.array_equal(
            (cross <= real_pr[:, None]).any(axis=0), (cross < real_pr[:, None]).any(axis=0)
        ),
        "recall": not np.array_equal((cross <= fake_pr[None, :]).any(axis=1), (cross < fake_pr[None, :]).any(axis=1)),
        "density": not np.array_equal((cross < real_dc[:, None]).sum(axis=0), (cross <= real_dc[:, None]).sum(axis=0)),
        "coverage": not np.array_equal(cross.min(axis=1) < real_dc, cross.min(axis=1) <= real_dc),
    }


def test_the_rules_differ_on_these_sets():
    # The exact-equality tests above would catch an implementation using the other rule, or deciding a
    # tie by rounding noise: on these sets some distances equal a radius exactly.
    assert all(_flipped(*_copies_at_zero_radius()).values())
    for sets in (_same_20, _same_35, _copies_across, _one_copied_image):
        assert _flipped(*sets())["density"], sets.__name__


@pytest.mark.parametrize("max_bytes", BLOCK_SIZES)
def test_nearest_is_exactly_zero_for_copies_of_training_rows(max_bytes):
    train = _unit_rows(40, seed=8)
    train[25] = train[7]  # a duplicated training image: ties go to the lower index
    samples = np.concatenate([train[[7, 3, 39]], _unit_rows(5, seed=9)])
    distance, index = nearest(samples, train, max_bytes)
    assert np.array_equal(distance[:3], np.zeros(3))
    assert index[:3].tolist() == [7, 3, 39]
    reference = _direct(samples, train)
    assert np.array_equal(distance, np.sqrt(reference.min(axis=1)))
    assert np.array_equal(index, reference.argmin(axis=1))


def test_identical_rows_stay_within_the_memory_budget():
    # Every entry is a tie here, so every entry is recomputed directly: in budget-sized chunks, not as
    # one [N * M, D] difference array (which would be 150 * 150 * 128 * 8 = 23 MB).
    x = np.ones((150, 128))
    max_bytes = 128 * 2**10
    tracemalloc.start()
    result = prdc_per_point(x, x, max_bytes=max_bytes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2 * x.nbytes + 8 * max_bytes
    # All distances are 0 and all radii 0: <= holds everywhere, < nowhere.
    assert result["precision"].all() and result["recall"].all()
    assert not result["density"].any() and not result["coverage"].any()


def test_row_groups_split_at_row_boundaries_within_the_cap():
    rng = np.random.default_rng(14)
    for _ in range(100):
        mask = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) < rng.random()
        cap = int(rng.integers(1, 50))
        groups = list(_row_groups(mask, cap))
        assert np.array_equal(np.concatenate([g[0] for g in groups]), np.nonzero(mask)[0])
        assert np.array_equal(np.concatenate([g[1] for g in groups]), np.nonzero(mask)[1])
        for rows, _ in groups:
            assert len(rows) <= cap or len(np.unique(rows)) == 1  # over the cap only as one row
        seen = [set(rows.tolist()) for rows, _ in groups]
        assert sum(map(len, seen)) == len(set().union(*seen))  # no row in two groups
