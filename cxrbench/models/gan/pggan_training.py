"""Progressive growing with WGAN-GP, as in the published PGGAN recipe (see docs/gans.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from cxrbench.models.gan.layers import downsample, upsample
from cxrbench.models.gan.pggan_networks import PgganDiscriminator, PgganGenerator, levels_for
from cxrbench.models.gan.training import (
    GRIDS,
    Ema,
    GanParts,
    StepRandomness,
    channels_last,
    finish_state,
    resume_state,
    save_grid,
    save_state,
    to_uint8,
    to_unit,
)


@dataclass(frozen=True)
class PgganSettings:
    """Everything that determines a trained PGGAN (with the data, resolution and seed).

    phase_images: real images shown per fade-in phase and per stabilisation phase (published:
    800,000). learning_rate and betas: Adam's (published 1e-3, (0, 0.99)). gp_weight and
    drift: the WGAN-GP penalty weight and the epsilon-drift term (published 10 and 0.001).
    gp_every: compute the gradient penalty every k critic steps with weight k * gp_weight
    (lazy regularisation as in StyleGAN2; published and default 1; the penalty is a third of
    a CPU step, but lazier penalties trained worse in short CPU runs here).
    The defaults are the CPU preset; see ``PRESETS`` in cxrbench/models/pggan_lco.py.
    """

    latent_dim: int = 128
    fmap_base: int = 256
    fmap_max: int = 64
    phase_images: int = 6_000
    batch_size: int = 16
    learning_rate: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    gp_weight: float = 10.0
    gp_every: int = 1
    drift: float = 0.001
    ema_decay: float = 0.999
    checkpoint_every: int = 200  # steps between resumable states and sample grids

    def to_dict(self) -> dict:
        return asdict(self)


def phases(levels: int) -> list[tuple[int, bool]]:
    """(level, fading) for every phase: 4 px stabilises, then each level fades in and stabilises."""
    schedule = [(0, False)]
    for level in range(1, levels):
        schedule += [(level, True), (level, False)]
    return schedule


def train_pggan(
    images: torch.Tensor,
    settings: PgganSettings,
    seed: int,
    device: torch.device,
    work_dir: Path | None,
    progress: Callable[[int, int, str], None],
) -> PgganGenerator:
    """Train on uint8 [N, 1, R, R] images; returns the EMA generator (eval mode, on ``device``).

    Resumes from ``work_dir`` when it holds the state of the same settings and seed.
    """
    resolution = images.shape[-1]
    levels = levels_for(resolution)
    schedule = phases(levels)
    steps_per_phase = max(1, settings.phase_images // settings.batch_size)
    total = steps_per_phase * len(schedule)
    torch.manual_seed(seed)
    g = channels_last(PgganGenerator(resolution, settings.latent_dim, settings.fmap_base, settings.fmap_max).to(device))
    d = channels_last(PgganDiscriminator(resolution, settings.fmap_base, settings.fmap_max).to(device))
    parts = GanParts(g, d, Ema(g, settings.ema_decay), _optimisers(g, d, settings))
    pyramid = _pyramid(to_unit(images), levels)  # real images at every level, on the CPU
    randomness = StepRandomness(images.shape[0], settings.batch_size, seed)
    fixed_z = torch.randn(32, settings.latent_dim, generator=randomness.generator(-1)).to(device)  # grids
    identity = {**settings.to_dict(), "seed": seed, "resolution": resolution, "n": int(images.shape[0])}
    step = resume_state(work_dir, identity, parts)
    while step < total:
        phase, within = divmod(step, steps_per_phase)
        level, fading = schedule[phase]
        if within == 0 and fading:
            parts.optimisers = _optimisers(g, d, settings)  # reset for a new resolution, as in the authors' code
        alpha = (within + 1) / steps_per_phase if fading else 1.0
        real = channels_last(_real_batch(pyramid, level, alpha, randomness.batch(step)).to(device))
        generator = randomness.generator(step)
        penalty_weight = settings.gp_weight * settings.gp_every if step % settings.gp_every == 0 else 0.0
        d_loss = _critic_step(
            g, d, parts.optimisers[1], real, level, alpha, settings, penalty_weight, generator, device
        )
        g_loss = _generator_step(g, d, parts.optimisers[0], real.shape[0], level, alpha, settings, generator, device)
        parts.ema.update(g)
        step += 1
        size = 4 * 2**level
        progress(step, total, f"pggan {size}px{' fade-in' if fading else ''} D {d_loss:.2f} G {g_loss:.2f}")
        if work_dir is not None and (step % settings.checkpoint_every == 0 or step == total):
            save_state(work_dir, identity, step, parts)
            with torch.no_grad():
                grid = F.interpolate(parts.ema.model(fixed_z, level, alpha), size=resolution, mode="nearest")
            save_grid(work_dir / GRIDS / f"step{step:07d}-{size}px.png", to_uint8(grid))
    finish_state(work_dir)
    # The default layout again, so that a trained and a reloaded generator compute bit for bit alike.
    return parts.ema.model.to(memory_format=torch.contiguous_format).eval()


def _optimisers(g, d, settings: PgganSettings) -> list[torch.optim.Optimizer]:
    betas = (settings.beta1, settings.beta2)
    return [
        torch.optim.Adam(g.parameters(), lr=settings.learning_rate, betas=betas),
        torch.optim.Adam(d.parameters(), lr=settings.learning_rate, betas=betas),
    ]


def _pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[level 0 (4 px), ..., level L-1 (full)] by 2x2 average pooling."""
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.insert(0, downsample(pyramid[0]))
    return pyramid


def _real_batch(pyramid: list[torch.Tensor], level: int, alpha: float, index: torch.Tensor) -> torch.Tensor:
    """Real images at ``level``; during a fade-in blended with the upsampled level below, as G's output is."""
    real = pyramid[level][index]
    if level > 0 and alpha < 1.0:
        real = torch.lerp(upsample(pyramid[level - 1][index]), real, alpha)
    return real


def _latents(n: int, dim: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randn(n, dim, generator=generator).to(device)


def _critic_step(
    g, d, optimiser, real, level, alpha, settings: PgganSettings, penalty_weight: float, generator, device
) -> float:
    """D loss = D(fake) - D(real) + penalty_weight * GP + drift * D(real)^2 (WGAN-GP with drift)."""
    b = real.shape[0]
    with torch.no_grad():
        fake = g(_latents(b, settings.latent_dim, generator, device), level, alpha)
    d_real, d_fake = d(real, level, alpha), d(fake, level, alpha)
    loss = d_fake.mean() - d_real.mean() + settings.drift * d_real.pow(2).mean()
    mix_weight = torch.rand(b, 1, 1, 1, generator=generator).to(device)  # drawn every step: same stream either way
    if penalty_weight:
        mixed = torch.lerp(real, fake, mix_weight).requires_grad_(True)
        (gradient,) = torch.autograd.grad(d(mixed, level, alpha).sum(), mixed, create_graph=True)
        loss = loss + penalty_weight * (gradient.flatten(1).norm(dim=1) - 1.0).pow(2).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _generator_step(g, d, optimiser, b, level, alpha, settings: PgganSettings, generator, device) -> float:
    """G loss = -D(G(z))."""
    loss = -d(g(_latents(b, settings.latent_dim, generator, device), level, alpha), level, alpha).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())
