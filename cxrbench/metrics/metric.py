"""The metric contract: a metric declares its name, direction, inputs, feature space and minimum n."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import ClassVar

import numpy as np

from cxrbench.tasks.task import Condition


class Direction(str, Enum):
    LOWER = "lower"  # lower is better
    HIGHER = "higher"


class Metric(ABC):
    """A number computed from extractor outputs of real and synthetic images of one condition.

    feature_space: the registered feature extractor whose outputs the metric reads.
    needs: which named outputs of that extractor it reads (e.g. "features").
    uses_real: whether it compares against the real reference set (False: fake images only).
    min_samples: below this n the metric refuses rather than report a misleading number.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    direction: ClassVar[Direction]
    feature_space: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ("features",)
    uses_real: ClassVar[bool] = True
    min_samples: ClassVar[int] = 2
    headline: ClassVar[int] = 100  # leaderboard order: lowest first; the first available one ranks models

    @abstractmethod
    def compute(self, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], condition: Condition) -> float:
        """The metric value; ``real``/``fake`` map each name in ``needs`` to an [N, ...] array."""

    @classmethod
    def schema(cls) -> dict:
        """The declaration the leaderboard reads instead of knowing metrics by name."""
        return {
            "name": cls.name, "display_name": cls.display_name, "description": cls.description,
            "direction": cls.direction.value, "feature_space": cls.feature_space,
            "uses_real": cls.uses_real, "min_samples": cls.min_samples, "headline": cls.headline,
        }
