"""The FD-against-n curves behind the FD∞ cells: read from each run's review files, one curve per cell.

Every ``fd_inf@SPACE`` row has a review file RUN/reviews/MODEL/TASK/CONDITION/fd_inf@SPACE/fd_vs_n.json
(cxrbench/metrics/metric_fd_inf.py): FD at each subset size n' and the fitted line FD = intercept +
slope / n', whose intercept is the row's value. The site draws, per task, condition and space, one
series per model, the real-vs-real floor (``real-holdout``) among them, beside the FD at full n from
the ``fd@SPACE`` row of the same cell.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from cxrbench.leaderboard.table import setting_of
from cxrbench.metric_ids import metric_id, split_id
from cxrbench.metrics.metric_fd_inf import FIT_FILE
from cxrbench.models import FLOOR_MODEL
from cxrbench.results import OK, ResultRow
from cxrbench.run_dir import RunDirectory

FD_INF, FD = "fd_inf", "fd"


@dataclass(frozen=True)
class FitSeries:
    """One model's fit in one cell. sizes: subset sizes n' (images); fd: FD at each; full_n, full_fd: the
    cell's ``fd@SPACE`` row (n_fake and value), None without one."""

    model: str
    floor: bool  # the real-vs-real floor: real-holdout, a reference row
    sizes: tuple[int, ...]
    fd: tuple[float, ...]
    slope: float
    intercept: float
    full_n: int | None = None
    full_fd: float | None = None


@dataclass
class FdCurve:
    """One cell (task, condition, FD∞ metric id): its series, and the models with a row but no usable fit."""

    task: str
    condition: str
    metric: str  # e.g. "fd_inf@cxr-evaluator"
    space: str
    series: list[FitSeries] = field(default_factory=list)
    without_fit: list[str] = field(default_factory=list)


def plain_name(name: str) -> bool:
    """One path component (never '..', never a separator): a name from results.jsonl safe to join to a folder."""
    return bool(name) and name not in (".", "..") and Path(name).name == name and "\\" not in name


def read_fit(path: Path) -> dict | None:
    """The fit in ``path`` as {"sizes", "fd", "slope", "intercept"}, or None when the file is missing or is
    not such a fit (at least two points, sizes >= 1 and FD values finite)."""
    try:
        data = json.loads(path.read_text())
        sizes, fds = [int(s) for s in data["sizes"]], [float(v) for v in data["fd"]]
        slope, intercept = float(data["slope"]), float(data["intercept"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    numbers = [*fds, slope, intercept]
    if len(sizes) != len(fds) or len(sizes) < 2 or min(sizes) < 1 or not all(map(math.isfinite, numbers)):
        return None
    return {"sizes": sizes, "fd": fds, "slope": slope, "intercept": intercept}


def fd_curves(rows: list[ResultRow], sources: dict[tuple, str], setting: tuple, models: list[str]) -> list[FdCurve]:
    """The curves of one setting (dataset, resolution, n, seed), one per cell with an ``fd_inf`` row.

    rows: merged results; sources: row identity (setting + key) -> its run folder, as ``load_results``
    gives; models: the order of the series (e.g. the leaderboard's). A fit whose intercept is not its
    row's value (a stale file) is left out like a missing one: the model is listed in ``without_fit``.
    """
    rows = [r for r in rows if setting_of(r) == setting and r.status == OK]
    rank = {m: i for i, m in enumerate(models)}
    fd_rows = {(r.model, r.task, r.condition, r.metric): r for r in rows}
    curves: dict[tuple, FdCurve] = {}
    for row in sorted(rows, key=lambda r: rank.get(r.model, len(rank))):
        name, space = split_id(row.metric)
        if name != FD_INF or space is None:
            continue
        curve = curves.setdefault(
            (row.task, row.condition, row.metric), FdCurve(row.task, row.condition, row.metric, space)
        )
        fit = None
        if all(plain_name(part) for part in row.key):
            folder = RunDirectory(Path(sources[(*setting, *row.key)])).review_dir(*row.key)
            fit = read_fit(folder / FIT_FILE)
        if fit is None or not math.isclose(fit["intercept"], row.value, rel_tol=1e-6, abs_tol=1e-9):
            curve.without_fit.append(row.model)
            continue
        full = fd_rows.get((row.model, row.task, row.condition, metric_id(FD, space)))
        curve.series.append(
            FitSeries(
                row.model,
                row.model == FLOOR_MODEL and row.reference,
                tuple(fit["sizes"]),
                tuple(fit["fd"]),
                fit["slope"],
                fit["intercept"],
                None if full is None else full.n_fake,
                None if full is None else full.value,
            )
        )
    return [curve for curve in curves.values() if curve.series]
