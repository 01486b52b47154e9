"""Frechet distances: FID (Inception-v3 space) and cxr_fd (CXR-evaluator space)."""

from __future__ import annotations

from cxrbench.metrics import METRICS
from cxrbench.metrics.frechet import frechet_distance_features
from cxrbench.metrics.metric import Direction, DistributionMetric, MetricInputs


class _FrechetDistance(DistributionMetric):
    direction = Direction.LOWER
    needs = ("features",)
    min_samples = 10  # FD depends strongly on n: compare only rows with equal n_real / n_fake
    interval = "bias-shifted"  # resampled FD is biased upward; see metrics/bootstrap.py

    def compute(self, inputs: MetricInputs) -> float:
        return frechet_distance_features(inputs.real["features"], inputs.fake["features"])


@METRICS.register("fid")
class FrechetInceptionDistance(_FrechetDistance):
    """Frechet distance of Inception-v3 pool features."""

    name = "fid"
    display_name = "FID"
    description = "Frechet distance between Gaussians fitted to Inception-v3 2048-d pool features"
    feature_space = "inception-v3"
    headline = 10


@METRICS.register("cxr_fd")
class CxrFrechetDistance(_FrechetDistance):
    """Frechet distance of CXR-evaluator embeddings (a CXR-domain distance)."""

    name = "cxr_fd"
    display_name = "CXR-FD"
    description = "Frechet distance between Gaussians fitted to the CXR evaluator's penultimate embeddings"
    feature_space = "cxr-evaluator"
    headline = 20
