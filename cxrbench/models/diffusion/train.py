"""Training the small model with accelerate: one command on a CPU, a GPU or several; resumable; seeded.

Every random draw of step s (batch, captions, prompt dropout, timesteps, noise) comes from a
generator seeded with (seed, s, process), so a resumed training makes exactly the draws the
uninterrupted one would have made. The state (weights, EMA, optimiser) is saved as safetensors
plus JSON every ``checkpoint_every`` steps, and removed once training has finished; nothing is
pickled.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from cxrbench.errors import ConfigError
from cxrbench.files import atomic_write, atomic_write_text
from cxrbench.models.diffusion.captions import caption
from cxrbench.models.diffusion.pipeline_dir import PipelineParts
from cxrbench.seeds import derive_seed
from cxrbench.tasks import FINDINGS

STATE, STATE_INFO = "state.safetensors", "state.json"


@dataclass(frozen=True)
class TrainingConfig:
    """steps: optimiser steps; batch_size: images per step and process; learning_rate: AdamW, after a
    linear warm-up of ``warmup`` steps, then ``lr_schedule``: "cosine" (decayed to 0 at the last step)
    or "constant"; prompt_dropout: probability that a caption is
    replaced by the empty prompt (classifier-free guidance); report_fraction: share of report-style
    captions (the rest bare); ema_decay: weights kept for sampling; checkpoint_every: steps between
    saved states; mixed_precision: accelerate's "no", "fp16" or "bf16" (GPU only)."""

    steps: int = 1200
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup: int = 50
    lr_schedule: str = "cosine"
    prompt_dropout: float = 0.1
    report_fraction: float = 0.0
    ema_decay: float = 0.995
    checkpoint_every: int = 200
    mixed_precision: str = "no"

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ConfigError("diffusion-small training steps, batch_size and checkpoint_every must be 1 or more")
        if not 0 <= self.prompt_dropout < 1 or not 0 <= self.report_fraction <= 1 or not 0 <= self.ema_decay < 1:
            raise ConfigError(
                "diffusion-small prompt_dropout and ema_decay must be in [0, 1), report_fraction in [0, 1]"
            )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(f"lr_schedule {self.lr_schedule!r}; choose cosine or constant")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError(f"mixed_precision {self.mixed_precision!r}; choose no, fp16 or bf16")


class Denoiser(torch.nn.Module):
    """Text encoder and UNet as one module, so both are trained (as in RoentGen) and wrapped once."""

    def __init__(self, parts: PipelineParts) -> None:
        super().__init__()
        self.unet, self.text_encoder = parts.unet, parts.text_encoder

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        context = self.text_encoder(token_ids)[0]
        return self.unet(noisy, timesteps, encoder_hidden_states=context).sample


def to_model_space(images: torch.Tensor, patch: int) -> torch.Tensor:
    """uint8 [N, 1, H, W] -> float [N, patch^2, H/patch, W/patch] in [-1, 1]."""
    x = images.float() / 127.5 - 1.0
    return torch.nn.functional.pixel_unshuffle(x, patch) if patch > 1 else x


def train(
    parts: PipelineParts,
    images: torch.Tensor,
    labels: np.ndarray,
    config: TrainingConfig,
    seed: int,
    device: torch.device,
    work_dir: Path | None,
    progress: Callable[[int, int, str], None] = lambda done, total, text: None,
    findings: tuple[str, ...] = FINDINGS,
) -> dict:
    """Train ``parts`` in place on uint8 images [N, 1, S, S] (S = the model's size) with labels [N, F], one
    column per finding of ``findings``.

    Ends with the EMA weights in ``parts`` (on the CPU, eval mode). Returns a summary (final loss,
    steps run now, step resumed from).
    """
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    if device.type != "cuda" and config.mixed_precision != "no":
        raise ConfigError(f'mixed_precision {config.mixed_precision} needs a GPU; use mixed_precision = "no"')
    accelerator = Accelerator(cpu=device.type != "cuda", mixed_precision=config.mixed_precision)
    noise_schedule = DDPMScheduler.from_config(parts.scheduler_config)
    model = Denoiser(parts).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    ema = [p.detach().clone().float() for p in model.parameters()]
    start = _resume(work_dir, model, optimizer, schedule, ema, seed, len(images))
    model, optimizer = accelerator.prepare(model, optimizer)
    data = to_model_space(images, parts.pixel_unshuffle).to(accelerator.device)
    ema = [e.to(accelerator.device) for e in ema]
    alphas = noise_schedule.alphas_cumprod.to(accelerator.device)
    tokens = _token_cache(parts.tokenizer)
    loss_value = float("nan")
    for step in range(start, config.steps):
        generator = torch.Generator().manual_seed(derive_seed(seed, "step", str(step), str(accelerator.process_index)))
        rng = random.Random(derive_seed(seed, "captions", str(step), str(accelerator.process_index)))
        index = torch.randint(len(data), (config.batch_size,), generator=generator)
        captions = [
            "" if rng.random() < config.prompt_dropout else caption(labels[i], rng, config.report_fraction, findings)
            for i in index.tolist()
        ]
        timesteps = torch.randint(len(alphas), (config.batch_size,), generator=generator).to(accelerator.device)
        x0 = data[index.to(accelerator.device)]
        noise = torch.randn(x0.shape, generator=generator).to(accelerator.device)
        a = alphas[timesteps].view(-1, 1, 1, 1)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        with accelerator.autocast():
            prediction = model(noisy, timesteps, tokens(captions).to(accelerator.device))
        loss = torch.nn.functional.mse_loss(prediction.float(), noise)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        decay = min(config.ema_decay, (1 + step) / (10 + step))  # short runs: EMA warms up
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach().float() for p in model.parameters()], 1 - decay)
        loss_value = loss.item()
        progress(step + 1, config.steps, f"diffusion-small step {step + 1}/{config.steps} loss {loss_value:.4f}")
        if work_dir is not None and ((step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps):
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                _save_state(
                    work_dir, accelerator.unwrap_model(model), optimizer, schedule, ema, step + 1, seed, len(images)
                )
    if work_dir is not None and accelerator.is_main_process:  # finished: the weights are kept by the caller
        for name in (STATE, STATE_INFO):
            (work_dir / name).unlink(missing_ok=True)
    final = accelerator.unwrap_model(model)
    with torch.no_grad():
        for parameter, average in zip(final.parameters(), ema):
            parameter.copy_(average)
    parts.unet, parts.text_encoder = final.unet, final.text_encoder
    parts.to(torch.device("cpu"), torch.float32)
    return {"final_loss": loss_value, "resumed_from_step": start, "steps": config.steps}


def _lr_factor(step: int, config: TrainingConfig) -> float:
    """Learning-rate multiplier of ``step`` (0-based): linear warm-up, then constant or cosine down to 0."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    if config.lr_schedule == "constant":
        return 1.0
    done = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))


def _token_cache(tokenizer) -> Callable[[list[str]], torch.Tensor]:
    """Token ids [B, L] of captions, each caption tokenised once (the caption set is small)."""
    cache: dict[str, torch.Tensor] = {}

    def ids(captions: list[str]) -> torch.Tensor:
        for text in captions:
            if text not in cache:
                cache[text] = tokenizer(
                    text,
                    padding="max_length",
                    max_length=tokenizer.model_max_length,
                    truncation=True,
                    return_tensors="pt",
                ).input_ids[0]
        return torch.stack([cache[text] for text in captions])

    return ids


def _save_state(
    work_dir: Path,
    model: torch.nn.Module,
    optimizer,
    schedule,
    ema: list[torch.Tensor],
    step: int,
    seed: int,
    n_images: int,
) -> None:
    """Weights, EMA and optimiser moments as safetensors, the rest as JSON; written atomically."""
    work_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema/{i}": e for i, e in enumerate(ema)}
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        tensors |= {f"optimizer/{index}/{k}": torch.as_tensor(v) for k, v in state.items()}
    info = {
        "step": step,
        "seed": seed,
        "n_images": n_images,
        "param_groups": optimizer_state["param_groups"],
        "schedule": schedule.state_dict(),
    }
    atomic_write(
        work_dir / STATE,
        lambda tmp: save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp)),
    )
    atomic_write_text(work_dir / STATE_INFO, json.dumps(info))


def _resume(
    work_dir: Path | None,
    model: torch.nn.Module,
    optimizer,
    schedule,
    ema: list[torch.Tensor],
    seed: int,
    n_images: int,
) -> int:
    """Load the saved state of the same seed and data into the arguments; returns its step (0: none)."""
    if work_dir is None or not (work_dir / STATE_INFO).is_file() or not (work_dir / STATE).is_file():
        return 0
    info = json.loads((work_dir / STATE_INFO).read_text())
    if info.get("seed") != seed or info.get("n_images") != n_images:
        return 0  # another training's state: start afresh (it is overwritten at the first checkpoint)
    tensors = load_file(str(work_dir / STATE))
    model.load_state_dict({k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")})
    for i, e in enumerate(ema):
        e.copy_(tensors[f"ema/{i}"])
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    schedule.load_state_dict(info["schedule"])
    return int(info["step"])
