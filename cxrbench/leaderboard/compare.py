"""`cxrbench compare RUN_A RUN_B`: per metric, task and condition, what changed between two runs (rows only;
the paired bootstrap of two models recomputes metrics and lives in benchmark/paired_compare.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxrbench.leaderboard.store import load_results
from cxrbench.results import OK


@dataclass(frozen=True)
class Change:
    model: str
    task: str
    condition: str
    metric: str
    direction: str
    a: tuple[float | None, float | None, float | None]  # value, ci_low, ci_high
    b: tuple[float | None, float | None, float | None]

    @property
    def delta(self) -> float | None:
        return None if self.a[0] is None or self.b[0] is None else self.b[0] - self.a[0]

    @property
    def verdict(self) -> str:
        """better / worse when the intervals do not overlap, else 'overlap' (or n/a)."""
        if self.delta is None:
            return "n/a"
        if None in (*self.a[1:], *self.b[1:]):
            return "no intervals"
        if self.b[1] > self.a[2] or self.b[2] < self.a[1]:
            improved = (self.delta < 0) == (self.direction == "lower")
            return "better" if improved else "worse"
        return "overlap"


def compare_runs(run_a: Path, run_b: Path) -> list[Change]:
    """Every (model, task, condition, metric) present in both runs, B against A."""
    a = {r.key: r for r in load_results([run_a]).rows}
    b = {r.key: r for r in load_results([run_b]).rows}

    def triple(row):
        return (row.value, row.ci_low, row.ci_high) if row.status == OK else (None, None, None)

    return [Change(*key, a[key].direction, triple(a[key]), triple(b[key])) for key in sorted(set(a) & set(b))]
