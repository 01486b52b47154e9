"""The command line: parse flags, build one RunConfig, call the core, print.

Heavy modules (torch, the runner) are imported inside commands, so `--help` and `list` stay fast.
User mistakes (CxrbenchError) print one line and exit with code 2; bugs stay tracebacks.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cxrbench import __version__
from cxrbench.errors import CxrbenchError, OutputFolderError
from cxrbench.names import closest, split_names

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="cxrbench: benchmark generative models of chest X-rays.",
)


class Kind(str, Enum):
    models = "models"
    tasks = "tasks"
    metrics = "metrics"
    datasets = "datasets"
    feature_extractors = "feature-extractors"


def _registry(kind: Kind):
    from cxrbench.data import DATASETS
    from cxrbench.metrics import FEATURE_EXTRACTORS, METRICS
    from cxrbench.models import MODELS
    from cxrbench.tasks import TASKS

    return {
        Kind.models: MODELS,
        Kind.tasks: TASKS,
        Kind.metrics: METRICS,
        Kind.datasets: DATASETS,
        Kind.feature_extractors: FEATURE_EXTRACTORS,
    }[kind]


@app.command("list")
def list_components(kind: Kind = typer.Argument(..., help="what to list")) -> None:
    """List registered components (built-in and plugins) without importing them."""
    for entry in _registry(kind).entries():
        source = "" if entry.source == "builtin" else f"  [{entry.source}]"
        typer.echo(f"{entry.name:<30} {entry.summary}{source}")
    if kind is Kind.metrics:
        from cxrbench.metric_ids import ALIASES, metric_id

        for name, alias in sorted(ALIASES.items()):
            typer.echo(f"{name:<30} alias of {metric_id(alias.metric, alias.space)} ({alias.display_name})")


# Errors of a write that the user can fix (permissions, a read-only or full disk, a quota).
WRITE_ERRNOS = {errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents or path in folder.parents  # parents: created with mkdir


@contextmanager
def _writing_to(out: Optional[Path], cache: Optional[Path] = None):
    """Turn a failed write into the output folder or cache into one line naming the folder and the fix.

    Only the errno values in WRITE_ERRNOS, and only for files in (or above) those folders or for
    writes on open files (which carry no file name); every other OSError stays a traceback. What
    was finished before the failure stays: each row and sample set is written atomically.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        folders = {name: Path(os.path.abspath(f)) for name, f in (("out", out), ("cache", cache)) if f is not None}
        target = Path(os.path.abspath(error.filename)) if error.filename else None
        where = next((name for name, folder in folders.items() if target is None or _within(target, folder)), None)
        if where is None:
            raise
        folder = folders[where] if target is None else (target if target.is_dir() else target.parent)
        other = "point CXRBENCH_CACHE at another folder" if where == "cache" else "choose another --out"
        problem = (
            "no space left (disk full or quota)"
            if error.errno in (errno.ENOSPC, errno.EDQUOT)
            else f"no permission to write ({error.strerror})"
        )
        fix = "free space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
        raise OutputFolderError(
            f"cannot write to {folder}: {problem}; {fix} or {other}, then rerun the same command "
            "(finished results are kept)"
        ) from None


def _base_config(config_file: Optional[Path]):
    from cxrbench.cache import default_cache_root
    from cxrbench.config import RunConfig, load_config

    base = load_config(config_file) if config_file else RunConfig()
    if base.cache_dir == RunConfig().cache_dir:
        base = base.with_overrides(cache_dir=default_cache_root())
    return _with_inception_weights(base, os.environ.get("CXRBENCH_INCEPTION_WEIGHTS"))


def _with_data_option(config, name: str, value: object):
    """``config`` with one dataset option set, unless ``value`` is None."""
    if value is None:
        return config
    return config.with_overrides(data_options={**config.data_options, name: value})


def _with_model_path(config, path: Optional[str]):
    """``config`` with roentgen's pipeline directory set, unless ``path`` is None."""
    if not path:
        return config
    options = {**config.model_options.get("roentgen", {}), "model_path": path}
    return config.with_overrides(model_options={**config.model_options, "roentgen": options})


def _unpublished_weights_notes(identities: dict[str, dict]) -> list[str]:
    """One note per feature space whose identity says its weights are not the published ones
    (``identities``: space -> a row's comparability, or the manifest's facts of that space)."""
    from cxrbench.metrics.feature_extractor import PUBLISHED_WEIGHTS_FIELD

    return [
        f"note: {space} ran with weights that are not its published ones (sha256 "
        f"{facts.get('weights_sha256', '')[:8]}...): its rows say {PUBLISHED_WEIGHTS_FIELD}: false and are not "
        "comparable with values published in that space"
        for space, facts in identities.items()
        if facts.get(PUBLISHED_WEIGHTS_FIELD) is False
    ]


FEATURE_OPTION_HELP = (
    "an option of a feature space, NAME.KEY=VALUE (repeatable), e.g. xrv-densenet.weights=PATH; "
    "VALUE is read as TOML (numbers, true/false), else as text; the same as "
    "[feature_options.NAME] KEY = VALUE in --config"
)


def feature_option(text: str) -> tuple[str, str, object]:
    """``"xrv-densenet.weights=/w.pt"`` -> ("xrv-densenet", "weights", "/w.pt"); a bad form is a one-line error."""
    from cxrbench.config import tomllib
    from cxrbench.errors import ConfigError

    target, equals, raw = text.partition("=")
    name, dot, key = target.strip().rpartition(".")
    if not equals or not dot or not name or not key:
        raise ConfigError(f"--feature-option {text!r} must look like NAME.KEY=VALUE, e.g. xrv-densenet.weights=PATH")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a path or other text, without quotes
    return name, key.strip(), value


def _with_feature_options(options: dict[str, dict], given: Optional[list[str]]) -> dict[str, dict]:
    """``options`` ([feature_options] tables) with the --feature-option settings on top."""
    from cxrbench.metrics import FEATURE_EXTRACTORS

    merged = {name: dict(table) for name, table in options.items()}
    for text in given or []:
        name, key, value = feature_option(text)
        FEATURE_EXTRACTORS.entry(name)  # a typo is refused ("did you mean ...?"), never ignored
        merged.setdefault(name, {})[key] = value
    return merged


def _with_data_and_spaces(
    config,
    data: Optional[str],
    data_root: Optional[str],
    on_bad_image: Optional[str],
    inception_weights: Optional[str],
    feature_options: Optional[list[str]],
):
    """``config`` with the dataset and feature-space flags that `run` and `validate-metrics` share
    (flags win over --config; None leaves a setting as it is)."""
    config = config.with_overrides(data=data, data_root=data_root)
    config = _with_data_option(_with_inception_weights(config, inception_weights), "on_bad_image", on_bad_image)
    if feature_options:
        config = config.with_overrides(feature_options=_with_feature_options(config.feature_options, feature_options))
    return config


def _with_inception_weights(config, path: Optional[str]):
    """``config`` with the FID Inception weights file set, unless ``path`` is None."""
    if not path:
        return config
    inception = {**config.feature_options.get("inception-v3", {}), "weights": path}
    return config.with_overrides(feature_options={**config.feature_options, "inception-v3": inception})


@app.command()
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
    batch_size: Optional[int] = typer.Option(None, help="generation batch size"),
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
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file with the same settings"),
) -> None:
    """Train (or load) the models, generate per-finding image sets, score them, write the leaderboard."""
    from cxrbench.benchmark.progress import Reporter
    from cxrbench.benchmark.runner import run_benchmark

    cfg = _base_config(config).with_overrides(
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
    )
    cfg = _with_data_and_spaces(cfg, data, data_root, on_bad_image, inception_weights, feature_options)
    cfg = _with_model_path(cfg, model_path)
    cfg = _with_samples(cfg, samples, models_given=models is not None or _sets_models(config))
    processes = _processes(cfg.device)
    with _writing_to(cfg.out, cfg.cache_dir):
        summary = run_benchmark(cfg, _reporter() if processes.is_main else Reporter(), processes)
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


PROGRESS_SECONDS = "CXRBENCH_PROGRESS_SECONDS"  # how often a log (no terminal) gets a progress line


def _reporter():
    """Progress for the user: bars in a terminal; in a log file, a timestamped line per step and every
    $CXRBENCH_PROGRESS_SECONDS (default 30) during long steps."""
    from cxrbench.benchmark.progress import terminal_or_log
    from cxrbench.errors import ConfigError

    text = os.environ.get(PROGRESS_SECONDS, "30")
    try:
        interval = float(text)
    except ValueError:
        interval = 0.0
    if not interval > 0:
        raise ConfigError(f"{PROGRESS_SECONDS}={text!r} must be a number of seconds above 0")
    return terminal_or_log(interval)


def _processes(device: str):
    """This process's place among those `accelerate launch` started (the only one without it)."""
    import torch

    from cxrbench.benchmark.distributed import Processes

    return Processes.from_accelerate(cpu=device == "cpu" or not torch.cuda.is_available())


SUMMARY_COLUMNS = 4


def _print_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    from cxrbench.leaderboard.table import build_leaderboard
    from cxrbench.leaderboard.text import header, number

    board = build_leaderboard(summary.rows)
    overview = board.overview
    # The headline metrics that have values; the full table is in leaderboard.md.
    shown = [i for i in range(len(overview.columns)) if any(overview.row(m)[i] is not None for m in overview.models)][
        :SUMMARY_COLUMNS
    ]
    view = Table(title="cxrbench: mean over tasks and conditions (all metrics: leaderboard.md)")
    view.add_column("rank")
    view.add_column("model", no_wrap=True)
    for i in shown:
        view.add_column(header(board, overview.columns[i]), justify="right")
    for model in overview.models:
        cells = overview.row(model)
        view.add_row(
            overview.rank_label(model), model, *(number(None if cells[i] is None else cells[i].value) for i in shown)
        )
    console = Console()
    console.print(view)
    for space, facts in summary.manifest.get("feature_spaces", {}).items():
        if "test_auroc" in facts:  # show how good the judge itself is
            aurocs = ", ".join(f"{finding} {value:.3f}" for finding, value in facts["test_auroc"].items())
            console.print(f"{space} test AUROC: {aurocs}")
    for note in _unpublished_weights_notes(summary.manifest.get("feature_spaces", {})):
        console.print(note, markup=False)
    total = summary.manifest.get("timings_s", {}).get("total", 0.0)
    console.print(
        f"wrote {summary.run_dir.results}, {summary.run_dir.leaderboard} and {summary.run_dir.manifest} "
        f"in {total:.0f} s"
    )


class Format(str, Enum):
    md = "md"
    csv = "csv"
    latex = "latex"
    html = "html"


@app.command()
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
        text = render_markdown(boards) if format is Format.md else render_latex(boards)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command()
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


@app.command()
def evaluate(
    real: Path = typer.Option(..., help="folder of real images (PNG, JPEG or DICOM)"),
    fake: Path = typer.Option(..., help="folder of synthetic images"),
    out: Path = typer.Option(..., help="folder for results.jsonl, leaderboard.md and manifest.json"),
    metrics: str = typer.Option(
        "fd,kid,precision,recall,density,coverage",
        help="metrics separated by commas, each NAME or NAME@SPACE (e.g. fd@xrv-densenet)",
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

    weights = inception_weights or os.environ.get("CXRBENCH_INCEPTION_WEIGHTS")
    inception = {**({"weights": weights} if weights else {}), **({} if inception_verify else {"verify": False})}
    spaces = _base_config(config_file).feature_options if config_file else {}
    if inception:
        spaces = {**spaces, "inception-v3": {**spaces.get("inception-v3", {}), **inception}}
    config = EvaluateConfig(
        real=real,
        fake=fake,
        out=out,
        metrics=split_names(metrics),
        features=features,
        resolution=resolution,
        seed=seed,
        bootstrap=bootstrap,
        device=device,
        cache_dir=default_cache_root(),
        name=name,
        feature_options=_with_feature_options(spaces, feature_options),
    )
    with _writing_to(out, config.cache_dir):
        rows = evaluate_folders(config)
    for row in rows:
        interval = "" if row.ci_low is None else f" [{number(row.ci_low)}, {number(row.ci_high)}]"
        shown = number(row.value) + interval if row.status == "ok" else f"unavailable: {row.reason}"
        typer.echo(f"{row.metric:<14} {row.feature_space:<14} {shown}")
    for note in _unpublished_weights_notes({r.feature_space: r.comparability for r in rows if r.status == "ok"}):
        typer.echo(note)
    typer.echo(f"wrote {out / 'results.jsonl'}")
    problem = nothing_scored(rows, config)
    if problem:  # the rows are written; the exit code says that none holds a value
        raise CxrbenchError(problem)


@app.command("export-references")
def export_references_command(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    out: Path = typer.Option(..., help="new or empty folder for TASK/CONDITION/*.png and references.csv"),
) -> None:
    """Write the real reference images each cell of a run was scored against (PNG, with a CSV listing)."""
    from cxrbench.benchmark.references import LISTING, export_references
    from cxrbench.cache import default_cache_root

    counts = export_references(run_dir, out, default_cache_root(), _reporter())
    for cell, n in counts.items():
        typer.echo(f"{cell}: {n} images")
    typer.echo(f"wrote {out} and {out / LISTING}")


@app.command("validate-metrics")
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
) -> None:
    """Sanity-check the metrics on a dataset, each in its feature space (floor, blur/noise, the noise model,
    the run's validity check, mode dropping, memorisation); exit 1 on a failure."""
    from cxrbench.benchmark.validation import validate_metrics
    from cxrbench.run_dir import atomic_write_text

    cfg = _base_config(config).with_overrides(resolution=resolution, seed=seed, device=device)
    cfg = _with_data_and_spaces(cfg, data, data_root, on_bad_image, inception_weights, feature_options)
    with _writing_to(out.parent, cfg.cache_dir):
        report = validate_metrics(cfg, n, _reporter())
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, report.markdown(command=" ".join(["cxrbench", *map(shlex.quote, sys.argv[1:])])))
    for check in report.checks:
        typer.echo(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    typer.echo(f"wrote {out}")
    if not report.passed:
        raise typer.Exit(1)


@app.command()
def train(
    model: str = typer.Argument(..., help="a trainable model name"),
    out: Path = typer.Option(..., help="folder for the checkpoint (safetensors + config.json)"),
    data: Optional[str] = typer.Option(None, help="dataset name (default: phantom)"),
    data_root: Optional[str] = typer.Option(None, help="dataset folder, for datasets on disk"),
    resolution: Optional[int] = typer.Option(None, help="square image size in pixels (default 64)"),
    seed: Optional[int] = typer.Option(None, help="training seed (default 0)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file (model_options are read from it)"),
) -> None:
    """Train one model on the training split and save its checkpoint."""
    from cxrbench.benchmark.training import train_model

    cfg = _base_config(config).with_overrides(
        models=model, data=data, data_root=data_root, resolution=resolution, seed=seed, device=device
    )
    with _writing_to(out, cfg.cache_dir):
        path = train_model(cfg, model, out, _reporter())
    typer.echo(f"saved {model} to {path}")


@app.command()
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
) -> None:
    """Generate N images of one task and condition into a folder of PNGs."""
    from cxrbench.benchmark.training import generate_images

    cfg = _base_config(config).with_overrides(
        models=model, tasks=task, data=data, data_root=data_root, resolution=resolution, seed=seed, device=device
    )
    if checkpoint is not None:
        cfg = cfg.with_overrides(checkpoints={**cfg.checkpoints, model: str(checkpoint)})
    cfg = _with_model_path(cfg, model_path)
    with _writing_to(out, cfg.cache_dir):
        written = generate_images(cfg, model, task, condition, n, out, _reporter())
    typer.echo(f"wrote {written} images to {out}")


data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")
app.add_typer(data_app, name="data")


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

    from cxrbench.benchmark.runner import build_dataset
    from cxrbench.tasks import FINDINGS

    cfg = _with_data_option(_base_config(config).with_overrides(data=data, data_root=data_root), "view", view)
    dataset = build_dataset(cfg)
    console = Console()
    problems = dataset.check()  # first: the counts then leave the bad files out
    counts = dataset.counts()
    left_out = f" ({len(problems)} bad {'file' if len(problems) == 1 else 'files'} left out)" if problems else ""
    table = Table(title=f"{cfg.data}: images present / absent / uncertain per split{left_out}")
    for column in ("split", "images", "patients", *FINDINGS):
        table.add_column(column, justify="right")
    for split, facts in counts.items():
        cells = [f"{facts[f]['present']} / {facts[f]['absent']} / {facts[f]['uncertain']}" for f in FINDINGS]
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


reader_app = typer.Typer(no_args_is_help=True, help="Reader studies: prepare, serve, import (docs/reader-study.md).")
app.add_typer(reader_app, name="reader-study")


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


# Feature spaces whose published weights are a pickle: what converts them to a safetensors file.
CONVERTERS = {"xrv-densenet": "cxrbench.metrics.xrv_weights:convert_xrv_weights"}


@app.command("convert-weights")
def convert_weights(
    space: str = typer.Argument(..., help="the feature space whose weights these are: " + ", ".join(CONVERTERS)),
    source: Path = typer.Argument(..., help="the published weights file (read without unpickling any code)"),
    destination: Path = typer.Argument(..., help="the safetensors file to write"),
) -> None:
    """Convert published pickled weights into a safetensors file (nothing outside an allow-list is unpickled)."""
    import importlib

    from cxrbench.errors import ConfigError

    if space not in CONVERTERS:
        raise ConfigError(
            f"convert-weights knows {', '.join(CONVERTERS)}, not {space!r}; the other spaces read safetensors directly"
        )
    module, _, function = CONVERTERS[space].partition(":")
    with _writing_to(destination.parent):
        weights = getattr(importlib.import_module(module), function)(source, destination)
    typer.echo(
        f"wrote {destination} ({len(weights.tensors)} tensors from {weights.layout} {source}, sha256 "
        f"{weights.source_sha256[:12]}...); use it with --feature-option {space}.weights={destination}"
    )


@app.command()
def env() -> None:
    """Print versions and devices, for bug reports."""
    import torch

    from cxrbench.benchmark.manifest import package_versions

    for name, value in package_versions().items():
        typer.echo(f"{name:<16} {value}")
    typer.echo(f"{'cuda':<16} {torch.cuda.is_available()} ({torch.cuda.device_count()} devices)")


@app.callback(invoke_without_command=True)
def _version(version: bool = typer.Option(False, "--version", help="print the version and exit")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def _click_classes(name: str) -> tuple[type, ...]:
    """The exception classes called ``name`` of the click that typer uses: recent typer vendors its
    own copy (``typer._click``, with Abort in ``typer.exceptions``), older ones use click itself."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_line(error) -> str:
    """A usage error as one line: what is wrong, the closest valid word, where to read more."""
    import re

    ctx = getattr(error, "ctx", None)
    where = ctx.command_path.replace(ctx.find_root().info_name or "", "cxrbench", 1) if ctx else "cxrbench"
    message = " ".join(error.format_message().split())
    possibilities = getattr(error, "possibilities", None)
    if possibilities is not None and getattr(error, "option_name", None):  # an unknown option
        close = closest(error.option_name, possibilities)
        message = f"no such option {error.option_name}" + (f"; did you mean {close}?" if close else "")
    choice = re.search(r"'([^']*)' is not one of ((?:'[^']*'(?:, )?)+)", message)
    if choice:  # an unknown choice: name the closest one
        options = re.findall(r"'([^']*)'", choice.group(2))
        close = closest(choice.group(1), options)
        message = message.replace("Value error, ", "") + (f" Did you mean {close!r}?" if close else "")
    return f"{message} (see `{where} --help`)"


def main() -> None:
    """Entry point: CxrbenchError and usage errors -> one line on stderr, exit code 2."""
    usage, help_only, aborted = (_click_classes(name) for name in ("ClickException", "NoArgsIsHelpError", "Abort"))
    try:
        code = app(standalone_mode=False)
    except CxrbenchError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except help_only as error:  # a command group without its subcommand: show what it has
        error.show()
        sys.exit(error.exit_code)
    except usage as error:
        typer.echo(f"error: {usage_line(error)}", err=True)
        sys.exit(error.exit_code)
    except aborted:
        typer.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
