"""The Frechet Radiomic Distance (FRDv1; Konz, Osuala et al., arXiv 2412.01496): ``frd``.

As frd-score's v1 (``frd_v1/src/radiomics_utils.py``, ``frd_v1/compute_frd.py``): each feature of
both sets is z-scored with the mean and (population) standard deviation of the reference (real)
set; features left NaN or infinite by that (constant over the reference set) are dropped; the
Frechet distance of the rest; FRD = log of it. The distance of cxrbench/metrics/frechet.py is the
squared one, d^2 = |mu1 - mu2|^2 + tr(...), so log(d^2) is the code's convention and the values
the authors publish; ``paper_log = true`` gives the paper's Eq. 3, log(d) = log(d^2) / 2.
Not reproduced: FRDv1's cast of the features to float32 (kept float64) and its random subsampling
of the larger set to the smaller one's size (cxrbench compares sets of equal n instead).
"""

from __future__ import annotations

import numpy as np

from cxrbench.errors import CxrbenchError
from cxrbench.metrics import METRICS
from cxrbench.metrics.frechet import frechet_distance_features
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric

# A reference sd at or below this fraction of the feature's magnitude is a constant up to rounding.
CONSTANT_TOLERANCE = 1e-12
# The smallest distance told apart from zero, per feature (identical sets give round-off, not 0):
# FRD of a set against itself is log(FD_FLOOR * D), the metric's minimum, never -inf.
FD_FLOOR = 1e-10


def zscore_against(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both [N, D] sets z-scored with the reference's mean and population sd, keeping the features
    that vary over the reference (FRDv1 drops the rest, whose z-scores are NaN or infinite)."""
    mean = reference.mean(axis=0)
    sd = reference.std(axis=0)
    keep = sd > CONSTANT_TOLERANCE * np.maximum(1.0, np.abs(mean))
    if not keep.any():
        raise CxrbenchError(
            "frd: no feature varies over the reference images, so none can be z-scored; "
            "use a reference set of different images (or another metric)"
        )
    return (reference[:, keep] - mean[keep]) / sd[keep], (other[:, keep] - mean[keep]) / sd[keep]


def frd_value(real: np.ndarray, fake: np.ndarray, paper_log: bool = False) -> float:
    """log of the Frechet distance of ``fake`` [N2, D] to ``real`` [N1, D], both z-scored against ``real``."""
    z_real, z_fake = zscore_against(np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64))
    distance = max(frechet_distance_features(z_real, z_fake), FD_FLOOR * z_real.shape[1])
    return float(np.log(distance) * (0.5 if paper_log else 1.0))


@METRICS.register("frd")
class FrechetRadiomicDistance(SpaceMetric):
    """FRDv1: log Frechet distance of radiomic features z-scored against the real reference set.

    In another space (``frd@xrv-densenet``) it is the same recipe on that space's features.
    """

    name = "frd"
    display_name = "FRD"
    description = "log Frechet distance of features z-scored against the real reference set (FRDv1)"
    default_space = "radiomics"
    direction = Direction.LOWER
    needs = ("features",)
    min_samples = 10  # as fd: its covariances need rows; compare rows of equal n
    interval = "bias-shifted"  # resampled Frechet distances are biased upward (metrics/bootstrap.py)
    family, order = "distance", 15  # after FID, KID, CMMD and the cxr-evaluator columns (CXR-FD, CXR-KID, FD∞)

    def __init__(self, feature_space: str | None = None, paper_log: bool = False) -> None:
        super().__init__(feature_space)
        self.paper_log = paper_log

    def compute(self, inputs: MetricInputs) -> float:
        return frd_value(inputs.real["features"], inputs.fake["features"], self.paper_log)
