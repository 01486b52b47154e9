"""The results.jsonl schema: one row per model x task x condition x metric."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cxrbench.metric_ids import legacy_id

# The row keys are ResultRow's field names (readers use the dataclass, never spelled keys).
OK, UNAVAILABLE = "ok", "unavailable"  # status
# Written only when set: a row without a feature-space verdict has neither key in results.jsonl.
_ONLY_WHEN_SET = ("validity", "validity_detail")


@dataclass(frozen=True)
class ResultRow:
    """One number and everything that makes it comparable.

    ``value`` is None only when ``status`` is "unavailable"; ``reason`` then says why and what to do.
    ``comparability`` holds the feature space's identity (weights hash, preprocessing, dim) and the
    resolution, so numbers from different spaces or settings are never put in one column silently.
    ``validity``: the verdict of the row's feature space on the run's dataset ("passed" or "failed",
    benchmark/space_validity.py), for rows of distribution metrics; "" for the others and for rows
    written before the check existed. ``validity_detail`` names the failed checks with their numbers.
    """

    model: str
    task: str
    condition: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_real: int
    n_fake: int
    direction: str
    feature_space: str
    dataset: str
    seed: int
    cxrbench_version: str
    status: str = OK
    reason: str = ""
    comparability: dict = field(default_factory=dict)
    resolution: int = 0
    reference: bool = False  # real images or a baseline, not a competing generator
    ci_method: str = ""  # bootstrap interval method (metrics/bootstrap.py); "" when there is no interval
    validity: str = ""
    validity_detail: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.task, self.condition, self.metric)


def row_line(row: ResultRow) -> str:
    """One row as its JSON line (with the newline)."""
    data = {k: v for k, v in asdict(row).items() if v != "" or k not in _ONLY_WHEN_SET}
    return json.dumps(data, sort_keys=True) + "\n"


def append_row(path: Path, row: ResultRow) -> None:
    """Append one row as a JSON line and flush it to disk (a crash loses at most the line in flight)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(row_line(row))
        handle.flush()


def read_rows(path: Path) -> list[ResultRow]:
    """Every complete row of a results.jsonl (a torn last line from a crash is ignored)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            data["metric"] = legacy_id(data["metric"], data["feature_space"])  # rows of 0.1 named a metric alone
            rows.append(ResultRow(**data))
        except (json.JSONDecodeError, TypeError, KeyError):
            continue
    return rows
