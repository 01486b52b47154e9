"""Stable-Diffusion-1.x-format pipeline directories: check, load (local safetensors only), save.

A directory holds ``model_index.json`` and one folder per component: ``unet``, ``text_encoder``,
``tokenizer``, ``scheduler`` and ``vae``. RoentGen and any fine-tuned SD 1.x model come this way.
cxrbench's small model uses the same layout with ``vae`` set to null in ``model_index.json``:
its UNet works on pixels, cut into f x f patches stacked as channels (``pixel_unshuffle``: f),
a lossless rearrangement that makes each UNet level f^2 times cheaper. Nothing is downloaded and nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cxrbench.errors import ConfigError
from cxrbench.files import atomic_directory

INDEX = "model_index.json"
REQUIRED = ("unet", "text_encoder", "tokenizer", "scheduler")
# What each component folder must hold; weights are safetensors, alone or sharded with an index.
WEIGHTS = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model"}
FIX = "pass a complete diffusers pipeline directory (saved with save_pretrained(safe_serialization=True))"


@dataclass
class PipelineParts:
    """The loaded components of a text-to-image pipeline (``vae`` None: the UNet works on pixels)."""

    unet: Any  # diffusers UNet2DConditionModel
    text_encoder: Any  # transformers CLIPTextModel
    tokenizer: Any  # transformers CLIPTokenizer
    scheduler_config: dict
    vae: Any = None  # diffusers AutoencoderKL or None
    pixel_unshuffle: int = 1  # pixel space: the UNet sees f x f pixel patches as f^2 channels

    def to(self, device: torch.device, dtype: torch.dtype) -> "PipelineParts":
        for module in (self.unet, self.text_encoder, self.vae):
            if module is not None:
                module.to(device) if module.dtype == dtype else module.to(device=device, dtype=dtype)
                module.eval().requires_grad_(False)
        return self


def check_pipeline_dir(path: Path) -> dict:
    """Raise ConfigError naming the first missing piece of the pipeline at ``path``; else its model_index."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ConfigError(f"pipeline directory {path} does not exist; {FIX}")
    if not (path / INDEX).is_file():
        raise ConfigError(f"{path} has no {INDEX}, so it is not a diffusers pipeline directory; {FIX}")
    try:
        index = json.loads((path / INDEX).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path / INDEX} is not valid JSON ({error}); restore the file") from None
    for name in REQUIRED:
        if not index.get(name) or index[name] == [None, None]:
            raise ConfigError(f"{path / INDEX} lists no {name!r}; an SD-1.x pipeline needs {', '.join(REQUIRED)}")
    has_vae = bool(index.get("vae")) and index["vae"] != [None, None]
    for name in REQUIRED + (("vae",) if has_vae else ()):
        _check_component(path, name)
    return index


def _check_component(path: Path, name: str) -> None:
    folder = path / name
    if not folder.is_dir():
        raise ConfigError(f"{path} has no {name}/ folder; {FIX}")
    if name == "tokenizer":
        if not (
            (folder / "tokenizer.json").is_file()
            or ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())
        ):
            raise ConfigError(f"{folder} has neither tokenizer.json nor vocab.json with merges.txt; {FIX}")
        return
    config = "scheduler_config.json" if name == "scheduler" else "config.json"
    if not (folder / config).is_file():
        raise ConfigError(f"{folder} has no {config}; {FIX}")
    if name in WEIGHTS:
        stem = WEIGHTS[name]
        if not ((folder / f"{stem}.safetensors").is_file() or (folder / f"{stem}.safetensors.index.json").is_file()):
            others = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".safetensors", ".ckpt"))
            found = (
                f" (found only {', '.join(others)}; cxrbench reads {stem}.safetensors, never pickles)" if others else ""
            )
            raise ConfigError(f"{folder} has no {stem}.safetensors{found}; {FIX}")


def load_pipeline(path: Path) -> PipelineParts:
    """The components of the pipeline at ``path`` on the CPU in float32, from local safetensors only."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    from cxrbench.models.diffusion.tokenizer import load_tokenizer

    path = Path(path).expanduser()
    index = check_pipeline_dir(path)
    has_vae = bool(index.get("vae")) and index["vae"] != [None, None]
    local = {"use_safetensors": True, "local_files_only": True}
    unet = UNet2DConditionModel.from_pretrained(str(path / "unet"), **local)
    text_encoder = CLIPTextModel.from_pretrained(str(path / "text_encoder"), **local)
    vae = AutoencoderKL.from_pretrained(str(path / "vae"), **local) if has_vae else None
    scheduler_config = json.loads((path / "scheduler" / "scheduler_config.json").read_text())
    parts = PipelineParts(
        unet,
        text_encoder,
        load_tokenizer(path / "tokenizer"),
        scheduler_config,
        vae,
        1 if has_vae else int(index.get("pixel_unshuffle", 1)),
    )
    return parts.to(torch.device("cpu"), torch.float32)


def save_pipeline(directory: Path, parts: PipelineParts, extra: dict | None = None) -> None:
    """Write ``parts`` as a pipeline directory (safetensors), atomically: readers never see half of one.

    extra: more keys for ``model_index.json`` (e.g. what cxrbench trained it on).
    """

    def fill(staging: Path) -> None:
        parts.unet.save_pretrained(str(staging / "unet"), safe_serialization=True)
        parts.text_encoder.save_pretrained(str(staging / "text_encoder"), safe_serialization=True)
        parts.tokenizer.save_pretrained(str(staging / "tokenizer"))
        (staging / "scheduler").mkdir()
        config = dict(parts.scheduler_config)
        if "_use_default_values" in config:  # diffusers lists them from a set: sorted, the same bytes every time
            config["_use_default_values"] = sorted(config["_use_default_values"])
        (staging / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2))
        if parts.vae is not None:
            parts.vae.save_pretrained(str(staging / "vae"), safe_serialization=True)
        index = {
            "_class_name": "StableDiffusionPipeline",
            "unet": ["diffusers", "UNet2DConditionModel"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "scheduler": ["diffusers", parts.scheduler_config["_class_name"]],
            "vae": ["diffusers", "AutoencoderKL"] if parts.vae is not None else [None, None],
            "safety_checker": [None, None],
            "feature_extractor": [None, None],
            "requires_safety_checker": False,
            **({} if parts.vae is not None else {"pixel_unshuffle": parts.pixel_unshuffle}),
            **(extra or {}),
        }
        (staging / INDEX).write_text(json.dumps(index, indent=2))

    atomic_directory(directory, fill)
