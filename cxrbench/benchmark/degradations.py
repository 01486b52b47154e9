"""Degraded copies of real images (blur, additive noise): what a valid feature space must rank below real.

Used by the run's validity check of every feature space (benchmark/space_validity.py) and by
`cxrbench validate-metrics` (benchmark/validation.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur (separable, reflect padding, radius 3 sigma) of uint8 [N, 1, H, W]; sigma in pixels."""
    if sigma == 0:
        return images
    radius = max(1, int(np.ceil(3 * sigma)))
    radius = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)  # reflect padding needs a smaller pad
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    out = F.pad(images.double(), (radius,) * 4, mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    out = F.conv2d(out, kernel.view(1, 1, -1, 1))
    return out.round().clamp(0, 255).to(torch.uint8)


def add_noise(images: torch.Tensor, sigma: float, seed: int, grain: int = 1) -> torch.Tensor:
    """Additive Gaussian noise of ``sigma`` grey levels (seeded), clipped to 0-255, of uint8 [N, 1, H, W].

    grain: the noise is drawn on a grid ``grain`` times coarser and repeated over grain x grain
    pixel blocks, so that it stays visible to a feature space that downsamples a large image.
    """
    n, channels, height, width = images.shape
    shape = (n, channels, -(-height // grain), -(-width // grain))
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if grain > 1:
        noise = noise.repeat_interleave(grain, dim=2).repeat_interleave(grain, dim=3)[:, :, :height, :width]
    return (images.double() + sigma * noise).round().clamp(0, 255).to(torch.uint8)
