"""Which findings a phantom image shows, with clinically plausible prevalence and co-occurrence.

Prevalences follow the order of magnitude of MIMIC-CXR (Schuit et al. report AT 22%, ECS 16%,
PE 17%, LO 48%); the phantom keeps lung opacity lower so that both conditions stay common.
Dependencies: cardiomegaly raises the chance of effusion (heart failure), effusion raises the
chance of adjacent (compressive) atelectasis, atelectasis raises the chance of lung opacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDES = ("right", "left")  # the patient's sides; right is on the image left


@dataclass(frozen=True)
class Findings:
    """Ground truth for one image. Sides are the patient's; severities run 0 to 1."""

    enlarged_heart: bool
    cardiothoracic_ratio: float | None  # set only when the heart is enlarged
    effusion_sides: tuple[str, ...]
    effusion_severity: float
    atelectasis_side: str | None
    atelectasis_kind: str | None  # "plate" (linear) or "lobar" (wedge with volume loss)
    atelectasis_severity: float
    opacity_blobs: int

    @property
    def labels(self) -> tuple[int, int, int, int]:
        """Multi-hot vector in FINDINGS order."""
        return (
            int(self.atelectasis_side is not None),
            int(self.opacity_blobs > 0),
            int(bool(self.effusion_sides)),
            int(self.enlarged_heart),
        )


def sample_findings(rng: np.random.Generator) -> Findings:
    """Draw the findings of one image (marginals about AT 21%, LO 33%, PE 18%, ECS 18%)."""
    enlarged = rng.random() < 0.18
    effusion = rng.random() < (0.45 if enlarged else 0.12)
    atelectasis = rng.random() < (0.50 if effusion else 0.15)
    opacity = rng.random() < (0.50 if atelectasis else 0.28)

    effusion_sides: tuple[str, ...] = ()
    if effusion:
        choice = rng.random()
        effusion_sides = ("right",) if choice < 0.35 else ("left",) if choice < 0.6 else SIDES
    atelectasis_side = None
    if atelectasis:
        # Compressive atelectasis sits next to the fluid.
        atelectasis_side = str(rng.choice(effusion_sides)) if effusion_sides else str(rng.choice(SIDES))
    return Findings(
        enlarged_heart=enlarged,
        cardiothoracic_ratio=float(rng.uniform(0.54, 0.68)) if enlarged else None,
        effusion_sides=effusion_sides,
        effusion_severity=float(rng.uniform(0.25, 1.0)) if effusion else 0.0,
        atelectasis_side=atelectasis_side,
        atelectasis_kind=str(rng.choice(["plate", "lobar"])) if atelectasis else None,
        atelectasis_severity=float(rng.uniform(0.4, 1.0)) if atelectasis else 0.0,
        opacity_blobs=int(rng.integers(1, 5)) if opacity else 0,
    )
