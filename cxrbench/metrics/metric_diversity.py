"""Diversity: MS-SSIM between samples of the same condition (RoentGen protocol; lower = more diverse).

Samples are taken in groups of 4 in generation order (4 samples per prompt) and all 6 pairs of a
group are compared; the value is the mean over pairs. The real-holdout row gives the same figure
for real images. MS-SSIM is pytorch-msssim's, with its standard settings (5 scales, 11 px
Gaussian window, sigma 1.5, K = 0.01, 0.03, data range 255); it needs images over 160 px, so every
image is resized to 256 px first (bilinear, antialiased when shrinking): one resize policy for all.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.metrics import METRICS
from cxrbench.metrics.metric import Direction, Metric, MetricInputs, Statistic

GROUP = 4
SIZE = 256


def group_ms_ssim(images: np.ndarray, batch_pairs: int = 48) -> np.ndarray:
    """Mean MS-SSIM over the 6 pairs of each consecutive group of 4 images; uint8 [N, 1, H, W] -> [N // 4]."""
    from pytorch_msssim import ms_ssim

    groups = len(images) // GROUP
    pairs = [(g * GROUP + i, g * GROUP + j) for g in range(groups) for i, j in combinations(range(GROUP), 2)]
    x = torch.from_numpy(np.asarray(images[: groups * GROUP])).double()
    if x.shape[-1] != SIZE or x.shape[-2] != SIZE:
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    values = []
    for start in range(0, len(pairs), batch_pairs):
        a, b = zip(*pairs[start : start + batch_pairs])
        values.append(ms_ssim(x[list(a)], x[list(b)], data_range=255.0, size_average=False))
    per_pair = torch.cat(values).numpy() if values else np.empty(0)
    return per_pair.reshape(groups, len(pairs) // max(groups, 1)).mean(axis=1)


@METRICS.register("diversity")
class Diversity(Metric):
    """Mean MS-SSIM within groups of 4 samples (lower: more diverse)."""

    name = "diversity"
    valid_range = (-1.0, 1.0)
    display_name = "MS-SSIM"
    description = (
        "mean MS-SSIM over the 6 pairs of each group of 4 samples (RoentGen protocol); lower is more "
        "diverse; compare with the real-holdout row, since real images of one finding are alike too"
    )
    direction = Direction.LOWER
    feature_space = "pixels"
    needs = ("images",)
    uses_real = False
    min_samples = GROUP
    family, order = "diversity", 0

    def compute(self, inputs: MetricInputs) -> float:
        return self.statistic(inputs).estimate

    def statistic(self, inputs: MetricInputs) -> Statistic:
        per_group = group_ms_ssim(inputs.fake["images"])  # resample groups, not images: a repeated image is no pair
        return Statistic(float(per_group.mean()), lambda r, f: float(per_group[f].mean()), 0, len(per_group))
