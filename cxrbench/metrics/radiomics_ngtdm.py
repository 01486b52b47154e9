"""Neighbouring gray tone difference matrix and its 5 features (pyradiomics ``ngtdm.py``), in 2D.

For each pixel, A is the mean gray level of its 8 in-plane neighbours that lie inside the image
(distance 1); for each gray level i, n_i counts its pixels and s_i sums |i - A| over them. The
features run over the gray levels present (p_i > 0), with pyradiomics' values for a flat image:
Coarseness 10^6, Contrast, Busyness and Strength 0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cxrbench.metrics.radiomics_discretise import Levels
from cxrbench.metrics.radiomics_settings import NGTDM

_RING = np.array([[[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]])  # the 8 neighbours, batch axis untouched
FLAT_COARSENESS = 1e6


def ngtdm_matrix(levels: Levels) -> tuple[np.ndarray, np.ndarray]:
    """(n [B, Ng_max], s [B, Ng_max]): pixel count and summed |i - A| of each level 1..Ng_max."""
    x = levels.levels.astype(np.float64)
    neighbour_sum = ndimage.correlate(x, _RING, mode="constant", cval=0.0)
    neighbour_count = ndimage.correlate(np.ones_like(x), _RING, mode="constant", cval=0.0)
    difference = np.abs(x - neighbour_sum / neighbour_count)
    images, size = len(x), levels.max_level
    key = (np.arange(images)[:, None, None] * size + levels.levels - 1).ravel()
    n = np.bincount(key, minlength=images * size).reshape(images, size).astype(np.float64)
    s = np.bincount(key, weights=difference.ravel(), minlength=images * size).reshape(images, size)
    return n, s


# Above this many (image, level, level) entries the pairwise sums go image by image.
_PAIRWISE_BUDGET = 1 << 22


def _features(n: np.ndarray, s: np.ndarray) -> np.ndarray:
    """NGTDMs n, s [B, G] (levels 1..G, absent levels n = 0) -> [B, 5]; pairs of levels both present."""
    voxels = n.sum(axis=1)  # Nvp: every pixel of a >= 2 pixel image has a neighbour
    p = n / voxels[:, None]
    present = n > 0
    both = present[:, :, None] & present[:, None, :]
    gray = np.arange(1, n.shape[1] + 1, dtype=np.float64)
    gap = gray[:, None] - gray[None, :]
    ps = p * s
    weighted = ps.sum(axis=1)
    total_s = s.sum(axis=1)
    levels_present = present.sum(axis=1)
    contrast_sum = (p[:, :, None] * p[:, None, :] * gap**2).sum(axis=(1, 2))  # absent levels have p = 0
    ip = gray * p
    spread = np.where(both, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0).sum(axis=(1, 2))
    p_pair = p[:, :, None] + p[:, None, :]
    complexity = (
        np.where(both, np.abs(gap) * (ps[:, :, None] + ps[:, None, :]) / np.where(both, p_pair, 1.0), 0.0).sum(
            axis=(1, 2)
        )
        / voxels
    )
    strength_sum = np.where(both, p_pair * gap**2, 0.0).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack(
            [
                np.where(weighted == 0, FLAT_COARSENESS, 1.0 / weighted),
                np.where(
                    levels_present <= 1, 0.0, contrast_sum / (levels_present * (levels_present - 1)) * total_s / voxels
                ),
                np.where(spread == 0, 0.0, weighted / spread),
                complexity,
                np.where(total_s == 0, 0.0, strength_sum / total_s),
            ],
            axis=1,
        )


def ngtdm_features(levels: Levels) -> np.ndarray:
    """Discretised images -> [B, 5] in ``NGTDM`` order."""
    n, s = ngtdm_matrix(levels)
    if n.size * n.shape[1] <= _PAIRWISE_BUDGET:
        return _features(n, s)
    rows = []
    for n_b, s_b in zip(n, s):  # many levels (an image with extreme pixels): only each image's own range
        top = int(np.flatnonzero(n_b).max()) + 1
        rows.append(_features(n_b[None, :top], s_b[None, :top])[0])
    return np.array(rows).reshape(len(n), len(NGTDM))
