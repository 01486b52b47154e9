"""`cxrbench run`, `train`, `generate` and `export-references`: the benchmark and its parts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cxrbench.cli.options import (
    FEATURE_OPTION_HELP,
    SET_HELP,
    base_config,
    processes_for,
    reporter,
    unpublished_weights_notes,
    with_data_and_spaces,
    with_model_path,
    with_settings,
    writing_to,
)


def run(
    models: Optional[str] = typer.Option(None, help="all, or model names separated by commas"),
    tasks: Optional[str] = typer.Option(None, help="all, or task names separated by commas"),
    metrics: Optional[str] = typer.Option(None, help="all, or metric names separated by commas"),
    data: Optional[str] = typer.Option(None, help="dataset name (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    resolution: Optional[int] = typer.Option(None, help="square image size in pixels (default 64)"),
    n_samples: Optional[int] = typer.Option(None, help="images per model, task and condition (default 128)"),
    seed: Optional[int] = typer.Option(None, help="run seed (default 0)"),
    out: Optional[Path] = typer.Option(None, help="run directory (default runs/latest)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    batch_size: Optional[int] = typer.Option(
        None, help="generation batch size (default 64), also the span of a set each process makes"
    ),
    bootstrap: Optional[int] = typer.Option(None, help="bootstrap resamples for intervals (0: none)"),
    prompt_style: Optional[str] = typer.Option(None, help="bare (as published) or report prompts"),
    absent: Optional[str] = typer.Option(
        None, help="absent = finding 'negative' (default) or 'no_finding' (all four negative)"
    ),
    on_bad_image: Optional[str] = typer.Option(None, help="fail (default) or skip unreadable real images"),
    inception_weights: Optional[str] = typer.Option(None, help="local FID Inception weights file"),
    feature_options: Optional[list[str]] = typer.Option(None, "--feature-option", help=FEATURE_OPTION_HELP),
    model_path: Optional[str] = typer.Option(None, help="diffusers Stable-Diffusion-1.x directory for roentgen"),
    samples: Optional[list[str]] = typer.Option(
        None,
        "--samples",
        help="a pre-generated set to score, NAME=PATH "
        "(repeatable): a folder TASK/CONDITION/*.png or a CSV file,label; "
        "without --models only these sets (and the floor) are scored",
    ),
    resume: Optional[bool] = typer.Option(None, "--resume/--no-resume", help="reuse finished work in --out"),
    floor: Optional[bool] = typer.Option(
        None, "--floor/--no-floor", help="add the real-vs-real reference (real-holdout) to the models"
    ),
    retrain: Optional[bool] = typer.Option(
        None, "--retrain", help="train the models and the evaluator even when reference or cached weights match"
    ),
    reference_weights: Optional[str] = typer.Option(
        None, help="a zoo folder of reference weights (default: the set shipped with cxrbench, docs/zoo.md)"
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file with the same settings"),
    settings: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Train (or load) the models, generate per-finding image sets, score them, write the leaderboard."""
    from cxrbench.benchmark.progress import Reporter
    from cxrbench.benchmark.runner import run_benchmark

    cfg = base_config(config).with_overrides(
        models=models,
        tasks=tasks,
        metrics=metrics,
        resolution=resolution,
        n_samples=n_samples,
        seed=seed,
        out=out,
        device=device,
        batch_size=batch_size,
        bootstrap=bootstrap,
        prompt_style=prompt_style,
        absent=absent,
        resume=resume,
        floor=floor,
        retrain=retrain,
        reference_weights=reference_weights,
    )
    cfg = with_data_and_spaces(cfg, data, data_root, on_bad_image, inception_weights, feature_options)
    cfg = with_settings(with_model_path(cfg, model_path), settings)
    cfg = _with_samples(cfg, samples, models_given=models is not None or _sets_models(config))
    processes = processes_for(cfg.device)
    with writing_to(cfg.out, cfg.cache_dir):
        summary = run_benchmark(cfg, reporter() if processes.is_main else Reporter(), processes)
    if processes.is_main:
        _print_summary(summary)


def _with_samples(cfg, samples: list[str] | None, models_given: bool):
    """Add the --samples NAME=PATH sets; with sets and no model selection, score only the sets."""
    from cxrbench.errors import ConfigError

    given = {}
    for item in samples or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--samples takes NAME=PATH (e.g. mygan=outputs/mygan), got {item!r}")
        given[name.strip()] = path.strip()
    merged = {**cfg.samples, **given}
    if not merged:
        return cfg
    return cfg.with_overrides(samples=merged, **({} if models_given else {"models": ()}))


def _sets_models(config_file: Path | None) -> bool:
    """Whether the TOML file chooses the models itself."""
    if config_file is None:
        return False
    import tomllib

    return "models" in tomllib.loads(config_file.read_text(encoding="utf-8"))


SUMMARY_COLUMNS = 4


def _print_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    from cxrbench.leaderboard.table import build_leaderboard
    from cxrbench.leaderboard.text import overview_summary

    headers, rows = overview_summary(build_leaderboard(summary.rows), SUMMARY_COLUMNS)
    view = Table(title="cxrbench: mean over tasks and conditions (all metrics: leaderboard.md)")
    for i, name in enumerate(headers):
        view.add_column(name, no_wrap=i == 1, justify="right" if i > 1 else "left")
    for row in rows:
        view.add_row(*row)
    console = Console()
    console.print(view)
    for space, facts in summary.manifest.get("feature_spaces", {}).items():
        if "test_auroc" in facts:  # show how good the judge itself is
            aurocs = ", ".join(f"{finding} {value:.3f}" for finding, value in facts["test_auroc"].items())
            console.print(f"{space} test AUROC: {aurocs}")
    for note in unpublished_weights_notes(summary.manifest.get("feature_spaces", {})):
        console.print(note, markup=False)
    total = summary.manifest.get("timings_s", {}).get("total", 0.0)
    console.print(
        f"wrote {summary.run_dir.results}, {summary.run_dir.leaderboard} and {summary.run_dir.manifest} "
        f"in {total:.0f} s"
    )


def export_references_command(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    out: Path = typer.Option(..., help="new or empty folder for TASK/CONDITION/*.png and references.csv"),
) -> None:
    """Write the real reference images each cell of a run was scored against (PNG, with a CSV listing)."""
    from cxrbench.benchmark.references import LISTING, export_references
    from cxrbench.cache import default_cache_root

    counts = export_references(run_dir, out, default_cache_root(), reporter())
    for cell, n in counts.items():
        typer.echo(f"{cell}: {n} images")
    typer.echo(f"wrote {out} and {out / LISTING}")


def train(
    model: str = typer.Argument(..., help="a trainable model name"),
    out: Path = typer.Option(..., help="folder for the checkpoint (safetensors + config.json)"),
    data: Optional[str] = typer.Option(None, help="dataset name (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    resolution: Optional[int] = typer.Option(None, help="square image size in pixels (default 64)"),
    seed: Optional[int] = typer.Option(None, help="training seed (default 0)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file (model_options are read from it)"),
    settings: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Train one model on the training split and save its checkpoint."""
    from cxrbench.benchmark.training import train_model

    cfg = base_config(config).with_overrides(
        models=model, data=data, data_root=data_root, resolution=resolution, seed=seed, device=device
    )
    cfg = with_settings(cfg, settings)
    with writing_to(out, cfg.cache_dir):
        path = train_model(cfg, model, out, reporter())
    typer.echo(f"saved {model} to {path}")


def generate(
    model: str = typer.Argument(..., help="model name"),
    task: str = typer.Option(..., help="task name, e.g. pleural_effusion"),
    condition: str = typer.Option(..., help="present or absent"),
    n: int = typer.Option(16, help="number of images"),
    out: Path = typer.Option(..., help="folder for the PNGs"),
    checkpoint: Optional[Path] = typer.Option(None, help="weights folder (default: train or reuse the cached one)"),
    model_path: Optional[str] = typer.Option(None, help="diffusers Stable-Diffusion-1.x directory for roentgen"),
    data: Optional[str] = typer.Option(None, help="dataset the model is trained on (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    resolution: Optional[int] = typer.Option(None, help="square image size in pixels (default 64)"),
    seed: Optional[int] = typer.Option(None, help="seed (default 0)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file with the same settings"),
    settings: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Generate N images of one task and condition into a folder of PNGs."""
    from cxrbench.benchmark.training import generate_images

    cfg = base_config(config).with_overrides(
        models=model, tasks=task, data=data, data_root=data_root, resolution=resolution, seed=seed, device=device
    )
    if checkpoint is not None:
        cfg = cfg.with_overrides(checkpoints={**cfg.checkpoints, model: str(checkpoint)})
    cfg = with_settings(with_model_path(cfg, model_path), settings)
    with writing_to(out, cfg.cache_dir):
        written = generate_images(cfg, model, task, condition, n, out, reporter())
    typer.echo(f"wrote {written} images to {out}")
