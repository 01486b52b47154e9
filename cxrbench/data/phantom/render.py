"""Rasterise a phantom chest radiograph from anatomy and findings.

The model is a projected density map: soft tissue of the body, minus the air of the lung
fields, plus bone (ribs, clavicles, spine); findings put density back into the lungs (fluid,
collapse, airspace opacity) or enlarge the heart. Intensity = 1 - exp(-k * density), so
dense structures are bright as on a displayed radiograph; exposure, rotation and quantum noise
vary per image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from cxrbench.data.phantom.anatomy import Anatomy
from cxrbench.data.phantom.findings import Findings

_ATTENUATION = 2.0
_SIDE_SIGN = {"right": -1.0, "left": 1.0}  # patient's right lung is on the image left


def _soft(x: np.ndarray, edge: float) -> np.ndarray:
    """Smooth step from 0 (x << 0) to 1 (x >> 0) over about ``edge``."""
    return 0.5 * (1.0 + np.tanh(x / edge))


def _plateau(x: np.ndarray) -> np.ndarray:
    """exp(-x^4): a flat-topped band profile (x**4 through squaring: np.power is slow)."""
    x2 = x * x
    return np.exp(-(x2 * x2))


@lru_cache(maxsize=32)
def _upsampler(cells: int, size: int) -> np.ndarray:
    """[size, cells + 1] bilinear interpolation weights: grid values -> size samples along one axis."""
    pos = np.linspace(0, cells, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int64), cells - 1)
    frac = pos - i0
    weights = np.zeros((size, cells + 1), dtype=np.float32)
    weights[np.arange(size), i0] = 1 - frac
    weights[np.arange(size), i0 + 1] = frac
    return weights


def _smooth_noise(rng: np.random.Generator, cells: int, size: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a random ``cells`` x ``cells`` grid, bilinearly upsampled.

    Separable: W grid W^T with precomputed weights, far cheaper than gathering per pixel.
    """
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    weights = _upsampler(cells, size)
    return weights @ grid @ weights.T


def render(anatomy: Anatomy, findings: Findings, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One radiograph as uint8 [resolution, resolution] (dense is bright)."""
    a = anatomy
    size = resolution
    edge = 2.0 / size  # about one pixel of softness at any resolution
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    u0, v0 = np.meshgrid(axis, axis)
    angle = np.deg2rad(a.rotation_deg)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = c * u0 - s * v0 + np.float32(a.shift[0])
    v = s * u0 + c * v0 + np.float32(a.shift[1])
    abs_u = np.abs(u)

    thorax, med = a.thorax_half_width, a.mediastinum_half_width
    ctr = findings.cardiothoracic_ratio or a.cardiothoracic_ratio
    dome_v = list(a.dome_v)
    if findings.atelectasis_side is not None:  # volume loss raises the hemidiaphragm of that side
        side_index = 0 if findings.atelectasis_side == "right" else 1
        dome_v[side_index] -= 0.05 + 0.06 * findings.atelectasis_severity

    # Lung fields: an ellipse per side, widest at the costophrenic level, cut by the diaphragm.
    air = np.zeros_like(u)
    for side_index, sign in enumerate((-1.0, 1.0)):
        centre_u = sign * (med + thorax) / 2.0
        half_w = (thorax - med) / 2.0 + 0.02
        half_h = a.costophrenic_v - a.lung_apex_v
        ellipse = 1.0 - ((u - centre_u) / half_w) ** 2 - ((v - a.costophrenic_v) / half_h) ** 2
        peak_u = sign * (med + 0.45 * (thorax - med))
        dome = dome_v[side_index] - a.dome_height * (1.0 - ((u - peak_u) / (0.7 * (thorax - med))) ** 2)
        side_mask = (u * sign > 0).astype(np.float32)
        inside = _soft(ellipse, 6 * edge) * side_mask
        air += inside * _soft(dome - v, edge)
    # The superior mediastinum widens towards the aortic arch.
    air *= _soft(abs_u - med - 0.03 * _soft(-0.2 - v, 0.1), 1.5 * edge)

    # Heart: two thirds to the patient's left; the silhouette hides the lung behind it.
    heart_hw = ctr * thorax
    heart_hh = heart_hw * a.heart_height_ratio
    heart_v = a.dome_v[1] - 0.35 * heart_hh
    heart = _soft(1.0 - ((u - heart_hw / 3.0) / heart_hw) ** 2 - ((v - heart_v) / heart_hh) ** 2, 4 * edge)
    aortic_knob = _soft(1.0 - ((u - med - 0.01) ** 2 + (v + 0.36) ** 2) / 0.055**2, 4 * edge)
    air *= (1.0 - heart) * (1.0 - aortic_knob)
    # Hila and vascular markings: denser near the hila, mottled towards the periphery.
    hila = np.exp(-(((abs_u - med - 0.02) / 0.05) ** 2) / 2 - ((v + 0.05) / 0.12) ** 2 / 2)
    air *= (1.0 - 0.4 * hila) * (0.82 + 0.18 * _smooth_noise(rng, 12, size))

    # Findings that replace air with water density.
    for side in findings.effusion_sides:
        sign = _SIDE_SIGN[side]
        lateral = np.clip((u * sign - med) / (thorax - med), 0.0, 1.2)
        height = 0.06 + 0.30 * findings.effusion_severity
        meniscus = a.costophrenic_v - height - 0.10 * lateral**2  # fluid climbs the lateral wall
        fluid = _soft(v - meniscus, 0.02) * (u * sign > med * 0.5)
        air *= 1.0 - 0.97 * fluid
    if findings.atelectasis_side is not None:
        sign = _SIDE_SIGN[findings.atelectasis_side]
        side_index = 0 if sign < 0 else 1
        strength = 0.55 + 0.4 * findings.atelectasis_severity
        if findings.atelectasis_kind == "plate":
            line_v = dome_v[side_index] - rng.uniform(0.07, 0.18)
            tilt = rng.uniform(-0.12, 0.12)
            centre = sign * (med + rng.uniform(0.15, 0.3) * (thorax - med) + 0.1)
            dist = v - line_v - tilt * (u - centre)
            band = np.exp(-((dist / rng.uniform(0.012, 0.02)) ** 2)) * _soft(0.18 - np.abs(u - centre), 0.03)
            air *= 1.0 - strength * band
        else:  # lobar collapse: a dense wedge from the hilum to the medial hemidiaphragm
            hilum_u, hilum_v = sign * (med + 0.04), -0.12
            depth = np.clip((v - hilum_v) / (dome_v[side_index] - hilum_v), 0.0, 1.0)
            reach = sign * (u - hilum_u) / (0.08 + 0.25 * findings.atelectasis_severity)
            wedge = _soft(depth - reach, 0.04) * _soft(v - hilum_v, 0.02) * (u * sign > med * 0.8)
            air *= 1.0 - strength * wedge
    if findings.opacity_blobs:
        texture = _smooth_noise(rng, 10, size)
        opacity = np.zeros_like(u)
        for _ in range(findings.opacity_blobs):
            sign = -1.0 if rng.random() < 0.5 else 1.0
            bu = sign * (med + rng.uniform(0.2, 0.8) * (thorax - med))
            bv = rng.uniform(a.lung_apex_v + 0.25, a.costophrenic_v - 0.15)
            radius = rng.uniform(0.07, 0.16)
            opacity = np.maximum(opacity, np.exp(-((u - bu) ** 2 + (v - bv) ** 2) / (2 * radius**2)))
        patchy = np.clip(opacity * (0.55 + 0.9 * texture) - 0.25, 0.0, 1.0)
        air *= 1.0 - 0.85 * patchy

    # Bones: posterior ribs (flat-topped bands with a brighter cortex), faint anterior ribs,
    # clavicles and spine. Ribs are periodic in v, so one pass draws all of them.
    lateral_u = abs_u - med
    in_chest = _soft(thorax + 0.07 - abs_u, 3 * edge) * _soft(abs_u - 0.6 * med, 2 * edge)
    in_chest *= _soft(a.costophrenic_v + 0.05 - v, 0.05) * _soft(v - a.rib_start_v + 0.5 * a.rib_spacing, 2 * edge)
    phase = (v - a.rib_start_v + 0.15 * lateral_u - 0.8 * lateral_u**2) / a.rib_spacing
    d = (phase - np.round(phase)) * (a.rib_spacing / a.rib_thickness)
    bone = (0.05 * _plateau(d) + 0.025 * np.exp(-6.0 * (np.abs(d) - 1.0) ** 2)) * in_chest
    ant_phase = (v - a.rib_start_v - 0.35 * (thorax - abs_u)) / (0.8 * a.rib_spacing)
    ant_d = (ant_phase - np.round(ant_phase)) * (0.8 * a.rib_spacing / (0.8 * a.rib_thickness))
    bone += 0.03 * _plateau(ant_d) * in_chest * (abs_u > 0.3 * thorax)
    clav_x = np.clip((abs_u - 0.08) / 0.64, 0.0, 1.0)
    clav_v = a.lung_apex_v + 0.12 - 0.14 * clav_x + 0.05 * np.sin(np.pi * clav_x)
    bone += 0.16 * _plateau((v - clav_v) / 0.03) * _soft(0.74 - abs_u, 2 * edge) * _soft(abs_u - 0.07, 2 * edge)
    vertebrae = 0.85 + 0.15 * np.cos(2 * np.pi * (v - a.rib_start_v) / a.rib_spacing)
    bone += 0.16 * _soft(0.065 - abs_u, 2 * edge) * vertebrae

    body = _soft(a.body_half_width - abs_u, 4 * edge)
    density = body * (a.soft_tissue + bone - 0.42 * air)
    density = np.clip(density, 0.0, None)

    image = (1.0 - np.exp(-_ATTENUATION * density)) / (1.0 - np.exp(-_ATTENUATION * 0.9))
    image = np.clip(a.gain * image, 0.0, 1.0) ** a.gamma
    image = image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(a.noise)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
