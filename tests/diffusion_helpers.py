"""A tiny randomly initialised Stable-Diffusion-1.x pipeline directory, built offline (no hub access)."""

from __future__ import annotations

import json
import string
from pathlib import Path


def write_tiny_vocab(directory: Path) -> tuple[Path, Path]:
    """A CLIP vocab.json and merges.txt covering lower-case letters, a few words and punctuation."""
    letters = list(string.ascii_lowercase) + list(".,-")
    tokens = letters + [c + "</w>" for c in letters] + ["no</w>", "pleural</w>", "<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = ["#version: 0.2", "n o</w>", "p l", "pl e", "ple u", "pleu r", "pleur a", "pleura l</w>"]
    for name in ("p", "pl", "ple", "pleu", "pleur", "pleura"):
        vocab.setdefault(name, len(vocab))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("\n".join(merges) + "\n")
    return directory / "vocab.json", directory / "merges.txt"


def build_tiny_sd_pipeline(directory: Path, seed: int = 0):
    """Save a tiny random StableDiffusionPipeline (16 px, VAE factor 2) into ``directory``; return it."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab, merges = write_tiny_vocab(Path(directory).with_name(Path(directory).name + "-vocab"))
    tokenizer = CLIPTokenizer(vocab=str(vocab), merges=str(merges), model_max_length=16)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4,
        sample_size=16,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=16,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    # Stable Diffusion 1.x's published scheduler settings.
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(str(directory), safe_serialization=True)
    return pipeline
