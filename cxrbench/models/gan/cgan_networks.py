"""A conditional GAN in the spirit of conditional StyleGAN2 (Schuit et al., arXiv 2508.07128).

One model for all findings. The condition is the multi-label vector (present, absent or
uncertain per finding), embedded as the sum of one learned vector per (finding, state).
Generator: a mapping network turns (z, condition) into a style w that modulates every block
(pixel norm, then a per-channel scale and shift from w), from a learned 4x4 constant.
Discriminator: plain conv blocks, minibatch standard deviation, and a projection head
(Miyato & Koyama 2018): score = linear(h) + <embed(condition), h>.
"""

from __future__ import annotations

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
from cxrbench.models.gan.pggan_networks import levels_for
from cxrbench.tasks import FINDINGS

STATES = 3  # per finding: absent (0), present (1), uncertain (-1)


def condition_index(labels: torch.Tensor) -> torch.Tensor:
    """int labels [B, F] in {-1, 0, 1} -> embedding rows [B, F] (finding * 3 + state)."""
    state = torch.where(labels < 0, torch.full_like(labels, 2), labels).long()
    return state + STATES * torch.arange(labels.shape[1], device=labels.device)


class LabelEmbedding(nn.Module):
    """Sum over findings of one learned vector per (finding, state): [B, F] -> [B, dim]."""

    def __init__(self, dim: int, n_findings: int = len(FINDINGS)) -> None:
        super().__init__()
        self.table = nn.Embedding(STATES * n_findings, dim)
        nn.init.normal_(self.table.weight)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.table(condition_index(labels)).sum(dim=1)


class StyledConv(nn.Module):
    """3x3 conv, LeakyReLU, pixel norm, then scale and shift from the style w."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = EqualConv2d(in_channels, out_channels, 3)
        self.style = EqualLinear(w_dim, 2 * out_channels, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.style(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return pixel_norm(lrelu(self.conv(x))) * (1.0 + scale) + shift


class ConditionalGenerator(nn.Module):
    """(z [B, latent], labels [B, F]) -> images [B, 1, R, R] in about [-1, 1]."""

    def __init__(
        self, resolution: int, latent_dim: int, fmap_base: int, fmap_max: int, n_findings: int = len(FINDINGS)
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        widths = [channels_at(4 * 2**i, fmap_base, fmap_max) for i in range(levels_for(resolution))]
        self.embed = LabelEmbedding(latent_dim, n_findings)
        self.mapping = nn.ModuleList([EqualLinear(2 * latent_dim, latent_dim), EqualLinear(latent_dim, latent_dim)])
        self.constant = nn.Parameter(torch.randn(1, widths[0], 4, 4))
        self.first = StyledConv(widths[0], widths[0], latent_dim)
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [StyledConv(widths[i - 1], widths[i], latent_dim), StyledConv(widths[i], widths[i], latent_dim)]
            )
            for i in range(1, len(widths))
        )
        self.to_image = EqualConv2d(widths[-1], 1, 1, gain=1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        w = torch.cat([pixel_norm(z), pixel_norm(self.embed(labels))], dim=1)
        for layer in self.mapping:
            w = lrelu(layer(w))
        x = self.first(self.constant.expand(z.shape[0], -1, -1, -1), w)
        for block in self.blocks:
            x = upsample(x)
            for conv in block:
                x = conv(x, w)
        return self.to_image(x)


class ProjectionDiscriminator(nn.Module):
    """(images [B, 1, R, R], labels [B, F]) -> logits [B] (real vs generated, for this condition)."""

    def __init__(
        self, resolution: int, fmap_base: int, fmap_max: int, mbstd_group: int = 4, n_findings: int = len(FINDINGS)
    ) -> None:
        super().__init__()
        widths = [channels_at(4 * 2**i, fmap_base, fmap_max) for i in range(levels_for(resolution))]
        self.mbstd_group = mbstd_group
        self.from_image = EqualConv2d(1, widths[-1], 1)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(widths[i], widths[i], 3), EqualConv2d(widths[i], widths[i - 1], 3)])
            for i in range(len(widths) - 1, 0, -1)
        )
        self.final_conv = EqualConv2d(widths[0] + 1, widths[0], 3)
        self.final_dense = EqualLinear(widths[0] * 16, widths[0])
        self.score = EqualLinear(widths[0], 1, gain=1.0)
        self.project = LabelEmbedding(widths[0], n_findings)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = lrelu(self.from_image(images))
        for block in self.blocks:
            for conv in block:
                x = lrelu(conv(x))
            x = downsample(x)
        x = lrelu(self.final_conv(minibatch_stddev(x, self.mbstd_group)))
        h = lrelu(self.final_dense(x.flatten(1)))
        return self.score(h).squeeze(1) + (self.project(labels) * h).sum(dim=1)
