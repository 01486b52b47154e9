"""noise: a seeded smooth-noise baseline, the worst case every generator must beat."""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter, image_generators, image_normal
from cxrbench.tasks.task import Condition


@MODELS.register("noise")
class NoiseAdapter(ModelAdapter):
    """Seeded smooth noise at the mean real intensity: the worst case.

    Low-frequency Gaussian noise (an 8 x 8 grid upsampled bicubically) with the mean and
    standard deviation of the real training pixels; it ignores the condition.
    """

    conditioning = Conditioning.REFERENCE

    def __init__(self) -> None:
        self.mean: float | None = None
        self.std: float | None = None
        self.resolution = 0

    def fit(self, context: FitContext) -> None:
        pixels = context.train.images.float()
        self.mean, self.std = float(pixels.mean()), float(pixels.std())
        self.resolution = context.resolution

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        if self.mean is None or self.std is None:
            raise RuntimeError("noise.generate called before fit")
        for start in range(0, len(indices), batch_size):
            grid = image_normal(image_generators(seed, indices[start : start + batch_size]), 1, 8, 8)
            smooth = F.interpolate(grid, size=(self.resolution,) * 2, mode="bicubic", align_corners=False)
            yield (self.mean + self.std * smooth).clamp(0, 255).round().to(torch.uint8)
