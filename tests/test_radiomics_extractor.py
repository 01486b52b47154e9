"""The radiomics feature space: its preprocessing and filters against independent computations,
then the extractor end to end on phantom images (shapes, identity, determinism, a flat image,
batch independence, the training-split standardisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pywt
import torch
from scipy import ndimage

from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.metrics.radiomics_features import feature_names, type_names
from cxrbench.metrics.radiomics_filters import log_filter, wavelet_subbands
from cxrbench.metrics.radiomics_preprocess import normalise, resample_half

DIM = 9 * 77


@pytest.fixture(scope="module")
def phantom() -> torch.Tensor:
    """40 phantom radiographs at 32 px, uint8 [40, 1, 32, 32]."""
    return PhantomDataset(n_images=80, seed=0).load("train", 32).images[:40]


def context(train: torch.Tensor, cache: Path, seed: int = 0) -> ExtractorContext:
    from cxrbench.data.image_set import ImageSet

    ids = tuple(str(i) for i in range(len(train)))
    split = ImageSet(train, torch.zeros(len(train), 4, dtype=torch.int8), ids, ids)
    return ExtractorContext(split, split, split, torch.device("cpu"), seed, cache, "test")


# -- preprocessing and filters -----------------------------------------------------------------


def test_normalise_is_sitk_normalize_times_100_and_flat_images_become_zero():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 8, 8)).astype(np.float64)
    x[1] = 7.0
    out = normalise(x)
    np.testing.assert_allclose(out[0], (x[0] - x[0].mean()) / x[0].std(ddof=1) * 100)
    assert (out[1] == 0).all()


def test_resampling_is_the_cubic_spline_at_pyradiomics_grid():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 10, 7))
    out = resample_half(x)
    assert out.shape == (2, 5, 4)  # ceil(size / 2)
    rows, cols = np.meshgrid(0.5 + 2 * np.arange(5), 0.5 + 2 * np.arange(4), indexing="ij")
    for image, resampled in zip(x, out):
        expected = ndimage.map_coordinates(image, [rows, cols], order=3, mode="mirror")
        np.testing.assert_allclose(resampled, expected, atol=1e-12)


def test_log_is_scale_normalised_laplacian():
    y, x = np.mgrid[:40, :40].astype(np.float64)
    quadratic = (x - 20) ** 2 + 3 * (y - 20) ** 2  # Laplacian 2 + 6 = 8 everywhere
    out = log_filter(quadratic[None], 1.5)
    np.testing.assert_allclose(out[0, 12:28, 12:28], 1.5**2 * 8, rtol=1e-12)  # away from the borders
    blob = np.exp(-((x - 20) ** 2 + (y - 20) ** 2) / (2 * 3.0**2))  # LoG of a Gaussian, in closed form
    s2 = 3.0**2 + 2.0**2  # sigma^2 of the blob smoothed by the filter's Gaussian
    r2 = (x - 20) ** 2 + (y - 20) ** 2
    closed = 2.0**2 * 3.0**2 / s2 * (r2 / s2**2 - 2 / s2) * np.exp(-r2 / (2 * s2))
    np.testing.assert_allclose(
        log_filter(blob[None], 2.0)[0], closed, atol=5e-3 * np.abs(closed).max()
    )  # sampling error
    assert np.abs(log_filter(np.full((1, 20, 20), 5.0), 2.0)).max() < 1e-12  # flat in, zero out


def test_wavelet_bands_are_named_as_pyradiomics_names_them():
    rows = np.sin(np.arange(16) * 2.0)[:, None] * np.ones((1, 12))  # varies along y (rows) only
    bands = wavelet_subbands(rows[None])
    assert set(bands) == {"LH", "HL", "HH", "LL"}
    # 'LH': low pass along x, high pass along y (pyradiomics' axes order: x, then y)
    assert np.abs(bands["LH"]).max() > 0.1
    assert np.abs(bands["HL"]).max() < 1e-12 and np.abs(bands["HH"]).max() < 1e-12
    flat = wavelet_subbands(np.full((1, 8, 8), 3.0))
    np.testing.assert_allclose(flat["LL"], 3.0 * np.sum(pywt.Wavelet("coif1").dec_lo) ** 2)
    odd = wavelet_subbands(np.random.default_rng(2).normal(size=(1, 9, 11)))
    assert all(band.shape == (1, 9, 11) for band in odd.values())  # padded by one and cropped back


# -- the extractor -----------------------------------------------------------------------------


def test_extractor_outputs_shapes_names_and_identity(phantom):
    extractor = FEATURE_EXTRACTORS.build("radiomics")[0]
    extractor.prepare(context(phantom[:0], Path()))  # no training split: raw features
    out = extractor.extract(phantom[:5])
    assert set(out) == {"features"} and out["features"].shape == (5, DIM) and out["features"].dtype == np.float64
    assert np.isfinite(out["features"]).all()
    names = feature_names()
    assert len(names) == DIM == len(set(names)) and names[0] == "original_firstorder_Energy"
    assert "wavelet-LH_glcm_Contrast" in names and "log-sigma-2-0-mm-2D_ngtdm_Busyness" in names
    assert len(type_names()) == 9
    identity = extractor.identity()
    assert identity["name"] == "radiomics" and identity["dim"] == DIM and identity["standardised"] == "none"
    assert "bin width 5" in identity["preprocessing"] and "LoG 2/3/4/5 mm" in identity["preprocessing"]


def test_extractor_is_deterministic_and_batch_independent(phantom):
    extractor = FEATURE_EXTRACTORS.build("radiomics")[0]
    whole = extractor.extract(phantom)["features"]  # 40 images: two chunks of the feature code
    again = np.concatenate([extractor.extract(phantom[i : i + 7])["features"] for i in range(0, 40, 7)])
    np.testing.assert_array_equal(whole, extractor.extract(phantom)["features"])
    np.testing.assert_allclose(whole, again, rtol=1e-12, atol=1e-12)
    assert np.ptp(whole, axis=0).max() > 0  # the images differ, so do their features


def test_flat_and_extreme_images_give_finite_features(phantom):
    extractor = FEATURE_EXTRACTORS.build("radiomics")[0]
    odd = torch.zeros(4, 1, 32, 32, dtype=torch.uint8)
    odd[0] = 128  # flat
    odd[1, 0, 5, 5] = 255  # one bright pixel: ~1800 gray levels after normalisation
    odd[2, 0, :, :16] = 255  # two halves
    odd[3] = torch.randint(0, 256, (1, 32, 32), generator=torch.Generator().manual_seed(0))  # noise
    features = extractor.extract(odd)["features"]
    assert np.isfinite(features).all()
    flat = dict(zip(feature_names(), features[0]))
    assert flat["original_ngtdm_Coarseness"] == 1e6 and flat["original_glcm_Correlation"] == 1.0
    assert flat["original_firstorder_Variance"] == 0.0


def test_standardisation_is_fixed_from_the_training_split(phantom, tmp_path):
    extractor = FEATURE_EXTRACTORS.build("radiomics", {"reference_images": 30})[0]
    extractor.prepare(context(phantom, tmp_path, seed=3))
    identity = extractor.identity()
    assert identity["standardised"].startswith("train-split z-score (30 images")
    raw = FEATURE_EXTRACTORS.build("radiomics", {"standardise": False})[0]
    chosen = torch.randperm(40, generator=torch.Generator().manual_seed(3))[:30].sort().values
    reference = raw.extract(phantom[chosen])["features"]
    standardised = extractor.extract(phantom[chosen])["features"]
    # features constant up to rounding (the mean of a wavelet detail band is 0) keep scale 1
    varies = reference.std(axis=0) > 1e-12 * np.maximum(1, np.abs(reference.mean(axis=0)))
    assert 0 < (~varies).sum() < 10
    np.testing.assert_allclose(standardised.mean(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(standardised[:, varies].std(axis=0), 1, rtol=1e-8)
    # the same affine map for any images, and the raw features of the split were cached
    np.testing.assert_allclose(
        extractor.extract(phantom[:3])["features"] * extractor.scale + extractor.mean,
        raw.extract(phantom[:3])["features"],
        rtol=1e-9,
        atol=1e-6,
    )
    assert list((tmp_path / "features" / "radiomics").glob("*.npz"))
    other = FEATURE_EXTRACTORS.build("radiomics", {"reference_images": 30})[0]
    other.prepare(context(torch.flip(phantom, [0]), tmp_path, seed=4))
    assert other.identity() != identity  # another standardisation, another comparability key


def test_bad_options_and_inputs_are_refused(phantom):
    from cxrbench.errors import ConfigError

    with pytest.raises(ConfigError, match="resample must be 2"):
        FEATURE_EXTRACTORS.build("radiomics", {"resample": 3})
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        FEATURE_EXTRACTORS.build("radiomics")[0].extract(phantom[:, 0])
    half = FEATURE_EXTRACTORS.build("radiomics", {"resample": 1})[0]
    assert "no resampling" in half.identity()["preprocessing"]
    assert half.extract(phantom[:2])["features"].shape == (2, DIM)
