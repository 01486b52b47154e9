"""example-mean: the mean training image of each condition plus seeded pixel noise.

A deliberately small generator that shows every part of the adapter contract: options as
constructor arguments, `fit` on the real training split, `save`/`load` with safetensors, and
`generate` yielding uint8 [B, 1, H, W] batches in which image i depends only on (condition, seed, i).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch

from cxrbench.checkpoint import load_checkpoint, save_checkpoint
from cxrbench.errors import ConfigError
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter, image_generators, image_normal
from cxrbench.tasks.task import Condition


class ConditionalMeanAdapter(ModelAdapter):
    """Mean image per condition plus Gaussian pixel noise (a plugin example).

    noise_std: standard deviation of the added noise, in grey levels (0-255).
    """

    conditioning = Conditioning.CLASS
    trainable = True

    def __init__(self, noise_std: float = 12.0) -> None:
        if noise_std < 0:  # a bad setting: ConfigError is shown as one line with exit code 2
            raise ConfigError(f"example-mean: noise_std {noise_std} must be 0 or more")
        self.noise_std = noise_std
        self.means: dict[str, torch.Tensor] = {}

    def fit(self, context: FitContext) -> None:
        for condition in context.conditions:  # every condition the run will ask for
            images = context.train.matching(condition).images.float()
            self.means[condition.key] = images.mean(dim=0)

    def save(self, directory: Path) -> None:
        save_checkpoint(directory, self.means, {"model": "example-mean", "noise_std": self.noise_std})

    def load(self, directory: Path) -> None:
        self.means, config = load_checkpoint(directory)
        self.noise_std = float(config["noise_std"])

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        mean = self.means[condition.key]
        for start in range(0, len(indices), batch_size):
            # image i's noise comes from its own generator, so any split of the set gives the same images
            generators = image_generators(seed, indices[start : start + batch_size])
            noise = image_normal(generators, *mean.shape) * self.noise_std
            yield (mean + noise).clamp(0, 255).round().to(torch.uint8)
