"""Latent class optimisation (Segal et al., arXiv 2010.03975): steer an unconditional generator.

Draw z from the prior, then move it with Adam until a CXR classifier assigns G(z) the wanted
labels. The objective is cxrbench's reading of the paper, whose exact settings are not
published (see docs/gans.md): binary cross-entropy between the classifier's outputs on the
quantised image and the target's fixed entries (free entries are left out), plus a prior term
prior_weight * (|z| / sqrt(d) - 1)^2 that keeps z on the Gaussian shell. An image stops as soon
as every fixed label passes its threshold (p >= threshold for wanted findings, p <= 1 -
threshold for unwanted ones); each image's search is independent of the others in its batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from cxrbench.metrics.cxr_classifier import CxrClassifier


@dataclass(frozen=True)
class LcoSettings:
    steps: int = 60  # the most Adam steps per image
    learning_rate: float = 0.1
    prior_weight: float = 0.05
    threshold: float = 0.8


@dataclass
class LcoResult:
    """z [B, d]; images float [B, 1, H, W] in [-1, 1]; probabilities [B, F] of the quantised images;
    steps [B] (Adam steps used; 0 = the first draw already matched); success [B] bool."""

    z: torch.Tensor
    images: torch.Tensor
    probabilities: torch.Tensor
    steps: torch.Tensor
    success: torch.Tensor


def quantised(x: torch.Tensor) -> torch.Tensor:
    """What the image becomes as uint8, with the gradient of the identity (straight-through)."""
    q = ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() / 127.5 - 1.0
    return x + (q - x).detach()


def latent_class_optimisation(
    generate: Callable[[torch.Tensor], torch.Tensor],
    classifier: CxrClassifier,
    z: torch.Tensor,
    target: tuple[int | None, ...],
    settings: LcoSettings,
) -> LcoResult:
    """Optimise each row of ``z`` so that ``classifier(generate(z))`` matches ``target``.

    generate: z [B, d] -> float images [B, 1, H, W] in about [-1, 1]. target: one entry per
    finding, 1 = wanted, 0 = unwanted, None = free.
    """
    columns = [i for i, t in enumerate(target) if t is not None]
    wanted = torch.tensor([float(target[i]) for i in columns], device=z.device)
    z = z.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=settings.learning_rate)
    active = torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
    steps = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
    radius = math.sqrt(z.shape[1])
    for step in range(settings.steps + 1):
        images = generate(z)
        logits = classifier(classifier.resize(quantised(images)))
        matched = _matched(torch.sigmoid(logits.detach()), columns, wanted, settings.threshold)
        active &= ~matched  # a matched image keeps its z from now on
        if step == settings.steps or not bool(active.any()):
            break
        steps += active.long()
        bce = F.binary_cross_entropy_with_logits(logits[:, columns], wanted.expand(len(z), -1), reduction="none").sum(1)
        prior = (z.norm(dim=1) / radius - 1.0).pow(2)
        loss = ((bce + settings.prior_weight * prior) * active).sum()
        frozen = z.detach().clone()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():  # Adam's momentum would still move finished rows
            z[~active] = frozen[~active]
    with torch.no_grad():
        images = generate(z).clamp(-1.0, 1.0)
        probabilities = torch.sigmoid(classifier(classifier.resize(quantised(images))))
    success = _matched(probabilities, columns, wanted, settings.threshold)
    return LcoResult(z.detach(), images, probabilities, steps, success)


def _matched(probabilities: torch.Tensor, columns: list[int], wanted: torch.Tensor, threshold: float) -> torch.Tensor:
    """Rows whose every fixed label passes its threshold."""
    p = probabilities[:, columns]
    ok = torch.where(wanted > 0.5, p >= threshold, p <= 1.0 - threshold)
    return ok.all(dim=1)
