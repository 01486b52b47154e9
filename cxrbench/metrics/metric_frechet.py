"""The Frechet distance in any feature space: ``fd`` (FID in Inception-v3 space, ``fd@cxr-evaluator``...)."""

from __future__ import annotations

from cxrbench.metrics import METRICS
from cxrbench.metrics.frechet import frechet_distance_features
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric


@METRICS.register("fd")
class FrechetDistance(SpaceMetric):
    """Frechet distance between Gaussians fitted to a feature space's features (FID in inception-v3).

    Old names: ``fid`` = fd@inception-v3, ``cxr_fd`` = fd@cxr-evaluator.
    """

    name = "fd"
    valid_range = (0.0, None)
    display_name = "FD"
    description = "Frechet distance between Gaussians fitted to the feature space's features"
    default_space = "inception-v3"
    direction = Direction.LOWER
    needs = ("features",)
    min_samples = 10  # FD depends strongly on n: compare only rows with equal n_real / n_fake
    interval = "bias-shifted"  # resampled FD is biased upward; see metrics/bootstrap.py
    family, order = "distance", 0

    def compute(self, inputs: MetricInputs) -> float:
        return frechet_distance_features(inputs.real["features"], inputs.fake["features"])
