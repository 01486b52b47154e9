"""Scored rows cached by content: a warm re-run into a new run folder recomputes no metric.

Key: the metric (name, class, constructor options), a sha256 of every input array it reads (real,
fake and training outputs, by name, with dtype and shape), the condition, the bootstrap count,
seed and interval method, the feature space's identity, the resolution, the cxrbench version and
a digest of the code that computes the number (the metric's module and the modules of
``cxrbench.metrics``, ``metrics/bootstrap.py`` included). A changed image, feature, option,
version or metric code gets a new key: editing a metric never reuses a number of the old code. Stored: value and
interval as a
float64 array (NaN for "no interval"), written atomically under ``cache_dir/rows``.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

from cxrbench import __version__
from cxrbench.cache import content_key, load_arrays, save_arrays
from cxrbench.metrics.metric import Metric, MetricInputs

Numbers = tuple[float, float | None, float | None]


def inputs_digest(inputs: MetricInputs) -> str:
    """sha256 of every array of ``inputs`` (real, fake, train), with names, dtypes and shapes."""
    digest = hashlib.sha256()
    for part, arrays in (("real", inputs.real), ("fake", inputs.fake), ("train", inputs.train)):
        for name in sorted(arrays):
            values = np.ascontiguousarray(np.asarray(arrays[name]))
            digest.update(f"{part}/{name}/{values.dtype.str}/{values.shape}".encode())
            digest.update(values.tobytes())
    return digest.hexdigest()


@cache
def _source_digest(*files: str) -> str:
    """sha256 over the given source files (names and bytes); computed once per process."""
    digest = hashlib.sha256()
    for file in sorted(set(files)):
        digest.update(file.encode())
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def code_digest(metric: Metric) -> str:
    """The source of ``metric``'s class (a plugin's too) and of every cxrbench metrics module."""
    import cxrbench.metrics as package

    own = []
    for cls in type(metric).__mro__:
        try:
            own.append(inspect.getfile(cls))
        except TypeError:  # object and other built-ins, or a class typed into an interactive session
            continue
    return _source_digest(*own, *map(str, Path(package.__file__).parent.glob("*.py")))


def cached_numbers(
    cache_dir: Path | None, metric: Metric, inputs: MetricInputs, context: dict, compute: Callable[[], Numbers]
) -> Numbers:
    """``compute()`` (value, ci_low, ci_high), read from or written to ``cache_dir/rows`` (None: no cache).

    context: everything else the numbers depend on (bootstrap count, seed, interval, identity).
    """
    if cache_dir is None:
        return compute()
    key = content_key(
        "row",
        metric.name,
        type(metric).__qualname__,
        vars(metric),
        inputs_digest(inputs),
        repr(inputs.condition),
        context,
        __version__,
        code_digest(metric),
    )
    path = Path(cache_dir) / "rows" / f"{key}.npz"
    stored = load_arrays(path)
    if stored is not None:
        value, low, high = (float(v) for v in stored["numbers"])
        return value, (None if math.isnan(low) else low), (None if math.isnan(high) else high)
    value, low, high = compute()
    save_arrays(
        path,
        {
            "numbers": np.array(
                [value, np.nan if low is None else low, np.nan if high is None else high], dtype=np.float64
            )
        },
    )
    return value, low, high
