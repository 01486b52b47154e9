"""`cxrbench reader-study ...`: prepare, serve, import, MRMC analysis and planning (docs/reader-study.md)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cxrbench.names import split_names

reader_app = typer.Typer(no_args_is_help=True, help="Reader studies: prepare, serve, import (docs/reader-study.md).")


class StudyDesign(str, Enum):
    single = "single"
    paired = "paired"
    finding = "finding"


@reader_app.command("prepare")
def reader_prepare(
    run_dir: Path = typer.Argument(..., help="a finished run folder (with samples/ and manifest.json)"),
    out: Path = typer.Option(..., help="new folder for the study"),
    design: StudyDesign = typer.Option(
        ..., help="single (real or synthetic?), paired (which is synthetic?) or finding (is FINDING present?)"
    ),
    readers: str = typer.Option(..., help="reader ids separated by commas (a-z, 0-9, _)"),
    n: int = typer.Option(10, "--n", help="items per model, task and condition"),
    models: str = typer.Option("all", help="all, or model names separated by commas"),
    tasks: str = typer.Option("all", help="all, or task names separated by commas"),
    conditions: str = typer.Option("present,absent", help="present, absent or both separated by a comma"),
    seed: int = typer.Option(0, help="study seed: picks, sides, ids and reading orders"),
) -> None:
    """Build a blinded study from a finished run; prints each reader's private link path."""
    from cxrbench.cache import default_cache_root
    from cxrbench.reader_study.design import Design
    from cxrbench.reader_study.prepare import PrepareConfig, prepare_study

    config = PrepareConfig(
        run_dir=run_dir,
        out=out,
        design=Design(design.value),
        n_items=n,
        readers=split_names(readers),
        models=split_names(models),
        tasks=split_names(tasks),
        conditions=split_names(conditions),
        seed=seed,
        cache_dir=default_cache_root(),
    )
    study = prepare_study(config)
    typer.echo(f"wrote {len(study.items)} items for {len(study.readers)} readers to {study.root}")
    typer.echo(f"serve it with: cxrbench reader-study serve {study.root}")


@reader_app.command("serve")
def reader_serve(
    study: Path = typer.Argument(..., help="a study folder written by prepare"),
    host: str = typer.Option("127.0.0.1", help="address to bind (127.0.0.1: this computer only)"),
    port: int = typer.Option(8765, help="port"),
) -> None:
    """Serve the study to its readers in a browser until Ctrl-C; answers go to STUDY/answers.sqlite."""
    from cxrbench.reader_study.app import reader_links, serve

    for reader, link in reader_links(study, host, port).items():
        typer.echo(f"{reader}: {link}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: bound to {host}: anyone who can reach this address and holds a link can answer", err=True)
    serve(study, host, port)


@reader_app.command("import")
def reader_import(
    study: Path = typer.Argument(..., help="a study folder written by prepare"),
    files: list[Path] = typer.Argument(
        None, help="answer files: CSV (docs/reader-study.md) or another answers.sqlite; none: score the stored answers"
    ),
    columns: Optional[str] = typer.Option(
        None, help="generic CSV: schema_name=csv_column pairs separated by commas, e.g. reader_id=Rater,item_id=Case"
    ),
    run: Optional[Path] = typer.Option(None, help="the run folder to write rows to (default: the study's run)"),
) -> None:
    """Import answers (all rows valid, or none), then write statistics and reader.* rows into the run."""
    from cxrbench.reader_study.importing import import_answers, parse_columns
    from cxrbench.reader_study.rows import score_study
    from cxrbench.reader_study.study import STATISTICS_MD, Study

    loaded = Study(study)
    mapping = parse_columns(columns)
    for report in import_answers(loaded, files or [], mapping):
        typer.echo(
            f"{report.source}: {report.rows} rows, {report.added} new answers, {report.already_stored} already stored"
        )
    statistics, rows = score_study(loaded, run)
    typer.echo(
        f"wrote {len(rows)} reader rows to {(run or loaded.run_dir) / 'results.jsonl'} and "
        f"{loaded.root / STATISTICS_MD}"
    )


class FigureName(str, Enum):
    auc = "auc"
    sensitivity = "sensitivity"
    specificity = "specificity"


class CovarianceName(str, Enum):
    jackknife = "jackknife"
    delong = "delong"


def _figure_of_merit(fom: FigureName, threshold: float):
    from cxrbench.reader_study.mrmc_data import AUC, sensitivity, specificity

    return {"auc": AUC, "sensitivity": sensitivity(threshold), "specificity": specificity(threshold)}[fom.value]


@reader_app.command("mrmc")
def reader_mrmc(
    file: Path = typer.Argument(..., help="ratings: CSV (reader, case, truth, modality, rating) or LABMRMC .lrc"),
    fom: FigureName = typer.Option(
        FigureName.auc, help="figure of merit: empirical AUC, or sensitivity / specificity at --threshold"
    ),
    threshold: float = typer.Option(
        4.0, help="sensitivity/specificity: ratings from this value up count as called positive"
    ),
    cov: CovarianceName = typer.Option(
        CovarianceName.jackknife, help="error covariances: jackknife or DeLong (AUC, factorial designs)"
    ),
    alpha: float = typer.Option(0.05, help="1 - confidence level of the intervals"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="also write every number to this JSON file"),
) -> None:
    """ORH analysis (RRRC, FRRC, RRFC) of any multi-reader multi-case ROC study, printed as Markdown."""
    import json

    from cxrbench.reader_study.mrmc import or_analysis
    from cxrbench.reader_study.mrmc_files import read_mrmc_file
    from cxrbench.reader_study.mrmc_report import analysis_dict, analysis_markdown

    analysis = or_analysis(read_mrmc_file(file), _figure_of_merit(fom, threshold), cov.value, alpha)
    typer.echo(f"# MRMC analysis of {file.name}\n\n" + analysis_markdown(analysis))
    if json_out is not None:
        json_out.write_text(json.dumps(analysis_dict(analysis), indent=1))


@reader_app.command("plan")
def reader_plan(
    pilot: Optional[Path] = typer.Argument(
        None,
        help="the pilot: an MRMC ratings file (.csv, .lrc) or a study "
        "folder with answers (its own variance components, all cells "
        "pooled)",
    ),
    components: Optional[str] = typer.Option(
        None,
        help="instead of a pilot: published OR components, e.g. "
        "cases=114,var_tr=0.0002,var=0.0008,cov1=0.00035,"
        "cov2=0.00034,cov3=0.00024",
    ),
    readers: str = typer.Option("3,4,5,6,8,10", help="reader counts to plan for, separated by commas"),
    effect: Optional[float] = typer.Option(
        None, help="the difference of figures to detect (default: the pilot's, when it compares two treatments)"
    ),
    power: float = typer.Option(0.8, help="the power wanted"),
    alpha: float = typer.Option(0.05, help="the test's significance level"),
    cases: Optional[int] = typer.Option(None, help="instead: the power with this many cases"),
    fom: FigureName = typer.Option(FigureName.auc, help="figure of merit (ratings files)"),
    threshold: float = typer.Option(4.0, help="sensitivity/specificity threshold"),
) -> None:
    """Readers x cases needed to detect a difference (Hillis, Obuchowski & Berbaum 2011), from a pilot's components."""
    from cxrbench.errors import ConfigError
    from cxrbench.reader_study.mrmc import ANALYSES, or_analysis
    from cxrbench.reader_study.mrmc_files import read_mrmc_file
    from cxrbench.reader_study.planning import Pilot, cases_needed
    from cxrbench.reader_study.planning import power as power_of
    from cxrbench.reader_study.study_mrmc import study_pilot

    if (pilot is None) == (components is None):
        raise ConfigError("give a pilot (ratings file or study folder) or --components, one of the two")
    if components is not None:
        given = Pilot.parse(components)
        source = f"{given.n_cases} cases (given components)"
    else:
        analysis = (
            study_pilot(pilot)
            if (pilot / "study.json").is_file()
            else or_analysis(read_mrmc_file(pilot), _figure_of_merit(fom, threshold))
        )
        given = Pilot.from_analysis(analysis)
        source = f"{len(analysis.treatments)} treatments x {len(analysis.readers)} readers, {given.n_cases} cases"
    size = effect if effect is not None else given.effect
    if size is None:
        raise ConfigError(
            "the pilot does not compare exactly two treatments; give the difference to detect with "
            "--effect (e.g. --effect 0.05)"
        )
    try:
        counts = [int(r) for r in split_names(readers)]
    except ValueError:
        raise ConfigError(f"--readers takes whole numbers separated by commas, got {readers!r}") from None
    typer.echo(f"pilot: {source}; difference to detect {size:.4g}, alpha {alpha:g}")
    typer.echo("| analysis | readers | cases | power |\n|---|---|---|---|")
    for name in ANALYSES:
        for j in counts:
            if cases is not None:
                typer.echo(f"| {name} | {j} | {cases} | {power_of(given, j, cases, size, name, alpha):.4f} |")
                continue
            found = cases_needed(given, j, size, power, name, alpha)
            typer.echo(f"| {name} | {j} | {found[0] if found else '> 2000'} | {f'{found[1]:.4f}' if found else ''} |")
