"""The small from-scratch text-to-image model: diffusers UNet + CLIP text encoder + local tokenizer + DDPM.

It works in pixel space: at 64 px one grey channel is 4,096 values, fewer than SD's 4 x 64 x 64
latents at 512 px, and there is no pretrained VAE to borrow offline; training one first would
spend the CPU budget on the autoencoder instead of the denoiser (see docs/diffusion.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrbench.errors import ConfigError
from cxrbench.models.diffusion.pipeline_dir import PipelineParts
from cxrbench.models.settings import resolve_preset


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the small model.

    sample_size: generated side in px; pixel_unshuffle: f, the UNet sees f x f pixel patches as f^2
    channels at sample_size / f (divisible by 2^(levels-1)); channels: UNet width per level;
    layers_per_block: ResNet blocks per level; attention_from: first level with (self- and cross-)
    attention (attention over all pixels of a large level costs most of a CPU step); head_dim:
    attention head width; text_width, text_layers, text_heads: the CLIP text encoder;
    max_tokens: prompt length after padding;
    text_time_embedding: also add the attention-pooled prompt to the timestep embedding, so every
    ResNet block sees the condition (diffusers' addition_embed_type="text").
    train_timesteps, beta_schedule: the DDPM noise schedule.
    """

    sample_size: int = 64
    pixel_unshuffle: int = 4
    channels: tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 1
    attention_from: int = 1
    head_dim: int = 16
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    max_tokens: int = 32
    text_time_embedding: bool = True
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"

    def __post_init__(self) -> None:
        factor = 2 ** (len(self.channels) - 1) * self.pixel_unshuffle
        if len(self.channels) < 2 or self.sample_size % factor or not 0 <= self.attention_from < len(self.channels):
            raise ConfigError(
                f"network sample_size {self.sample_size} must be divisible by {factor} (pixel_unshuffle "
                f"x 2^(levels-1) for channels {list(self.channels)}), with 2+ levels and "
                "attention_from below the number of levels"
            )
        if any(c % self.head_dim or c % 8 for c in self.channels) or self.text_width % self.text_heads:
            raise ConfigError("network channels must be multiples of 8 and of head_dim, and text_width of text_heads")


PRESETS: dict[str, NetworkConfig] = {
    "cpu": NetworkConfig(),
    "gpu": NetworkConfig(
        sample_size=256,
        pixel_unshuffle=2,
        channels=(64, 128, 256, 256),
        layers_per_block=2,
        attention_from=2,
        head_dim=32,
        text_width=256,
        text_layers=4,
        text_heads=8,
    ),
}


def network_config(preset: str, overrides: dict | None) -> NetworkConfig:
    """The preset's network with ``overrides`` applied; unknown keys are refused with the valid ones."""
    return resolve_preset("diffusion-small", PRESETS, preset, overrides or {})


def build_small(config: NetworkConfig, texts: list[str], seed: int) -> PipelineParts:
    """Randomly initialised (seeded) components; the tokenizer's words come from ``texts``."""
    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from cxrbench.models.diffusion.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(texts, config.max_tokens)
    torch.manual_seed(seed)  # the initial weights are part of "deterministic for a seed"
    levels = len(config.channels)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.text_width,
            intermediate_size=4 * config.text_width,
            num_hidden_layers=config.text_layers,
            num_attention_heads=config.text_heads,
            max_position_embeddings=config.max_tokens,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    extra = (
        {"addition_embed_type": "text", "addition_embed_type_num_heads": config.text_heads}
        if config.text_time_embedding
        else {}
    )
    patch = config.pixel_unshuffle
    unet = UNet2DConditionModel(
        sample_size=config.sample_size // patch,
        in_channels=patch**2,
        out_channels=patch**2,
        block_out_channels=config.channels,
        layers_per_block=config.layers_per_block,
        cross_attention_dim=config.text_width,
        attention_head_dim=[c // config.head_dim for c in config.channels],  # diffusers reads it as head count
        down_block_types=tuple(
            "CrossAttnDownBlock2D" if level >= config.attention_from else "DownBlock2D" for level in range(levels)
        ),
        up_block_types=tuple(
            "CrossAttnUpBlock2D" if level >= config.attention_from else "UpBlock2D" for level in reversed(range(levels))
        ),
        norm_num_groups=8,
        **extra,
    )
    # Sampling clips each step's estimate of the clean image to [-1, 1] (as in Ho et al.): a short
    # training predicts noise poorly at high noise levels, and unclipped estimates diverge there.
    scheduler = DDPMScheduler(
        num_train_timesteps=config.train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        clip_sample=True,
    )
    return PipelineParts(
        unet, text_encoder, tokenizer, dict(scheduler.config) | {"_class_name": "DDPMScheduler"}, pixel_unshuffle=patch
    )
