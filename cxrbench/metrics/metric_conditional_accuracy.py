"""Conditional accuracy: does the evaluator see the condition the model was asked for?"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics import METRICS
from cxrbench.metrics.metric import Direction, Metric
from cxrbench.tasks.task import Condition


@METRICS.register("conditional_accuracy")
class ConditionalAccuracy(Metric):
    """Fraction of images the evaluator assigns the intended condition."""

    name = "conditional_accuracy"
    display_name = "Cond. acc."
    description = ("fraction of synthetic images whose evaluator call (at its real-data operating point) "
                   "matches the requested present/absent condition")
    direction = Direction.HIGHER
    feature_space = "cxr-evaluator"
    needs = ("calls",)
    headline = 30
    uses_real = False

    def compute(self, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], condition: Condition) -> float:
        calls = fake["calls"][:, condition.finding_index]
        return float(np.mean(calls == int(condition.present)))
