"""FD∞ (Chong & Forsyth, CVPR 2020, as dgm-eval computes it): the Frechet distance at infinite n."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch

from cxrbench.errors import ConfigError
from cxrbench.files import atomic_write_text
from cxrbench.metrics import METRICS
from cxrbench.metrics.frechet_infinity import fd_infinity
from cxrbench.metrics.metric import Direction, MetricInputs, SpaceMetric

FIT_FILE = "fd_vs_n.json"  # in the row's review folder: FD at each subset size, for the site's figure


@METRICS.register("fd_inf")
class FrechetDistanceInfinity(SpaceMetric):
    """The intercept of FD against 1 / n over 15 subset sizes (cxrbench/metrics/frechet_infinity.py).

    FD is biased upwards by about c / n, and per-finding cells are small (128 images by default), so
    FD∞ sits beside FD in every cell. Subsets are drawn from both sets (``subsample = "both"``,
    cxrbench's choice for small sets; "generated" is dgm-eval's scheme). Its interval uses at most
    ``max_resamples`` bootstrap resamples: each is 15 Frechet distances.
    """

    name = "fd_inf"
    valid_range = (0.0, None)
    display_name = "FD∞"
    description = "Frechet distance extrapolated to 1/n = 0 from 15 subset sizes (Chong & Forsyth 2020)"
    direction = Direction.LOWER
    default_space = "cxr-evaluator"
    min_samples = 10
    interval = "bias-shifted"
    max_resamples = 100
    family, order = "distance", 12  # after CXR-FD and CXR-KID (metric_ids.ALIASES)

    def __init__(
        self, feature_space: str | None = None, subsample: Literal["both", "generated"] = "both", seed: int = 0
    ) -> None:
        super().__init__(feature_space)
        if subsample not in ("both", "generated"):
            raise ConfigError(
                f"fd_inf subsample {subsample!r}; choose both (cxrbench's default) or generated (dgm-eval's)"
            )
        self.subsample, self.seed = subsample, seed

    def compute(self, inputs: MetricInputs) -> float:
        return self._fit(inputs)[0]

    def _fit(self, inputs: MetricInputs) -> tuple[float, dict]:
        return fd_infinity(inputs.real["features"], inputs.fake["features"], seed=self.seed, subsample=self.subsample)

    def review(self, inputs: MetricInputs, fake_images: torch.Tensor, train_images: torch.Tensor, folder: Path) -> None:
        """The fit behind the value: FD at each subset size (the site draws FD against n from it)."""
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / FIT_FILE, json.dumps(self._fit(inputs)[1], indent=1))
