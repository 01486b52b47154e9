"""Gray level run length matrix and its 16 features (pyradiomics ``glrlm.py``), in 2D.

One matrix per image and in-plane angle (the four of the GLCM); features per angle, then the mean.
Runs are found for a whole batch at once: each angle's lines of pixels are laid end to end, a run
starts where a line starts or the level changes, and run lengths are counted with bincount.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from cxrbench.metrics.radiomics_cells import Cells, count_cells
from cxrbench.metrics.radiomics_discretise import Levels
from cxrbench.metrics.radiomics_glcm import ANGLES
from cxrbench.metrics.radiomics_settings import EPS, GLRLM


@lru_cache(maxsize=32)
def _line_order(height: int, width: int, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices ordered line by line along (dy, dx), and which of them start a line."""
    y, x = np.mgrid[:height, :width]
    if (dy, dx) == (0, 1):
        line, position = y, x
    elif (dy, dx) == (1, 0):
        line, position = x, y
    elif (dy, dx) == (1, 1):
        line, position = x - y, y
    elif (dy, dx) == (1, -1):
        line, position = x + y, y
    else:
        raise ValueError(f"no run direction {(dy, dx)}")
    order = np.lexsort((position.ravel(), line.ravel()))
    sorted_line = line.ravel()[order]
    starts = np.r_[True, sorted_line[1:] != sorted_line[:-1]]
    return order, starts


def glrlm_cells(levels: Levels) -> Cells:
    """Run counts: group = image * 4 + angle, rows = level - 1, cols = run length - 1."""
    images, height, width = levels.levels.shape
    flat = levels.levels.reshape(images, -1)
    groups, rows, cols = [], [], []
    for angle, (dy, dx) in enumerate(ANGLES):
        order, line_starts = _line_order(height, width, dy, dx)
        seq = flat[:, order]
        starts = np.broadcast_to(line_starts, seq.shape).copy()
        starts[:, 1:] |= seq[:, 1:] != seq[:, :-1]
        start_index = np.flatnonzero(starts)  # into seq.ravel(); image = index // pixels
        lengths = np.diff(np.r_[start_index, seq.size])
        groups.append(start_index // seq.shape[1] * len(ANGLES) + angle)
        rows.append(seq.ravel()[start_index] - 1)
        cols.append(lengths - 1)
    return count_cells(
        np.concatenate(groups),
        np.concatenate(rows),
        np.concatenate(cols),
        images * len(ANGLES),
        levels.max_level,
        max(height, width),
    )


def run_features(cells: Cells, voxels: float) -> np.ndarray:
    """Run (or zone) matrices -> the 16 GLRLM/GLSZM features per group [groups, 16].

    ``voxels``: pixels in the ROI (Np). The GLSZM features are the same formulas on zone sizes.
    """
    total = cells.totals()  # Nr (number of runs) or Nz (number of zones)
    i = cells.row + 1.0
    j = cells.col + 1.0
    gray = np.arange(1, cells.rows + 1, dtype=np.float64)
    length = np.arange(1, cells.cols + 1, dtype=np.float64)
    pg = cells.row_marginal(cells.count)
    pr = cells.col_marginal(cells.count)
    pg_norm = pg / total[:, None]
    pr_norm = pr / total[:, None]
    p = cells.count / total[cells.group]
    mean_gray = pg_norm @ gray
    mean_length = pr_norm @ length
    return np.stack(
        [
            (pr @ (1.0 / length**2)) / total,  # short run (small area) emphasis
            (pr @ length**2) / total,  # long run (large area) emphasis
            (pg**2).sum(axis=1) / total,  # gray level non-uniformity
            (pg**2).sum(axis=1) / total**2,  # ... normalised
            (pr**2).sum(axis=1) / total,  # run length (size zone) non-uniformity
            (pr**2).sum(axis=1) / total**2,  # ... normalised
            total / voxels,  # run (zone) percentage
            (pg_norm * (gray[None, :] - mean_gray[:, None]) ** 2).sum(axis=1),  # gray level variance
            (pr_norm * (length[None, :] - mean_length[:, None]) ** 2).sum(axis=1),  # run (zone) variance
            -cells.sum(p * np.log2(p + EPS)),  # run (zone) entropy
            (pg @ (1.0 / gray**2)) / total,  # low gray level emphasis
            (pg @ gray**2) / total,  # high gray level emphasis
            cells.sum(cells.count / (i**2 * j**2)) / total,  # short/small, low gray
            cells.sum(cells.count * i**2 / j**2) / total,  # short/small, high gray
            cells.sum(cells.count * j**2 / i**2) / total,  # long/large, low gray
            cells.sum(cells.count * i**2 * j**2) / total,  # long/large, high gray
        ],
        axis=1,
    )


def glrlm_features(levels: Levels) -> np.ndarray:
    """Discretised images -> [B, 16] in ``GLRLM`` order (mean over the four angles)."""
    images, height, width = levels.levels.shape
    per_angle = run_features(glrlm_cells(levels), float(height * width))
    return per_angle.reshape(images, len(ANGLES), len(GLRLM)).mean(axis=1)
