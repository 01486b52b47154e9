"""Patient anatomy of the phantom: the shape parameters that vary from patient to patient.

Coordinates are normalised: u runs -1 (image left, the patient's right) to 1 (image right),
v runs -1 (top) to 1 (bottom); a PA radiograph is seen as if facing the patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Anatomy:
    """One patient's thorax and one exposure of it."""

    thorax_half_width: float  # |u| of the inner rib margin at its widest
    mediastinum_half_width: float
    lung_apex_v: float
    costophrenic_v: float  # level of the lateral costophrenic angles
    dome_v: tuple[float, float]  # top of the right and left hemidiaphragm (image left, image right)
    dome_height: float
    cardiothoracic_ratio: float
    heart_height_ratio: float
    rib_start_v: float
    rib_spacing: float
    rib_thickness: float
    body_half_width: float
    soft_tissue: float  # body habitus: density of the soft tissue
    rotation_deg: float
    shift: tuple[float, float]
    gain: float
    gamma: float
    noise: float


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one patient; a normal heart has a cardiothoracic ratio between 0.40 and 0.50."""
    mediastinum = rng.uniform(0.085, 0.115)
    apex = rng.uniform(-0.82, -0.70)
    right_dome = rng.uniform(0.30, 0.42)
    return Anatomy(
        thorax_half_width=rng.uniform(0.62, 0.74),
        mediastinum_half_width=mediastinum,
        lung_apex_v=apex,
        costophrenic_v=right_dome + rng.uniform(0.14, 0.20),
        # The left hemidiaphragm usually sits lower than the right.
        dome_v=(right_dome, right_dome + rng.uniform(0.02, 0.06)),
        dome_height=rng.uniform(0.09, 0.15),
        cardiothoracic_ratio=rng.uniform(0.40, 0.50),
        heart_height_ratio=rng.uniform(1.1, 1.35),
        rib_start_v=apex + rng.uniform(0.03, 0.07),
        rib_spacing=rng.uniform(0.105, 0.125),
        rib_thickness=rng.uniform(0.022, 0.030),
        body_half_width=rng.uniform(0.86, 0.98),
        soft_tissue=rng.uniform(0.42, 0.58),
        rotation_deg=float(np.clip(rng.normal(0.0, 2.0), -6, 6)),
        shift=(float(rng.normal(0.0, 0.02)), float(rng.normal(0.0, 0.02))),
        gain=rng.uniform(0.88, 1.10),
        gamma=rng.uniform(0.85, 1.20),
        noise=rng.uniform(0.012, 0.030),
    )
