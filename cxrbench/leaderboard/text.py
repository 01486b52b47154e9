"""Shared wording of every output format: numbers, arrows, headers, the notes under the tables."""

from __future__ import annotations

import math

from cxrbench.leaderboard.table import Cell, Column, Leaderboard

ARROW = {"lower": "↓", "higher": "↑"}
MISSING = "n/a"


def number(value: float | None) -> str:
    """Four significant digits; n/a for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:.4g}"


def interval(cell: Cell) -> str:
    """'[low, high]' or '' when the cell has no interval."""
    if cell.ci_low is None or cell.ci_high is None:
        return ""
    return f"[{number(cell.ci_low)}, {number(cell.ci_high)}]"


def header(board: Leaderboard, column: Column) -> str:
    name = board.schemas[column.metric]["display_name"]
    suffix = f" ({column.condition})" if column.condition else ""
    return f"{name} {ARROW[column.direction]}{suffix}"


def intro(board: Leaderboard) -> str:
    s = board.setting
    references = sorted(board.overview.references)
    return (f"Dataset `{s['dataset']}`, {s['resolution']} px, n = {s['n']} synthetic images per task and "
            f"condition, seed {s['seed']}. Arrows give each metric's better direction; bold marks the best "
            f"competitor in each column; reference rows ({', '.join(references) or 'none'}) are not ranked. "
            "The overview is the mean over every task and condition (no interval: see the per-finding tables).")
