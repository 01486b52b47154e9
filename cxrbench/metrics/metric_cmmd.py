"""CMMD (Jayasumana et al., CVPR 2024, "Rethinking FID"): MMD^2 with a Gaussian RBF kernel, x1000."""

from __future__ import annotations

from typing import Literal

from cxrbench.errors import ConfigError
from cxrbench.metrics import METRICS
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric, Statistic
from cxrbench.metrics.mmd_rbf import SCALE, SIGMA, cmmd, cmmd_multisets


@METRICS.register("cmmd")
class Cmmd(SpaceMetric):
    """scale * MMD^2 of L2-normalised embeddings under exp(-|a - b|^2 / (2 sigma^2)), sigma = 10.

    estimator: "biased" (default) is the V-statistic that google-research's released code computes,
    so that values match published CMMD; "unbiased" is the U-statistic the paper writes down (it
    can be negative). Default space: ``clip`` (CLIP ViT-L/14@336 image embeddings, as published);
    any other space works (``cmmd@rad-dino``), with values comparable only within it.
    """

    name = "cmmd"
    valid_range = (0.0, None)
    display_name = "CMMD"
    description = "MMD^2 x 1000, Gaussian RBF kernel (sigma 10) on image embeddings (Jayasumana et al. 2024)"
    direction = Direction.LOWER
    default_space = "clip"
    min_samples = 2
    interval = "bias-shifted"  # a resample's repeated rows add k(x, x) = 1 terms: replicates drift upward
    family, order = "distance", 2

    def __init__(
        self,
        feature_space: str | None = None,
        sigma: float = SIGMA,
        scale: float = SCALE,
        estimator: Literal["biased", "unbiased"] = "biased",
    ) -> None:
        super().__init__(feature_space)
        if estimator not in ("biased", "unbiased"):
            raise ConfigError(
                f"cmmd estimator {estimator!r}; choose biased (the released code's) or unbiased (the paper's)"
            )
        if sigma <= 0:
            raise ConfigError(f"cmmd sigma {sigma} must be positive (published: 10)")
        self.sigma, self.scale, self.estimator = float(sigma), float(scale), estimator

    def compute(self, inputs: MetricInputs) -> float:
        return cmmd(inputs.real["features"], inputs.fake["features"], self.sigma, self.scale, self.estimator)

    def statistic(self, inputs: MetricInputs) -> Statistic:
        real, fake = inputs.real["features"], inputs.fake["features"]

        def batch(real_counts, fake_counts):
            return cmmd_multisets(real, fake, real_counts, fake_counts, self.sigma, self.scale, self.estimator)

        return Statistic(
            self.compute(inputs),
            lambda r, f: cmmd(real[r], fake[f], self.sigma, self.scale, self.estimator),
            inputs.n_real,
            inputs.n_fake,
            batch=batch,
        )
