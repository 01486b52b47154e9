"""The metric contract: a metric declares its name, direction, inputs, feature space, scope and minimum n."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch

from cxrbench.data.image_set import ImageSet
from cxrbench.metric_ids import ALIASES, alias_of, metric_id
from cxrbench.tasks.task import Condition


class Direction(str, Enum):
    LOWER = "lower"  # lower is better
    HIGHER = "higher"


class Scope(str, Enum):
    """Which images make up one row of a metric."""

    CONDITION = "condition"  # one sample set against the real images of the same condition
    FINDING = "finding"  # a model's present and absent sets of one finding together (row condition "both")
    MODEL = "model"  # every sample set of a model at once (e.g. train a classifier on them); a row per finding


BOTH = "both"  # the condition column of FINDING- and MODEL-scope rows
INTENDED = "intended"  # FINDING scope: 1 for rows of the present set, 0 for the absent set


@dataclass(frozen=True)
class MetricInputs:
    """What a metric reads for one row: named extractor outputs, [N, ...] arrays per set.

    real: the real reference rows (empty for metrics that do not use real images);
    fake: the model's rows (FINDING scope: present and absent sets stacked, with INTENDED);
    train: the real training split's outputs, for metrics with ``uses_train`` (never resampled).
    """

    real: dict[str, np.ndarray]
    fake: dict[str, np.ndarray]
    condition: Condition
    train: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_real(self) -> int:
        return len(next(iter(self.real.values()))) if self.real else 0

    @property
    def n_fake(self) -> int:
        return len(next(iter(self.fake.values()))) if self.fake else 0

    def take(self, real_index: np.ndarray | None, fake_index: np.ndarray | None) -> "MetricInputs":
        """The inputs with real and fake rows re-indexed (None keeps a side as it is)."""
        real = self.real if real_index is None else {k: v[real_index] for k, v in self.real.items()}
        fake = self.fake if fake_index is None else {k: v[fake_index] for k, v in self.fake.items()}
        return MetricInputs(real, fake, self.condition, self.train)


@dataclass(frozen=True)
class Statistic:
    """A metric's value and the metric as a function of resampled units, for the bootstrap.

    ``estimate`` is the value on the full sets (what ``compute`` returns), kept here so that work
    precomputed for the bootstrap (kernels, radii, distances) is not done twice.
    ``function(real_index, fake_index)`` gets index arrays into the ``n_real`` / ``n_fake`` units
    (rows, or groups of rows); a side with 0 units is not resampled and gets None.
    ``batch`` (optional): the same function for many resamples at once, (real counts [n_real, R],
    fake counts [n_fake, R]) -> values [R], where column r counts how often each unit is drawn in
    resample r; for statistics whose per-call work is shared better across resamples (KID's
    kernels, computed in row blocks once for all resamples instead of held as n x n matrices).
    """

    estimate: float
    function: Callable[[np.ndarray | None, np.ndarray | None], float]
    n_real: int
    n_fake: int
    batch: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


# The leaderboard's column groups, in their order; a metric declares its family and its order within it.
FAMILIES = ("distance", "conditional", "utility", "coverage", "diversity", "memorisation")


class Metric(ABC):
    """A number computed from extractor outputs of real and synthetic images.

    feature_space: the registered feature extractor whose outputs the metric reads (distribution
    metrics take another one as a constructor option, e.g. ``feature_space="inception-v3"``).
    needs: which named outputs of that extractor it reads (e.g. "features").
    uses_real: whether it compares against the real reference set (False: fake images only).
    uses_train: whether it also reads the real training split's outputs (memorisation).
    min_samples: below this n the metric refuses rather than report a misleading number.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    direction: ClassVar[Direction]
    feature_space: str
    needs: ClassVar[tuple[str, ...]] = ("features",)
    scope: ClassVar[Scope] = Scope.CONDITION
    uses_real: ClassVar[bool] = True
    uses_train: ClassVar[bool] = False
    min_samples: ClassVar[int] = 2
    interval: ClassVar[str] = "percentile"  # bootstrap interval method (see metrics/bootstrap.py)
    # Its group of leaderboard columns (one of FAMILIES) and its place in it, lowest first; the first column
    # with values ranks the models. Undeclared (""): shown after the declared ones, grouped by space.
    family: ClassVar[str] = ""
    order: ClassVar[int] = 0
    any_space: ClassVar[bool] = False  # True: computed in any feature space, its rows' id is NAME@SPACE
    default_space: ClassVar[str] = ""  # where a bare name is computed (any-space metrics)
    max_resamples: ClassVar[int | None] = None  # a cap on bootstrap resamples, for costly statistics
    # The range the measured quantity lives in (None: unbounded); the leaderboard clips intervals to it
    # (a Frechet distance is never negative, though a percentile of a biased estimate can be).
    valid_range: ClassVar[tuple[float | None, float | None]] = (None, None)
    chance: ClassVar[float | None] = None  # the value of a guess (an AUROC's 0.5): intervals holding it are flagged

    @abstractmethod
    def compute(self, inputs: MetricInputs) -> float:
        """The metric value."""

    def statistic(self, inputs: MetricInputs) -> Statistic:
        """The value and the metric over resampled rows; metrics override it to precompute (kernels, radii)."""
        return Statistic(
            self.compute(inputs),
            lambda r, f: self.compute(inputs.take(r, f)),
            inputs.n_real if self.uses_real else 0,
            inputs.n_fake,
        )

    def review(self, inputs: MetricInputs, fake_images: torch.Tensor, train_images: torch.Tensor, folder: Path) -> None:
        """Write material for a human to check the number (e.g. a gallery); default: nothing."""

    @property
    def id(self) -> str:
        """What its rows are called: ``fd@rad-dino`` for an any-space metric, else its name."""
        return metric_id(self.name, self.feature_space) if self.any_space else self.name

    @property
    def short_name(self) -> str:
        """The name its rows had before metric ids (the alias, or the bare name in the default space),
        else the id. It seeds the bootstrap, so the intervals of 0.1 rows in default spaces and under
        aliases are made again exactly; a 0.1 metric moved by a ``feature_space`` option (``kid`` in
        pixels) gets the same value but another interval."""
        if not self.any_space:
            return self.name
        if (alias := alias_of(self.name, self.feature_space)) is not None:
            return next(name for name, a in ALIASES.items() if a == alias)
        return self.name if self.feature_space == self.default_space else self.id

    def schema(self) -> dict:
        """The declaration the leaderboard reads instead of knowing metrics by name.

        Outside its default space an any-space metric is shown with the space's name, e.g.
        "FD (rad-dino)"; the old per-space names keep their display names ("FID", "CXR-FD").
        """
        display, order, own_space = self.display_name, self.order, True
        if self.any_space and (alias := alias_of(self.name, self.feature_space)) is not None:
            display, order = alias.display_name, alias.order
        elif self.any_space and self.feature_space != self.default_space:
            display, own_space = f"{self.display_name} ({self.feature_space})", False
        return {
            "name": self.id,
            "metric": self.name,
            "display_name": display,
            "description": self.description,
            "direction": self.direction.value,
            "feature_space": self.feature_space,
            "scope": self.scope.value,
            "uses_real": self.uses_real,
            "min_samples": self.min_samples,
            "interval": self.interval,
            "family": self.family,
            "order": order,
            "default_space": own_space and bool(self.family),  # False: after the others, grouped by space
            "valid_range": list(self.valid_range),
            "chance": self.chance,
        }


class DistributionMetric(Metric):
    """A metric comparing feature distributions; its feature space is a constructor option."""

    def __init__(self, feature_space: str | None = None) -> None:
        if feature_space is not None:
            self.feature_space = feature_space


class SpaceMetric(DistributionMetric):
    """A distribution metric of any feature space's ``features`` (FD, KID, PRDC, CMMD, FD∞); a row
    per space, ``NAME@SPACE``; ``feature_space`` defaults to the class's ``default_space``."""

    any_space = True

    def __init__(self, feature_space: str | None = None) -> None:
        super().__init__(feature_space or self.default_space)


@dataclass(frozen=True)
class ModelMetricContext:
    """What a MODEL-scope metric gets: a model's images per condition and the real splits.

    fake: condition -> uint8 [N, 1, H, W]; train / test: real ImageSets (test = the metrics'
    reference half); bootstrap: resamples for intervals; cache_dir: where trained parts are kept.
    """

    fake: dict[Condition, torch.Tensor]
    train: ImageSet
    test: ImageSet
    device: torch.device
    seed: int
    bootstrap: int
    cache_dir: Path
    progress: Callable[[int, int, str], None] = lambda done, total, text: None


@dataclass(frozen=True)
class MetricValue:
    value: float
    ci_low: float | None
    ci_high: float | None


class ModelMetric(Metric):
    """A MODEL-scope metric: computed once from all of a model's sets, one value per finding."""

    scope = Scope.MODEL
    uses_real = True
    needs = ()
    feature_space = "images"

    def compute(self, inputs: MetricInputs) -> float:
        raise TypeError(f"{self.name} is a model-scope metric; call compute_model")

    @abstractmethod
    def compute_model(self, context: ModelMetricContext) -> dict[str, MetricValue]:
        """Task name -> value and interval, for each task among the context's conditions."""

    def identity(self) -> dict:
        """What makes its numbers comparable (e.g. the classifier recipe), recorded in each row."""
        return {"name": self.name}
