"""Read and merge the results.jsonl of several runs; conflicting duplicates are reported, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cxrbench.errors import CxrbenchError
from cxrbench.leaderboard.table import setting_of
from cxrbench.names import split_names
from cxrbench.results import ResultRow, read_rows
from cxrbench.run_dir import MANIFEST, RESULTS


@dataclass
class MergedResults:
    rows: list[ResultRow]
    sources: dict[tuple, str]  # row identity -> run folder it came from
    conflicts: list[str] = field(default_factory=list)


def _identity(row: ResultRow) -> tuple:
    return (*setting_of(row), *row.key)


def load_results(run_dirs: list[Path]) -> MergedResults:
    """All rows of the runs. Identical duplicates are kept once; rows that disagree are left out of the
    tables and described in ``conflicts`` (one line each: which runs, which values)."""
    chosen: dict[tuple, ResultRow] = {}
    sources: dict[tuple, str] = {}
    conflicted: dict[tuple, list[str]] = {}
    for run_dir in run_dirs:
        path = Path(run_dir) / RESULTS
        if not path.is_file():
            raise CxrbenchError(f"{run_dir} has no {RESULTS}; pass run folders written by `cxrbench run`")
        for row in read_rows(path):
            key = _identity(row)
            if key not in chosen:
                chosen[key], sources[key] = row, str(run_dir)
            elif chosen[key] != row:
                conflicted.setdefault(key, [f"{sources[key]}: {chosen[key].value}"]).append(f"{run_dir}: {row.value}")
    conflicts = [
        f"{'/'.join(map(str, key[4:]))} ({key[0]}, {key[1]} px, n = {key[2]}, seed {key[3]}) differs "
        f"between runs: {'; '.join(values)}"
        for key, values in conflicted.items()
    ]
    rows = [row for key, row in chosen.items() if key not in conflicted]
    return MergedResults(rows, {k: v for k, v in sources.items() if k not in conflicted}, conflicts)


def select_rows(rows: list[ResultRow], metrics: str | None = None, models: str | None = None) -> list[ResultRow]:
    """The rows of the chosen metrics and models (comma lists; None: all). A metric is a row id
    (``fd@cxr-evaluator``), an alias (``cxr_fd``) or a pattern (``reader.single.*``); a name that no
    row has is refused with the closest one."""
    from fnmatch import fnmatch

    from cxrbench.metrics.selection import metric_for_id
    from cxrbench.registry import unknown_name_message

    chosen_models = None if models is None else split_names(models)
    chosen_metrics = None if metrics is None else split_names(metrics)
    present_models = sorted({r.model for r in rows})
    for model in chosen_models or []:
        if model not in present_models:
            raise CxrbenchError(unknown_name_message("model in these runs", model, present_models))
    patterns = []
    present_metrics = sorted({r.metric for r in rows})
    for spec in chosen_metrics or []:
        metric = metric_for_id(spec)
        pattern = metric.id if metric is not None and spec not in present_metrics else spec
        if not any(fnmatch(m, pattern) for m in present_metrics):
            raise CxrbenchError(unknown_name_message("metric in these runs", spec, present_metrics))
        patterns.append(pattern)
    return [
        r
        for r in rows
        if (chosen_models is None or r.model in chosen_models)
        and (not patterns or any(fnmatch(r.metric, p) for p in patterns))
    ]


def run_weights_note(run_dir: Path) -> str | None:
    """Where a run's trained weights came from (``text.weights_note`` of its manifest); None without one."""
    import json

    from cxrbench.leaderboard.text import weights_note

    path = Path(run_dir) / MANIFEST
    return weights_note(json.loads(path.read_text())) if path.is_file() else None
