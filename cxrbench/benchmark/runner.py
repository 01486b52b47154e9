"""The benchmark loop: real data -> feature spaces -> each model x task x condition -> metric rows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cxrbench import __version__
from cxrbench.benchmark.manifest import package_versions
from cxrbench.benchmark.model_store import ready_adapter
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.results import OK, UNAVAILABLE, ResultRow, append_row, read_rows
from cxrbench.benchmark.run_dir import RunDirectory, atomic_write_text
from cxrbench.benchmark.seeds import derive_seed
from cxrbench.config import RunConfig
from cxrbench.data import DATASETS
from cxrbench.data.dataset import SPLITS, Dataset
from cxrbench.data.image_set import ImageSet
from cxrbench.errors import AdapterError, ConfigError, UnavailableError
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.table import build_leaderboard
from cxrbench.metrics import FEATURE_EXTRACTORS, METRICS
from cxrbench.metrics.bootstrap import bootstrap_interval
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.metrics.metric import Metric
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter
from cxrbench.tasks import TASKS
from cxrbench.tasks.task import Condition


@dataclass
class RunSummary:
    """What a finished run produced (the CLI prints it)."""

    run_dir: RunDirectory
    rows: list[ResultRow]
    manifest: dict = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} was asked for but no CUDA device is visible; use --device cpu or auto")
    return torch.device(name)


def build_dataset(config: RunConfig) -> Dataset:
    """The dataset named in the config, with its root and options."""
    options = dict(config.data_options)
    if config.data_root is not None:
        options["root"] = config.data_root
    return DATASETS.build(config.data, options)[0]


def load_splits(dataset: Dataset, resolution: int, cache_dir: Path, reporter: Reporter) -> dict[str, ImageSet]:
    """The train, val and test splits at ``resolution``."""
    splits = {}
    with reporter.step("loading real images", len(SPLITS)) as update:
        for i, split in enumerate(SPLITS):
            splits[split] = dataset.load(split, resolution, cache_dir)
            update(i + 1, len(SPLITS), split)
    return splits


def real_halves(test: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """The test split cut by patient into the metrics' reference set and the held-out set."""
    return test.split_by_patient(derive_seed(seed, "test-halves"))


def run_conditions(config: RunConfig) -> list[Condition]:
    """Both conditions of every selected task, with the run's prompt style and meaning of absent."""
    return [c for name in TASKS.resolve(config.tasks)
            for c in TASKS.get(name).conditions(config.prompt_style, config.absent)]


def fit_context(config: RunConfig, model: str, train: ImageSet, holdout: ImageSet, device: torch.device,
                progress) -> FitContext:
    """What ``model`` may train on; its seed depends only on the run seed and its name."""
    return FitContext(train=train, holdout=holdout, conditions=tuple(run_conditions(config)),
                      resolution=config.resolution, device=device, seed=derive_seed(config.seed, model, "fit"),
                      progress=progress)


def collect_images(adapter: ModelAdapter, model: str, condition: Condition, n: int, seed: int,
                   batch_size: int, resolution: int) -> torch.Tensor:
    """All ``n`` images of one sample set, checked against the adapter contract."""
    batches = []
    for batch in adapter.generate(condition, n, seed, batch_size):
        if not isinstance(batch, torch.Tensor) or batch.dtype != torch.uint8 or batch.ndim != 4 \
                or tuple(batch.shape[1:]) != (1, resolution, resolution):
            got = f"{batch.dtype} {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise AdapterError(f"model {model!r} yielded {got} for {condition.key}; adapters must yield "
                               f"uint8 tensors [B, 1, {resolution}, {resolution}]")
        batches.append(batch.cpu())
    images = torch.cat(batches) if batches else torch.empty(0, 1, resolution, resolution, dtype=torch.uint8)
    if images.shape[0] != n:
        raise AdapterError(f"model {model!r} yielded {images.shape[0]} images for {condition.key}, asked for {n}")
    return images


def run_benchmark(config: RunConfig, reporter: Reporter | None = None) -> RunSummary:
    """Run every selected model on every selected task and condition; write the run directory."""
    reporter = reporter or Reporter()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    model_names = MODELS.resolve(config.models)
    tasks = [TASKS.get(name) for name in TASKS.resolve(config.tasks)]
    metrics: list[Metric] = [METRICS.get(name)() for name in METRICS.resolve(config.metrics)]
    device = resolve_device(config.device)
    dataset = build_dataset(config)
    run_dir = RunDirectory(config.out)
    run_dir.prepare(config.comparable(), config.resume)
    manifest = {"cxrbench_version": __version__, "config": config.to_dict(), "comparable_config": config.comparable(),
                "versions": package_versions(), "dataset": dataset.describe(), "device": str(device),
                "models": {}, "feature_spaces": {}, "timings_s": timings}
    atomic_write_text(run_dir.manifest, json.dumps(manifest, indent=2, default=str))

    splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    manifest["dataset"] = dataset.describe()  # now with the files skipped while loading
    reference, holdout = real_halves(splits["test"], config.seed)
    timings["load_data"] = time.perf_counter() - started

    spaces = _prepare_feature_spaces(metrics, config, device, dataset, splits, reporter, manifest)
    real_outputs = {name: ex.extract(reference.images) for name, ex in spaces.items()
                    if isinstance(ex, FeatureExtractor)}
    timings["feature_spaces"] = time.perf_counter() - started - timings["load_data"]

    selected = (set(model_names), {t.name for t in tasks}, {m.name for m in metrics})
    done = _reusable_rows(run_dir, spaces, config.resolution, selected)
    conditions = run_conditions(config)
    for model in model_names:
        t0 = time.perf_counter()
        options = config.model_options.get(model, {})
        adapter, full_options = MODELS.build(model, options)
        with reporter.step(f"preparing {model}") as update:
            context = fit_context(config, model, splits["train"], holdout, device, update)
            weights = ready_adapter(model, adapter, full_options, context, config.checkpoints.get(model),
                                    config.cache_dir, dataset.fingerprint())
        manifest["models"][model] = {"options": full_options, "weights": weights,
                                     "conditioning": adapter.conditioning.value,
                                     "sample_seeds": {c.key: derive_seed(config.seed, model, c.key) for c in conditions}}
        with reporter.step(f"{model}: generate and score", len(conditions)) as update:
            for i, condition in enumerate(conditions):
                update(i, len(conditions), condition.key)
                _score_cell(model, adapter, condition, config, run_dir, reference, spaces, real_outputs,
                            metrics, done, dataset.name)
            update(len(conditions), len(conditions), "")
        timings[f"model:{model}"] = time.perf_counter() - t0

    rows = read_rows(run_dir.results)
    atomic_write_text(run_dir.leaderboard, render_markdown(build_leaderboard(rows)))
    timings["total"] = time.perf_counter() - started
    atomic_write_text(run_dir.manifest, json.dumps(manifest, indent=2, default=str))
    return RunSummary(run_dir, rows, manifest)


def _prepare_feature_spaces(metrics: list[Metric], config: RunConfig, device: torch.device, dataset: Dataset,
                            splits: dict[str, ImageSet], reporter: Reporter,
                            manifest: dict) -> dict[str, FeatureExtractor | UnavailableError]:
    """Each feature space the metrics need, ready, or the reason it cannot be used here."""
    spaces: dict[str, FeatureExtractor | UnavailableError] = {}
    for name in dict.fromkeys(m.feature_space for m in metrics):
        extractor, _ = FEATURE_EXTRACTORS.build(name, config.feature_options.get(name, {}))
        with reporter.step(f"feature space {name}") as update:
            context = ExtractorContext(train=splits["train"], val=splits["val"], test=splits["test"], device=device,
                                       seed=derive_seed(config.seed, name), cache_dir=config.cache_dir,
                                       dataset_fingerprint=dataset.fingerprint(), progress=update)
            try:
                extractor.prepare(context)
            except UnavailableError as error:
                reporter.note(f"{name} unavailable: {error}")
                spaces[name] = error
                manifest["feature_spaces"][name] = {"status": UNAVAILABLE, "reason": str(error)}
                continue
        spaces[name] = extractor
        manifest["feature_spaces"][name] = extractor.report()
    return spaces


def _reusable_rows(run_dir: RunDirectory, spaces: dict, resolution: int,
                   selected: tuple[set, set, set]) -> set[tuple[str, str, str, str]]:
    """Keys of finished rows a resumed run keeps; the rest are dropped from results.jsonl and redone.

    A selected (model, task, metric) row is redone when it was unavailable (the cause may be fixed
    now, e.g. weights given) or when its feature space's identity (weights hash, preprocessing)
    differs from the one in use now. Rows outside the selection are kept as they are.
    """
    current = {name: {**space.identity(), "resolution": resolution} for name, space in spaces.items()
               if isinstance(space, FeatureExtractor)}
    models, tasks, metrics = selected

    def keep(row: ResultRow) -> bool:
        if row.model not in models or row.task not in tasks or row.metric not in metrics:
            return True
        return row.status == OK and row.comparability == current.get(row.feature_space)

    return {row.key for row in run_dir.keep_rows(keep)}


def _score_cell(model: str, adapter: ModelAdapter, condition: Condition, config: RunConfig, run_dir: RunDirectory,
                reference: ImageSet, spaces: dict, real_outputs: dict, metrics: list[Metric], done: set,
                dataset_name: str) -> None:
    """Generate (or reuse) one sample set and append a row per metric not yet in results.jsonl."""
    todo = [m for m in metrics if (model, condition.task, condition.presence.value, m.name) not in done]
    if not todo:
        return
    seed = derive_seed(config.seed, model, condition.key)  # recorded as sample_seeds in the manifest
    # The same real reference images for every model: up to n of the condition, drawn without replacement.
    candidates = reference.matching_index(condition)
    real_index = np.sort(np.random.default_rng(derive_seed(config.seed, condition.key)).permutation(candidates)
                         [:config.n_samples])
    unavailable_reason = None
    fake_outputs: dict[str, dict[str, np.ndarray]] = {}
    try:
        images = run_dir.read_samples(model, condition.task, condition.presence.value, seed, config.n_samples)
        if images is None:
            images = collect_images(adapter, model, condition, config.n_samples, seed, config.batch_size,
                                    config.resolution)
            run_dir.write_samples(model, condition.task, condition.presence.value, seed, images)
        for name, extractor in spaces.items():
            if isinstance(extractor, FeatureExtractor):
                fake_outputs[name] = extractor.extract(images)
    except UnavailableError as error:
        unavailable_reason = f"{model} cannot produce {condition.key}: {error}"
    for metric in todo:
        space = spaces[metric.feature_space]
        reason = unavailable_reason or (str(space) if isinstance(space, UnavailableError) else None)
        n_real = len(real_index) if metric.uses_real else 0
        smallest = min(config.n_samples, n_real) if metric.uses_real else config.n_samples
        if reason is None and smallest < metric.min_samples:
            reason = (f"{metric.name} needs at least {metric.min_samples} images per set, got {smallest}; "
                      "raise --n-samples or use a larger dataset")
        row = dict(model=model, task=condition.task, condition=condition.presence.value, metric=metric.name,
                   n_real=n_real, n_fake=config.n_samples, direction=metric.direction.value,
                   feature_space=metric.feature_space, dataset=dataset_name, seed=config.seed,
                   cxrbench_version=__version__, resolution=config.resolution,
                   reference=adapter.conditioning is Conditioning.REFERENCE)
        if reason:
            append_row(run_dir.results, ResultRow(**row, value=None, ci_low=None, ci_high=None,
                                                  status=UNAVAILABLE, reason=reason))
            continue
        real = {k: real_outputs[metric.feature_space][k][real_index] for k in metric.needs} if metric.uses_real else {}
        fake = {k: fake_outputs[metric.feature_space][k] for k in metric.needs}
        value = metric.compute(real, fake, condition)
        low, high = bootstrap_interval(metric, real, fake, condition, config.bootstrap,
                                       derive_seed(config.seed, model, condition.key, metric.name))
        identity = spaces[metric.feature_space].identity()
        append_row(run_dir.results, ResultRow(**row, value=value, ci_low=low, ci_high=high,
                                              comparability={**identity, "resolution": config.resolution}))
