"""Leaderboards as LaTeX tables (booktabs), ready to \\input in a paper.

The including document needs \\usepackage{booktabs,longtable,graphicx}; arrows are math-mode
symbols. The overview is one row per model, scaled to the text width when its columns need it;
each finding is a long table (one row per model and metric, one column per condition, breaking
across pages), so that it fits a page however many metrics a run has.
"""

from __future__ import annotations

from cxrbench.leaderboard.table import Leaderboard, Table
from cxrbench.leaderboard.text import MISSING, number, validity_intro

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "∞": r"$\infty$",
    "–": "--",
    "é": r"\'e",
}
_ARROW = {"lower": r"$\downarrow$", "higher": r"$\uparrow$"}
_DAGGER = r"$^\dagger$"


def escape(text: str) -> str:
    """Text safe inside a LaTeX document."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _overview(board: Leaderboard, table: Table, caption: str) -> str:
    """The overview (means, no intervals): a row per model, scaled to the text width when it is wider."""
    head = ["Rank", "Model"] + [
        f"{escape(board.schemas[c.metric]['display_name'])} {_ARROW[c.direction]}" + ("" if c.valid else _DAGGER)
        for c in table.columns
    ]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        r"\begin{tabular}{ll" + "r" * len(table.columns) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    reference_started = False
    for model in table.models:
        if model in table.references and not reference_started:
            lines.append(r"\midrule")
            reference_started = True
        cells = [_value(cell) for cell in table.row(model)]
        lines.append(" & ".join([escape(table.rank_label(model)), rf"\texttt{{{escape(model)}}}", *cells]) + r" \\")
    if not all(c.valid for c in table.columns):
        caption += " " + _validity(board)
    lines += [r"\bottomrule", r"\end{tabular}}", rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines)


def _value(cell) -> str:
    """A value with its interval stacked below it (a narrow column)."""
    if cell is None:
        return MISSING
    text = rf"\textbf{{{number(cell.value)}}}" if cell.best else number(cell.value)
    if cell.ci_low is None:
        return text
    return (
        rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{text}\\{{\scriptsize [{number(cell.ci_low)}, "
        rf"{number(cell.ci_high)}]}}\end{{tabular}}"
    )


def _long_table(board: Leaderboard, table: Table, caption: str) -> str:
    """One finding as a longtable: a row per model and metric, a column per condition."""
    conditions = list(dict.fromkeys(c.condition for c in table.columns))
    metrics = list(dict.fromkeys(c.metric for c in table.columns))
    index = {(c.metric, c.condition): i for i, c in enumerate(table.columns)}
    valid = {c.metric: c.valid for c in table.columns}
    head = " & ".join(["Model / metric", *(escape(c) for c in conditions)]) + r" \\"
    if not all(valid.values()):
        caption += " " + _validity(board)
    lines = [
        r"\begin{footnotesize}",
        r"\begin{longtable}{@{}l" + "r" * len(conditions) + "@{}}",
        rf"\caption{{{caption}}}\\",
        r"\toprule",
        head,
        r"\midrule",
        r"\endfirsthead",
        r"\toprule",
        head,
        r"\midrule",
        r"\endhead",
        r"\bottomrule",
        r"\endfoot",
    ]
    for m, model in enumerate(table.models):
        if m:
            lines.append(r"\midrule")
        rank = "reference" if model in table.references else f"rank {escape(table.rank_label(model))}"
        name = rf"\texttt{{{escape(model)}}} ({rank})"
        lines.append(rf"\multicolumn{{{1 + len(conditions)}}}{{@{{}}l}}{{{name}}} \\")
        for metric in metrics:
            cells = [
                _value(table.cells.get((model, index[(metric, c)]))) if (metric, c) in index else "" for c in conditions
            ]
            label = (
                rf"\quad {escape(board.schemas[metric]['display_name'])} "
                rf"{_ARROW[board.schemas[metric]['direction']]}" + ("" if valid[metric] else _DAGGER)
            )
            lines.append(" & ".join([label, *cells]) + r" \\")
    lines += [r"\end{longtable}", r"\end{footnotesize}"]
    return "\n".join(lines)


def _ranking(board: Leaderboard) -> str:
    """Which column the ranks follow, or why there are none (text.ranking_note, with LaTeX symbols)."""
    overview = board.overview
    if overview.ranked_by is not None:
        column = overview.columns[overview.ranked_by]
        return f"Ranks follow {escape(board.schemas[column.metric]['display_name'])} {_ARROW[column.direction]}."
    if board.unranked_for_validity:
        return (
            f"Not ranked: every column with values is in a feature space that failed its validity check on this "
            f"dataset ({_DAGGER})."
        )
    return ""


def _validity(board: Leaderboard) -> str:
    """The caption's footnote of the marked columns: the failed spaces and their failed checks."""
    spaces = "; ".join(f"\\texttt{{{escape(s.space)}}}: {escape(s.detail or 'failed')}" for s in board.invalid)
    return escape(validity_intro(board)).replace(escape("†"), _DAGGER) + " " + spaces + "."


def render_latex(boards: Leaderboard | list[Leaderboard]) -> str:
    """One table environment per overview and per finding, for every setting."""
    boards = [boards] if isinstance(boards, Leaderboard) else boards
    parts = ["% cxrbench leaderboard; needs \\usepackage{booktabs,longtable,graphicx}"]
    for board in boards:
        s = board.setting
        where = escape(f"{s['dataset']}, {s['resolution']} px, n = {s['n']}, seed {s['seed']}")
        parts.append(
            _overview(
                board,
                board.overview,
                f"cxrbench overview ({where}): mean over tasks and conditions; "
                f"reference rows below the rule are not ranked. {_ranking(board)}".strip(),
            )
        )
        if board.warnings:
            parts.append(r"\paragraph{Read with care.}" + " ".join(escape(w) for w in board.warnings))
        for table in board.tasks:
            parts.append(
                _long_table(
                    board,
                    table,
                    f"{escape(table.title)} ({where}); 95\\% intervals in brackets, "
                    "clipped to each metric's range; bold: the best competitor where "
                    "its interval clears the next one's.",
                )
            )
    return "\n\n".join(parts) + "\n"
