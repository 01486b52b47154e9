"""One result row from one metric: value, bootstrap interval, and everything that makes it comparable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from cxrbench import __version__
from cxrbench.benchmark.row_cache import cached_numbers
from cxrbench.config import RunConfig
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.metrics.bootstrap import bootstrap_interval
from cxrbench.metrics.feature_extractor import FeatureExtractor
from cxrbench.metrics.metric import Metric, MetricInputs, MetricValue
from cxrbench.results import UNAVAILABLE, ResultRow
from cxrbench.seeds import derive_seed


@dataclass(frozen=True)
class RowKey:
    """Which cell a row belongs to, and the facts of the run it is computed in."""

    model: str
    task: str
    condition: str
    reference: bool
    dataset: str


def _fields(key: RowKey, metric: Metric, n_real: int, config: RunConfig) -> dict:
    return dict(
        model=key.model,
        task=key.task,
        condition=key.condition,
        metric=metric.id,
        n_real=n_real,
        n_fake=config.n_samples,
        direction=metric.direction.value,
        feature_space=metric.feature_space,
        dataset=key.dataset,
        seed=config.seed,
        cxrbench_version=__version__,
        resolution=config.resolution,
        reference=key.reference,
    )


def unavailable_row(key: RowKey, metric: Metric, n_real: int, config: RunConfig, reason: str) -> ResultRow:
    return ResultRow(
        **_fields(key, metric, n_real, config), value=None, ci_low=None, ci_high=None, status=UNAVAILABLE, reason=reason
    )


def too_few_reason(metric: Metric, smallest: int, real_is_smallest: bool = False) -> str | None:
    """Why a metric refuses a set of ``smallest`` images, or None when it is big enough.

    real_is_smallest: the real reference set is the short one (the dataset has too few images of
    the condition: --n-samples cannot help).
    """
    if smallest >= metric.min_samples:
        return None
    if real_is_smallest:
        return (
            f"{metric.id} needs at least {metric.min_samples} real images of the condition, the reference "
            f"set has {smallest}; use a dataset with more images of it"
        )
    return (
        f"{metric.id} needs at least {metric.min_samples} images per set, got {smallest}; "
        "raise --n-samples or use a larger dataset"
    )


def check_finite(key: RowKey, metric: Metric, inputs: MetricInputs) -> None:
    """Refuse extractor outputs holding NaN or infinite values, naming the set: a metric would
    otherwise return NaN (or a wrong number) silently. Such outputs come from a broken extractor."""
    sets = (
        ("the real reference images", inputs.real),
        (f"{key.model}'s images", inputs.fake),
        ("the real training images", inputs.train),
    )
    for which, arrays in sets:
        for name, values in arrays.items():
            values = np.asarray(values)
            if values.dtype.kind in "fc" and not np.isfinite(values).all():
                bad = int((~np.isfinite(values.reshape(len(values), -1))).any(axis=1).sum())
                raise CxrbenchError(
                    f"{metric.id}: the {metric.feature_space} {name} of {which} for {key.task} {key.condition} "
                    f"hold NaN or infinite values ({bad} of {len(values)} images); the feature extractor "
                    f"{metric.feature_space!r} is broken for them: fix it or its weights, then rerun the same command"
                )


def scored_row(key: RowKey, metric: Metric, inputs: MetricInputs, config: RunConfig, identity: dict) -> ResultRow:
    """The metric's value on ``inputs`` with its seeded bootstrap interval (cached by content in
    ``config.cache_dir``, so a warm re-run into a new folder recomputes nothing)."""
    seed = derive_seed(config.seed, key.model, key.task, key.condition, metric.short_name)
    resamples = min(config.bootstrap, metric.max_resamples or config.bootstrap)

    def compute() -> tuple[float, float | None, float | None]:
        statistic = metric.statistic(inputs)
        return (
            statistic.estimate,
            *bootstrap_interval(statistic, statistic.estimate, resamples, seed, metric.interval),
        )

    context = {"bootstrap": resamples, "seed": seed, "interval": metric.interval, "identity": identity}
    value, low, high = cached_numbers(config.cache_dir, metric, inputs, context, compute)
    return ResultRow(
        **_fields(key, metric, inputs.n_real, config),
        value=value,
        ci_low=low,
        ci_high=high,
        comparability={**identity, "resolution": config.resolution},
        ci_method=metric.interval if low is not None else "",
    )


def score_row(
    key: RowKey,
    metric: Metric,
    space: FeatureExtractor | UnavailableError,
    make_inputs: Callable[[], MetricInputs],
    config: RunConfig,
) -> tuple[ResultRow, MetricInputs | None]:
    """One CONDITION- or FINDING-scope row: unavailable (no feature space, too few images) or scored.

    make_inputs is called only when the feature space is ready (its outputs exist then); the
    inputs come back with a scored row, for the metric's review material.
    """
    if isinstance(space, UnavailableError):
        return unavailable_row(key, metric, 0, config, str(space)), None
    inputs = make_inputs()
    check_finite(key, metric, inputs)
    short_real = metric.uses_real and inputs.n_real < inputs.n_fake
    reason = too_few_reason(
        metric, min(inputs.n_fake, inputs.n_real) if metric.uses_real else inputs.n_fake, short_real
    )
    if reason:
        return unavailable_row(key, metric, inputs.n_real, config, reason), None
    return scored_row(key, metric, inputs, config, space.identity()), inputs


def model_row(
    key: RowKey, metric: Metric, result: MetricValue, n_real: int, config: RunConfig, identity: dict
) -> ResultRow:
    """A MODEL-scope metric's row (it computed its own interval)."""
    return ResultRow(
        **_fields(key, metric, n_real, config),
        value=result.value,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        comparability={**identity, "resolution": config.resolution},
        ci_method=metric.interval if result.ci_low is not None else "",
    )
