"""rad-dino: microsoft/rad-dino's CLS embedding (its pooler output, 768-d), as CheXGenBench computes it.

RAD-DINO (Perez-Garcia et al., arXiv 2401.10815) is a DINOv2 ViT-B/14 trained on chest X-rays.
CheXGenBench (arXiv 2505.10496, ``metrics/fid.py``) computes FID, KID and PRDC on it: each image
opened as RGB, torchvision ``Resize((299, 299))`` (PIL bilinear: the loader it shares with
Inception FID), uint8, then the model's own image processor as transformers 4.50.3 builds it
by default, the PIL one (shortest edge to 518 bicubic, centre crop 518, x 1/255, mean 0.5307,
std 0.2583: all read from the directory's preprocessor_config.json), then ``pooler_output``
(the CLS token after the final layer norm). Here the same floats are computed on the grey
channel (``grey_pipeline``); the network is transformers' ``Dinov2Model``.

Licence: the weights were released under MIT (May 2024) and relicensed to the MSRLA (Microsoft
Research Licence Agreement: research use) on 19 August 2024; a later commit on the model page
("Use MIT license") shows MIT again. The LICENSE file in the copy you hold is the one that binds.
Nothing is downloaded: ``weights`` is a local copy of huggingface.co/microsoft/rad-dino, and only
its safetensors are read.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from cxrbench.errors import ConfigError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.grey_pipeline import (
    GreyPipeline,
    describe_processor,
    pil_resize,
    processor_geometry,
    processor_levels,
)
from cxrbench.metrics.hf_local import LocalVisionExtractor

CHEXGENBENCH_RESIZE = 299  # CheXGenBench's loader resizes every image to 299 x 299 before the processor


@FEATURE_EXTRACTORS.register("rad-dino")
class RadDinoExtractor(LocalVisionExtractor):
    """RAD-DINO CLS (pooler output) 768-d features, CheXGenBench's preprocessing (a local microsoft/rad-dino copy).

    weights: the local directory (config.json, model.safetensors, preprocessor_config.json).
    batch_size: images per forward pass.
    pre_resize: CheXGenBench's first resize, PIL bilinear to pre_resize x pre_resize (299); 0 skips
    it and gives the images to the processor as they are (no longer CheXGenBench's numbers).
    """

    name = "rad-dino"
    source = "microsoft/rad-dino"
    model_types = ("dinov2",)
    holds = "config.json, model.safetensors and preprocessor_config.json"

    def __init__(
        self, weights: str | Path | None = None, batch_size: int = 16, pre_resize: int = CHEXGENBENCH_RESIZE
    ) -> None:
        if pre_resize < 0:
            raise ConfigError(f"rad-dino pre_resize = {pre_resize}; give a size in pixels (299: CheXGenBench) or 0")
        super().__init__(weights, batch_size)
        self.pre_resize = pre_resize
        self.processor = None

    def _load(self, directory: Path) -> None:
        from transformers import Dinov2Model

        self.processor = self.load_processor(directory)
        first = (pil_resize(self.pre_resize, self.pre_resize, Image.BILINEAR),) if self.pre_resize else ()
        self.pipeline = GreyPipeline(first + (processor_geometry(self.processor),), processor_levels(self.processor))
        self.network = self.load_network(Dinov2Model, directory)
        self.dim = self.network.config.hidden_size

    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixel_values=pixels).pooler_output

    def preprocessing(self) -> str:
        first = f"pil bilinear {self.pre_resize}x{self.pre_resize}, " if self.pre_resize else ""
        return f"gray-to-rgb, {first}processor (pil): {describe_processor(self.processor)}; pooler output"
