"""The leaderboard model: results rows -> ranked tables, independent of the output format.

Aggregation for the overview: the unweighted mean of a metric over every task and condition
cell of the setting; a model missing any cell gets no mean (it would not be comparable), and
the mean carries no interval (per-cell bootstrap intervals do not combine into one). Bold marks a
column's best competitor only when there are two or more competitors, the best is not tied by
all of them, and, where both have intervals, the best's interval does not overlap the next one's;
references are never bold. Intervals are clipped to the range the metric declares for the
quantity it measures (``valid_range``: an FD is never negative); values are shown as computed.
Warnings name a column where a baseline reference (not real images) beats every competitor, and
a competitor whose interval holds the metric's chance level (a TSTR AUROC around 0.5). Models are
ranked by the first headline metric (lowest ``headline`` number) that has values and whose
feature space did not fail its validity check on the dataset (a row's ``validity``); a column
whose space failed is marked, not bolded and never ranks. Reference rows (real images,
baselines) are listed apart and never ranked or bolded. Rows from different settings (dataset,
resolution, n, seed) are never put in one table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from cxrbench.results import OK, UNAVAILABLE, ResultRow

FAILED = "failed"  # a row's validity when its feature space failed the check (benchmark/space_validity.py)
REAL_IMAGES = frozenset({"real-holdout", "train-copy", "real"})  # references that are real images: meant to win

CONDITIONS = ("present", "absent", "both")  # both: finding- and model-scope metrics


@dataclass(frozen=True)
class Column:
    metric: str
    condition: str | None  # None in the overview
    direction: str  # "lower" or "higher"
    valid: bool = True  # False: its feature space failed its validity check on this dataset


@dataclass(frozen=True)
class InvalidSpace:
    """A feature space that failed its validity check on the setting's dataset, and its columns."""

    space: str
    metrics: tuple[str, ...]
    detail: str  # the failed checks with their numbers (the rows' validity_detail)


@dataclass(frozen=True)
class Cell:
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    best: bool = False

    @property
    def missing(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))


@dataclass
class Table:
    title: str
    columns: list[Column]
    models: list[str]
    ranks: dict[str, int | None]
    references: set[str]
    cells: dict[tuple[str, int], Cell]  # (model, column index) -> cell
    ranked_by: int | None = None  # the column the ranks follow

    def row(self, model: str) -> list[Cell | None]:
        """The model's cells in column order; None where there is no value."""
        cells = [self.cells.get((model, i)) for i in range(len(self.columns))]
        return [None if cell is None or cell.missing else cell for cell in cells]

    def rank_label(self, model: str) -> str:
        """'ref' for reference rows, the rank, or '–' for a competitor without a ranking value."""
        if model in self.references:
            return "ref"
        return str(self.ranks.get(model) or "–")


@dataclass
class Leaderboard:
    """One setting's tables and notes."""

    setting: dict
    schemas: dict[str, dict]
    overview: Table
    tasks: list[Table]
    unavailable: list[tuple[str, str, str]] = field(default_factory=list)  # metric, model, reason
    invalid: list[InvalidSpace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # plain text, shown under the overview

    @property
    def unranked_for_validity(self) -> bool:
        """No ranks because every column with competitor values is in a space that failed validity."""
        overview = self.overview
        return overview.ranked_by is None and any(
            not overview.columns[i].valid for (model, i) in overview.cells if model not in overview.references
        )


def metric_schemas(rows: list[ResultRow]) -> dict[str, dict]:
    """Each metric id's declaration: from the metric registry (``fd@rad-dino`` as fd in rad-dino), or the
    reader-study measures (``reader.*``); a metric no longer declared anywhere falls back to its rows.

    Order: metrics with values first; then by headline, which puts an any-space metric outside its
    default space after the default ones, grouped by space (one space's columns stand together).
    """
    from cxrbench.metrics.reader_measures import reader_schema
    from cxrbench.metrics.selection import metric_for_id

    schemas = {}
    for name in dict.fromkeys(r.metric for r in rows):
        if (metric := metric_for_id(name)) is not None:
            schemas[name] = metric.schema()
        elif (declared := reader_schema(name)) is not None:
            schemas[name] = declared
        else:
            row = next(r for r in rows if r.metric == name)
            schemas[name] = {
                "name": name,
                "display_name": name,
                "description": "",
                "direction": row.direction,
                "feature_space": row.feature_space,
                "family": "",  # undeclared: first within its space's group, as before families
                "order": 0,
                "default_space": False,
            }
    has_values = {r.metric for r in rows if r.status == OK}

    def order(item: tuple[str, dict]) -> tuple:
        name, schema = item
        extra = not schema["default_space"]  # outside the default spaces: grouped by space
        return (
            name not in has_values,
            extra,
            schema["feature_space"] if extra else "",
            _family_rank(schema["family"]),
            schema["order"],
            name,
        )

    return dict(sorted(schemas.items(), key=order))


def _family_rank(family: str) -> int:
    """Where a family's columns stand: metrics.metric.FAMILIES in order, then the reader measures; an
    undeclared metric ("") first."""
    from cxrbench.metrics.metric import FAMILIES

    return -1 if not family else FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def rows_frame(rows: list[ResultRow]) -> pd.DataFrame:
    """One row per result, with the flat keys of results.jsonl as columns."""
    return pd.DataFrame([asdict(r) for r in rows], columns=list(ResultRow.__dataclass_fields__))


def invalid_spaces(rows: list[ResultRow]) -> list[InvalidSpace]:
    """The spaces whose rows say they failed validity, with their metric ids (a metric with one failed
    row counts as failed: merged runs of one setting should agree, and doubt must show)."""
    failed: dict[str, tuple[dict, str]] = {}
    for row in rows:
        if row.validity == FAILED:
            metrics, detail = failed.setdefault(row.feature_space, ({}, row.validity_detail))
            metrics[row.metric] = None
    return [InvalidSpace(space, tuple(metrics), detail) for space, (metrics, detail) in failed.items()]


def setting_of(row: ResultRow) -> tuple:
    return (row.dataset, row.resolution, row.n_fake, row.seed)


def build_leaderboards(rows: list[ResultRow]) -> list[Leaderboard]:
    """One Leaderboard per setting found in ``rows``."""
    groups: dict[tuple, list[ResultRow]] = {}
    for row in rows:
        groups.setdefault(setting_of(row), []).append(row)
    return [build_leaderboard(group) for group in groups.values()]


def build_leaderboard(rows: list[ResultRow]) -> Leaderboard:
    """The tables of rows that share one setting."""
    if not rows:
        empty = Table("Overview", [], [], {}, set(), {})
        return Leaderboard({}, {}, empty, [])
    first = rows[0]
    setting = {"dataset": first.dataset, "resolution": first.resolution, "n": first.n_fake, "seed": first.seed}
    schemas = metric_schemas(rows)
    references = {r.model for r in rows if r.reference}
    ok = [r for r in rows if r.status == OK]
    invalid = invalid_spaces(rows)
    failed = {metric for space in invalid for metric in space.metrics}
    overview = _overview(rows, ok, schemas, references, failed)
    order = overview.models
    tasks = []
    for task in dict.fromkeys(r.task for r in rows):
        columns = [
            Column(m, c, schemas[m]["direction"], m not in failed)
            for m in schemas
            for c in CONDITIONS
            if any(r.metric == m and r.task == task and r.condition == c for r in rows)
        ]
        found = {(r.model, r.metric, r.condition): r for r in ok if r.task == task}
        cells = {}
        for model in order:
            for i, column in enumerate(columns):
                row = found.get((model, column.metric, column.condition))
                if row is not None:
                    low, high = _clipped(row.ci_low, row.ci_high, schemas[column.metric].get("valid_range"))
                    cells[(model, i)] = Cell(row.value, low, high)
        tasks.append(_mark_best(Table(task, columns, order, overview.ranks, references, cells)))
    unavailable = sorted({(r.metric, r.model, r.reason) for r in rows if r.status == UNAVAILABLE})
    return Leaderboard(setting, schemas, overview, tasks, unavailable, invalid, _warnings(schemas, overview, tasks))


def _clipped(low: float | None, high: float | None, valid_range) -> tuple[float | None, float | None]:
    """An interval cut to the metric's valid range [lo, hi] (None: open on that side)."""
    if low is None or high is None or not valid_range:
        return low, high
    lo, hi = valid_range
    return (max(low, lo) if lo is not None else low), (min(high, hi) if hi is not None else high)


def _warnings(schemas: dict, overview: Table, tasks: list[Table]) -> list[str]:
    """Where a table can mislead: a baseline reference that beats every competitor in an overview column,
    and a competitor's interval that holds the metric's chance level."""
    out = []
    competitors = [m for m in overview.models if m not in overview.references]
    baselines = [m for m in overview.models if m in overview.references and m not in REAL_IMAGES]
    for i, column in enumerate(overview.columns):
        values = {
            m: overview.cells[(m, i)].value
            for m in overview.models
            if (m, i) in overview.cells and not overview.cells[(m, i)].missing
        }
        scored = [m for m in competitors if m in values]
        if not scored:
            continue
        sign = 1 if column.direction == "lower" else -1
        best = min(sign * values[m] for m in scored)
        for baseline in baselines:
            if baseline in values and sign * values[baseline] < best:
                out.append(
                    f"{baseline} (a baseline, not a generator) beats every competitor on "
                    f"{schemas[column.metric]['display_name']}: that column does not tell good images from "
                    "this baseline here."
                )
    for table in tasks:
        for i, column in enumerate(table.columns):
            chance = schemas[column.metric].get("chance")
            if chance is None:
                continue
            for model in table.models:
                cell = table.cells.get((model, i))
                if (
                    model not in table.references
                    and cell is not None
                    and cell.ci_low is not None
                    and cell.ci_low <= chance <= cell.ci_high
                ):
                    where = f"{table.title}" + (f" / {column.condition}" if column.condition != "both" else "")
                    out.append(
                        f"{model}: {schemas[column.metric]['display_name']} on {where} is within its interval "
                        f"of chance ({chance:g}): [{cell.ci_low:.4g}, {cell.ci_high:.4g}]."
                    )
    return out


def _overview(
    rows: list[ResultRow], ok: list[ResultRow], schemas: dict, references: set[str], failed: set[str]
) -> Table:
    cells_per_metric = {m: len({(r.task, r.condition) for r in rows if r.metric == m}) for m in schemas}
    models = list(dict.fromkeys(r.model for r in rows))
    columns = [Column(m, None, schemas[m]["direction"], m not in failed) for m in schemas]
    cells = {}
    for i, column in enumerate(columns):
        for model in models:
            values = [r.value for r in ok if r.model == model and r.metric == column.metric]
            if values and len(values) == cells_per_metric[column.metric]:
                cells[(model, i)] = Cell(sum(values) / len(values))
    ranks: dict[str, int | None] = {m: None for m in models}
    competitors = [m for m in models if m not in references]
    ranked_by = None
    for i, column in enumerate(columns):
        scored = [m for m in competitors if (m, i) in cells]
        if scored and column.valid:
            sign = 1 if column.direction == "lower" else -1
            ordered = sorted(scored, key=lambda m: sign * cells[(m, i)].value)
            ranks.update({m: k + 1 for k, m in enumerate(ordered)})
            ranked_by = i
            break
    order = sorted(competitors, key=lambda m: (ranks[m] is None, ranks[m] or 0, m)) + sorted(references)
    return _mark_best(Table("Overview", columns, order, ranks, references, cells, ranked_by))


def _mark_best(table: Table) -> Table:
    """Bold the best competitor of every valid column, when it is one (module docstring: 2+ competitors,
    not all tied, intervals apart where both have one); ties for best are all bold."""
    for i, column in enumerate(table.columns):
        if not column.valid:  # its order cannot be trusted on this dataset
            continue
        competing = [
            (m, table.cells[(m, i)])
            for m in table.models
            if m not in table.references and (m, i) in table.cells and not table.cells[(m, i)].missing
        ]
        if len(competing) < 2:
            continue
        sign = 1 if column.direction == "lower" else -1
        best = min(sign * cell.value for _, cell in competing)
        winners = [(m, cell) for m, cell in competing if sign * cell.value == best]
        others = sorted((cell for _, cell in competing if sign * cell.value != best), key=lambda c: sign * c.value)
        if not others or not all(_apart(cell, others[0], sign) for _, cell in winners):
            continue
        for model, cell in winners:
            table.cells[(model, i)] = Cell(cell.value, cell.ci_low, cell.ci_high, best=True)
    return table


def _apart(best: Cell, runner_up: Cell, sign: int) -> bool:
    """Whether the best cell's interval clears the runner-up's (True when either has no interval)."""
    if None in (best.ci_low, best.ci_high, runner_up.ci_low, runner_up.ci_high):
        return True
    return best.ci_high < runner_up.ci_low if sign == 1 else best.ci_low > runner_up.ci_high
