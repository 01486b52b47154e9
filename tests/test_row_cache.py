"""Scored rows (and MODEL-scope numbers) are cached by content: equal inputs are read back, any changed input is
recomputed."""

from __future__ import annotations

import numpy as np
import torch

from cxrbench import cache
from cxrbench.benchmark.row_cache import cached_model_values
from cxrbench.benchmark.scoring import RowKey, scored_row
from cxrbench.config import RunConfig
from cxrbench.data.image_set import ImageSet
from cxrbench.metrics.metric import MetricInputs, MetricValue, ModelMetricContext
from cxrbench.metrics.metric_kid import KernelDistance
from cxrbench.metrics.metric_utility import Utility
from cxrbench.tasks import TASKS

CONDITION = TASKS.get("pleural_effusion").condition("present")
KEY = RowKey("noise", "pleural_effusion", "present", False, "phantom")


class _CountingKid(KernelDistance):
    calls = 0

    def statistic(self, inputs):
        type(self).calls += 1
        return super().statistic(inputs)


def _inputs(seed: int) -> MetricInputs:
    rng = np.random.default_rng(seed)
    return MetricInputs(
        {"features": rng.normal(size=(20, 8))}, {"features": rng.normal(0.3, 1, size=(20, 8))}, CONDITION
    )


def test_a_row_is_computed_once_per_content(tmp_path):
    config = RunConfig(n_samples=20, bootstrap=50, cache_dir=tmp_path)
    metric = _CountingKid(feature_space="pixels")
    first = scored_row(KEY, metric, _inputs(0), config, {"name": "pixels"})
    again = scored_row(KEY, metric, _inputs(0), config, {"name": "pixels"})
    assert _CountingKid.calls == 1 and again == first and first.ci_low is not None
    scored_row(KEY, metric, _inputs(1), config, {"name": "pixels"})  # other features
    scored_row(KEY, metric, _inputs(0), RunConfig(n_samples=20, bootstrap=60, cache_dir=tmp_path), {"name": "pixels"})
    scored_row(KEY, metric, _inputs(0), config, {"name": "pixels", "weights": "other"})
    assert _CountingKid.calls == 4
    uncached = scored_row(
        KEY,
        _CountingKid(feature_space="pixels"),
        _inputs(0),
        RunConfig(n_samples=20, bootstrap=50, cache_dir=None),
        {"name": "pixels"},
    )
    assert _CountingKid.calls == 5 and uncached == first
    no_interval = RunConfig(n_samples=20, bootstrap=0, cache_dir=tmp_path)
    row = scored_row(KEY, metric, _inputs(0), no_interval, {"name": "pixels"})
    assert scored_row(KEY, metric, _inputs(0), no_interval, {"name": "pixels"}) == row and row.ci_low is None


def test_a_changed_metric_source_is_a_new_key(tmp_path, monkeypatch):
    import importlib
    import sys

    from cxrbench.benchmark import row_cache

    module = tmp_path / "my_kid.py"
    module.write_text(
        "from cxrbench.metrics.metric_kid import KernelDistance\n\nclass MyKid(KernelDistance):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    metric = importlib.import_module("my_kid").MyKid(feature_space="pixels")
    before = row_cache.code_digest(metric)
    module.write_text(module.read_text() + "# a changed formula would be here\n")
    cache._source_digest.cache_clear()  # a new process reads the files anew
    cache.code_files.cache_clear()
    cache._imported_files.cache_clear()
    assert row_cache.code_digest(metric) != before
    sys.modules.pop("my_kid")


def test_the_code_key_follows_what_the_metric_imports_and_nothing_else(tmp_path, monkeypatch):
    import importlib
    import inspect
    import sys

    from cxrbench.benchmark import row_cache
    from cxrbench.metrics.metric_kid import KernelDistance

    files = {f.split("cxrbench/")[-1] for f in cache.code_files(inspect.getfile(KernelDistance))}
    assert {"metrics/metric_kid.py", "metrics/kid.py", "metrics/metric.py"} <= files  # its formula, its base
    assert not files & {"metrics/metric_cmmd.py", "metrics/extractor_radiomics.py", "benchmark/runner.py"}

    # a plugin package: the metric's module imports a helper of its own package; another module is unrelated
    package = tmp_path / "mykidpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("SCALE = 1.0\n")
    (package / "unrelated.py").write_text("X = 1\n")
    (package / "metric.py").write_text(
        "from cxrbench.metrics.metric_kid import KernelDistance\n\n\nclass HelpedKid(KernelDistance):\n"
        "    def scale(self):\n        from mykidpkg.helper import SCALE\n\n        return SCALE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    metric = importlib.import_module("mykidpkg.metric").HelpedKid(feature_space="pixels")

    def fresh_digest() -> str:  # a new process reads the files anew
        cache._source_digest.cache_clear()
        cache.code_files.cache_clear()
        cache._imported_files.cache_clear()
        return row_cache.code_digest(metric)

    before = fresh_digest()
    (package / "unrelated.py").write_text("X = 2\n")
    (package / "new_module.py").write_text("Y = 1\n")
    assert fresh_digest() == before  # code the metric does not import keeps its rows
    (package / "helper.py").write_text("SCALE = 2.0\n")
    assert fresh_digest() != before  # a helper it imports (lazily, inside a method) does not
    for name in ("mykidpkg.metric", "mykidpkg"):
        sys.modules.pop(name)


class _CountingUtility(Utility):
    """A MODEL-scope metric whose numbers come from the images' mean (no classifier to train)."""

    calls = 0

    def compute_model(self, context):
        type(self).calls += 1
        mean = float(torch.cat(list(context.fake.values())).float().mean())
        return {"pleural_effusion": MetricValue(mean, None, None), "atelectasis": MetricValue(mean, mean - 1, mean + 1)}


def _model_context(tmp_path, seed: int, fill: int = 3) -> ModelMetricContext:
    def image_set(n: int) -> ImageSet:
        ids = tuple(str(i) for i in range(n))
        return ImageSet(torch.full((n, 1, 8, 8), 9, dtype=torch.uint8), torch.zeros(n, 4, dtype=torch.int8), ids, ids)

    fake = {CONDITION: torch.full((4, 1, 8, 8), fill, dtype=torch.uint8)}
    return ModelMetricContext(fake, image_set(5), image_set(6), torch.device("cpu"), seed, 50, tmp_path)


def test_model_scope_numbers_are_computed_once_per_content(tmp_path):
    metric = _CountingUtility()
    first = cached_model_values(
        tmp_path, metric, _model_context(tmp_path, 1), lambda: metric.compute_model(_model_context(tmp_path, 1))
    )
    again = cached_model_values(
        tmp_path, metric, _model_context(tmp_path, 1), lambda: metric.compute_model(_model_context(tmp_path, 1))
    )
    assert _CountingUtility.calls == 1 and again == first  # None intervals come back as None
    for context in (_model_context(tmp_path, 2), _model_context(tmp_path, 1, fill=4)):  # another seed, other images
        cached_model_values(tmp_path, metric, context, lambda c=context: metric.compute_model(c))
    assert _CountingUtility.calls == 3
