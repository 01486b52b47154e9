"""Scored rows cached by content: a warm re-run into a new run folder recomputes no metric.

Key: the metric (name, class, constructor options), a sha256 of every input array it reads (real,
fake and training outputs, by name, with dtype and shape), the condition, the bootstrap count,
seed and interval method, the feature space's identity, the resolution, the cxrbench version and
a digest of the code that computes the number (the modules of the metric's class and its bases and,
transitively, every cxrbench module, or module of the plugin's own package, they import;
``metrics/bootstrap.py`` among them). A new or edited module that the metric does not import keeps
its rows. A changed image, feature, option,
version or metric code gets a new key: editing a metric never reuses a number of the old code. Stored: value and
interval as a
float64 array (NaN for "no interval"), written atomically under ``cache_dir/rows``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import math
import sys
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


def _imported_modules(path: str, package: str) -> set[str]:
    """The modules of ``package`` (or of cxrbench) that the source file ``path`` imports, lazy imports too.
    ``from a.b import c`` counts a.b and, when it is a module, a.b.c."""
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("cxrbench", package)}


@cache
def code_files(*start: str) -> tuple[str, ...]:
    """The source files ``start`` and every file of cxrbench or of their own top-level package that they
    import, directly or through each other: the code a number computed there depends on."""
    packages = {_package_of(f) for f in start}
    seen, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path in seen or not path.endswith(".py"):
            continue
        seen.add(path)
        for package in packages:
            for name in _imported_modules(path, package):
                try:
                    spec = importlib.util.find_spec(name)
                except (ImportError, ValueError):  # a name that is an attribute, not a module
                    continue
                if spec is not None and spec.origin and spec.origin.endswith(".py"):
                    todo.append(spec.origin)
    return tuple(sorted(seen))


def _package_of(path: str) -> str:
    """The top-level package a source file belongs to ('' for a module outside any package)."""
    folder, name = Path(path).parent, ""
    while (folder / "__init__.py").is_file():
        folder, name = folder.parent, folder.name
    return name or Path(path).stem


def code_digest(metric: Metric) -> str:
    """The source of ``metric``'s class and its bases (a plugin's too) and of every module they import, with
    the bootstrap and the scoring module that combines them into a row's numbers."""
    from cxrbench.benchmark import scoring
    from cxrbench.metrics import bootstrap

    own = []
    for cls in type(metric).__mro__:
        if cls.__module__.split(".")[0] in sys.stdlib_module_names:  # object, abc.ABC: not ours to key on
            continue
        try:
            own.append(inspect.getfile(cls))
        except TypeError:  # a class typed into an interactive session
            continue
    return _source_digest(*code_files(*own, bootstrap.__file__), scoring.__file__)


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
