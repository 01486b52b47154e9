"""dinov2: DINOv2 ViT-L/14's CLS embedding (1024-d), preprocessed as dgm-eval preprocesses it.

dgm-eval (Stein et al., NeurIPS 2023; ``dgm_eval/models/dinov2.py``), which recommends DINOv2
ViT-L/14 over Inception for FD, opens each image as RGB, applies torchvision
``Resize((224, 224), BICUBIC)`` (PIL's antialiased resize: no crop, the aspect squashed),
``ToTensor`` and ``Normalize`` with the ImageNet mean/std, and keeps torch.hub dinov2_vitl14's
output, the CLS token after the final layer norm (``x_norm_clstoken``), unnormalised for FD.
That token is transformers' ``Dinov2Model`` ``pooler_output``; the network here is transformers'
port of the same weights (a local copy of facebook/dinov2-large), where dgm-eval loads the
torch.hub original.

cxrbench follows dgm-eval rather than the directory's preprocessor_config.json, which resizes the
short side to 256 and keeps the central 224 x 224: that drops a 1/16 border on every side of the
X-ray and would not give dgm-eval's numbers. The config is therefore not read (nor needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision.transforms as TF
from PIL import Image

from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.grey_pipeline import GreyPipeline, pil_resize
from cxrbench.metrics.hf_local import LocalVisionExtractor

DGM_EVAL_SIZE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])  # as dgm-eval writes them (torchvision casts to float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def dgm_eval_levels() -> np.ndarray:
    """float32 [3, 256]: dgm-eval's ToTensor and Normalize applied to the 256 grey levels (as RGB)."""
    levels = Image.fromarray(np.arange(256, dtype=np.uint8)[None]).convert("RGB")  # 1 x 256
    return TF.Normalize(IMAGENET_MEAN, IMAGENET_STD)(TF.ToTensor()(levels))[:, 0].numpy()


@FEATURE_EXTRACTORS.register("dinov2")
class Dinov2Extractor(LocalVisionExtractor):
    """DINOv2 ViT-L/14 CLS 1024-d features, dgm-eval's preprocessing (a local facebook/dinov2-large copy).

    weights: the local directory (config.json, model.safetensors).
    batch_size: images per forward pass.
    """

    name = "dinov2"
    source = "facebook/dinov2-large"
    model_types = ("dinov2",)
    holds = "config.json and model.safetensors"

    def _load(self, directory: Path) -> None:
        from transformers import Dinov2Model

        self.pipeline = GreyPipeline((pil_resize(DGM_EVAL_SIZE, DGM_EVAL_SIZE, Image.BICUBIC),), dgm_eval_levels())
        self.network = self.load_network(Dinov2Model, directory)
        self.dim = self.network.config.hidden_size

    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixel_values=pixels).pooler_output

    def preprocessing(self) -> str:
        return (
            f"gray-to-rgb, pil bicubic {DGM_EVAL_SIZE}x{DGM_EVAL_SIZE}, /255, imagenet mean {tuple(IMAGENET_MEAN)} "
            f"std {tuple(IMAGENET_STD)} (dgm-eval); pooler output"
        )
