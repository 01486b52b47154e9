"""Precision, recall (Kynkaanniemi et al. 2019, k = 3, <=) and density, coverage (Naeem et al. 2020, k = 5, <).

Computed in the CXR-evaluator space by default (available with no download); pass
``feature_space = "inception-v3"`` as a metric option for the papers' Inception space. Intervals
resample the scored points (fakes for precision and density, reals for recall and coverage)
while the manifold, the other set's balls, stays that of the full set: repeating a point in a
resample would give it a zero-radius neighbour and break the k-NN radii.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cxrbench.metrics import METRICS
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric, Statistic
from cxrbench.metrics.prdc import coverage_indicators, density_counts, precision_indicators, recall_indicators


class _ManifoldMetric(SpaceMetric):
    default_space = "cxr-evaluator"
    direction = Direction.HIGHER
    family = "coverage"  # fidelity and coverage of the real distribution (PRDC)
    needs = ("features",)
    per_point: Callable[..., np.ndarray]
    k: int
    scores_fakes: bool  # True: one value per fake point (precision, density); False: per real point

    def __init__(self, feature_space: str | None = None, k: int | None = None) -> None:
        super().__init__(feature_space)
        if k is not None:
            self.k, self.min_samples = k, k + 1  # a k-NN radius needs k other points in the set

    def _points(self, inputs: MetricInputs) -> np.ndarray:
        return type(self).per_point(inputs.real["features"], inputs.fake["features"], self.k)

    def compute(self, inputs: MetricInputs) -> float:
        return self.statistic(inputs).estimate

    def statistic(self, inputs: MetricInputs) -> Statistic:
        points = self._points(inputs).astype(np.float64)
        if self.scores_fakes:
            return Statistic(float(points.mean()), lambda r, f: float(points[f].mean()), 0, len(points))
        return Statistic(float(points.mean()), lambda r, f: float(points[r].mean()), len(points), 0)


@METRICS.register("precision")
class Precision(_ManifoldMetric):
    """Fraction of synthetic images inside the real manifold (k=3)."""

    name = "precision"
    valid_range = (0.0, 1.0)
    display_name = "Precision"
    description = "fraction of synthetic images within (<=) the 3-NN ball of some real image (fidelity)"
    min_samples = 4
    per_point, k, scores_fakes, order = precision_indicators, 3, True, 0


@METRICS.register("recall")
class Recall(_ManifoldMetric):
    """Fraction of real images inside the synthetic manifold (k=3)."""

    name = "recall"
    valid_range = (0.0, 1.0)
    display_name = "Recall"
    description = "fraction of real images within (<=) the 3-NN ball of some synthetic image (diversity)"
    min_samples = 4
    per_point, k, scores_fakes, order = recall_indicators, 3, False, 1


@METRICS.register("density")
class Density(_ManifoldMetric):
    """How many real neighbourhoods contain each synthetic image (k=5)."""

    name = "density"
    valid_range = (0.0, None)
    display_name = "Density"
    description = "mean number of real 5-NN balls strictly containing a synthetic image, over 5 (about 1 for real data)"
    min_samples = 6
    per_point, k, scores_fakes, order = density_counts, 5, True, 2


@METRICS.register("coverage")
class Coverage(_ManifoldMetric):
    """Fraction of real neighbourhoods that contain a synthetic image (k=5)."""

    name = "coverage"
    valid_range = (0.0, 1.0)
    display_name = "Coverage"
    description = "fraction of real images whose 5-NN ball strictly contains their nearest synthetic image"
    min_samples = 6
    per_point, k, scores_fakes, order = coverage_indicators, 5, False, 3
