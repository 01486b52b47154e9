"""rad-dino, dinov2 and clip: local copies in the published layouts, and the reference code of each.

Nothing is downloaded: the configs are the published ones (or tiny ones of the same kind), the
weights seeded random, written by ``save_pretrained`` (safetensors), next to the
preprocessor_config.json each model page publishes. The references are the published feature
code, called as it calls transformers, on PIL RGB images: CheXGenBench (rad-dino), dgm-eval
(dinov2), CMMD (clip). tests/test_extractors_hf.py uses the tiny sizes,
benchmarks/extraction_speed_hf.py the published ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torchvision.transforms as TF
from PIL import Image

# preprocessor_config.json as published on each model page (facebook/dinov2-large's is not read
# by the extractor, which follows dgm-eval; it is written to show that it is ignored)
PROCESSOR_CONFIGS = {
    "rad-dino": {
        "crop_size": {"height": 518, "width": 518},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.5307, 0.5307, 0.5307],
        "image_processor_type": "BitImageProcessor",
        "image_std": [0.2583, 0.2583, 0.2583],
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": 518},
    },
    "dinov2": {
        "crop_size": {"height": 224, "width": 224},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_processor_type": "BitImageProcessor",
        "image_std": [0.229, 0.224, 0.225],
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": 256},
    },
    "clip": {
        "crop_size": 336,
        "do_center_crop": True,
        "do_normalize": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "size": 336,
    },
}

# vision transformer sizes: the published ones (microsoft/rad-dino ViT-B/14 518 px, facebook/dinov2-large
# ViT-L/14, CLIP ViT-L/14@336) and tiny ones with the same input sizes and layout
PUBLISHED = {
    "rad-dino": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4),
    "dinov2": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4),
    "clip": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, projection_dim=768
    ),
}
TINY = {
    "rad-dino": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2),
    "dinov2": dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, mlp_ratio=2),
    "clip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, projection_dim=24),
}
TINY_TEXT = dict(
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    vocab_size=64,
    bos_token_id=0,
    eos_token_id=1,
    pad_token_id=1,
)


def write_local_copy(name: str, directory: Path, sizes: dict, seed: int = 0, whole_clip: bool = True) -> Path:
    """A directory like a download of ``name``'s model page: config.json, model.safetensors (seeded random
    weights of ``sizes``), preprocessor_config.json. whole_clip: clip as the whole CLIP model (the
    published layout, tiny text tower) or only its vision tower with projection."""
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        Dinov2Config,
        Dinov2Model,
    )

    torch.manual_seed(seed)
    if name == "clip":
        vision = dict(sizes, image_size=336, patch_size=14)
        model = (
            CLIPModel(
                CLIPConfig(
                    text_config=dict(TINY_TEXT, projection_dim=sizes["projection_dim"]),
                    vision_config=vision,
                    projection_dim=sizes["projection_dim"],
                )
            )
            if whole_clip
            else CLIPVisionModelWithProjection(CLIPVisionConfig(**vision))
        )
    else:
        model = Dinov2Model(Dinov2Config(**sizes, image_size=518, patch_size=14))
    directory = Path(directory)
    model.save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(json.dumps(PROCESSOR_CONFIGS[name], indent=2))
    return directory


def _rgb(images: torch.Tensor) -> list[Image.Image]:
    """What each reference opens: the image files, as PIL RGB images."""
    return [Image.fromarray(grey.numpy()).convert("RGB") for grey in images[:, 0]]


@dataclass(frozen=True)
class Reference:
    """A published feature code: ``pixels`` (its preprocessing: uint8 [B, 1, H, W] -> float32 [B, 3, h, w], the
    model's input) and ``forward`` (that input -> features); calling it runs both -> float64 [B, D]."""

    pixels: Callable[[torch.Tensor], torch.Tensor]
    forward: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return self.forward(self.pixels(images)).double().numpy()


def chexgenbench(directory: Path, pre_resize: int = 299) -> Reference:
    """CheXGenBench metrics/fid.py: Resize((299, 299)) + ToTensor, x 255 to uint8, the processor on the batch
    (transformers 4.50.3's default processor, the PIL one), AutoModel's pooler_output (pre_resize 0: no Resize)."""
    from transformers import AutoImageProcessor, AutoModel

    model = AutoModel.from_pretrained(directory).eval()
    processor = AutoImageProcessor.from_pretrained(directory, backend="pil")
    loader = TF.Compose(([TF.Resize((pre_resize, pre_resize))] if pre_resize else []) + [TF.ToTensor()])

    def pixels(images: torch.Tensor) -> torch.Tensor:
        batch = torch.stack([(loader(image) * 255).to(torch.uint8) for image in _rgb(images)])
        return processor(images=batch, return_tensors="pt")["pixel_values"]

    return Reference(pixels, lambda x: model(pixel_values=x).pooler_output)


def dgm_eval(directory: Path) -> Reference:
    """dgm-eval models/dinov2.py's transform, then the CLS token after the final norm (pooler_output)."""
    from transformers import Dinov2Model

    model = Dinov2Model.from_pretrained(directory).eval()
    transform = TF.Compose(
        [
            TF.Resize((224, 224), TF.InterpolationMode.BICUBIC),
            TF.ToTensor(),
            TF.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])),
        ]
    )
    return Reference(
        lambda images: torch.stack([transform(image) for image in _rgb(images)]),
        lambda x: model(pixel_values=x).pooler_output,
    )


def cmmd(directory: Path) -> Reference:
    """CMMD io_util.py (centre square, PIL bicubic, float32 / 255) and the PyTorch embedding.py (transformers)."""
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    processor = CLIPImageProcessor.from_pretrained(directory)
    model = CLIPVisionModelWithProjection.from_pretrained(directory).eval()
    size = processor.crop_size["height"]

    def read(im: Image.Image) -> np.ndarray:
        w, h = im.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), resample=Image.BICUBIC)
        return np.asarray(im).astype(np.float32)

    def pixels(images: torch.Tensor) -> torch.Tensor:
        batch = np.stack([read(im) for im in _rgb(images)]) / 255.0
        batch = (
            torch.nn.functional.interpolate(
                torch.from_numpy(batch.transpose(0, 3, 1, 2)), size=(size, size), mode="bicubic"
            )
            .permute(0, 2, 3, 1)
            .numpy()
        )
        return processor(
            images=batch,
            do_normalize=True,
            do_center_crop=False,
            do_resize=False,
            do_rescale=False,
            return_tensors="pt",
        )["pixel_values"]

    def forward(x: torch.Tensor) -> torch.Tensor:
        embeds = model(pixel_values=x).image_embeds
        return embeds / torch.linalg.norm(embeds, axis=-1, keepdims=True)

    return Reference(pixels, forward)


REFERENCES: dict[str, Callable[..., Reference]] = {"rad-dino": chexgenbench, "dinov2": dgm_eval, "clip": cmmd}
