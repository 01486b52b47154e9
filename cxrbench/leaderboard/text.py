"""Shared wording of every output format: numbers, arrows, headers, the notes under the tables."""

from __future__ import annotations

import math

from cxrbench.leaderboard.table import Cell, Column, Leaderboard

ARROW = {"lower": "↓", "higher": "↑"}
MISSING = "n/a"
INVALID_MARK = "†"  # on the header of a column whose feature space failed its validity check
VALIDITY_DOC = 'docs/leaderboard.md, "Validity of feature spaces"'


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
    mark = "" if column.valid else f" {INVALID_MARK}"
    return f"{name} {ARROW[column.direction]}{suffix}{mark}"


def ranking_note(board: Leaderboard) -> str:
    """Which column the ranks follow, or why there are none."""
    overview = board.overview
    if overview.ranked_by is not None:
        return f"Ranks follow {header(board, overview.columns[overview.ranked_by])}."
    if board.unranked_for_validity:
        return (
            f"Not ranked: every column with values is in a feature space that failed its validity check on "
            f"this dataset ({INVALID_MARK})."
        )
    return ""


def validity_intro(board: Leaderboard) -> str:
    """The sentence before the list of failed spaces (plain text; '' when none failed)."""
    if not board.invalid:
        return ""
    return (
        f"{INVALID_MARK} The feature space of these columns failed its validity check on "
        f"{board.setting['dataset']} (its real-vs-real floor must lie below blurred and noisy real images and "
        "below the noise model, the noise model beyond the mildest blur and noise, and every stronger step "
        f"farther; {VALIDITY_DOC}): their values are shown but not bolded and never rank."
    )


def intro(board: Leaderboard) -> str:
    s = board.setting
    references = sorted(board.overview.references)
    return (
        f"Dataset `{s['dataset']}`, {s['resolution']} px, n = {s['n']} synthetic images per task and "
        f"condition, seed {s['seed']}. Arrows give each metric's better direction; bold marks a column's "
        "best competitor when there are two or more and, in the per-finding tables, its 95% interval clears "
        f"the next one's; reference rows ({', '.join(references) or 'none'}) are not ranked or bolded. "
        "Intervals are clipped to the range each metric can take. The overview is the mean over every task "
        "and condition (no interval: see the per-finding tables). " + ranking_note(board)
    ).strip()


def overview_summary(board: Leaderboard, columns: int) -> tuple[list[str], list[list[str]]]:
    """The overview's first ``columns`` headline columns that have values, as text: headers (rank, model,
    the columns) and one row per model (what `cxrbench run` prints; the full table is leaderboard.md)."""
    overview = board.overview
    shown = [i for i in range(len(overview.columns)) if any(overview.row(m)[i] is not None for m in overview.models)]
    shown = shown[:columns]
    headers = ["rank", "model", *(header(board, overview.columns[i]) for i in shown)]
    rows = []
    for model in overview.models:
        cells = overview.row(model)
        rows.append(
            [overview.rank_label(model), model, *(number(None if cells[i] is None else cells[i].value) for i in shown)]
        )
    return headers, rows


# Where a run's trained weights came from (manifest ``weights.source``), as the leaderboard says it.
WEIGHT_SOURCES = {
    "reference weights": "reference weights shipped with cxrbench (docs/zoo.md)",
    "trained": "trained by this run",
    "cache": "trained earlier with the same code and settings (cache)",
    "given": "a checkpoint given by the user",
}


def weights_note(manifest: dict) -> str | None:
    """One sentence saying where each trained model's (and the evaluator's) weights came from; None when the
    run used none (``manifest``: a run's manifest.json)."""
    sources: dict[str, list[str]] = {}
    for model, facts in manifest.get("models", {}).items():
        source = facts.get("weights", {}).get("source")
        if source in WEIGHT_SOURCES:
            sources.setdefault(source, []).append(f"`{model}`")
    for space, facts in manifest.get("feature_spaces", {}).items():
        source = facts.get("weights_source", {}).get("source")
        if source in WEIGHT_SOURCES:
            sources.setdefault(source, []).append(f"the `{space}` feature space")
    if not sources:
        return None
    parts = [f"{WEIGHT_SOURCES[source]} for {', '.join(names)}" for source, names in sources.items()]
    return "Weights: " + "; ".join(parts) + "."
