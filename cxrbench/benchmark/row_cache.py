"""Scored rows cached by content: a warm re-run into a new run folder recomputes no metric.

Key (``cache.cache_key("rows", ...)``): a sha256 of every input array the metric reads (real, fake and
training outputs, by name, with dtype and shape); the metric (name, class, constructor options), the
condition, the bootstrap count, seed and interval method, the feature space's identity and the resolution;
and the digest of the code that computes the number (the modules of the metric's class and its bases and,
transitively, every cxrbench module, or module of the plugin's own package, they import;
``metrics/bootstrap.py`` among them, and ``benchmark/scoring.py``). A new or edited module that the metric
does not import keeps its rows; a changed image, feature, option or metric code gets a new key. Stored:
value and interval as a float64 array (NaN for "no interval"), written atomically under ``cache_dir/rows``.
A MODEL-scope metric's numbers (one value and interval per task) are cached the same way, keyed by the
images and labels it reads (the model's images per condition, the real training and test splits).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from cxrbench import cache
from cxrbench.cache import cache_key, class_files, load_arrays, save_arrays
from cxrbench.metrics.metric import Metric, MetricInputs, MetricValue, ModelMetric, ModelMetricContext

Numbers = tuple[float, float | None, float | None]


def _arrays_digest(named: Iterable[tuple[str, object]]) -> str:
    """sha256 of named arrays, in order, each with its name, dtype and shape."""
    digest = hashlib.sha256()
    for name, array in named:
        values = np.ascontiguousarray(np.asarray(array))
        digest.update(f"{name}/{values.dtype.str}/{values.shape}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def inputs_digest(inputs: MetricInputs) -> str:
    """sha256 of every array of ``inputs`` (real, fake, train), with names, dtypes and shapes."""
    parts = (("real", inputs.real), ("fake", inputs.fake), ("train", inputs.train))
    return _arrays_digest((f"{part}/{name}", arrays[name]) for part, arrays in parts for name in sorted(arrays))


def code_digest(metric: Metric) -> str:
    """The source of ``metric``'s class and its bases (a plugin's too) and of every module they import, with
    the bootstrap and the scoring module that combines them into a row's numbers."""
    from cxrbench.benchmark import scoring
    from cxrbench.metrics import bootstrap

    return cache.code_digest(*class_files(type(metric)), bootstrap.__file__, also=(scoring.__file__,))


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def _stored(value: float, low: float | None, high: float | None) -> list[float]:
    return [value, np.nan if low is None else low, np.nan if high is None else high]


def cached_numbers(
    cache_dir: Path | None, metric: Metric, inputs: MetricInputs, context: dict, compute: Callable[[], Numbers]
) -> Numbers:
    """``compute()`` (value, ci_low, ci_high), read from or written to ``cache_dir/rows`` (None: no cache).

    context: everything else the numbers depend on (bootstrap count, seed, interval, identity).
    """
    if cache_dir is None:
        return compute()
    key = cache_key(
        "rows",
        inputs_digest(inputs),
        [metric.name, type(metric).__qualname__, vars(metric), repr(inputs.condition), context],
        code_digest(metric),
    )
    path = Path(cache_dir) / "rows" / f"{key}.npz"
    stored = load_arrays(path)
    if stored is not None:
        value, low, high = (float(v) for v in stored["numbers"])
        return value, _optional(low), _optional(high)
    value, low, high = compute()
    save_arrays(path, {"numbers": np.array(_stored(value, low, high), dtype=np.float64)})
    return value, low, high


def context_digest(context: ModelMetricContext) -> str:
    """sha256 of what a MODEL-scope metric reads: the model's images per condition and the real splits'
    images and labels (with shapes and dtypes)."""
    fake = sorted(context.fake.items(), key=lambda item: item[0].key)
    real = (("train", context.train), ("test", context.test))
    return _arrays_digest(
        [(f"fake/{condition.key}/images", images) for condition, images in fake]
        + [(f"{name}/{part}", getattr(data, part)) for name, data in real for part in ("images", "labels")]
    )


def cached_model_values(
    cache_dir: Path, metric: ModelMetric, context: ModelMetricContext, compute: Callable[[], dict[str, MetricValue]]
) -> dict[str, MetricValue]:
    """``compute()`` (task -> value and interval), read from or written to ``cache_dir/rows``."""
    key = cache_key(
        "model-rows",
        context_digest(context),
        [metric.name, type(metric).__qualname__, metric.identity(), context.seed, context.bootstrap],
        code_digest(metric),
    )
    path = Path(cache_dir) / "rows" / f"{key}.npz"
    stored = load_arrays(path)
    if stored is not None:
        return {
            str(task): MetricValue(float(value), _optional(float(low)), _optional(float(high)))
            for task, (value, low, high) in zip(stored["tasks"], stored["numbers"])
        }
    values = compute()
    save_arrays(
        path,
        {
            "tasks": np.array(list(values)),
            "numbers": np.array([_stored(v.value, v.ci_low, v.ci_high) for v in values.values()], dtype=np.float64),
        },
    )
    return values
