"""Kernel distances: KID (Inception-v3 space) and cxr_kid (CXR-evaluator space)."""

from __future__ import annotations

from cxrbench.metrics import METRICS
from cxrbench.metrics.kid import TORCH_FIDELITY_SEED, kid_bootstrap, kid_subsets
from cxrbench.metrics.metric import Direction, DistributionMetric, MetricInputs, Statistic


class _KernelDistance(DistributionMetric):
    """Unbiased MMD^2 with the cubic polynomial kernel, averaged over 100 random subsets (torch-fidelity's KID).

    The subset size is min(1000, n_real, n_fake); at n <= 1000 every subset is the whole set, so the
    value is the full-set unbiased MMD^2 and the interval comes from the bootstrap, not from subsets.
    """

    direction = Direction.LOWER
    needs = ("features",)
    min_samples = 10
    interval = "bias-shifted"  # repeated points in a resample add k(x, x) terms: replicates drift upward

    def __init__(self, feature_space: str | None = None, subsets: int = 100, subset_size: int = 1000,
                 seed: int = TORCH_FIDELITY_SEED) -> None:
        super().__init__(feature_space)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self, inputs: MetricInputs) -> float:
        return kid_subsets(inputs.real["features"], inputs.fake["features"], self.subsets, self.subset_size,
                           self.seed)[0]

    def statistic(self, inputs: MetricInputs) -> Statistic:
        function, batch = kid_bootstrap(inputs.real["features"], inputs.fake["features"])
        return Statistic(self.compute(inputs), function, inputs.n_real, inputs.n_fake, batch=batch)


@METRICS.register("kid")
class KernelInceptionDistance(_KernelDistance):
    """Kernel (MMD^2) distance of Inception-v3 pool features."""

    name = "kid"
    display_name = "KID"
    description = "unbiased MMD^2 (cubic polynomial kernel) of Inception-v3 features, mean over 100 subsets"
    feature_space = "inception-v3"
    headline = 11


@METRICS.register("cxr_kid")
class CxrKernelDistance(_KernelDistance):
    """Kernel (MMD^2) distance of CXR-evaluator embeddings."""

    name = "cxr_kid"
    display_name = "CXR-KID"
    description = "unbiased MMD^2 (cubic polynomial kernel) of the CXR evaluator's embeddings"
    feature_space = "cxr-evaluator"
    headline = 21
