"""Feature spaces and metric inputs: the one path by which `run`, `evaluate`, `validate-metrics` and
`compare` get ready the spaces their metrics read and hand each metric its arrays, so that a space
or a metric added once works in all four.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from cxrbench.errors import UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.metrics.metric import INTENDED, Metric, MetricInputs, Scope
from cxrbench.seeds import derive_seed
from cxrbench.tasks.task import Condition

Spaces = dict[str, FeatureExtractor | UnavailableError]
Outputs = dict[str, np.ndarray]  # one set's extractor outputs: name -> [N, ...]


def space_names(metrics: list[Metric]) -> list[str]:
    """The feature spaces the metrics read, in order (model-scope metrics read images, not a space)."""
    return list(dict.fromkeys(m.feature_space for m in metrics if m.scope is not Scope.MODEL))


def prepare_spaces(
    names: list[str], feature_options: dict[str, dict], context: ExtractorContext, step: Callable | None = None
) -> Spaces:
    """Each named space ready (weights loaded, or trained on ``context``'s splits), or the reason it
    cannot be used here (missing weights, no labelled data) as an UnavailableError with the fix.

    Each space gets its own seed (derived from ``context.seed`` and its name). ``step(name)``, when
    given, returns a progress context manager yielding an update function (the run's Reporter.step).
    """
    spaces: Spaces = {}
    for name in names:
        extractor = FEATURE_EXTRACTORS.build(name, feature_options.get(name, {}))[0]
        if extractor.needs_training_data and len(context.train) == 0:
            spaces[name] = UnavailableError(
                f"feature space {name} is trained on a labelled dataset; use `cxrbench "
                "run --data ...` for metrics in it, or another space (--features)"
            )
            continue
        own = dataclasses.replace(context, seed=derive_seed(context.seed, name))
        try:
            if step is None:
                extractor.prepare(own)
            else:
                with step(f"feature space {name}") as update:
                    extractor.prepare(dataclasses.replace(own, progress=update))
        except UnavailableError as error:
            spaces[name] = error
            continue
        spaces[name] = extractor
    return spaces


def condition_inputs(
    metric: Metric, real: Outputs | None, fake: Outputs, condition: Condition, train: Outputs | None = None
) -> MetricInputs:
    """A CONDITION-scope metric's inputs: the arrays it reads from the real reference set, one
    sample set and (memorisation) the training split, in its own feature space's outputs."""
    return MetricInputs(
        {k: real[k] for k in metric.needs} if metric.uses_real and real is not None else {},
        {k: fake[k] for k in metric.needs},
        condition,
        {k: train[k] for k in metric.needs} if metric.uses_train and train is not None else {},
    )


def finding_inputs(metric: Metric, sets: list[tuple[Condition, Outputs]]) -> MetricInputs:
    """A FINDING-scope metric's inputs: a model's present and absent sets stacked, with INTENDED = 1
    for the rows of the present set; the condition is the present one."""
    fake = {k: np.concatenate([outputs[k] for _, outputs in sets]) for k in metric.needs}
    fake[INTENDED] = np.concatenate(
        [np.full(len(outputs[metric.needs[0]]), int(condition.present)) for condition, outputs in sets]
    )
    present = next(condition for condition, _ in sets if condition.present)
    return MetricInputs({}, fake, present)
