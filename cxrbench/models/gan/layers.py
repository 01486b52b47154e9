"""Layers of the PGGAN recipe (Karras et al. 2018), reused by the conditional GAN.

Equalised learning rate: weights are drawn from N(0, 1) and scaled at run time by He's
constant, so Adam's per-parameter step sizes are the same for every layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
HE_GAIN = math.sqrt(2.0)


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate ("same" padding)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float = HE_GAIN) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate."""

    def __init__(self, in_features: int, out_features: int, gain: float = HE_GAIN, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit average square (generator only)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one feature map: the standard deviation across groups of the minibatch, averaged.

    Lets the discriminator see a batch's variety, which discourages mode collapse.
    """
    b, c, h, w = x.shape
    group = min(group_size, b)
    while b % group:  # the last batch of an epoch may not split evenly
        group -= 1
    y = x.reshape(group, -1, c, h, w)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def channels_at(resolution: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps at ``resolution``: PGGAN's min(fmap_max, 2 * fmap_base / resolution).

    With the published fmap_base 8192 and fmap_max 512 this gives 512 up to 32 px, then 256,
    128, 64, 32, 16 at 1024 px.
    """
    return max(1, min(fmap_max, 2 * fmap_base // resolution))
