"""pixels: downsampled, standardised pixels (no network); the space of memorisation and diversity."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor


@FEATURE_EXTRACTORS.register("pixels")
class PixelsExtractor(FeatureExtractor):
    """Each image area-averaged to ``size`` px, centred and scaled to unit norm.

    Outputs: ``features`` [N, size*size] float64, where the squared distance of two images is
    2 - 2 x (their Pearson correlation at ``size`` px): exposure and contrast do not count, shape
    does, which is what a near-copy check should see. ``images``: the uint8 images themselves,
    for metrics that compare pixels at full resolution (diversity's MS-SSIM).
    Resize policy: area averaging (adaptive average pooling) to ``size`` px.
    """

    name = "pixels"
    outputs = ("features", "images")

    def __init__(self, size: int = 32) -> None:
        self.size = size

    def prepare(self, context: ExtractorContext) -> None:
        """Nothing to load or train."""

    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        small = F.adaptive_avg_pool2d(images.double(), self.size).flatten(1)
        centred = small - small.mean(dim=1, keepdim=True)
        unit = centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-12)  # a flat image stays at 0
        return {"features": unit.numpy(), "images": images.numpy()}

    def identity(self) -> dict:
        return {
            "name": self.name,
            "preprocessing": f"area-{self.size}px-centred-unit-norm",
            "dim": self.size * self.size,
        }
