"""What pyradiomics does to an image before any filter (FRDv1 settings): normalise, then resample.

Order as pyradiomics' ``featureextractor.loadImage``: ``normalizeImage`` first (SimpleITK
``Normalize``: mean and sample standard deviation of all pixels, times ``normalizeScale``), then
``resampleImage`` to ``resampledPixelSpacing`` with a cubic B-spline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cxrbench.metrics.radiomics_settings import NORMALIZE_SCALE

# Cubic B-spline basis at the offsets -1.5, -0.5, 0.5, 1.5 from a half-way point: the weights of
# the four coefficients around each new pixel.
_HALF_WAY_WEIGHTS = np.array([1.0, 23.0, 23.0, 1.0]) / 48.0


def normalise(images: np.ndarray, scale: float = NORMALIZE_SCALE) -> np.ndarray:
    """float64 [B, H, W] -> each image (x - mean) / sd * scale, with sd the sample (n - 1) standard
    deviation as ITK's StatisticsImageFilter. A flat image (sd 0, where SimpleITK would divide by
    zero) becomes all zeros."""
    x = np.asarray(images, dtype=np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    sd = x.std(axis=(1, 2), ddof=1, keepdims=True)
    flat = sd == 0
    return np.where(flat, 0.0, (x - mean) / np.where(flat, 1.0, sd)) * scale


def _mirror(index: np.ndarray, size: int) -> np.ndarray:
    """Whole-sample mirror of indices into [0, size): ... 2 1 | 0 1 2 ... size-1 | size-2 ..."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def _halve_axis(coefficients: np.ndarray, axis: int) -> np.ndarray:
    """B-spline coefficients -> the spline's values at 0.5, 2.5, 4.5, ... along ``axis``."""
    size = coefficients.shape[axis]
    new_size = -(-size // 2)  # ceil(size / 2), as pyradiomics' resampling grid at twice the spacing
    start = 2 * np.arange(new_size)
    out = 0.0
    for offset, weight in zip((-1, 0, 1, 2), _HALF_WAY_WEIGHTS):
        out = out + weight * np.take(coefficients, _mirror(start + offset, size), axis=axis)
    return out


def resample_half(images: np.ndarray) -> np.ndarray:
    """float64 [B, H, W] -> [B, ceil(H/2), ceil(W/2)]: cubic B-spline interpolation at twice the
    pixel spacing, on pyradiomics' grid for 1 mm pixels resampled to 2 mm (new pixel i sits at old
    continuous index 0.5 + 2i, i.e. between old pixels 2i and 2i + 1).

    Boundary: mirror, as ITK's B-spline decomposition and interpolator (and scipy's ``mirror``).
    """
    x = np.asarray(images, dtype=np.float64)
    for axis in (1, 2):
        x = ndimage.spline_filter1d(x, order=3, axis=axis, mode="mirror", output=np.float64)
        x = _halve_axis(x, axis)
    return x
