"""Read one radiograph from disk as 8-bit grayscale, whatever its format (PNG, JPEG, DICOM).

The 8-bit rule, one for every format:
- 8-bit grayscale files are taken as they are;
- RGB / RGBA files are converted to luminance (ITU-R 601, Pillow's "L"), alpha dropped;
- more than 8 bits (16-bit PNG, 12-16-bit DICOM): for DICOM the modality LUT (rescale slope and
  intercept) and the VOI LUT or window centre/width are applied first, as a viewer would; then
  the values are mapped linearly from [min, max] of the image to [0, 255];
- DICOM MONOCHROME1 (bright = low values) is inverted so that dense is bright, as everywhere else.

Images of more than Pillow's ``Image.MAX_IMAGE_PIXELS`` pixels (about 89 million; its
decompression-bomb guard) are refused before they are decoded, DICOM included: a radiograph
has a few million.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cxrbench.errors import CxrbenchError, MissingDependencyError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")  # what a folder of images is read for


class BadImageError(CxrbenchError):
    """A file that is missing or cannot be decoded as an image."""


class ImageTooLargeError(BadImageError):
    """An image above the pixel limit (a decompression bomb, or a scan far larger than a radiograph)."""


def _too_large(path: Path, pixels: int, limit: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"image file {path} has {pixels:,} pixels, above the limit of {limit:,} "
        "(decompression-bomb guard); downscale it or remove it"
    )


def _linear_to_uint8(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("pixel data holds NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _read_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:
        raise MissingDependencyError(f"{path} is DICOM; install pydicom: pip install 'cxrbench[dicom]'") from None
    dataset = pydicom.dcmread(str(path))
    limit = Image.MAX_IMAGE_PIXELS
    size = int(getattr(dataset, "Rows", 0)) * int(getattr(dataset, "Columns", 0))
    if limit and size > limit:  # checked before the pixel data is decoded
        raise _too_large(path, size, limit)
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected one 2-D frame, got pixel array of shape {pixels.shape}")
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset)
    image = _linear_to_uint8(values)
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        image = 255 - image
    return image


def _read_raster(path: Path) -> np.ndarray:
    with warnings.catch_warnings():  # Pillow only warns between 1x and 2x its limit: refuse there too
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            size = re.search(r"\((\d+) pixels\)", str(error))  # Pillow's message carries the size
            raise _too_large(path, int(size.group(1)) if size else 0, Image.MAX_IMAGE_PIXELS) from None
    with opened as image:
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return _linear_to_uint8(np.asarray(image))
        return np.asarray(image.convert("L"))


def read_image(path: Path) -> np.ndarray:
    """The image at ``path`` as uint8 [H, W] (dense is bright); BadImageError names the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise BadImageError(f"image file {path} is missing")
    try:
        if path.suffix.lower() in (".dcm", ".dicom"):
            return _read_dicom(path)
        return _read_raster(path)
    except MissingDependencyError:
        raise
    except (OSError, ValueError, UnidentifiedImageError, SyntaxError, AttributeError, KeyError) as error:
        raise BadImageError(f"image file {path} cannot be decoded ({type(error).__name__}: {error})") from None
