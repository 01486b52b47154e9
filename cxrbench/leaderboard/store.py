"""Read and merge the results.jsonl of several runs; conflicting duplicates are reported, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cxrbench.benchmark.results import ResultRow, read_rows
from cxrbench.benchmark.run_dir import RESULTS
from cxrbench.errors import CxrbenchError
from cxrbench.leaderboard.table import setting_of


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
    conflicts = [f"{'/'.join(map(str, key[4:]))} ({key[0]}, {key[1]} px, n = {key[2]}, seed {key[3]}) differs "
                 f"between runs: {'; '.join(values)}" for key, values in conflicted.items()]
    rows = [row for key, row in chosen.items() if key not in conflicted]
    return MergedResults(rows, {k: v for k, v in sources.items() if k not in conflicted}, conflicts)
