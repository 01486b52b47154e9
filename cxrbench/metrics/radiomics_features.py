"""FRDv1's radiomic feature vector of each image: every family on every image type.

uint8 images -> normalise (x100) -> resample to half size (1 mm -> 2 mm pixels) -> for the original,
LoG (2, 3, 4, 5 mm) and wavelet (LH, HL, HH, LL) images: first-order on the values, then GLCM, GLRLM,
GLSZM and NGTDM on the values discretised with bin width 5. Mask: the whole image.
9 image types x 77 features = 693 values per image, named as pyradiomics names them
(``original_glcm_Contrast``, ``wavelet-LH_firstorder_Mean``...).
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics.radiomics_discretise import discretise
from cxrbench.metrics.radiomics_filters import image_types
from cxrbench.metrics.radiomics_firstorder import first_order
from cxrbench.metrics.radiomics_glcm import glcm_features
from cxrbench.metrics.radiomics_glrlm import glrlm_features
from cxrbench.metrics.radiomics_glszm import glszm_features
from cxrbench.metrics.radiomics_ngtdm import ngtdm_features
from cxrbench.metrics.radiomics_preprocess import normalise, resample_half
from cxrbench.metrics.radiomics_settings import (
    BIN_WIDTH,
    FAMILIES,
    LOG_SIGMAS_MM,
    RESAMPLE_FACTOR,
)

SOURCE_PIXEL_MM = 1.0  # pyradiomics reads a PNG's pixels as 1 mm (FRDv1 sets spacing [1, 1, 1])


def family_features(values: np.ndarray, voxel_mm3: float, bin_width: float = BIN_WIDTH) -> np.ndarray:
    """One image type, float64 [B, H, W] -> [B, 77]: first-order, GLCM, GLRLM, GLSZM, NGTDM."""
    levels = discretise(values, bin_width)
    return np.concatenate(
        [
            first_order(values.reshape(len(values), -1), voxel_mm3, bin_width),
            glcm_features(levels),
            glrlm_features(levels),
            glszm_features(levels),
            ngtdm_features(levels),
        ],
        axis=1,
    )


def type_names(sigmas_mm: tuple[float, ...] = LOG_SIGMAS_MM) -> list[str]:
    """The image types in output order (what ``image_types`` yields)."""
    return (
        ["original"]
        + [f"log-sigma-{str(s).replace('.', '-')}-mm-2D" for s in sigmas_mm]
        + [f"wavelet-{band}" for band in ("LH", "HL", "HH", "LL")]
    )


def feature_names(sigmas_mm: tuple[float, ...] = LOG_SIGMAS_MM) -> list[str]:
    """pyradiomics-style names of the output columns, in order."""
    return [
        f"{kind}_{family}_{name}"
        for kind in type_names(sigmas_mm)
        for family, names in FAMILIES.items()
        for name in names
    ]


def radiomic_features(
    images: np.ndarray,
    resample: int = RESAMPLE_FACTOR,
    sigmas_mm: tuple[float, ...] = LOG_SIGMAS_MM,
    bin_width: float = BIN_WIDTH,
) -> np.ndarray:
    """uint8 (or float) [B, H, W] -> float64 [B, 9 * 77]: FRDv1's radiomic features of each image.

    ``resample``: 2 reproduces FRDv1 (resampledPixelSpacing 2 mm on 1 mm pixels); 1 keeps the size.
    """
    x = normalise(np.asarray(images, dtype=np.float64))
    if resample == 2:
        x = resample_half(x)
    elif resample != 1:
        raise ValueError(f"resample must be 1 or 2, got {resample}")
    pixel_mm = SOURCE_PIXEL_MM * resample
    voxel_mm3 = pixel_mm * pixel_mm * SOURCE_PIXEL_MM  # the slice keeps its 1 mm thickness
    return np.concatenate(
        [family_features(values, voxel_mm3, bin_width) for _, values in image_types(x, pixel_mm, sigmas_mm)], axis=1
    )
