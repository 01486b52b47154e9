"""Square resize: the one aspect policy and resampling filter for real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ASPECT_POLICIES = ("crop", "pad")


def to_square(image: np.ndarray, resolution: int, aspect: str = "crop") -> np.ndarray:
    """uint8 [H, W] -> uint8 [resolution, resolution].

    aspect: "crop" keeps the centred square of side min(H, W); "pad" centres the image on a black
    square of side max(H, W). Resampling: Pillow's bilinear filter, which widens its support when
    shrinking (antialiased).
    """
    height, width = image.shape
    if aspect == "crop":
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side]
    elif aspect == "pad":
        side = max(height, width)
        square = np.zeros((side, side), dtype=np.uint8)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = image
    else:
        raise ValueError(f"aspect must be one of {ASPECT_POLICIES}, got {aspect!r}")
    if square.shape[0] == resolution:
        return np.ascontiguousarray(square)
    return np.asarray(Image.fromarray(square).resize((resolution, resolution), Image.Resampling.BILINEAR))


def read_squares(paths: list[Path], resolution: int, aspect: str = "crop") -> np.ndarray:
    """Image files (any format ``image_io.read_image`` reads) as uint8 [N, resolution, resolution]."""
    from cxrbench.data.image_io import read_image

    return np.stack([to_square(read_image(path), resolution, aspect) for path in paths])
