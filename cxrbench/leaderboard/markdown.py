"""leaderboard.md: ranked Markdown tables with direction arrows, intervals and unavailable reasons."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from cxrbench.benchmark.results import UNAVAILABLE, ResultRow
from cxrbench.leaderboard.table import overview, rows_frame

ARROW = {"lower": "↓", "higher": "↑"}


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def render_leaderboard(rows: list[ResultRow], schemas: list[dict], references: tuple[str, ...] = ()) -> str:
    """The whole leaderboard as Markdown text.

    schemas: the metrics' declarations (display name, direction). references: models that are
    not competitors (real images, baselines); they are listed apart and never ranked or bolded.
    """
    if not rows:
        return "# cxrbench leaderboard\n\nNo results yet.\n"
    frame = rows_frame(rows)
    schema = {s["name"]: s for s in schemas}
    metrics = [m for m in schema if m in set(frame["metric"])]
    lines = ["# cxrbench leaderboard", "",
             f"Dataset `{frame['dataset'].iloc[0]}`, seed {frame['seed'].iloc[0]}, "
             f"n = {int(frame['n_fake'].max())} synthetic images per task and condition. "
             "Arrows give each metric's better direction; bold marks the best competitor; reference rows "
             f"({', '.join(references) or 'none'}) are not ranked.", ""]

    table = overview(frame).reindex(columns=metrics)
    first = metrics[0] if metrics else None
    if first is not None:
        ascending = schema[first]["direction"] == "lower"
        table = table.sort_values(first, ascending=ascending, na_position="last")
    competitors = [m for m in table.index if m not in references]
    lines += ["## Overview (mean over tasks and conditions)", ""]
    header = ["rank", "model"] + [f"{schema[m]['display_name']} {ARROW[schema[m]['direction']]}" for m in metrics]
    body = []
    for rank, model in enumerate(competitors + [m for m in table.index if m in references], start=1):
        cells = []
        for m in metrics:
            value = table.loc[model, m]
            column = table.loc[competitors, m].dropna()
            best = None if column.empty else (column.min() if schema[m]["direction"] == "lower" else column.max())
            text = _fmt(value)
            cells.append(f"**{text}**" if model in competitors and best is not None and value == best else text)
        body.append([str(rank) if model in competitors else "ref", f"`{model}`"] + cells)
    lines += [_markdown_table(header, body), ""]

    for task in dict.fromkeys(frame["task"]):
        part = frame[frame["task"] == task].set_index(["model", "metric", "condition"])
        columns = [(m, c) for m in metrics for c in ("present", "absent")]
        header = ["model"] + [f"{schema[m]['display_name']} {ARROW[schema[m]['direction']]} ({c})" for m, c in columns]
        body = []
        for model in dict.fromkeys(part.index.get_level_values("model")):
            cells = []
            for m, c in columns:
                row = part.loc[(model, m, c)] if (model, m, c) in part.index else None
                if row is None or row["status"] != "ok":
                    cells.append("n/a")
                    continue
                interval = "" if pd.isna(row["ci_low"]) else f" [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
                cells.append(_fmt(row["value"]) + interval)
            body.append([f"`{model}`"] + cells)
        lines += [f"## {task}", "", _markdown_table(header, body), ""]

    missing = frame[frame["status"] == UNAVAILABLE].drop_duplicates(subset=["metric", "model"])
    if not missing.empty:
        lines += ["## Unavailable", ""]
        lines += [f"- `{r.metric}` for `{r.model}`: {r.reason}" for r in missing.itertuples()]
        lines.append("")
    return "\n".join(lines)


def write_leaderboard(rows: list[ResultRow], schemas: list[dict], path: Path, references: tuple[str, ...] = ()) -> None:
    from cxrbench.benchmark.run_dir import atomic_write_text

    atomic_write_text(path, render_leaderboard(rows, schemas, references))


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731 - one-liner used twice below
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines)

