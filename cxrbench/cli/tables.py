"""`cxrbench leaderboard` and `compare`: tables from run folders."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cxrbench.errors import CxrbenchError
from cxrbench.names import split_names


class Format(str, Enum):
    md = "md"
    csv = "csv"
    latex = "latex"
    html = "html"


def leaderboard(
    run_dirs: list[str] = typer.Argument(..., help="run folders (several are merged); or: publish RUN_DIR..."),
    format: Format = typer.Option(Format.md, "--format", help="md, csv (tidy), latex (booktabs) or html"),
    out: Optional[Path] = typer.Option(None, help="output file (a folder for publish); default: print"),
    metrics: Optional[str] = typer.Option(
        None,
        help="only these metrics: ids, aliases or patterns separated by "
        "commas, e.g. cxr_fd,frd@radiomics,reader.single.*",
    ),
    models: Optional[str] = typer.Option(None, help="only these models, separated by commas"),
) -> None:
    """Tables from results.jsonl files; `leaderboard publish RUN_DIR... --out SITE/` writes a static site."""
    from cxrbench.leaderboard.store import load_results, select_rows

    if run_dirs[0] == "publish":  # a run folder literally named "publish" can be given as ./publish
        from cxrbench.leaderboard.site import publish

        if out is None:
            raise CxrbenchError("leaderboard publish needs --out SITE_FOLDER")
        if metrics or models:
            raise CxrbenchError("--metrics and --models select table rows; the site (html, publish) shows whole runs")
        index = publish([Path(d) for d in run_dirs[1:]], out)
        typer.echo(f"wrote {index}")
        return
    merged = load_results([Path(d) for d in run_dirs])
    for line in merged.conflicts:
        typer.echo(f"conflict: {line}", err=True)
    if format is Format.html and (metrics or models):
        raise CxrbenchError("--metrics and --models select table rows; the site (html, publish) shows whole runs")
    merged.rows = select_rows(merged.rows, metrics, models)
    if format is Format.csv:
        from cxrbench.leaderboard.tidy_csv import render_csv

        text = render_csv(merged.rows)
    elif format is Format.html:
        from cxrbench.leaderboard.site import publish

        target = out or Path("leaderboard-site")
        typer.echo(f"wrote {publish([Path(d) for d in run_dirs], target)}")
        return
    else:
        from cxrbench.leaderboard.latex import render_latex
        from cxrbench.leaderboard.markdown import render_markdown
        from cxrbench.leaderboard.table import build_leaderboards

        boards = build_leaderboards(merged.rows)
        text = render_markdown(boards, _weights_notes(run_dirs)) if format is Format.md else render_latex(boards)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _weights_notes(run_dirs: list[str]) -> list[str]:
    """Where each run's weights came from, from its manifest (runs without one say nothing)."""
    from cxrbench.leaderboard.store import run_weights_note

    notes = [(run_dir, run_weights_note(Path(run_dir))) for run_dir in run_dirs]
    return [note if len(run_dirs) == 1 else f"{run_dir}: {note}" for run_dir, note in notes if note]


def compare(
    run_a: Path = typer.Argument(..., help="the baseline run folder"),
    run_b: Optional[Path] = typer.Argument(None, help="the run compared against it (default: RUN_A itself)"),
    models: Optional[str] = typer.Option(
        None, help="A,B: paired bootstrap of model B against model A on the same real set (B from RUN_B when given)"
    ),
    seed: int = typer.Option(0, help="bootstrap seed of the paired comparison"),
) -> None:
    """Compare two runs row by row, or two models on the same real set with a paired bootstrap (--models A,B)."""
    from rich.console import Console
    from rich.table import Table

    from cxrbench.leaderboard.text import number

    def show(triple):
        value, low, high = triple
        return number(value) + ("" if low is None else f" [{number(low)}, {number(high)}]")

    if models:
        from cxrbench.benchmark.paired_compare import paired_compare

        names = list(split_names(models))
        if len(names) != 2:
            raise CxrbenchError(f"--models needs two names separated by a comma, got {models!r}")
        paired, notes = paired_compare(run_a, names[0], names[1], run_b, seed)
        view = Table(title=f"{names[1]} against {names[0]} (paired bootstrap over the shared real set)")
        for column in ("task", "condition", "metric", "A", "B", "B - A [interval]", "verdict"):
            view.add_column(column)
        for c in paired:
            view.add_row(
                c.task, c.condition, c.metric, number(c.a), number(c.b), show((c.delta, c.ci_low, c.ci_high)), c.verdict
            )
        console = Console(width=200)
        console.print(view)
        for note in dict.fromkeys(notes):
            console.print(note, markup=False)
        return
    if run_b is None:
        raise CxrbenchError("give two run folders, or --models A,B to compare two models of one run")
    from cxrbench.leaderboard.compare import compare_runs

    changes = compare_runs(run_a, run_b)
    if not changes:
        raise CxrbenchError(f"{run_a} and {run_b} share no (model, task, condition, metric) rows")
    view = Table(title=f"{run_b} against {run_a}")
    for column in ("model", "task", "condition", "metric", "A [interval]", "B [interval]", "B - A", "verdict"):
        view.add_column(column)
    for c in changes:
        view.add_row(c.model, c.task, c.condition, c.metric, show(c.a), show(c.b), number(c.delta), c.verdict)
    Console(width=200).print(view)
