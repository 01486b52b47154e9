"""Gray level co-occurrence matrix and its 22 FRDv1 features (pyradiomics ``glcm.py``), in 2D.

pyradiomics' defaults under force2D: distance 1, the four in-plane angles, a symmetric matrix per
angle (P + P^T), each normalised to sum 1; every feature is computed per angle and averaged over
the angles. Gray level values (not indices) enter the formulas; Ng is the image's top level.
HXY2 (in Imc2) is computed as HX + HY, which it equals up to pyradiomics' epsilon inside the
logarithm (a difference below 1e-10); Imc2 is clamped at 0 where rounding makes HXY2 < HXY.
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.radiomics_cells import Cells, cells_from_keys, count_cells
from cxrbench.metrics.radiomics_discretise import Levels
from cxrbench.metrics.radiomics_settings import EPS, GLCM

# (row, column) offsets of the four 2D angles at distance 1: 0, 135, 90 and 45 degrees, in the order
# pyradiomics' generate_angles lists them for force2D, (z, y, x) = (0,0,1), (0,1,-1), (0,1,0), (0,1,1).
ANGLES = ((0, 1), (1, -1), (1, 0), (1, 1))


def unordered_cells(levels: Levels) -> Cells:
    """Counts of unordered level pairs {a, b} (row a <= col b), group = image * 4 + angle: the upper
    triangle of the symmetric GLCM, whose (a, b) and (b, a) entries are this count and whose
    diagonal entries are twice it. Half the keys of counting both orders."""
    images, height, width = levels.levels.shape
    size = levels.max_level
    zero_based = levels.levels - 1
    keys = []
    for angle, (dy, dx) in enumerate(ANGLES):
        y0, y1 = max(0, -dy), height - max(0, dy)
        x0, x1 = max(0, -dx), width - max(0, dx)
        group = (np.arange(images) * len(ANGLES) + angle)[:, None, None]
        first = zero_based[:, y0:y1, x0:x1]
        second = zero_based[:, y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        keys.append(((group * size + np.minimum(first, second)) * size + np.maximum(first, second)).ravel())
    return cells_from_keys(np.concatenate(keys), images * len(ANGLES), size, size)


def glcm_cells(levels: Levels) -> Cells:
    """The symmetric co-occurrence counts P + P^T: group = image * 4 + angle, rows/cols = level - 1."""
    half = unordered_cells(levels)
    diagonal = half.row == half.col
    off = ~diagonal
    return count_cells(
        np.concatenate([half.group, half.group[off]]),
        np.concatenate([half.row, half.col[off]]),
        np.concatenate([half.col, half.row[off]]),
        half.groups,
        half.rows,
        half.cols,
        np.concatenate([np.where(diagonal, 2 * half.count, half.count), half.count[off]]),
    )


def _entropy(p: np.ndarray) -> np.ndarray:
    """-sum p log2(p + eps) along the last axis."""
    return -(p * np.log2(p + EPS)).sum(axis=-1)


def _by_group(group: np.ndarray, index: np.ndarray, weights: np.ndarray, groups: int, size: int) -> np.ndarray:
    """Dense [groups, size] sums of ``weights`` by (group, index)."""
    return np.bincount(group * size + index, weights=weights, minlength=groups * size).reshape(groups, size)


def glcm_features(levels: Levels) -> np.ndarray:
    """Discretised images -> [B, 22] in ``GLCM`` order (mean over the four angles).

    Computed on the upper triangle: a cell (a, b) holds the symmetric matrix's probability q at
    (a, b) and, for a != b, again at (b, a); ``w`` = q times that multiplicity is its weight in
    every sum of a symmetric function, so sum_ij p f = sum_cells w f and sum p log p = sum w log q.
    """
    cells = unordered_cells(levels)
    diagonal = cells.row == cells.col
    pairs = 2.0 * cells.totals()  # entries of P + P^T
    q = np.where(diagonal, 2.0, 1.0) * cells.count / pairs[cells.group]
    w = 2.0 * cells.count / pairs[cells.group]
    a = cells.row + 1.0
    b = cells.col + 1.0
    size = cells.rows
    gray = np.arange(1, size + 1, dtype=np.float64)
    ng = np.repeat(levels.ng, len(ANGLES)).astype(np.float64)  # per group

    # marginal px (= py): an off-diagonal cell adds q to both its levels, a diagonal one q once
    off = ~diagonal
    px = _by_group(
        np.concatenate([cells.group, cells.group[off]]),
        np.concatenate([cells.row, cells.col[off]]),
        np.concatenate([q, q[off]]),
        cells.groups,
        size,
    )
    ux = px @ gray
    centred_a = a - ux[cells.group]
    centred_b = b - ux[cells.group]
    sigma2 = (px * (gray[None, :] - ux[:, None]) ** 2).sum(axis=1)
    hxy = -cells.sum(w * np.log2(q + EPS))
    hx = _entropy(px)
    flat_px = px.ravel()
    hxy1 = -cells.sum(
        w * np.log2(flat_px[cells.group * size + cells.row] * flat_px[cells.group * size + cells.col] + EPS)
    )
    hxy2 = 2.0 * hx

    p_diff = _by_group(cells.group, cells.col - cells.row, w, cells.groups, size)
    p_sum = _by_group(cells.group, cells.row + cells.col + 2, w, cells.groups, 2 * size + 1)
    k = np.arange(size, dtype=np.float64)
    diff_average = p_diff @ k

    correlation = cells.sum(w * centred_a * centred_b) / (sigma2 + EPS)
    correlation = np.where(sigma2 == 0, 1.0, correlation)  # flat: pyradiomics returns 1
    imc1 = np.where(hx == 0, 0.0, (hxy - hxy1) / np.where(hx == 0, 1.0, hx))
    imc2 = np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - hxy)), 0.0, None))
    cluster = centred_a + centred_b

    columns = {
        "Autocorrelation": cells.sum(w * a * b),
        "JointAverage": ux,
        "ClusterProminence": cells.sum(w * cluster**4),
        "ClusterShade": cells.sum(w * cluster**3),
        "ClusterTendency": cells.sum(w * cluster**2),
        "Contrast": p_diff @ k**2,
        "Correlation": correlation,
        "DifferenceAverage": diff_average,
        "DifferenceEntropy": _entropy(p_diff),
        "DifferenceVariance": (p_diff * (k[None, :] - diff_average[:, None]) ** 2).sum(axis=1),
        "JointEnergy": cells.sum(w * q),
        "JointEntropy": hxy,
        "Imc1": imc1,
        "Imc2": imc2,
        "Idm": p_diff @ (1.0 / (1.0 + k**2)),
        "Idmn": (p_diff / (1.0 + k[None, :] ** 2 / ng[:, None] ** 2)).sum(axis=1),
        "Id": p_diff @ (1.0 / (1.0 + k)),
        "Idn": (p_diff / (1.0 + k[None, :] / ng[:, None])).sum(axis=1),
        "InverseVariance": p_diff[:, 1:] @ (1.0 / k[1:] ** 2),
        "MaximumProbability": cells.group_max(q),
        "SumEntropy": _entropy(p_sum),
        "SumSquares": sigma2,
    }
    per_angle = np.stack([columns[name] for name in GLCM], axis=1)
    return per_angle.reshape(len(levels.levels), len(ANGLES), len(GLCM)).mean(axis=1)
