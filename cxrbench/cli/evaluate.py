"""`cxrbench evaluate` (two folders of images) and `validate-metrics` (the metrics' self-check)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from cxrbench.cli.options import (
    FEATURE_OPTION_HELP,
    SET_HELP,
    base_config,
    reporter,
    unpublished_weights_notes,
    with_data_and_spaces,
    with_inception_weights,
    with_option,
    with_settings,
    writing_to,
)
from cxrbench.errors import CxrbenchError
from cxrbench.metric_ids import EVALUATE_METRICS
from cxrbench.names import split_names


def evaluate(
    real: Path = typer.Option(..., help="folder of real images (PNG, JPEG or DICOM)"),
    fake: Path = typer.Option(..., help="folder of synthetic images"),
    out: Path = typer.Option(..., help="folder for results.jsonl, leaderboard.md and manifest.json"),
    metrics: Optional[str] = typer.Option(
        None,
        help="metrics separated by commas, each NAME or NAME@SPACE (e.g. fd@xrv-densenet); default: "
        + ",".join(EVALUATE_METRICS),
    ),
    features: Optional[str] = typer.Option(
        None,
        help="feature space of the distribution metrics given without "
        "@SPACE (e.g. inception-v3, pixels); default: each metric's own",
    ),
    inception_weights: Optional[str] = typer.Option(None, help="local FID Inception weights file"),
    inception_verify: bool = typer.Option(
        True,
        "--inception-verify/--no-inception-verify",
        help="check that the Inception file is the published FID weights; "
        "--no-inception-verify: an Inception-v3 variant of your own (its "
        "rows say published_weights: false)",
    ),
    resolution: Optional[int] = typer.Option(None, help="square size (default: the first real image's)"),
    bootstrap: int = typer.Option(1000, help="bootstrap resamples for intervals (0: none)"),
    seed: int = typer.Option(0, help="bootstrap seed"),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N"),
    feature_options: Optional[list[str]] = typer.Option(None, "--feature-option", help=FEATURE_OPTION_HELP),
    config_file: Optional[Path] = typer.Option(
        None, "--config", help="TOML file: its [feature_options.NAME] tables (as for `cxrbench run`)"
    ),
    name: Optional[str] = typer.Option(None, help="the model name of the rows (default: the --fake folder's name)"),
) -> None:
    """Score a folder of synthetic images against a folder of real ones (like torch-fidelity's CLI)."""
    from cxrbench.benchmark.evaluate import EvaluateConfig, evaluate_folders, nothing_scored
    from cxrbench.cache import default_cache_root
    from cxrbench.leaderboard.text import number

    # the run's own helpers: --config's tables, $CXRBENCH_INCEPTION_WEIGHTS and the flags on top
    settings = with_inception_weights(base_config(config_file), inception_weights)
    settings = with_option(settings, "feature_options", "inception-v3", "verify", None if inception_verify else False)
    settings = with_settings(settings, feature_options, "--feature-option", "feature")
    config = EvaluateConfig(
        real=real,
        fake=fake,
        out=out,
        metrics=split_names(metrics) or EVALUATE_METRICS,
        features=features,
        resolution=resolution,
        seed=seed,
        bootstrap=bootstrap,
        device=device,
        cache_dir=default_cache_root(),
        name=name,
        feature_options=settings.feature_options,
    )
    with writing_to(out, config.cache_dir):
        rows = evaluate_folders(config)
    for row in rows:
        interval = "" if row.ci_low is None else f" [{number(row.ci_low)}, {number(row.ci_high)}]"
        shown = number(row.value) + interval if row.status == "ok" else f"unavailable: {row.reason}"
        typer.echo(f"{row.metric:<14} {row.feature_space:<14} {shown}")
    for note in unpublished_weights_notes({r.feature_space: r.comparability for r in rows if r.status == "ok"}):
        typer.echo(note)
    typer.echo(f"wrote {out / 'results.jsonl'}")
    problem = nothing_scored(rows, config)
    if problem:  # the rows are written; the exit code says that none holds a value
        raise CxrbenchError(problem)


def validate_metrics_command(
    out: Path = typer.Option(Path("metric-validation.md"), help="Markdown report to write"),
    n: int = typer.Option(500, help="images per set (at most the smaller half of the test split)"),
    data: Optional[str] = typer.Option(None, help="dataset name (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    resolution: Optional[int] = typer.Option(None, help="square image size in pixels (default 64)"),
    seed: Optional[int] = typer.Option(None, help="seed (default 0)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    on_bad_image: Optional[str] = typer.Option(None, help="fail (default) or skip unreadable real images"),
    inception_weights: Optional[str] = typer.Option(None, help="local FID Inception weights file"),
    feature_options: Optional[list[str]] = typer.Option(None, "--feature-option", help=FEATURE_OPTION_HELP),
    config: Optional[Path] = typer.Option(
        None, "--config", help="TOML file with the settings of `run` (data, data_options, metrics, feature_options)"
    ),
    settings: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Sanity-check the metrics on a dataset, each in its feature space (floor, blur/noise, the noise model,
    the run's validity check, mode dropping, memorisation); exit 1 on a failure."""
    from cxrbench.benchmark.validation import validate_metrics
    from cxrbench.run_dir import atomic_write_text

    cfg = base_config(config).with_overrides(resolution=resolution, seed=seed, device=device)
    cfg = with_settings(
        with_data_and_spaces(cfg, data, data_root, on_bad_image, inception_weights, feature_options), settings
    )
    with writing_to(out.parent, cfg.cache_dir):
        report = validate_metrics(cfg, n, reporter())
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, report.markdown(command=" ".join(["cxrbench", *map(shlex.quote, sys.argv[1:])])))
    for check in report.checks:
        typer.echo(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    typer.echo(f"wrote {out}")
    if not report.passed:
        raise typer.Exit(1)
