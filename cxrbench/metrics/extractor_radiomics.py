"""radiomics: FRDv1's 693 radiomic features of each image, a feature space without weights.

The features are pyradiomics' first-order, GLCM, GLRLM, GLSZM and NGTDM features of the original,
LoG and wavelet images with FRDv1's settings (cxrbench/metrics/radiomics_features.py).

Standardisation: the raw features span fifteen orders of magnitude (first-order Energy ~1e9,
GLCM probabilities ~1e-3), so distances that are not scale-free (fd, kid, precision, the validity
check) would see Energy alone. ``features`` are therefore z-scored per feature against statistics
fixed in ``prepare()`` from the real training split (up to ``reference_images`` of it, chosen with the
run's seed): one scale for every set of a run, so rows of one run compare. ``frd`` z-scores again
against each row's reference set, as FRDv1 does; a z-score of an affine-rescaled feature is the
same z-score, so frd's value does not depend on this step. Without a training split (``evaluate``)
the features stay raw (identity: ``standardised: none``); use ``frd`` there.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from cxrbench.errors import ConfigError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.metrics.radiomics_features import feature_names, radiomic_features
from cxrbench.metrics.radiomics_filters import require_pywavelets
from cxrbench.metrics.radiomics_settings import (
    BIN_WIDTH,
    LOG_SIGMAS_MM,
    RESAMPLE_FACTOR,
    WAVELET,
)

PREPROCESSING = (
    f"frd-v1: whole-image mask, normalise x100, cubic b-spline 1/{RESAMPLE_FACTOR}, "
    f"LoG {'/'.join(f'{s:g}' for s in LOG_SIGMAS_MM)} mm 2D, {WAVELET} swt 2D, bin width {BIN_WIDTH:g}"
)
CHUNK = 32  # images per call of the feature code: bounds the memory of the texture matrices


@FEATURE_EXTRACTORS.register("radiomics")
class RadiomicsExtractor(FeatureExtractor):
    """uint8 [B, 1, H, W] -> ``features`` float64 [B, 693] (standardised, see the module docstring).

    Resize policy: none beyond FRDv1's own resampling to half size (the run's resolution is kept).
    Runs on the CPU whatever the device. Options: ``standardise`` (default True), ``reference_images``
    (how many training images fix the standardisation, default 256), ``resample`` (2: FRDv1; 1: none).
    """

    name = "radiomics"

    def __init__(self, standardise: bool = True, reference_images: int = 256, resample: int = RESAMPLE_FACTOR) -> None:
        if resample not in (1, 2):
            raise ConfigError(f"radiomics resample must be 2 (FRDv1: 1 mm -> 2 mm pixels) or 1 (none), got {resample}")
        self.standardise, self.reference_images, self.resample = standardise, reference_images, resample
        self.dim = len(feature_names())
        self.mean = np.zeros(self.dim)
        self.scale = np.ones(self.dim)
        self.reference_count = 0  # training images behind the standardisation (0: none)

    def prepare(self, context: ExtractorContext) -> None:
        """Fix the standardisation from (a seeded subset of) the real training split, if there is one."""
        require_pywavelets()
        if not self.standardise or len(context.train) < 2:
            return
        generator = torch.Generator().manual_seed(context.seed)
        chosen = torch.randperm(len(context.train), generator=generator)[: self.reference_images].sort().values
        raw = RadiomicsExtractor(standardise=False, resample=self.resample)
        context.progress(0, 1, "radiomics of the training images (standardisation)")
        train = cached_extract(raw, context.train.images[chosen], context.cache_dir)["features"]
        context.progress(1, 1, "")
        self.mean = train.mean(axis=0)
        sd = train.std(axis=0)
        # a feature constant over the training images keeps its raw scale (only centred)
        self.scale = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(self.mean)), sd, 1.0)
        self.reference_count = len(chosen)

    def raw(self, images: torch.Tensor) -> np.ndarray:
        """uint8 [B, 1, H, W] -> the raw radiomic features float64 [B, 693]."""
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"radiomics expects uint8 [B, 1, H, W], got shape {tuple(images.shape)}")
        pixels = images[:, 0].numpy()
        parts = [
            radiomic_features(pixels[start : start + CHUNK], self.resample) for start in range(0, len(pixels), CHUNK)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim))

    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        return {"features": (self.raw(images) - self.mean) / self.scale}

    def identity(self) -> dict:
        if self.reference_count:
            digest = hashlib.sha256(self.mean.tobytes() + self.scale.tobytes()).hexdigest()[:16]
            standardised = f"train-split z-score ({self.reference_count} images, {digest})"
        else:
            standardised = "none"
        return {
            "name": self.name,
            "preprocessing": PREPROCESSING
            if self.resample == 2
            else PREPROCESSING.replace(f"cubic b-spline 1/{RESAMPLE_FACTOR}", "no resampling"),
            "dim": self.dim,
            "standardised": standardised,
        }
