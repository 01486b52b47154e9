"""PGGAN generator and discriminator that grow from 4 px to the target resolution with fade-in.

``level`` is the index of the current top resolution (0 = 4 px, 1 = 8 px, ...); ``alpha`` in
[0, 1] blends the new top block in during a fade-in phase (1 = fully in).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cxrbench.models.gan.layers import (
    EqualConv2d,
    EqualLinear,
    channels_at,
    downsample,
    lrelu,
    minibatch_stddev,
    pixel_norm,
    upsample,
)


def levels_for(resolution: int) -> int:
    """Number of resolutions from 4 px to ``resolution`` (a power of two >= 8)."""
    levels = int(math.log2(resolution)) - 1
    if 2 ** (levels + 1) != resolution or resolution < 8:
        raise ValueError(f"PGGAN needs a power-of-two resolution >= 8, got {resolution}")
    return levels


class PgganGenerator(nn.Module):
    """z [B, latent] -> images [B, 1, R, R] in about [-1, 1] at the current level."""

    def __init__(self, resolution: int, latent_dim: int, fmap_base: int, fmap_max: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        widths = [channels_at(4 * 2**i, fmap_base, fmap_max) for i in range(levels_for(resolution))]
        # The published first layer: a dense layer to 4x4 (gain sqrt(2)/4), then a 3x3 conv.
        self.dense = EqualLinear(latent_dim, widths[0] * 16, gain=math.sqrt(2) / 4)
        self.first_conv = EqualConv2d(widths[0], widths[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(widths[i - 1], widths[i], 3), EqualConv2d(widths[i], widths[i], 3)])
            for i in range(1, len(widths))
        )
        self.to_image = nn.ModuleList(EqualConv2d(w, 1, 1, gain=1.0) for w in widths)

    def forward(self, z: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        x = self.dense(pixel_norm(z)).reshape(z.shape[0], -1, 4, 4)
        x = pixel_norm(lrelu(x))
        x = pixel_norm(lrelu(self.first_conv(x)))
        previous = x
        for block in self.blocks[:level]:
            previous = x
            x = upsample(x)
            for conv in block:
                x = pixel_norm(lrelu(conv(x)))
        image = self.to_image[level](x)
        if level > 0 and alpha < 1.0:
            image = torch.lerp(upsample(self.to_image[level - 1](previous)), image, alpha)
        return image


class PgganDiscriminator(nn.Module):
    """images [B, 1, r, r] at the current level -> WGAN critic scores [B]."""

    def __init__(self, resolution: int, fmap_base: int, fmap_max: int, mbstd_group: int = 4) -> None:
        super().__init__()
        widths = [channels_at(4 * 2**i, fmap_base, fmap_max) for i in range(levels_for(resolution))]
        self.mbstd_group = mbstd_group
        self.from_image = nn.ModuleList(EqualConv2d(1, w, 1) for w in widths)
        # blocks[i - 1] takes level i (2^(i+2) px) down to level i - 1.
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(widths[i], widths[i], 3), EqualConv2d(widths[i], widths[i - 1], 3)])
            for i in range(1, len(widths))
        )
        self.final_conv = EqualConv2d(widths[0] + 1, widths[0], 3)
        self.final_dense = EqualLinear(widths[0] * 16, widths[0])
        self.score = EqualLinear(widths[0], 1, gain=1.0)

    def forward(self, image: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        x = lrelu(self.from_image[level](image))
        for i in range(level, 0, -1):
            for conv in self.blocks[i - 1]:
                x = lrelu(conv(x))
            x = downsample(x)
            if i == level and alpha < 1.0:
                x = torch.lerp(lrelu(self.from_image[level - 1](downsample(image))), x, alpha)
        x = minibatch_stddev(x, self.mbstd_group)
        x = lrelu(self.final_conv(x))
        x = lrelu(self.final_dense(x.flatten(1)))
        return self.score(x).squeeze(1)
