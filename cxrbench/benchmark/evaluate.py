"""`cxrbench evaluate`: score a folder of synthetic images against a folder of real ones.

Like torch-fidelity's command line, but with cxrbench's metrics, intervals and results.jsonl rows
(model = --name, else the fake folder's name; task = "folder", condition = "all"). Only metrics that read real
and fake images alone are possible here: metrics that need labelled training data (the
cxr-evaluator space, utility, memorisation) are refused with the command that can compute them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cxrbench import __version__
from cxrbench.benchmark.manifest import package_versions
from cxrbench.benchmark.scoring import RowKey, score_row
from cxrbench.benchmark.setup import resolve_device
from cxrbench.benchmark.spaces import Spaces, condition_inputs, prepare_spaces, space_names
from cxrbench.config import RunConfig
from cxrbench.data.image_io import IMAGE_SUFFIXES, BadImageError, read_image
from cxrbench.data.image_set import ImageSet
from cxrbench.data.preprocess import read_squares
from cxrbench.errors import ConfigError, UnavailableError
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.table import build_leaderboard
from cxrbench.metric_ids import EVALUATE_METRICS, SEPARATOR
from cxrbench.metrics import FEATURE_EXTRACTORS, METRICS
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.metrics.metric import DistributionMetric, Metric, Scope
from cxrbench.metrics.selection import build_metric, check_spec, metric_for_id, resolve_specs
from cxrbench.results import OK, ResultRow, append_row, read_rows
from cxrbench.run_dir import RunDirectory, atomic_write_text
from cxrbench.run_lock import run_lock
from cxrbench.tasks import FINDINGS
from cxrbench.tasks.task import Condition, Presence

FOLDER_TASK, FOLDER_CONDITION = "folder", "all"
SPACE_THAT_WORKS_HERE = "pixels"  # needs neither weights nor labelled training data
SHOWN_REASONS = 3  # distinct reasons named in the nothing-scored message; the rows hold them all


@dataclass(frozen=True)
class EvaluateConfig:
    """Settings of one folder-vs-folder evaluation.

    features: the feature space of the distribution metrics (None: each metric's default).
    resolution: square size both folders are brought to (crop to square, bilinear); None: the
    first real image's shorter side. name: the model name of the rows (None: the fake folder's).
    """

    real: Path
    fake: Path
    out: Path
    metrics: tuple[str, ...] = EVALUATE_METRICS
    features: str | None = None
    resolution: int | None = None
    seed: int = 0
    bootstrap: int = 1000
    device: str = "auto"
    cache_dir: Path | None = None
    feature_options: dict = field(default_factory=dict)
    name: str | None = None  # the rows' model name (default: the fake folder's name)


def read_folder(folder: Path, resolution: int | None) -> torch.Tensor:
    """Every image file directly in ``folder`` (sorted by name) as uint8 [N, 1, S, S].

    Each image is cropped to its centred square, then resized (bilinear) to S; a file that cannot
    be decoded (or is above the pixel limit) is refused with its name: both folders are read before
    anything is written.
    """
    if not folder.is_dir():
        raise ConfigError(f"image folder {folder} does not exist; pass a folder of PNG/JPEG/DICOM files")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"{folder} holds no PNG, JPEG or DICOM files; pass the folder the images are in")
    try:
        first = read_image(paths[0])
        size = resolution or min(first.shape)
        return torch.from_numpy(read_squares(paths, size)[:, None])
    except BadImageError as error:
        raise BadImageError(f"{error}; replace or remove it (or move it out of {folder}) and rerun") from None


def _metrics(config: EvaluateConfig) -> list[Metric]:
    """The chosen metrics, in the chosen feature space; those needing training data are refused."""
    if config.features is not None:
        FEATURE_EXTRACTORS.entry(config.features)  # an unknown name is refused before any image is read
    built: dict[str, Metric] = {}
    for spec in resolve_specs(config.metrics):
        name, _ = check_spec(spec)
        cls = METRICS.get(name)
        if cls.scope is not Scope.CONDITION or cls.uses_train:
            raise ConfigError(
                f"metric {name!r} needs labelled training data or per-finding sets; "
                "compute it with `cxrbench run`, or drop it from --metrics"
            )
        # --features moves every distribution metric not given a space of its own (fd, fid; not fd@x)
        moved = config.features and issubclass(cls, DistributionMetric) and SEPARATOR not in spec
        metric = build_metric(spec, {spec: {"feature_space": config.features}} if moved else {})
        built.setdefault(metric.id, metric)
    return list(built.values())


def evaluate_folders(config: EvaluateConfig) -> list[ResultRow]:
    """Score ``config.fake`` against ``config.real``; write results.jsonl, leaderboard.md and manifest.json."""
    metrics = _metrics(config)  # names and both folders are checked before --out is touched
    real = read_folder(config.real, config.resolution)
    fake = read_folder(config.fake, real.shape[-1])
    device = resolve_device(config.device)
    empty = ImageSet(real[:0], torch.zeros(0, len(FINDINGS), dtype=torch.int8), (), ())
    context = ExtractorContext(empty, empty, empty, device, config.seed, config.cache_dir or Path(), "folders")
    spaces = prepare_spaces(space_names(metrics), config.feature_options, context)  # weights checked first too
    with run_lock(Path(config.out)):  # one process per output folder, as for `cxrbench run`
        run_dir = RunDirectory(config.out)
        run_dir.prepare(resume=False)  # the old contents are set aside, deleted once this one is written
        try:
            rows = _evaluate(config, metrics, spaces, real, fake, run_dir)
        except BaseException:
            run_dir.restore_previous()
            raise
        run_dir.discard_previous()
        return rows


def _evaluate(
    config: EvaluateConfig,
    metrics: list[Metric],
    spaces: Spaces,
    real: torch.Tensor,
    fake: torch.Tensor,
    run_dir: RunDirectory,
) -> list[ResultRow]:
    settings = RunConfig(
        n_samples=max(2, len(fake)),
        seed=config.seed,
        bootstrap=config.bootstrap,
        resolution=int(real.shape[-1]),
        cache_dir=config.cache_dir,
    )  # None: no row cache
    condition = Condition(FOLDER_TASK, Presence.PRESENT, (None,) * len(FINDINGS), "")
    key = RowKey(
        config.name or config.fake.name or "fake", FOLDER_TASK, FOLDER_CONDITION, False, config.real.name or "real"
    )
    outputs = {
        name: (cached_extract(space, real, config.cache_dir), cached_extract(space, fake, config.cache_dir))
        for name, space in spaces.items()
        if not isinstance(space, UnavailableError)
    }
    for metric in metrics:
        row, _ = score_row(
            key,
            metric,
            spaces[metric.feature_space],
            lambda m=metric: condition_inputs(m, *outputs[m.feature_space], condition),
            settings,
        )
        append_row(run_dir.results, row)
    rows = read_rows(run_dir.results)
    atomic_write_text(run_dir.leaderboard, render_markdown(build_leaderboard(rows)))
    manifest = {
        "cxrbench_version": __version__,
        "command": "evaluate",
        "real": str(config.real),
        "fake": str(config.fake),
        "n_real": len(real),
        "n_fake": len(fake),
        "resolution": int(real.shape[-1]),
        "feature_spaces": {
            n: (s.report() if not isinstance(s, UnavailableError) else {"reason": str(s)}) for n, s in spaces.items()
        },
        "versions": package_versions(),
    }
    atomic_write_text(run_dir.manifest, json.dumps(manifest, indent=2, default=str))
    return rows


def nothing_scored(rows: list[ResultRow], config: EvaluateConfig) -> str | None:
    """One line saying why no row was scored and what to do, when every row is unavailable; else None.

    Each distinct reason is named once (its rows on stdout and in results.jsonl hold them all);
    when a distribution metric was among them and --features did not already pick it, the pixel
    space, which works anywhere, is offered as the other way out.
    """
    if not rows or any(row.status == OK for row in rows):
        return None
    reasons = list(dict.fromkeys(row.reason.replace("; ", ": ", 1) for row in rows))
    more = f"; and {len(reasons) - SHOWN_REASONS} more" if len(reasons) > SHOWN_REASONS else ""
    movable = any(isinstance(metric_for_id(row.metric), DistributionMetric) for row in rows)
    other = (
        f"; or score them in a space that works here with --features {SPACE_THAT_WORKS_HERE}"
        if movable and config.features != SPACE_THAT_WORKS_HERE
        else ""
    )
    return (
        f"nothing was scored, every metric is unavailable: {'; '.join(reasons[:SHOWN_REASONS])}{more}{other} "
        f"(the unavailable rows are in {RunDirectory(config.out).results})"
    )
