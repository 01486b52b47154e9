"""First-order features (pyradiomics ``firstorder.py``), vectorised over a batch of whole-image ROIs.

Differences from IBSI that pyradiomics documents and keeps here: Kurtosis is not excess kurtosis
(a normal distribution gives 3), Energy, TotalEnergy and RMS add ``voxelArrayShift`` to every
intensity, Entropy and Uniformity use the fixed-bin-width histogram. Flat regions: Skewness and
Kurtosis are 0 (pyradiomics' convention for a zero second moment).
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.radiomics_discretise import bin_counts
from cxrbench.metrics.radiomics_settings import (
    BIN_WIDTH,
    EPS,
    FIRST_ORDER,
    VOXEL_ARRAY_SHIFT,
)


def _histogram_bins(values: np.ndarray, bin_width: float) -> np.ndarray:
    """How many bins pyradiomics' histogram has per image ([B]): its edges run from the bin edge at or
    below the minimum to below max + 2 bin widths, so the top bin or two are empty."""
    low = np.floor(values.min(axis=1) / bin_width) * bin_width
    edges = np.ceil((values.max(axis=1) + 2 * bin_width - low) / bin_width)
    return edges.astype(np.int64) - 1


def first_order(
    values: np.ndarray, voxel_mm3: float, bin_width: float = BIN_WIDTH, shift: float = VOXEL_ARRAY_SHIFT
) -> np.ndarray:
    """float64 [B, N] (every pixel of each image) -> [B, 18] in ``FIRST_ORDER`` order.

    ``voxel_mm3``: the volume of one pixel in mm^3 (TotalEnergy = voxel volume x Energy).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[1]
    shifted_square = ((x + shift) ** 2).sum(axis=1)
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90], axis=1)
    mean = x.mean(axis=1)
    deviation = x - mean[:, None]
    m2 = (deviation**2).mean(axis=1)
    m3 = (deviation**3).mean(axis=1)
    m4 = (deviation**4).mean(axis=1)
    flat = m2 == 0
    safe_m2 = np.where(flat, 1.0, m2)

    inside = (x >= p10[:, None]) & (x <= p90[:, None])  # robust MAD: the 10th-90th percentile part
    inside_count = inside.sum(axis=1)
    inside_mean = np.where(inside, x, 0.0).sum(axis=1) / inside_count
    robust_mad = np.where(inside, np.abs(x - inside_mean[:, None]), 0.0).sum(axis=1) / inside_count

    counts, _ = bin_counts(x, bin_width)
    nbins = _histogram_bins(x, bin_width)
    in_histogram = np.arange(counts.shape[1] + 2)[None, :] < nbins[:, None]
    padded = np.pad(counts, ((0, 0), (0, 2))).astype(np.float64)
    p = (padded + EPS) / n  # pyradiomics adds eps to every bin before normalising
    entropy = -np.where(in_histogram, p * np.log2(p), 0.0).sum(axis=1)
    uniformity = ((counts / (n + EPS)) ** 2).sum(axis=1)

    columns = {
        "Energy": shifted_square,
        "TotalEnergy": voxel_mm3 * shifted_square,
        "Entropy": entropy,
        "Minimum": x.min(axis=1),
        "10Percentile": p10,
        "90Percentile": p90,
        "Maximum": x.max(axis=1),
        "Mean": mean,
        "Median": median,
        "InterquartileRange": p75 - p25,
        "Range": x.max(axis=1) - x.min(axis=1),
        "MeanAbsoluteDeviation": np.abs(deviation).mean(axis=1),
        "RobustMeanAbsoluteDeviation": robust_mad,
        "RootMeanSquared": np.sqrt(shifted_square / n),
        "Skewness": np.where(flat, 0.0, m3 / safe_m2**1.5),
        "Kurtosis": np.where(flat, 0.0, m4 / safe_m2**2),
        "Variance": m2,
        "Uniformity": uniformity,
    }
    return np.stack([columns[name] for name in FIRST_ORDER], axis=1)
