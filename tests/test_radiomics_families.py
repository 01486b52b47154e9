"""The radiomic feature families against independent computations.

GLCM: scikit-image's graycomatrix / graycoprops. GLRLM, GLSZM, NGTDM: a 4x4 image whose matrices
are worked out by hand below (and pyradiomics' own worked 5x5 / 4x4 examples from its docstrings).
First-order: numpy / scipy. Discretisation: pyradiomics' documented example.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

from cxrbench.metrics.radiomics_discretise import Levels, discretise
from cxrbench.metrics.radiomics_firstorder import first_order
from cxrbench.metrics.radiomics_glcm import ANGLES, glcm_cells, glcm_features
from cxrbench.metrics.radiomics_glrlm import glrlm_cells, glrlm_features, run_features
from cxrbench.metrics.radiomics_glszm import glszm_cells, glszm_features
from cxrbench.metrics.radiomics_ngtdm import ngtdm_features, ngtdm_matrix
from cxrbench.metrics.radiomics_settings import FIRST_ORDER, GLCM, GLRLM, GLSZM, NGTDM

# The hand-worked image: levels 1..4, Ng = 4, 16 pixels.
HAND = np.array([[1, 1, 2, 2], [1, 3, 3, 2], [4, 3, 1, 1], [4, 4, 1, 2]])


def levels_of(*images: np.ndarray) -> Levels:
    stacked = np.stack(images).astype(np.int64)
    return Levels(stacked, stacked.max(axis=(1, 2)))


def textured(seed: int, size: int = 24, top: int = 9) -> np.ndarray:
    """A smooth random texture discretised to levels 1..top (so runs and zones are longer than 1)."""
    rng = np.random.default_rng(seed)
    field = np.cumsum(np.cumsum(rng.normal(size=(size, size)), axis=0), axis=1)
    ranks = np.argsort(np.argsort(field.ravel())).reshape(size, size)
    return (ranks * top // ranks.size + 1).astype(np.int64)


# -- GLCM ---------------------------------------------------------------------------------------


def _skimage_matrices(image: np.ndarray) -> np.ndarray:
    """graycomatrix for distance 1 and the four angles, symmetric and normed: [levels, levels, 4]."""
    return graycomatrix(
        (image - 1).astype(np.uint8),
        distances=[1],
        angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
        levels=int(image.max()),
        symmetric=True,
        normed=True,
    )[:, :, 0, :]


def test_glcm_matrix_equals_skimage_over_the_same_offsets():
    image = textured(0)
    ours = glcm_cells(levels_of(image)).dense()[: len(ANGLES)]
    ours = ours / ours.sum(axis=(1, 2), keepdims=True)
    theirs = _skimage_matrices(image)
    # skimage's angles 0, 45, 90, 135 degrees are our (0,1), (1,-1) or (1,1), (1,0), the other diagonal
    np.testing.assert_allclose(ours[0], theirs[:, :, 0], atol=1e-15)
    np.testing.assert_allclose(ours[2], theirs[:, :, 2], atol=1e-15)
    diagonal_pairs = {(1, 1), (3, 3)} if np.allclose(ours[1], theirs[:, :, 1]) else {(1, 3), (3, 1)}
    for mine, skimages in diagonal_pairs:
        np.testing.assert_allclose(ours[mine], theirs[:, :, skimages], atol=1e-15)
    assert not np.allclose(ours[1], ours[3])  # the two diagonals differ, so the mapping was tested


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_glcm_features_equal_graycoprops(seed):
    image = textured(seed, top=6 + seed)
    ours = dict(zip(GLCM, glcm_features(levels_of(image))[0]))
    props = {
        prop: graycoprops(_skimage_matrices(image)[:, :, None, :], prop)[0].mean()
        for prop in ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation")
    }
    np.testing.assert_allclose(ours["Contrast"], props["contrast"], rtol=1e-12)
    np.testing.assert_allclose(ours["DifferenceAverage"], props["dissimilarity"], rtol=1e-12)
    np.testing.assert_allclose(ours["Idm"], props["homogeneity"], rtol=1e-12)  # 1 / (1 + (i-j)^2)
    np.testing.assert_allclose(ours["JointEnergy"], props["ASM"], rtol=1e-12)  # IBSI's angular second moment
    matrices = glcm_cells(levels_of(image)).dense()
    p = matrices / matrices.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.sqrt((p**2).sum(axis=(1, 2))).mean(), props["energy"], rtol=1e-12)  # sqrt(ASM)
    np.testing.assert_allclose(ours["Correlation"], props["correlation"], rtol=1e-10)


def test_glcm_features_by_hand_on_one_angle_and_the_entropies():
    # pyradiomics' docstring example: 5x5 image, angle 0, symmetric GLCM
    image = np.array([[1, 2, 5, 2, 3], [3, 2, 1, 3, 1], [1, 3, 5, 5, 2], [1, 1, 1, 1, 2], [1, 2, 4, 3, 5]])
    expected = np.array([[6, 4, 3, 0, 0], [4, 0, 2, 1, 3], [3, 2, 0, 1, 2], [0, 1, 1, 0, 0], [0, 3, 2, 0, 2]])
    np.testing.assert_array_equal(glcm_cells(levels_of(image)).dense()[0], expected)
    # entropies of the features against a direct dense computation, per angle, then the mean
    levels = levels_of(textured(3))
    dense = glcm_cells(levels).dense()[:4]
    p = dense / dense.sum(axis=(1, 2), keepdims=True)
    px = p.sum(axis=2)
    eps = np.spacing(1)
    hxy = -(p * np.log2(p + eps)).sum(axis=(1, 2))
    hxy2 = -(px[:, :, None] * px[:, None, :] * np.log2(px[:, :, None] * px[:, None, :] + eps)).sum(axis=(1, 2))
    features = dict(zip(GLCM, glcm_features(levels)[0]))
    np.testing.assert_allclose(features["JointEntropy"], hxy.mean(), rtol=1e-12)
    np.testing.assert_allclose(features["Imc2"], np.sqrt(1 - np.exp(-2 * (hxy2 - hxy))).mean(), rtol=1e-9)
    np.testing.assert_allclose(features["MaximumProbability"], p.max(axis=(1, 2)).mean(), rtol=1e-12)


def test_glcm_of_a_flat_image_takes_pyradiomics_values():
    features = dict(zip(GLCM, glcm_features(levels_of(np.ones((6, 6), dtype=np.int64)))[0]))
    assert features["Correlation"] == 1.0 and features["Imc1"] == 0.0 and features["Imc2"] == 0.0
    assert features["JointEnergy"] == 1.0 and features["Contrast"] == 0.0 and features["Idmn"] == 1.0


# -- GLRLM --------------------------------------------------------------------------------------


def test_glrlm_matrices_by_hand():
    # rows of HAND: [1 1 | 2 2], [1 | 3 3 | 2], [4 | 3 | 1 1], [4 4 | 1 | 2]
    horizontal = np.array(
        [
            [2, 2, 0, 0],  # level 1: two runs of 1 (rows 1, 3), two of 2 (rows 0, 2)
            [2, 1, 0, 0],  # level 2
            [1, 1, 0, 0],  # level 3
            [1, 1, 0, 0],
        ]
    )  # level 4
    # columns: [1 1 | 4 4], [1 | 3 3 | 4], [2 | 3 | 1 1], [2 2 | 1 | 2]: the same counts
    matrices = glrlm_cells(levels_of(HAND)).dense()
    np.testing.assert_array_equal(matrices[0], horizontal)
    np.testing.assert_array_equal(matrices[2], horizontal)
    # the (1, 1) diagonals: [1], [1 3], [2 3 1], [2 3 1 4]... counted by the code; their total is 16 pixels
    for angle in range(4):
        assert (matrices[angle] * np.arange(1, 5)).sum() == 16
    # pyradiomics' docstring example: its 5x5 image and GLRLM at angle 0
    image = np.array([[5, 2, 5, 4, 4], [3, 3, 3, 1, 3], [2, 1, 1, 1, 3], [4, 2, 2, 2, 3], [3, 5, 3, 3, 2]])
    expected = np.array([[1, 0, 1, 0, 0], [3, 0, 1, 0, 0], [4, 1, 1, 0, 0], [1, 1, 0, 0, 0], [3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(glrlm_cells(levels_of(image)).dense()[0], expected)


def test_glrlm_features_by_hand():
    per_angle = dict(zip(GLRLM, run_features(glrlm_cells(levels_of(HAND)), 16.0)[0]))
    runs = 11  # 4 + 3 + 2 + 2
    runs_of_length = {1: 2 + 2 + 1 + 1, 2: 2 + 1 + 1 + 1}
    assert per_angle["ShortRunEmphasis"] == pytest.approx((runs_of_length[1] / 1 + runs_of_length[2] / 4) / runs)
    assert per_angle["LongRunEmphasis"] == pytest.approx((runs_of_length[1] * 1 + runs_of_length[2] * 4) / runs)
    assert per_angle["GrayLevelNonUniformity"] == pytest.approx((4**2 + 3**2 + 2**2 + 2**2) / runs)
    assert per_angle["RunLengthNonUniformity"] == pytest.approx((6**2 + 5**2) / runs)
    assert per_angle["RunPercentage"] == pytest.approx(runs / 16)
    # the image's features are the mean over the four angles
    np.testing.assert_allclose(
        glrlm_features(levels_of(HAND))[0], run_features(glrlm_cells(levels_of(HAND)), 16.0).mean(axis=0), rtol=1e-14
    )


# -- GLSZM --------------------------------------------------------------------------------------


def test_glszm_matrix_by_hand():
    # 8-connected zones of HAND: level 1 {(0,0),(0,1),(1,0)} and {(2,2),(2,3),(3,2)}; level 2
    # {(0,2),(0,3),(1,3)} and {(3,3)} alone (its neighbours are all 1); level 3 {(1,1),(1,2),(2,1)};
    # level 4 {(2,0),(3,0),(3,1)}
    expected = np.zeros((4, 16))
    expected[0, 2] = 2  # level 1: two zones of size 3
    expected[1, 0] = expected[1, 2] = 1  # level 2: one of size 1, one of size 3
    expected[2, 2] = expected[3, 2] = 1
    np.testing.assert_array_equal(glszm_cells(levels_of(HAND)).dense()[0], expected)
    image = np.array([[5, 2, 5, 4, 4], [3, 3, 3, 1, 3], [2, 1, 1, 1, 3], [4, 2, 2, 2, 3], [3, 5, 3, 3, 2]])
    docstring = np.array([[0, 0, 0, 1, 0], [1, 0, 0, 0, 1], [1, 0, 1, 0, 1], [1, 1, 0, 0, 0], [3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(glszm_cells(levels_of(image)).dense()[0][:, :5], docstring)


def test_glszm_features_by_hand():
    features = dict(zip(GLSZM, glszm_features(levels_of(HAND))[0]))
    zones = 6
    assert features["SmallAreaEmphasis"] == pytest.approx((1 / 1**2 + 5 / 3**2) / zones)  # 1 of size 1, 5 of 3
    assert features["LargeAreaEmphasis"] == pytest.approx((1 * 1 + 5 * 9) / zones)
    assert features["GrayLevelNonUniformity"] == pytest.approx((2**2 + 2**2 + 1 + 1) / zones)
    assert features["SizeZoneNonUniformity"] == pytest.approx((1**2 + 5**2) / zones)
    assert features["ZonePercentage"] == pytest.approx(zones / 16)


def test_zones_do_not_cross_images_of_a_batch():
    two = glszm_cells(levels_of(np.ones((5, 5), dtype=np.int64), np.ones((5, 5), dtype=np.int64))).dense()
    assert two[0, 0, 24] == 1 and two[1, 0, 24] == 1 and two.sum() == 2  # one 25-pixel zone each


# -- NGTDM --------------------------------------------------------------------------------------

# |i - A| of each pixel of HAND, A = the mean of its neighbours inside the image, worked by hand
HAND_S = {
    1: [1 - 5 / 3, 1 - 10 / 5, 1 - 12 / 5, 1 - 19 / 8, 1 - 9 / 5, 1 - 11 / 5],  # (0,0) (0,1) (1,0) (2,2) (2,3) (3,2)
    2: [2 - 11 / 5, 2 - 7 / 3, 2 - 9 / 5, 2 - 3 / 3],  # (0,2) (0,3) (1,3) (3,3)
    3: [3 - 16 / 8, 3 - 15 / 8, 3 - 21 / 8],  # (1,1) (1,2) (2,1)
    4: [4 - 15 / 5, 4 - 11 / 3, 4 - 13 / 5],  # (2,0) (3,0) (3,1)
}


def test_ngtdm_matrix_by_hand():
    n, s = ngtdm_matrix(levels_of(HAND))
    np.testing.assert_array_equal(n[0], [6, 4, 3, 3])
    np.testing.assert_allclose(s[0], [np.abs(HAND_S[i]).sum() for i in range(1, 5)], rtol=1e-14)
    # pyradiomics' docstring example (its text gives s_3 = 3.03; its table's 2.63 is a typo)
    image = np.array([[1, 2, 5, 2], [3, 5, 1, 3], [1, 3, 5, 5], [3, 1, 1, 1]])
    n, s = ngtdm_matrix(levels_of(image))
    np.testing.assert_array_equal(n[0], [6, 2, 4, 0, 4])
    np.testing.assert_allclose(s[0], [13.35, 2.0, 3.0333333, 0.0, 10.075], atol=1e-6)


def test_ngtdm_features_by_hand():
    features = dict(zip(NGTDM, ngtdm_features(levels_of(HAND))[0]))
    n = np.array([6, 4, 3, 3])
    p = n / 16
    s = np.array([np.abs(HAND_S[i]).sum() for i in range(1, 5)])
    assert features["Coarseness"] == pytest.approx(1 / (p * s).sum())
    pairs = [(i, j) for i in range(4) for j in range(4)]
    strength = sum((p[i] + p[j]) * (i - j) ** 2 for i, j in pairs) / s.sum()
    assert features["Strength"] == pytest.approx(strength)
    contrast = sum(p[i] * p[j] * (i - j) ** 2 for i, j in pairs) / (4 * 3) * s.sum() / 16
    assert features["Contrast"] == pytest.approx(contrast)
    busyness = (p * s).sum() / sum(abs((i + 1) * p[i] - (j + 1) * p[j]) for i, j in pairs)
    assert features["Busyness"] == pytest.approx(busyness)
    flat = dict(zip(NGTDM, ngtdm_features(levels_of(np.full((4, 4), 3)))[0]))
    assert flat == {"Coarseness": 1e6, "Contrast": 0.0, "Busyness": 0.0, "Complexity": 0.0, "Strength": 0.0}


# -- first order and discretisation ------------------------------------------------------------


def test_first_order_against_numpy_and_scipy():
    rng = np.random.default_rng(4)
    values = np.stack([rng.gamma(2.0, 30.0, 400) - 50, rng.normal(10, 3, 400)])
    features = first_order(values, voxel_mm3=4.0, bin_width=5.0, shift=300.0)
    for row, x in zip(features, values):
        got = dict(zip(FIRST_ORDER, row))
        assert got["Energy"] == pytest.approx(((x + 300) ** 2).sum())
        assert got["TotalEnergy"] == pytest.approx(4.0 * ((x + 300) ** 2).sum())
        assert got["Mean"] == pytest.approx(x.mean()) and got["Median"] == pytest.approx(np.median(x))
        assert got["10Percentile"] == pytest.approx(np.percentile(x, 10))
        assert got["InterquartileRange"] == pytest.approx(stats.iqr(x))
        assert got["Variance"] == pytest.approx(x.var())
        assert got["Skewness"] == pytest.approx(stats.skew(x))
        assert got["Kurtosis"] == pytest.approx(stats.kurtosis(x, fisher=False))  # pyradiomics: not excess
        assert got["MeanAbsoluteDeviation"] == pytest.approx(np.abs(x - x.mean()).mean())
        inner = x[(x >= np.percentile(x, 10)) & (x <= np.percentile(x, 90))]
        assert got["RobustMeanAbsoluteDeviation"] == pytest.approx(np.abs(inner - inner.mean()).mean())
        assert got["RootMeanSquared"] == pytest.approx(np.sqrt(((x + 300) ** 2).mean()))
        low = np.floor(x.min() / 5) * 5
        counts, _ = np.histogram(x, bins=np.arange(low, x.max() + 10, 5))  # pyradiomics' edges
        p = counts / len(x)
        assert got["Entropy"] == pytest.approx(stats.entropy(p[p > 0], base=2), rel=1e-12)
        assert got["Uniformity"] == pytest.approx((p**2).sum(), rel=1e-12)
    flat = dict(zip(FIRST_ORDER, first_order(np.zeros((1, 16)), voxel_mm3=1.0)[0]))
    assert flat["Skewness"] == 0.0 and flat["Kurtosis"] == 0.0 and flat["Entropy"] == pytest.approx(0.0, abs=1e-12)


def test_discretisation_follows_pyradiomics_example():
    # "for a ROI with values ranging from 54 to 166, and a bin width of 25, the bin edges will be
    # [50, 75, 100, 125, 150, 175]"
    levels = discretise(np.array([[[54.0, 74.9, 75.0], [100.0, 166.0, 125.0]]]), bin_width=25)
    np.testing.assert_array_equal(levels.levels[0], [[1, 1, 2], [3, 5, 4]])
    assert levels.ng.tolist() == [5]
    negative = discretise(np.array([[[-7.0, -5.0, 0.0, 4.9]]]), bin_width=5)  # bins from 0: [-10,-5) is level 1
    np.testing.assert_array_equal(negative.levels[0], [[1, 2, 3, 3]])
    assert discretise(np.full((1, 3, 3), 12.5), 5).levels.max() == 1  # a flat image is one level
