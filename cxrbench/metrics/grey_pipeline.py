"""A published RGB preprocessing, computed on the one grey channel with the same floats.

The reference pipelines (CheXGenBench's RAD-DINO, dgm-eval's DINOv2, CMMD's CLIP) open each image
as RGB and resize it with PIL, then rescale and normalise each pixel in float32. For a grey image
the three channels are equal and PIL resamples every channel alone with the same coefficients,
so resizing the grey channel once gives each channel's pixels (a third of the PIL work). What the
per-pixel arithmetic makes of a pixel depends only on its uint8 level and its channel, so it is a
table of 3 x 256 float32 values, made by running the reference's own arithmetic on the 256 levels;
looking the resized pixels up in it gives the reference's float32 input bit for bit
(tests/test_extractors_hf.py compares with each reference run on PIL RGB images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

Geometry = Callable[[np.ndarray], np.ndarray]  # uint8 [H, W] -> uint8 [h, w]


def pil_resize(height: int, width: int, resample: int) -> Geometry:
    """PIL's resize to height x width (``resample``: a PIL filter, e.g. Image.BICUBIC; antialiased)."""
    return lambda grey: np.asarray(Image.fromarray(grey).resize((width, height), resample=resample))


def centre_square(grey: np.ndarray) -> np.ndarray:
    """The central square of side min(H, W), cut where CMMD's io_util cuts it (offsets rounded down)."""
    height, width = grey.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return grey[top : top + side, left : left + side]


def processor_geometry(processor) -> Geometry:
    """The resize and centre crop of a transformers image processor (PIL backend), as its config sets them."""

    def apply(grey: np.ndarray) -> np.ndarray:
        out = processor(
            images=[grey[None]],
            do_convert_rgb=False,
            do_rescale=False,
            do_normalize=False,
            input_data_format="channels_first",
        )["pixel_values"][0]
        return np.asarray(out)[0]

    return apply


def describe_processor(processor) -> str:
    """A processor's settings that change the numbers, in words (for a feature space's identity)."""
    from transformers.image_utils import PILImageResampling

    parts = []
    if processor.do_resize:
        size = processor.size
        target = f"shortest edge {size.shortest_edge}" if size.shortest_edge else f"{size.height}x{size.width}"
        parts.append(f"resize {target} {PILImageResampling(processor.resample).name.lower()}")
    if processor.do_center_crop:
        parts.append(f"centre crop {processor.crop_size.height}x{processor.crop_size.width}")
    if processor.do_rescale:
        parts.append(f"x{processor.rescale_factor:.8g}")
    if processor.do_normalize:
        parts.append(f"mean {tuple(processor.image_mean)} std {tuple(processor.image_std)}")
    return ", ".join(parts)


def processor_levels(processor, levels: np.ndarray | None = None) -> np.ndarray:
    """float32 [3, 256]: the processor's own rescale and normalise applied to the 256 grey levels.

    levels: what the caller hands the processor instead of the uint8 levels (CMMD divides by 255
    itself and turns the processor's rescale off); None: the uint8 levels 0..255.
    """
    given = np.arange(256, dtype=np.uint8) if levels is None else levels
    image = np.broadcast_to(given, (3, 1, 256)).copy()
    out = processor(
        images=[image],
        do_convert_rgb=False,
        do_resize=False,
        do_center_crop=False,
        do_rescale=levels is None and processor.do_rescale,
        input_data_format="channels_first",
    )
    return np.asarray(out["pixel_values"][0], dtype=np.float32)[:, 0, :]


@dataclass(frozen=True, eq=False)
class GreyPipeline:
    """uint8 [B, 1, H, W] -> float32 [B, 3, h, w]: ``steps`` on each grey image, then ``levels`` [3, 256] per pixel."""

    steps: tuple[Geometry, ...]
    levels: np.ndarray

    def __call__(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        resized = []
        for grey in images[:, 0].cpu().numpy():
            for step in self.steps:
                grey = step(grey)
            resized.append(grey)
        index = torch.from_numpy(np.stack(resized)).to(device).long()  # [B, h, w]
        table = torch.from_numpy(self.levels).to(device)  # [3, 256]
        return table[:, index].transpose(0, 1).contiguous()
