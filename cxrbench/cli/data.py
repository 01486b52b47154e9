"""`cxrbench data ...`: inspect datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cxrbench.cli.options import base_config, with_data_option
from cxrbench.errors import CxrbenchError

data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")


@data_app.command("check")
def data_check(
    data: Optional[str] = typer.Option(None, help="dataset name (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file (data_options are read from it)"),
    view: Optional[str] = typer.Option(None, help="PA, AP or both (datasets on disk)"),
) -> None:
    """Decode every image once, list bad files with their row, and print per-finding counts per split (of the
    files that decode)."""
    from rich.console import Console
    from rich.table import Table

    from cxrbench.benchmark.setup import build_dataset

    cfg = with_data_option(base_config(config).with_overrides(data=data, data_root=data_root), "view", view)
    dataset = build_dataset(cfg)
    console = Console()
    problems = dataset.check()  # first: the counts then leave the bad files out
    counts = dataset.counts()
    left_out = f" ({len(problems)} bad {'file' if len(problems) == 1 else 'files'} left out)" if problems else ""
    table = Table(title=f"{cfg.data}: images present / absent / uncertain per split{left_out}")
    for column in ("split", "images", "patients", *dataset.findings):
        table.add_column(column, justify="right")
    for split, facts in counts.items():
        cells = [f"{facts[f]['present']} / {facts[f]['absent']} / {facts[f]['uncertain']}" for f in dataset.findings]
        table.add_row(split, str(facts["images"]), str(facts["patients"]), *cells)
    console.print(table)
    for problem in problems:
        console.print(f"bad: {problem}", markup=False)
    if problems:
        raise CxrbenchError(
            f"{len(problems)} bad image files (listed above); fix or remove them, or set "
            'data_options on_bad_image = "skip"'
        )
    console.print("all images decode")
