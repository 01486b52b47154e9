"""`cxrbench zoo list` and `cxrbench zoo rebuild`: the reference weights shipped with cxrbench (docs/zoo.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cxrbench.cli.options import SET_HELP, base_config, reporter, with_settings, writing_to

zoo_app = typer.Typer(no_args_is_help=True, help="Reference weights of the embedded default (docs/zoo.md).")


@zoo_app.command("list")
def list_zoo(
    folder: Optional[Path] = typer.Option(None, "--zoo", help="a zoo folder (default: the set shipped with cxrbench)"),
) -> None:
    """Each reference weight set: what it was trained for and by, and its sha256."""
    from cxrbench.zoo import PACKAGED, read_catalogue

    folder = folder or PACKAGED
    entries = read_catalogue(folder)
    if not entries:
        typer.echo(f"{folder} holds no reference weights")
    for name, entry in entries.items():
        made = entry.get("trained_with", {})
        size = sum(p.stat().st_size for p in (folder / entry["folder"]).rglob("*") if p.is_file())
        typer.echo(
            f"{name:<16} {entry['kind']:<9} sha256 {entry['sha256']}  {size / 2**20:.1f} MiB  "
            f"data {entry['recipe']['inputs']['dataset']}  trained in {made.get('seconds', '?')} s on "
            f"{made.get('device', '?')}, cxrbench {made.get('cxrbench_version', '?')}"
        )


@zoo_app.command()
def rebuild(
    out: Path = typer.Option(..., help="zoo folder to write (catalogue.json and one folder per entry)"),
    only: str = typer.Option("all", help="all, or entries separated by commas (cxr-evaluator, cgan, ...)"),
    against: Optional[Path] = typer.Option(
        None, help="zoo folder to compare with (default: the set shipped with cxrbench)"
    ),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file with the run settings to train for"),
    settings: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Retrain the reference weights as `cxrbench run` would, and say whether each equals the shipped one."""
    from cxrbench.benchmark.zoo_rebuild import rebuild_zoo
    from cxrbench.zoo import PACKAGED

    against = against or PACKAGED
    cfg = with_settings(base_config(config).with_overrides(device=device), settings)
    with writing_to(out, cfg.cache_dir):
        results = rebuild_zoo(cfg, out, against, reporter(), only)
    for result in results:
        verdict = {True: "same as", False: "differs from", None: "nothing to compare in"}[result.identical]
        typer.echo(
            f"{result.name}: {verdict} {against} ({result.detail}); sha256 {result.sha256}, "
            f"trained in {result.seconds:.0f} s"
        )
    typer.echo(f"wrote {out}")
