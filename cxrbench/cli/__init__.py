"""The command line: parse flags, build one RunConfig, call the core, print.

One module per command group; this file is the table of commands, in the order `--help` lists them.
Heavy modules (torch, the runner) are imported inside commands, so `--help` and `list` stay fast.
User mistakes (CxrbenchError) print one line and exit with code 2; bugs stay tracebacks.
"""

from __future__ import annotations

from cxrbench.cli import evaluate, run, tables, tools
from cxrbench.cli.application import app, main, usage_line
from cxrbench.cli.data import data_app
from cxrbench.cli.reader_study import reader_app
from cxrbench.cli.zoo import zoo_app

app.command("list")(tools.list_components)
app.command()(run.run)
app.command()(tables.leaderboard)
app.command()(tables.compare)
app.command()(evaluate.evaluate)
app.command("export-references")(run.export_references_command)
app.command("validate-metrics")(evaluate.validate_metrics_command)
app.command()(run.train)
app.command()(run.generate)
app.add_typer(data_app, name="data")
app.add_typer(reader_app, name="reader-study")
app.add_typer(zoo_app, name="zoo")
app.command("convert-weights")(tools.convert_weights)
app.command()(tools.env)

__all__ = ["app", "main", "usage_line"]
