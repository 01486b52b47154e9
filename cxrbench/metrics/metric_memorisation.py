"""Memorisation: are synthetic images closer to the training images than unseen real images are?

Distance to closest record (DCR): each image's distance to its nearest training image, in the
``pixels`` space by default (32 px, centred, unit norm: shape counts, exposure does not). The
held-out real images of the same condition (never trained on) give the reference distribution.
- ``memorisation``: the fraction of synthetic images that are near-copies, i.e. closer to a
  training image than ``copy_factor`` (0.5) times the 1st percentile of the held-out real DCRs
  (cxrbench's choice: a real unseen image is almost never that close, a copy always is).
- ``dcr_ratio``: median synthetic DCR over median held-out real DCR; below 1 the samples sit
  closer to the training set than unseen real images do.
``memorisation`` writes a review gallery of the closest synthetic/training pairs (once per cell).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cxrbench.files import atomic_save_png, atomic_write_text
from cxrbench.metrics import METRICS
from cxrbench.metrics.distances import nearest
from cxrbench.metrics.metric import Direction, DistributionMetric, MetricInputs, Statistic

GALLERY_PAIRS = 8


class _Memorisation(DistributionMetric):
    feature_space = "pixels"
    needs = ("features",)
    uses_train = True
    min_samples = 10

    def __init__(self, feature_space: str | None = None, copy_factor: float = 0.5) -> None:
        super().__init__(feature_space)
        self.copy_factor = copy_factor

    def _dcr(self, inputs: MetricInputs) -> tuple[np.ndarray, np.ndarray]:
        train = inputs.train["features"]
        return nearest(inputs.real["features"], train)[0], nearest(inputs.fake["features"], train)[0]

    def _value(self, real_dcr: np.ndarray, fake_dcr: np.ndarray) -> float:
        raise NotImplementedError

    def compute(self, inputs: MetricInputs) -> float:
        return self.statistic(inputs).estimate

    def statistic(self, inputs: MetricInputs) -> Statistic:
        real_dcr, fake_dcr = self._dcr(inputs)  # the training set is fixed; only the scored points resample
        return Statistic(
            self._value(real_dcr, fake_dcr),
            lambda r, f: self._value(real_dcr[r], fake_dcr[f]),
            len(real_dcr),
            len(fake_dcr),
        )


@METRICS.register("memorisation")
class NearCopies(_Memorisation):
    """Fraction of synthetic images that are near-copies of training images."""

    name = "memorisation"
    valid_range = (0.0, 1.0)
    display_name = "Near-copies"
    description = (
        "fraction of synthetic images closer to their nearest training image than half the 1st "
        "percentile of held-out real images' distances (pixels space); a memoriser scores 1"
    )
    direction = Direction.LOWER
    family, order = "memorisation", 0

    def _value(self, real_dcr: np.ndarray, fake_dcr: np.ndarray) -> float:
        return float(np.mean(fake_dcr < self.copy_factor * np.quantile(real_dcr, 0.01)))

    def review(self, inputs: MetricInputs, fake_images: torch.Tensor, train_images: torch.Tensor, folder: Path) -> None:
        """closest_pairs.png (each row: synthetic | nearest training image) and closest_pairs.json."""
        distance, index = nearest(inputs.fake["features"], inputs.train["features"])
        order = np.argsort(distance, kind="stable")[:GALLERY_PAIRS]
        rows = [np.concatenate([fake_images[i, 0].numpy(), train_images[index[i], 0].numpy()], axis=1) for i in order]
        folder.mkdir(parents=True, exist_ok=True)
        atomic_save_png(folder / "closest_pairs.png", np.concatenate(rows, axis=0))
        pairs = [{"sample": int(i), "train_index": int(index[i]), "distance": float(distance[i])} for i in order]
        atomic_write_text(folder / "closest_pairs.json", json.dumps(pairs, indent=1))


@METRICS.register("dcr_ratio")
class DcrRatio(_Memorisation):
    """Median distance to the closest training image, synthetic over held-out real."""

    name = "dcr_ratio"
    valid_range = (0.0, None)
    display_name = "DCR ratio"
    description = (
        "median distance of synthetic images to their closest training image over the same for "
        "held-out real images (pixels space); below 1: closer to the training set than unseen data"
    )
    direction = Direction.HIGHER
    family, order = "memorisation", 1

    def _value(self, real_dcr: np.ndarray, fake_dcr: np.ndarray) -> float:
        median_real = float(np.median(real_dcr))
        return float(np.median(fake_dcr)) / median_real if median_real > 0 else float("nan")
