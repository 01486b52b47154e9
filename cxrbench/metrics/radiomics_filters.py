"""FRDv1's image types: the original image, LoG at four sigmas and the four wavelet sub-bands.

In 2D (force2D): the LoG is the scale-normalised in-plane Laplacian of Gaussian, sigma^2 (G_xx + G_yy)
with sigma in pixels of the resampled image (ITK's ``SetNormalizeAcrossScale(True)`` multiplies the
physical-unit LoG by sigma_mm^2, which is the same number). pyradiomics uses ITK's recursive
(Deriche) Gaussian; here sampled Gaussian kernels (radius 4 sigma, border pixels repeated), the
derivative corrected to be exact on constants and quadratics, stand in for it. The wavelet is pyradiomics' ``_swt3``
restricted to the in-plane
axes (as ``getWaveletImage`` does under force2D): one level of PyWavelets' stationary transform,
coif1, odd sizes padded by one wrapped row/column and cropped back.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from cxrbench.errors import UnavailableError
from cxrbench.metrics.radiomics_settings import LOG_SIGMAS_MM, WAVELET

# pyradiomics' names: swtn keys per axis (x, then y), 'a' -> L(ow pass), 'd' -> H(igh pass); the
# details first, the approximation last, as getWaveletImage yields them.
_SUBBANDS = (("ad", "LH"), ("da", "HL"), ("dd", "HH"), ("aa", "LL"))


def _log_kernels(sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Sampled 1D Gaussian (sum 1) and its second derivative, made exact on constants (sum 0) and on
    quadratics (sum of t^2 k(t) = 2), as the continuous kernels are; radius 4 sigma."""
    radius = int(4.0 * sigma_px + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    gauss = np.exp(-0.5 * (t / sigma_px) ** 2)
    gauss /= gauss.sum()
    second = (t**2 / sigma_px**4 - 1.0 / sigma_px**2) * gauss
    second -= second.sum() * gauss
    second *= 2.0 / (t**2 * second).sum()
    return gauss, second


def log_filter(images: np.ndarray, sigma_px: float) -> np.ndarray:
    """float64 [B, H, W] -> scale-normalised LoG sigma^2 (d2/dy2 + d2/dx2)(G_sigma * image), same shape.

    Borders: the edge pixels repeated (ITK's recursive Gaussian extends the border value too).
    """
    gauss, second = _log_kernels(sigma_px)
    yy = _along(_along(images, second, 1), gauss, 2)
    xx = _along(_along(images, gauss, 1), second, 2)
    return sigma_px**2 * (yy + xx)


def _along(images: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    return ndimage.correlate1d(images, kernel, axis=axis, mode="nearest")


def require_pywavelets():
    """The pywt module, or UnavailableError with the install command (a core dependency: a broken install)."""
    try:
        import pywt
    except ImportError as error:  # a core dependency; a broken install gets the fix
        raise UnavailableError(
            "the radiomics space needs PyWavelets; install it with `pip install PyWavelets`"
        ) from error
    return pywt


def wavelet_subbands(images: np.ndarray, wavelet: str = WAVELET) -> dict[str, np.ndarray]:
    """float64 [B, H, W] -> {"LH", "HL", "HH", "LL": [B, H, W]}: one level of the 2D stationary wavelet transform."""
    pywt = require_pywavelets()
    _, height, width = images.shape
    padded = np.pad(images, ((0, 0), (0, height % 2), (0, width % 2)), mode="wrap")
    bands = pywt.swtn(padded, wavelet, level=1, start_level=0, axes=(2, 1))[0]
    return {name: bands[key][:, :height, :width] for key, name in _SUBBANDS}


def image_types(
    images: np.ndarray, pixel_mm: float, sigmas_mm: tuple[float, ...] = LOG_SIGMAS_MM, wavelet: str = WAVELET
) -> Iterator[tuple[str, np.ndarray]]:
    """(pyradiomics image type name, float64 [B, H, W]) for the original image, each LoG and each sub-band.

    ``pixel_mm``: the resampled pixel spacing in mm (sigmas are given in mm).
    """
    yield "original", images
    for sigma in sigmas_mm:
        yield f"log-sigma-{str(sigma).replace('.', '-')}-mm-2D", log_filter(images, sigma / pixel_mm)
    for name, band in wavelet_subbands(images, wavelet).items():
        yield f"wavelet-{name}", band
