"""Conditional GAN training: non-saturating logistic loss with lazy R1 regularisation and an EMA generator."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from cxrbench.models.gan.cgan_networks import ConditionalGenerator, ProjectionDiscriminator
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
class CganSettings:
    """Everything that determines a trained conditional GAN (with the data, resolution and seed).

    train_images: images shown to the discriminator in total. r1_gamma: R1 weight (Schuit et
    al.: 10), applied every r1_every steps with weight r1_every * r1_gamma / 2 (StyleGAN2's lazy
    regularisation). Adam with betas (0, 0.99) as in StyleGAN2. The defaults are the CPU preset.
    """

    latent_dim: int = 128
    fmap_base: int = 256
    fmap_max: int = 64
    train_images: int = 45_000
    batch_size: int = 16
    learning_rate: float = 2e-3
    beta1: float = 0.0
    beta2: float = 0.99
    r1_gamma: float = 10.0
    r1_every: int = 4
    ema_decay: float = 0.999
    checkpoint_every: int = 200  # steps between resumable states and sample grids

    def to_dict(self) -> dict:
        return asdict(self)


def train_cgan(
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: CganSettings,
    seed: int,
    device: torch.device,
    work_dir: Path | None,
    progress: Callable[[int, int, str], None],
) -> ConditionalGenerator:
    """Train on uint8 [N, 1, R, R] images with int8 labels [N, F]; returns the EMA generator.

    Generated images are conditioned on label rows drawn from the training labels, so the
    generator sees each combination of findings as often as the data do.
    """
    resolution = images.shape[-1]
    total = max(1, settings.train_images // settings.batch_size)
    torch.manual_seed(seed)
    n_findings = labels.shape[1]
    g = channels_last(
        ConditionalGenerator(resolution, settings.latent_dim, settings.fmap_base, settings.fmap_max, n_findings).to(
            device
        )
    )
    d = channels_last(
        ProjectionDiscriminator(resolution, settings.fmap_base, settings.fmap_max, n_findings=n_findings).to(device)
    )
    betas = (settings.beta1, settings.beta2)
    parts = GanParts(
        g,
        d,
        Ema(g, settings.ema_decay),
        [
            torch.optim.Adam(g.parameters(), lr=settings.learning_rate, betas=betas),
            torch.optim.Adam(d.parameters(), lr=settings.learning_rate, betas=betas),
        ],
    )
    real_images, labels = to_unit(images), labels.long()
    randomness = StepRandomness(images.shape[0], settings.batch_size, seed)
    grid_rng = randomness.generator(-1)
    fixed_z = torch.randn(32, settings.latent_dim, generator=grid_rng).to(device)
    fixed_labels = labels[torch.randint(len(labels), (32,), generator=grid_rng)].to(device)
    identity = {**settings.to_dict(), "seed": seed, "resolution": resolution, "n": int(images.shape[0])}
    step = resume_state(work_dir, identity, parts)
    while step < total:
        index = randomness.batch(step)
        real, real_labels = channels_last(real_images[index].to(device)), labels[index].to(device)
        generator = randomness.generator(step)
        b = real.shape[0]
        fake_labels = labels[torch.randint(len(labels), (b,), generator=generator)].to(device)
        z = torch.randn(2, b, settings.latent_dim, generator=generator).to(device)
        r1_weight = settings.r1_gamma / 2 * settings.r1_every if step % settings.r1_every == 0 else 0.0
        d_loss = _discriminator_step(parts, real, real_labels, z[0], fake_labels, r1_weight)
        g_loss = F.softplus(-d(g(z[1], fake_labels), fake_labels)).mean()
        parts.optimisers[0].zero_grad(set_to_none=True)
        g_loss.backward()
        parts.optimisers[0].step()
        parts.ema.update(g)
        step += 1
        progress(step, total, f"cgan D {d_loss:.2f} G {float(g_loss.detach()):.2f}")
        if work_dir is not None and (step % settings.checkpoint_every == 0 or step == total):
            save_state(work_dir, identity, step, parts)
            with torch.no_grad():
                save_grid(work_dir / GRIDS / f"step{step:07d}.png", to_uint8(parts.ema.model(fixed_z, fixed_labels)))
    finish_state(work_dir)
    # The default layout again, so that a trained and a reloaded generator compute bit for bit alike.
    return parts.ema.model.to(memory_format=torch.contiguous_format).eval()


def _discriminator_step(parts: GanParts, real, real_labels, z, fake_labels, r1_weight: float) -> float:
    """softplus(D(fake)) + softplus(-D(real)) [+ r1_weight * |grad_x D(real)|^2]."""
    with torch.no_grad():
        fake = parts.g(z, fake_labels)
    real = real.detach().requires_grad_(bool(r1_weight))
    d_real = parts.d(real, real_labels)
    loss = F.softplus(parts.d(fake, fake_labels)).mean() + F.softplus(-d_real).mean()
    if r1_weight:
        (gradient,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
        loss = loss + r1_weight * gradient.pow(2).flatten(1).sum(1).mean()
    parts.optimisers[1].zero_grad(set_to_none=True)
    loss.backward()
    parts.optimisers[1].step()
    return float(loss.detach())
