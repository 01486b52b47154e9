"""`cxrbench compare RUN --models A,B`: model B against model A on the same real set, by a paired bootstrap.

Scoring, not reading: it recomputes each metric from the run folder's stored features (so it lives
beside the scoring code, not in the leaderboard, which only reads rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cxrbench.leaderboard.store import load_results
from cxrbench.results import OK
from cxrbench.tasks import FINDINGS


@dataclass(frozen=True)
class PairedChange:
    """Model B minus model A on one cell, from a paired bootstrap over the shared real set."""

    task: str
    condition: str
    metric: str
    direction: str
    a: float
    b: float
    ci_low: float | None
    ci_high: float | None

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def verdict(self) -> str:
        """B better / worse when the interval of the difference excludes 0, else 'no difference'."""
        if self.ci_low is None or self.ci_high is None:
            return "no interval"
        if self.ci_low <= 0.0 <= self.ci_high:
            return "no difference"
        return "B better" if (self.delta < 0) == (self.direction == "lower") else "B worse"


def _run_settings(run: Path) -> tuple[dict, int, tuple[str, ...]]:
    """Metric options, bootstrap count and label columns (findings) recorded in a run's manifest."""
    manifest = json.loads((Path(run) / "manifest.json").read_text())
    config = manifest.get("config", {})
    findings = tuple(manifest.get("dataset", {}).get("findings", FINDINGS))  # older manifests: the four
    return config.get("metric_options", {}), int(config.get("bootstrap", 1000)), findings


def paired_compare(
    run_a: Path, model_a: str, model_b: str, run_b: Path | None = None, seed: int = 0
) -> tuple[list[PairedChange], list[str]]:
    """Paired bootstrap of B - A for every condition- and finding-scope metric both models have.

    Both models must have been scored against the same real reference features (the same run, or
    two runs with identical real sets); every replicate resamples the real set once for both.
    Returns the changes and notes on what could not be paired.
    """
    import numpy as np

    from cxrbench.benchmark.spaces import condition_inputs, finding_inputs
    from cxrbench.errors import ConfigError
    from cxrbench.metrics.bootstrap import paired_difference
    from cxrbench.metrics.metric import BOTH, Scope
    from cxrbench.metrics.selection import build_metric
    from cxrbench.run_dir import REAL_OWNER, RunDirectory
    from cxrbench.tasks import TASKS

    run_b = run_b or run_a
    dir_a, dir_b = RunDirectory(run_a), RunDirectory(run_b)
    options, resamples, findings = _run_settings(run_a)
    rows_a = {r.key[1:]: r for r in load_results([run_a]).rows if r.model == model_a and r.status == OK}
    rows_b = {r.key[1:]: r for r in load_results([run_b]).rows if r.model == model_b and r.status == OK}
    if not rows_a or not rows_b:
        missing = model_a if not rows_a else model_b
        raise ConfigError(f"no finished rows of model {missing!r}; check the name with `cxrbench leaderboard RUN`")
    changes, notes = [], []
    for task, condition, name in sorted(set(rows_a) & set(rows_b)):
        metric = build_metric(name, options)
        if metric.scope is Scope.MODEL or metric.uses_train:
            notes.append(f"{name}: not paired (needs the training split or retrains per model)")
            continue
        space = metric.feature_space
        presences = ("present", "absent") if condition == BOTH else (condition,)
        task_conditions = {c.presence.value: c for c in TASKS.get(task).conditions(findings=findings)}

        def fake(directory, model):
            sets = [(task_conditions[p], directory.read_features(space, model, task, p)) for p in presences]
            return None if any(outputs is None for _, outputs in sets) else sets

        sets_a, sets_b = fake(dir_a, model_a), fake(dir_b, model_b)
        real = None
        if metric.uses_real:
            real_a = dir_a.read_features(space, REAL_OWNER, task, condition)
            real_b = dir_b.read_features(space, REAL_OWNER, task, condition)
            if real_a is None or real_b is None or sets_a is None or sets_b is None:
                notes.append(f"{name} {task}/{condition}: features missing from the run folder; rerun it")
                continue
            if any(not np.array_equal(real_a[k], real_b[k]) for k in metric.needs):
                raise ConfigError(
                    f"{run_a} and {run_b} scored against different real sets; a paired comparison "
                    "needs the same dataset, seed and n"
                )
            real = real_a
        if sets_a is None or sets_b is None:
            notes.append(f"{name} {task}/{condition}: features missing from the run folder; rerun it")
            continue
        if metric.scope is Scope.FINDING:
            inputs_a, inputs_b = finding_inputs(metric, sets_a), finding_inputs(metric, sets_b)
        else:
            (single, outputs_a), (_, outputs_b) = sets_a[0], sets_b[0]
            inputs_a = condition_inputs(metric, real, outputs_a, single)
            inputs_b = condition_inputs(metric, real, outputs_b, single)
        stat_a, stat_b = metric.statistic(inputs_a), metric.statistic(inputs_b)
        value_a, value_b = stat_a.estimate, stat_b.estimate
        low, high = paired_difference(stat_a, stat_b, value_b - value_a, resamples, seed, metric.interval)
        changes.append(PairedChange(task, condition, name, metric.direction.value, value_a, value_b, low, high))
    return changes, notes
