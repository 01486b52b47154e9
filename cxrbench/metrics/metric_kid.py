"""The kernel distance in any feature space: ``kid`` (KID in Inception-v3 space, ``kid@cxr-evaluator``...)."""

from __future__ import annotations

from cxrbench.metrics import METRICS
from cxrbench.metrics.kid import TORCH_FIDELITY_SEED, kid_bootstrap, kid_subsets
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric, Statistic


@METRICS.register("kid")
class KernelDistance(SpaceMetric):
    """Unbiased MMD^2 with the cubic polynomial kernel, averaged over 100 random subsets (torch-fidelity's KID).

    The subset size is min(1000, n_real, n_fake); at n <= 1000 every subset is the whole set, so the
    value is the full-set unbiased MMD^2 and the interval comes from the bootstrap, not from subsets.
    Old name: ``cxr_kid`` = kid@cxr-evaluator.
    """

    name = "kid"
    valid_range = (0.0, None)
    display_name = "KID"
    description = "unbiased MMD^2 (cubic polynomial kernel) of the feature space's features, mean over 100 subsets"
    default_space = "inception-v3"
    family, order = "distance", 1

    direction = Direction.LOWER
    needs = ("features",)
    min_samples = 10
    interval = "bias-shifted"  # repeated points in a resample add k(x, x) terms: replicates drift upward

    def __init__(
        self,
        feature_space: str | None = None,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = TORCH_FIDELITY_SEED,
    ) -> None:
        super().__init__(feature_space)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self, inputs: MetricInputs) -> float:
        return kid_subsets(inputs.real["features"], inputs.fake["features"], self.subsets, self.subset_size, self.seed)[
            0
        ]

    def statistic(self, inputs: MetricInputs) -> Statistic:
        function, batch = kid_bootstrap(inputs.real["features"], inputs.fake["features"])
        return Statistic(self.compute(inputs), function, inputs.n_real, inputs.n_fake, batch=batch)
