"""Conditional accuracy: does the evaluator see the condition the model was asked for?

Two numbers: ``conditional_auroc`` (FINDING scope), the evaluator's AUROC separating a model's
present set from its absent set; and ``conditional_accuracy`` (per condition), the fraction of a
set the evaluator calls as intended at its real-data operating point (Youden threshold on the
real validation split).
"""

from __future__ import annotations

import numpy as np

from cxrbench.metrics import METRICS
from cxrbench.metrics.auroc import auroc
from cxrbench.metrics.metric import INTENDED, Direction, Metric, MetricInputs, Scope


@METRICS.register("conditional_accuracy")
class ConditionalAccuracy(Metric):
    """Fraction of images the evaluator assigns the intended condition."""

    name = "conditional_accuracy"
    valid_range = (0.0, 1.0)
    display_name = "Cond. acc."
    description = (
        "fraction of synthetic images whose evaluator call (at its real-data operating point) "
        "matches the requested present/absent condition"
    )
    direction = Direction.HIGHER
    feature_space = "cxr-evaluator"
    needs = ("calls",)
    family, order = "conditional", 1
    uses_real = False

    def compute(self, inputs: MetricInputs) -> float:
        calls = inputs.fake["calls"][:, inputs.condition.finding_index]
        return float(np.mean(calls == int(inputs.condition.present)))


@METRICS.register("conditional_auroc")
class ConditionalAuroc(Metric):
    """Evaluator AUROC separating a model's present set from its absent set."""

    name = "conditional_auroc"
    valid_range = (0.0, 1.0)
    chance = 0.5
    display_name = "Cond. AUROC"
    description = (
        "the evaluator's AUROC separating the model's 'present' images from its 'absent' images of "
        "the finding (0.5: the model ignores the condition; the real-holdout row is the real-data value)"
    )
    direction = Direction.HIGHER
    feature_space = "cxr-evaluator"
    needs = ("probabilities",)
    scope = Scope.FINDING
    family, order = "conditional", 0
    uses_real = False

    def compute(self, inputs: MetricInputs) -> float:
        scores = inputs.fake["probabilities"][:, inputs.condition.finding_index]
        return auroc(scores, inputs.fake[INTENDED])
