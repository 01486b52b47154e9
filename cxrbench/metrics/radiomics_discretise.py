"""Fixed bin width discretisation, pyradiomics' formula (``imageoperations.getBinEdges``).

X_b = floor(X / W) - floor(min(X) / W) + 1: bins equally spaced from 0 (not from the minimum, as
IBSI's), and the image's lowest bin is level 1. A flat image is one level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxrbench.metrics.radiomics_settings import BIN_WIDTH


@dataclass(frozen=True)
class Levels:
    """Discretised images: ``levels`` int64 [B, H, W] in 1..Ng; ``ng`` int64 [B], each image's top level
    (pyradiomics' Ng, the maximum level in the ROI, which the normalised GLCM features divide by)."""

    levels: np.ndarray
    ng: np.ndarray

    @property
    def max_level(self) -> int:
        return int(self.ng.max())


def discretise(values: np.ndarray, bin_width: float = BIN_WIDTH) -> Levels:
    """float [B, H, W] (one image type, whole-image ROI) -> gray levels by fixed bin width."""
    x = np.asarray(values, dtype=np.float64)
    bins = np.floor(x / bin_width)
    levels = (bins - bins.min(axis=(1, 2), keepdims=True)).astype(np.int64) + 1
    return Levels(levels, levels.max(axis=(1, 2)))


def bin_counts(values: np.ndarray, bin_width: float = BIN_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """float [B, N] -> (counts [B, Ng_max] of each level 1..Ng_max, Ng [B]): the first-order histogram."""
    bins = np.floor(np.asarray(values, dtype=np.float64) / bin_width)
    levels = (bins - bins.min(axis=1, keepdims=True)).astype(np.int64)
    width = int(levels.max()) + 1
    rows = np.repeat(np.arange(len(levels)), levels.shape[1])
    counts = np.bincount(rows * width + levels.ravel(), minlength=len(levels) * width).reshape(len(levels), width)
    return counts, levels.max(axis=1) + 1
