"""Classifier-free-guided sampling of a text-to-image pipeline, one seed per image.

The loop is Stable Diffusion 1.x's (diffusers' StableDiffusionPipeline): prompts padded to the
tokenizer's length, the empty prompt as the unconditional branch, noise scaled by the
scheduler's initial sigma, guidance uncond + g (cond - uncond), VAE decode of latents divided by
its scaling factor. It also runs pixel-space pipelines (no VAE). Each image's starting noise and
any noise a stochastic scheduler adds come from that image's own generator, so an image does not
depend on the batch it was drawn in.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from cxrbench.errors import ConfigError
from cxrbench.models.diffusion.pipeline_dir import PipelineParts

# Scheduler option -> diffusers class and the settings it is built with on top of the saved config;
# "saved" keeps the one stored in the pipeline directory.
SCHEDULERS = {
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "dpm-solver": ("DPMSolverMultistepScheduler", {}),
    # DPM-Solver++(2M) SDE: stochastic like ancestral DDPM (fresh noise each step), in far fewer steps
    "dpm-solver-sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "unipc": ("UniPCMultistepScheduler", {}),
}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def check_sampling(steps: int, guidance: float, scheduler: str, dtype: str) -> None:
    """Refuse unusable sampling settings with one line each."""
    if steps < 1:
        raise ConfigError(f"steps={steps}; use 1 or more denoising steps")
    if guidance < 0:
        raise ConfigError(f"guidance={guidance}; use 0 or more (1 = no guidance)")
    if scheduler != "saved" and scheduler not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {scheduler!r}; choose saved or one of: {', '.join(SCHEDULERS)}")
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose {', '.join(DTYPES)}")


def check_device_dtype(device: torch.device, dtype: str) -> None:
    """Half precision is for GPUs: on a CPU it is slow or unsupported, so it is refused."""
    if dtype != "float32" and device.type != "cuda":
        raise ConfigError(f"dtype {dtype} needs a CUDA device, not {device}; use dtype float32 on a CPU")


def make_scheduler(config: dict, name: str):
    """A fresh scheduler (``name`` from SCHEDULERS, or "saved") built from the pipeline's config."""
    import diffusers

    class_name, settings = (config["_class_name"], {}) if name == "saved" else SCHEDULERS[name]
    cls = getattr(diffusers, class_name, None)
    if cls is None or not issubclass(cls, diffusers.SchedulerMixin):
        raise ConfigError(
            f"scheduler class {class_name!r} is not a diffusers scheduler; set scheduler to one of "
            f"{', '.join(SCHEDULERS)}"
        )
    parameters = inspect.signature(cls.__init__).parameters
    if config.get("clip_sample") and "clip_sample" not in parameters and "thresholding" in parameters:
        # The saved schedule clips its x0 estimate (diffusion-small's: after a short CPU training the noise
        # estimate is poor at high noise). Solvers without clip_sample keep that through thresholding, which
        # with sample_max_value c clamps x0 to [-c, c], exactly as clipping does.
        settings = {**settings, "thresholding": True, "sample_max_value": config.get("clip_sample_range", 1.0)}
    return cls.from_config(config, **settings)


@torch.no_grad()
def encode_prompts(parts: PipelineParts, prompts: list[str], device: torch.device) -> torch.Tensor:
    """Text encoder hidden states [B, L, D] of ``prompts`` padded/truncated to the tokenizer's length."""
    tokens = parts.tokenizer(
        prompts, padding="max_length", max_length=parts.tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )
    mask = tokens.attention_mask.to(device) if getattr(parts.text_encoder.config, "use_attention_mask", False) else None
    return parts.text_encoder(tokens.input_ids.to(device), attention_mask=mask)[0]


def _factor(parts: PipelineParts) -> int:
    """Pixels per UNet position along a side: the VAE's downsampling, or the pixel-unshuffle patch."""
    return 2 ** (len(parts.vae.config.block_out_channels) - 1) if parts.vae is not None else parts.pixel_unshuffle


def image_size(parts: PipelineParts, resolution: int | None) -> int:
    """Generated image side in pixels: ``resolution`` or the UNet's native size times the factor."""
    factor = _factor(parts)
    size = resolution or parts.unet.config.sample_size * factor
    if size % factor:
        raise ConfigError(f"resolution {size} is not a multiple of the model's downsampling factor {factor}")
    return size


@torch.no_grad()
def sample(
    parts: PipelineParts,
    prompts: list[str],
    seeds: list[int],
    steps: int,
    guidance: float,
    scheduler_name: str,
    resolution: int | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Images for ``prompts`` (one seed each): float32 [B, C, H, W] in [0, 1] on the CPU, C = 1 or 3."""
    scheduler = make_scheduler(parts.scheduler_config, scheduler_name)
    size = image_size(parts, resolution)
    factor = _factor(parts)
    shape = (parts.unet.config.in_channels, size // factor, size // factor)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    latents = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device, dtype)
    latents = latents * scheduler.init_noise_sigma
    guided = guidance > 1.0  # as in diffusers: guidance 1 or less means the conditional branch alone
    context = encode_prompts(parts, prompts, device)
    if guided:
        context = torch.cat([encode_prompts(parts, [""] * len(prompts), device), context])
    context = context.to(dtype)
    scheduler.set_timesteps(steps, device=device)
    step_kwargs = {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}
    for t in scheduler.timesteps:
        model_input = torch.cat([latents] * 2) if guided else latents
        model_input = scheduler.scale_model_input(model_input, t)
        noise = parts.unet(model_input, t, encoder_hidden_states=context).sample
        if guided:
            uncond, cond = noise.chunk(2)
            noise = uncond + guidance * (cond - uncond)
        latents = scheduler.step(noise, t, latents, **step_kwargs).prev_sample
    if parts.vae is not None:
        latents = parts.vae.decode(latents / parts.vae.config.scaling_factor).sample
    elif factor > 1:
        latents = torch.nn.functional.pixel_shuffle(latents, factor)
    return (latents.float() / 2 + 0.5).clamp(0, 1).cpu()


def to_benchmark_images(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """float [B, C, H, W] in [0, 1] -> uint8 [B, 1, resolution, resolution].

    Channels are averaged (RoentGen's RGB output is grey), rounded to uint8, then resized with
    the real images' filter (Pillow bilinear, antialiased when shrinking; cxrbench.data.preprocess).
    """
    from cxrbench.data.preprocess import to_square

    grey = (images.mean(dim=1) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
    resized = np.stack([to_square(image, resolution) for image in grey])
    return torch.from_numpy(resized).unsqueeze(1)
