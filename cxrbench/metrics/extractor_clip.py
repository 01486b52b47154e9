"""clip: CLIP ViT-L/14@336 image embeddings (768-d, unit length), the space CMMD is computed in.

CMMD (Jayasumana et al., CVPR 2024; google-research ``cmmd/io_util.py`` and ``embedding.py``, and
its PyTorch port, which loads openai/clip-vit-large-patch14-336 through transformers): each
image's central square is cut and resized with PIL bicubic (antialiased) to the processor's crop
size (336), divided by 255 in float32, resized bicubic to 336 again (the identity at that size),
normalised with CLIP's mean/std from preprocessor_config.json; ``CLIPVisionModelWithProjection``'s
``image_embeds`` are divided by their L2 norm. Here the same floats are computed on the grey
channel (``grey_pipeline``). The distance itself (MMD, Gaussian kernel, sigma 10, x 1000) is a
metric's job, not this space's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxrbench.errors import UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.grey_pipeline import GreyPipeline, centre_square, pil_resize, processor_levels
from cxrbench.metrics.hf_local import LocalVisionExtractor


@FEATURE_EXTRACTORS.register("clip")
class ClipExtractor(LocalVisionExtractor):
    """CLIP ViT-L/14@336 unit-length image embeddings, CMMD's preprocessing (local openai/clip-vit-large-patch14-336).

    weights: the local directory (config.json, model.safetensors, preprocessor_config.json); a
    whole CLIP model or its vision tower with projection.
    batch_size: images per forward pass.
    """

    name = "clip"
    source = "openai/clip-vit-large-patch14-336"
    model_types = ("clip", "clip_vision_model")
    holds = "config.json, model.safetensors and preprocessor_config.json"

    def _load(self, directory: Path) -> None:
        from transformers import CLIPVisionModelWithProjection

        processor = self.load_processor(directory)
        self.side = processor.crop_size.height  # CMMD: input_image_size = crop_size["height"]
        self.mean, self.std = tuple(processor.image_mean), tuple(processor.image_std)
        self.network = self.load_network(CLIPVisionModelWithProjection, directory)
        if self.network.config.image_size != self.side:
            raise UnavailableError(
                f"{directory}: preprocessor_config.json crops {self.side} px but the model takes "
                f"{self.network.config.image_size} px; {self.fix()}"
            )
        # CMMD divides by 255 itself, in float32, and turns the processor's rescale off
        scaled = np.arange(256, dtype=np.float32) / 255.0
        self.pipeline = GreyPipeline(
            (centre_square, pil_resize(self.side, self.side, Image.BICUBIC)), processor_levels(processor, scaled)
        )
        self.dim = self.network.config.projection_dim

    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        embeds = self.network(pixel_values=pixels).image_embeds
        return embeds / torch.linalg.norm(embeds, dim=-1, keepdim=True)

    def preprocessing(self) -> str:
        return (
            f"gray-to-rgb, centre square, pil bicubic {self.side}x{self.side}, /255, mean {self.mean} "
            f"std {self.std} (cmmd); image_embeds l2-normalised"
        )
