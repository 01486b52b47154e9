"""Leaderboards as Markdown (the run's leaderboard.md, and `cxrbench leaderboard --format md`)."""

from __future__ import annotations

from cxrbench.leaderboard.table import Leaderboard, Table
from cxrbench.leaderboard.text import MISSING, header, interval, intro, number, validity_intro


def _escape(text: str) -> str:
    """Plain text inside a table cell or list item: no raw HTML, no column breaks."""
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """A name as a code span (shown literally, so only pipes and backticks need care)."""
    return "`" + str(text).replace("|", "\\|").replace("`", "'") + "`"


def _table(board: Leaderboard, table: Table, with_intervals: bool) -> str:
    head = ["rank", "model"] + [header(board, c) for c in table.columns]
    lines = ["| " + " | ".join(_escape(h) for h in head) + " |", "|" + "---|" * len(head)]
    for model in table.models:
        cells = []
        for cell in table.row(model):
            if cell is None:
                cells.append(MISSING)
                continue
            text = f"**{number(cell.value)}**" if cell.best else number(cell.value)
            cells.append(f"{text} {interval(cell)}".strip() if with_intervals else text)
        lines.append("| " + " | ".join([table.rank_label(model), _code(model), *cells]) + " |")
    return "\n".join(lines)


def _validity(board: Leaderboard) -> list[str]:
    """The footnote of the marked columns: each failed space, its columns and its failed checks."""
    if not board.invalid:
        return []
    lines = [_escape(validity_intro(board)), ""]
    for space in board.invalid:
        lines.append(
            f"- {_code(space.space)} ({', '.join(_code(m) for m in space.metrics)}): "
            f"{_escape(space.detail) or 'failed'}"
        )
    return lines + [""]


def render_markdown(boards: Leaderboard | list[Leaderboard], notes: list[str] | tuple[str, ...] = ()) -> str:
    """Every leaderboard (one per setting) as one Markdown document; ``notes`` (e.g. where the weights came
    from, ``text.weights_note``) follow the first overview."""
    boards = [boards] if isinstance(boards, Leaderboard) else boards
    if not boards or not boards[0].overview.models:
        return "# cxrbench leaderboard\n\nNo results yet.\n"
    out = ["# cxrbench leaderboard", ""]
    for board in boards:
        if len(boards) > 1:
            s = board.setting
            out += [f"## Setting: {s['dataset']}, {s['resolution']} px, n = {s['n']}, seed {s['seed']}", ""]
        out += [intro(board), "", "### Overview", "", _table(board, board.overview, False), ""]
        if board is boards[0]:
            out += [line for note in notes for line in (_escape(note), "")]
        out += _validity(board)
        if board.warnings:
            out += ["**Read with care:**", "", *[f"- {_escape(w)}" for w in board.warnings], ""]
        for table in board.tasks:
            out += [f"### {table.title}", "", _table(board, table, True), ""]
        if board.unavailable:
            out += ["### Unavailable", ""]
            seen = set()
            for metric, model, reason in board.unavailable:
                if (metric, model) not in seen:
                    seen.add((metric, model))
                    out.append(f"- {_code(metric)} for {_code(model)}: {_escape(reason)}")
            out.append("")
    return "\n".join(out)
