"""The benchmark loop: real data -> feature spaces -> each model x task x condition -> metric rows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cxrbench import __version__
from cxrbench.benchmark.distributed import Processes
from cxrbench.benchmark.manifest import package_versions
from cxrbench.benchmark.model_store import check_checkpoint, ready_adapter
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.row_cache import cached_model_values
from cxrbench.benchmark.scoring import RowKey, model_row, score_row, unavailable_row
from cxrbench.benchmark.setup import (
    build_dataset,
    build_metrics,
    fit_context,
    load_splits,
    real_halves,
    reference_index,
    resolve_device,
    run_conditions,
    run_tasks,
)
from cxrbench.benchmark.space_validity import (
    FAILED,
    SpaceVerdict,
    check_size,
    check_space,
    checked_spaces,
    make_probes,
    reads_distribution,
)
from cxrbench.benchmark.spaces import condition_inputs, finding_inputs, prepare_spaces, space_names
from cxrbench.config import RunConfig
from cxrbench.data.dataset import Dataset
from cxrbench.data.image_set import ImageSet
from cxrbench.errors import AdapterError, ConfigError, UnavailableError
from cxrbench.files import atomic_write_text
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.table import build_leaderboard
from cxrbench.leaderboard.text import weights_note
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.metrics.metric import BOTH, Metric, MetricInputs, ModelMetric, ModelMetricContext, Scope
from cxrbench.models import FLOOR_MODEL, MODELS
from cxrbench.models.adapter import Conditioning, ModelAdapter
from cxrbench.models.samples import SampleFolderAdapter, SampleSource
from cxrbench.results import OK, UNAVAILABLE, ResultRow, append_row, read_rows, row_line
from cxrbench.run_dir import REAL_OWNER, RunDirectory
from cxrbench.run_lock import run_lock
from cxrbench.sample_sets import finish_set, read_span, spans, write_span
from cxrbench.seeds import derive_seed
from cxrbench.tasks import TASKS
from cxrbench.tasks.task import Condition, Task


@dataclass
class RunSummary:
    """What a finished run produced (the CLI prints it)."""

    run_dir: RunDirectory
    rows: list[ResultRow]
    manifest: dict = field(default_factory=dict)


def collect_images(
    adapter: ModelAdapter,
    model: str,
    condition: Condition,
    indices: range,
    seed: int,
    batch_size: int,
    resolution: int,
) -> torch.Tensor:
    """Images ``indices`` of the sample set made with ``seed``, checked against the adapter contract."""
    batches = []
    for batch in adapter.generate(condition, indices, seed, batch_size):
        if (
            not isinstance(batch, torch.Tensor)
            or batch.dtype != torch.uint8
            or batch.ndim != 4
            or tuple(batch.shape[1:]) != (1, resolution, resolution)
        ):
            got = f"{batch.dtype} {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise AdapterError(
                f"model {model!r} yielded {got} for {condition.key}; adapters must yield "
                f"uint8 tensors [B, 1, {resolution}, {resolution}]"
            )
        batches.append(batch.cpu())
    images = torch.cat(batches) if batches else torch.empty(0, 1, resolution, resolution, dtype=torch.uint8)
    if images.shape[0] != len(indices):
        raise AdapterError(
            f"model {model!r} yielded {images.shape[0]} images for {condition.key}, asked for {len(indices)}"
        )
    return images


def set_seed(run_seed: int, model: str, condition: Condition) -> int:
    """The seed of a model's sample set for ``condition`` (the manifest's ``sample_seeds``); image i of the set
    is drawn from ``seeds.image_seed(set seed, i)``."""
    return derive_seed(run_seed, model, condition.key)


def run_models(config: RunConfig) -> list[str]:
    """The selected models, then the pre-generated sets, plus the real-vs-real floor unless ``floor`` is off.

    ``models = ()`` runs the sets alone (what the CLI chooses for --samples without --models).
    """
    if not config.models and not config.samples:
        raise ConfigError("no models selected; name models with --models, or pre-generated sets with --samples")
    names = list(MODELS.resolve(config.models)) if config.models else []
    names += [name for name in config.samples if name not in names]
    return names + [FLOOR_MODEL] if config.floor and FLOOR_MODEL not in names else names


def sample_sources(config: RunConfig) -> dict[str, SampleSource]:
    """Each pre-generated set's source (its path checked now; the manifest's digests list its files next,
    so a bad folder or CSV stops the run before any work)."""
    return {name: SampleSource(name, Path(path).expanduser()) for name, path in config.samples.items()}


def build_adapter(model: str, config: RunConfig, sources: dict[str, SampleSource]) -> tuple[ModelAdapter, dict]:
    """The adapter of a registered model (with its options) or of a pre-generated set."""
    if model in sources:
        return SampleFolderAdapter(sources[model]), {"samples": str(sources[model].path)}
    return MODELS.build(model, config.model_options.get(model, {}))


@dataclass
class Scoring:
    """What every cell of a run is scored against (built once per run)."""

    config: RunConfig
    run_dir: RunDirectory
    metrics: list[Metric]
    spaces: dict[str, FeatureExtractor | UnavailableError]
    reference: ImageSet
    train: ImageSet
    real_outputs: dict[str, dict[str, np.ndarray]]
    real_index: dict[Condition, np.ndarray]  # the reference rows of each condition
    train_outputs: dict[str, dict[str, np.ndarray]]
    done: set
    dataset: str
    device: torch.device
    processes: Processes
    validity: dict[str, SpaceVerdict] = field(default_factory=dict)  # space -> its verdict on this dataset

    def ready(self, space: str) -> FeatureExtractor | None:
        extractor = self.spaces.get(space)
        return extractor if isinstance(extractor, FeatureExtractor) else None


def run_benchmark(
    config: RunConfig, reporter: Reporter | None = None, processes: Processes = Processes()
) -> RunSummary:
    """Run every selected model on every selected task and condition; write the run directory.

    ``processes``: the processes `accelerate launch` started; all of them call this with the same
    config. The main process holds the run directory's lock and writes the rows, the manifest and
    the leaderboard; spans of the sample sets are shared out between the processes (benchmark/distributed.py).
    """
    dataset = build_dataset(config)
    plan = RunPlan(
        run_models(config),
        [TASKS.get(name) for name in run_tasks(config, dataset.findings)],
        build_metrics(config),
        dataset,
    )
    plan.dataset.describe()  # reads and checks its table: a bad dataset stops before --out is touched
    for model in plan.models:  # a mistyped option stops the run here, not after the data and the spaces
        if model in MODELS:
            MODELS.check_options(model, config.model_options.get(model, {}))
    for space, options in config.feature_options.items():
        FEATURE_EXTRACTORS.check_options(space, options)
    run_dir = RunDirectory(config.out)
    if not processes.is_main:
        return _run(config, plan, reporter or Reporter(), processes, run_dir)
    with run_lock(run_dir.root):  # also taken by a resumed run, so two never write one folder
        try:
            return _run(config, plan, reporter or Reporter(), processes, run_dir)
        except BaseException:
            run_dir.restore_previous()  # a --no-resume that stopped before its first span
            raise


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, resolved from its config (unknown names are refused while building it)."""

    models: list[str]
    tasks: list[Task]
    metrics: list[Metric]
    dataset: Dataset


def _run(
    config: RunConfig, plan: RunPlan, reporter: Reporter, processes: Processes, run_dir: RunDirectory
) -> RunSummary:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    model_names, tasks, metrics, dataset = plan.models, plan.tasks, plan.metrics, plan.dataset
    sources = sample_sources(config)
    device = processes.device(resolve_device(config.device))
    # --retrain: no reference weights; the main process trains, the others then read what it cached
    zoo, retrain = (None if config.retrain else config.zoo), config.retrain and processes.is_main
    manifest = {
        "cxrbench_version": __version__,
        "config": config.to_dict(),
        "comparable_config": config.comparable(),
        "versions": package_versions(),
        "dataset": dataset.describe(),
        "device": str(device),
        "processes": processes.count,
        "models": {},
        "feature_spaces": {},
        "space_validity": {},
        "metrics": {m.id: m.schema() for m in metrics},
        "timings_s": timings,
        "samples": {name: source.digest for name, source in sources.items()},
    }
    if processes.is_main:
        for folder in run_dir.recover():
            reporter.note(f"put back the run that an interrupted --no-resume had set aside in {folder.name}")
        unlabelled = [t for t in TASKS.resolve(config.tasks) if t not in dataset.findings]  # only with "all"
        if unlabelled:
            reporter.note(f"tasks {', '.join(unlabelled)} left out: dataset {dataset.name} does not label them")
        if config.resume:  # before any work: a run made with other settings or data is refused
            recorded = run_dir.check_resume(config.comparable(), manifest["dataset"], manifest["samples"])
            manifest["samples"] = {**recorded, **manifest["samples"]}  # kept: its rows stay in the folder

    # Everything the new run needs is checked (data decoded, feature spaces and checkpoints ready)
    # before the folder is touched: a --no-resume sets the old run aside only then.
    with processes.main_first():  # rendering or decoding fills the dataset cache once
        splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    manifest["dataset"] = dataset.describe()  # now with the files skipped while loading
    reference, holdout = real_halves(splits["test"], config.seed)
    timings["load_data"] = time.perf_counter() - started

    with processes.main_first():  # the evaluator is trained once and cached, the real features too
        spaces = _prepare_feature_spaces(metrics, config, device, dataset, splits, reporter, manifest, zoo, retrain)
        ready = {name: ex for name, ex in spaces.items() if isinstance(ex, FeatureExtractor)}
        with reporter.step("real features") as update:
            real_outputs = {name: cached_extract(ex, reference.images, config.cache_dir) for name, ex in ready.items()}
            needs_train = {m.feature_space for m in metrics if m.uses_train} & set(ready)
            train_outputs = {
                name: cached_extract(ready[name], splits["train"].images, config.cache_dir) for name in needs_train
            }
            update(1, 1, "")
    validity = (
        _check_validity(
            metrics,
            spaces,
            real_outputs,
            reference,
            holdout,
            splits["train"],
            config,
            device,
            dataset.name,
            reporter,
            manifest,
        )
        if processes.is_main
        else {}
    )  # only it writes rows
    for model in model_names:
        check_checkpoint(model, config.checkpoints.get(model))
    with processes.main_first():  # the others wait until the folder is ready (and old work set aside)
        if processes.is_main:
            run_dir.prepare(config.resume)
            atomic_write_text(run_dir.manifest, json.dumps(manifest, indent=2, default=str))
    conditions = run_conditions(config, dataset.findings)
    real_index = {condition: reference_index(reference, condition, config) for condition in conditions}
    if processes.is_main:  # kept in the run folder for `cxrbench compare`
        for condition, index in real_index.items():
            for name, outputs in real_outputs.items():
                run_dir.write_features(
                    name,
                    REAL_OWNER,
                    condition.task,
                    condition.presence.value,
                    {k: v[index] for k, v in outputs.items()},
                )
    timings["feature_spaces"] = time.perf_counter() - started - timings["load_data"]

    selected = (set(model_names), {t.name for t in tasks}, {m.id for m in metrics})
    with processes.main_first():  # the main process drops stale rows; the others read what is left
        done = (
            _reusable_rows(run_dir, spaces, metrics, config.resolution, selected, validity)
            if processes.is_main
            else {row.key for row in read_rows(run_dir.results)}
        )
    scoring = Scoring(
        config,
        run_dir,
        metrics,
        spaces,
        reference,
        splits["train"],
        real_outputs,
        real_index,
        train_outputs,
        done,
        dataset.name,
        device,
        processes,
        validity,
    )
    for model in model_names:
        t0 = time.perf_counter()
        adapter, full_options = build_adapter(model, config, sources)
        with reporter.step(f"preparing {model}") as update, processes.main_first():  # trained once, then cached
            context = fit_context(config, model, splits["train"], holdout, device, update)
            weights = ready_adapter(
                model,
                adapter,
                full_options,
                context,
                config.checkpoints.get(model),
                config.cache_dir,
                dataset.fingerprint(),
                zoo,
                retrain,
            )
        _note_stale_reference(reporter, model, weights)
        manifest["models"][model] = {
            "options": full_options,
            "settings": adapter.training_settings(),
            "weights": weights,
            "conditioning": adapter.conditioning.value,
            "component": MODELS.identity(model) if model in MODELS else {"source": "samples"},
            "sample_seeds": {c.key: set_seed(config.seed, model, c) for c in conditions},
        }
        with reporter.step(f"{model}: generate and score", len(conditions) + 1) as update:
            _score_model(model, adapter, conditions, scoring, update)
        manifest["models"][model]["generation"] = _generation_summaries(run_dir, model, conditions)
        timings[f"model:{model}"] = time.perf_counter() - t0

    processes.wait()  # every row is written
    rows = read_rows(run_dir.results)
    if processes.is_main:
        note = weights_note(manifest)
        atomic_write_text(run_dir.leaderboard, render_markdown(build_leaderboard(rows), [note] if note else []))
        timings["total"] = time.perf_counter() - started
        atomic_write_text(run_dir.manifest, json.dumps(manifest, indent=2, default=str))
        run_dir.discard_previous()  # a run that made no sample set (every model unavailable) ends here
    return RunSummary(run_dir, rows, manifest)


def _note_stale_reference(reporter: Reporter, name: str, weights: dict) -> None:
    """Tell the user when ``name``'s reference weights were trained by other code than its own: they are still
    the weights they were (their sha256 is in the manifest), so they are used, and said to be."""
    if weights.get("source") == "reference weights" and not weights["code_matches"]:
        reporter.note(
            f"{name}: reference weights trained by an earlier version of its code (manifest: code_matches "
            "false); --retrain trains with this one, `cxrbench zoo rebuild` renews the set"
        )


def _generation_summaries(run_dir: RunDirectory, model: str, conditions: list[Condition]) -> dict:
    """Per condition: seconds per image and the adapter's summary (e.g. LCO success rate)."""
    summaries = {}
    for condition in conditions:
        facts = run_dir.read_generation(model, condition.task, condition.presence.value)
        if facts is not None:
            summaries[condition.key] = {"seconds_per_image": facts["seconds_per_image"], **facts["summary"]}
    return summaries


def _prepare_feature_spaces(
    metrics: list[Metric],
    config: RunConfig,
    device: torch.device,
    dataset: Dataset,
    splits: dict[str, ImageSet],
    reporter: Reporter,
    manifest: dict,
    zoo: Path | None,
    retrain: bool,
) -> dict[str, FeatureExtractor | UnavailableError]:
    """Each feature space the metrics need, ready, or the reason it cannot be used here (``zoo``: reference
    weights the evaluator may load; ``retrain``: train it even when cached weights match)."""
    context = ExtractorContext(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        device=device,
        seed=config.seed,
        cache_dir=config.cache_dir,
        dataset_fingerprint=dataset.fingerprint(),
        zoo=zoo,
        retrain=retrain,
    )
    spaces = prepare_spaces(space_names(metrics), config.feature_options, context, reporter.step)
    for name, space in spaces.items():
        if isinstance(space, UnavailableError):
            reporter.note(f"{name} unavailable: {space}")
            manifest["feature_spaces"][name] = {"status": UNAVAILABLE, "reason": str(space)}
        else:
            manifest["feature_spaces"][name] = space.report()
            _note_stale_reference(reporter, name, manifest["feature_spaces"][name].get("weights_source", {}))
    return spaces


def _check_validity(
    metrics: list[Metric],
    spaces: dict,
    real_outputs: dict,
    reference: ImageSet,
    holdout: ImageSet,
    train: ImageSet,
    config: RunConfig,
    device: torch.device,
    dataset: str,
    reporter: Reporter,
    manifest: dict,
) -> dict[str, SpaceVerdict]:
    """The verdict of every ready space a distribution metric reads (benchmark/space_validity.py),
    recorded in the manifest; a failed space is also a note to the user."""
    names = checked_spaces(metrics, spaces)
    if not names:
        return {}
    started = time.perf_counter()
    with reporter.step("feature-space validity", len(names)) as update:
        n = check_size(config.n_samples, config.validity_n, len(reference), len(holdout))
        probes = make_probes(reference, holdout, train, n, config.seed, config.batch_size, device)
        verdicts = {}
        for i, name in enumerate(names):
            update(i, len(names), name)
            verdicts[name] = check_space(name, spaces[name], real_outputs[name]["features"], probes, config.cache_dir)
        update(len(names), len(names), "")
    for name, verdict in verdicts.items():
        manifest["space_validity"][name] = verdict.report()
        if verdict.verdict == FAILED:
            reporter.note(
                f"feature space {name} failed its validity check on {dataset} ({verdict.detail()}); its "
                "columns are marked and not used to rank"
            )
    manifest["timings_s"]["space_validity"] = time.perf_counter() - started
    return verdicts


def _with_validity(row: ResultRow, metric: Metric, validity: dict[str, SpaceVerdict]) -> ResultRow:
    """``row`` with the verdict of its feature space, when it is a distribution metric's and the space has one."""
    verdict = validity.get(metric.feature_space) if reads_distribution(metric) else None
    return row if verdict is None else verdict.stamp(row)


def _identity(metric: Metric, spaces: dict) -> dict | None:
    """The identity a metric's rows carry: its feature space's, or a model-scope metric's own."""
    if isinstance(metric, ModelMetric):
        return metric.identity()
    space = spaces.get(metric.feature_space)
    return space.identity() if isinstance(space, FeatureExtractor) else None


def _reusable_rows(
    run_dir: RunDirectory,
    spaces: dict,
    metrics: list[Metric],
    resolution: int,
    selected: tuple[set, set, set],
    validity: dict[str, SpaceVerdict],
) -> set[tuple[str, str, str, str]]:
    """Keys of finished rows a resumed run keeps; the rest are dropped from results.jsonl and redone.

    A selected (model, task, metric) row is redone when it was unavailable (the cause may be fixed
    now, e.g. weights given) or when its identity (feature space weights hash, preprocessing, a
    classifier recipe) differs from the one in use now. Rows outside the selection are kept as they are.
    A kept row of a distribution metric gets the verdict its space has now (rows of a run made before
    the check, or by another cxrbench version): the verdict belongs to the space on this data, not
    to the number, so it is restamped rather than the row redone.
    """
    current = json.loads(
        json.dumps(
            {
                m.id: {**identity, "resolution": resolution}
                for m in metrics
                if (identity := _identity(m, spaces)) is not None
            }
        )
    )  # as stored: lists, not tuples
    models, tasks, names = selected

    def keep(row: ResultRow) -> bool:
        if row.model not in models or row.task not in tasks or row.metric not in names:
            return True
        return row.status == OK and row.comparability == current.get(row.metric)

    kept = run_dir.keep_rows(keep)
    by_id = {m.id: m for m in metrics}
    stamped = [
        _with_validity(row, by_id[row.metric], validity)
        if row.metric in by_id and row.model in models and row.task in tasks
        else row
        for row in kept
    ]
    if stamped != kept:
        atomic_write_text(run_dir.results, "".join(row_line(row) for row in stamped))
    return {row.key for row in stamped}


def _score_model(model: str, adapter: ModelAdapter, conditions: list[Condition], scoring: Scoring, update) -> None:
    """Generate (or reuse) every sample set of a model and append the rows not yet in results.jsonl.

    Each set is split into spans of image indices (sample_sets.spans); the spans of all the model's sets
    are shared out between the processes, and each process generates its spans and extracts their
    features. The main process then gathers every set (the others' spans from the run folder, their
    features from the feature cache they filled) and scores it whole.
    """
    config, run_dir, processes = scoring.config, scoring.run_dir, scoring.processes
    todo = [
        (c, m)
        for c in conditions
        for m in scoring.metrics
        if m.scope is Scope.CONDITION and (model, c.task, c.presence.value, m.id) not in scoring.done
    ]
    todo_tasks = [
        (t, m)
        for t in dict.fromkeys(c.task for c in conditions)
        for m in scoring.metrics
        if m.scope is not Scope.CONDITION and (model, t, BOTH, m.id) not in scoring.done
    ]
    if not todo and not todo_tasks:
        return
    parts = spans(config.n_samples, config.batch_size)
    work = [(c, span) for c in conditions for span in parts]
    made: dict[tuple[Condition, int], tuple[torch.Tensor, dict]] = {}
    failed: dict[str, tuple[int, str]] = {}  # condition key -> (span start, reason)
    for position, (condition, span) in enumerate(work):
        if not processes.owns(position):
            continue
        update(position, len(work) + 1, f"{condition.key} {span.start}-{span.stop - 1}")
        try:
            images = _span_images(model, adapter, condition, span, scoring)
        except UnavailableError as error:
            failed[condition.key] = (span.start, f"{model} cannot produce {condition.key}: {error}")
            continue
        made[(condition, span.start)] = images, _extract(images, scoring)
    reasons: dict[str, tuple[int, str]] = {}
    for gathered in processes.gather(failed):  # the reason of the set's last failing span, whoever had it
        for key, (start, reason) in gathered.items():
            if key not in reasons or start > reasons[key][0]:
                reasons[key] = (start, reason)
    if not processes.is_main:
        return
    unavailable = {c: reasons[c.key][1] for c in conditions if c.key in reasons}
    images: dict[Condition, torch.Tensor] = {}
    outputs: dict[Condition, dict[str, dict[str, np.ndarray]]] = {}
    for condition in conditions:
        if condition not in unavailable:
            images[condition], outputs[condition] = _gathered_set(model, condition, parts, made, scoring)

    reference = adapter.conditioning is Conditioning.REFERENCE
    for condition in conditions:
        key = RowKey(model, condition.task, condition.presence.value, reference, scoring.dataset)
        for metric in [m for c, m in todo if c == condition]:
            if condition in unavailable:
                append_row(
                    run_dir.results,
                    _with_validity(
                        unavailable_row(key, metric, 0, config, unavailable[condition]), metric, scoring.validity
                    ),
                )
            else:
                _append(
                    scoring,
                    key,
                    metric,
                    lambda m=metric, c=condition: _condition_inputs(m, c, outputs[c], scoring),
                    images[condition],
                )
    update(len(work), len(work) + 1, "findings and model-level metrics")
    _score_tasks(model, reference, conditions, todo_tasks, images, outputs, unavailable, scoring, update)


def _span_images(
    model: str, adapter: ModelAdapter, condition: Condition, span: range, scoring: Scoring
) -> torch.Tensor:
    """Images ``span`` of a sample set from the run folder, or generated now and written there."""
    config, run_dir = scoring.config, scoring.run_dir
    seed = set_seed(config.seed, model, condition)
    folder = run_dir.sample_dir(model, condition.task, condition.presence.value)
    images = read_span(folder, seed, config.n_samples, span)
    if images is None:
        t0 = time.perf_counter()
        images = collect_images(adapter, model, condition, span, seed, config.batch_size, config.resolution)
        write_span(folder, seed, span, images, time.perf_counter() - t0, adapter.generation_log())
        run_dir.discard_previous()  # the new run has finished work of its own: the old one can go
    return images


def _extract(images: torch.Tensor, scoring: Scoring) -> dict[str, dict[str, np.ndarray]]:
    """The outputs of every ready feature space for ``images``, through the feature cache (so that the main
    process reads what another process extracted instead of extracting it again)."""
    return {
        name: cached_extract(extractor, images, scoring.config.cache_dir)
        for name in scoring.spaces
        if (extractor := scoring.ready(name)) is not None
    }


def _gathered_set(
    model: str, condition: Condition, parts: list[range], made: dict, scoring: Scoring
) -> tuple[torch.Tensor, dict[str, dict[str, np.ndarray]]]:
    """A whole set, its spans in index order (this process's from memory, the others' from the run folder and
    the feature cache); written as a finished set with its features (``cxrbench compare`` reads them)."""
    config, run_dir = scoring.config, scoring.run_dir
    where = (model, condition.task, condition.presence.value)
    seed = set_seed(config.seed, model, condition)
    folder = run_dir.sample_dir(*where)
    pieces = []
    for span in parts:
        piece = made.get((condition, span.start))
        if piece is None:  # another process's span
            images = read_span(folder, seed, config.n_samples, span)
            if images is None:
                raise RuntimeError(f"span {span} of sample set {folder} is missing after its process finished")
            piece = images, _extract(images, scoring)
        pieces.append(piece)
    finish_set(folder, seed, parts)
    images = torch.cat([piece[0] for piece in pieces])
    outputs = {
        name: {key: np.concatenate([piece[1][name][key] for piece in pieces]) for key in pieces[0][1][name]}
        for name in pieces[0][1]
    }
    for name, arrays in outputs.items():
        run_dir.write_features(name, *where, arrays)
    return images, outputs


def _condition_inputs(metric: Metric, condition: Condition, outputs: dict, scoring: Scoring) -> MetricInputs:
    space = metric.feature_space
    real = (
        {k: v[scoring.real_index[condition]] for k, v in scoring.real_outputs[space].items()}
        if metric.uses_real
        else None
    )
    return condition_inputs(metric, real, outputs[space], condition, scoring.train_outputs.get(space))


def _append(scoring: Scoring, key: RowKey, metric: Metric, make_inputs, fake_images: torch.Tensor) -> None:
    """Score one CONDITION- or FINDING-scope row (or record why it cannot be), append it, write its review."""
    row, inputs = score_row(key, metric, scoring.spaces[metric.feature_space], make_inputs, scoring.config)
    if inputs is not None:  # before the row: a resumed run never redoes a row, so its review must exist first
        metric.review(
            inputs,
            fake_images,
            scoring.train.images,
            scoring.run_dir.review_dir(key.model, key.task, key.condition, metric.id),
        )
    append_row(scoring.run_dir.results, _with_validity(row, metric, scoring.validity))


def _score_tasks(
    model: str,
    reference: bool,
    conditions: list[Condition],
    todo: list,
    images: dict,
    outputs: dict,
    failed: dict,
    scoring: Scoring,
    update,
) -> None:
    """FINDING-scope rows (a model's present and absent sets together) and MODEL-scope rows."""
    config = scoring.config
    model_results: dict[str, dict] = {}
    # One context (and seed) for all model-scope metrics, so the utility metrics share their classifiers.
    context = ModelMetricContext(
        fake=images,
        train=scoring.train,
        test=scoring.reference,
        device=scoring.device,
        seed=derive_seed(config.seed, "model-scope"),
        bootstrap=config.bootstrap,
        cache_dir=config.cache_dir,
        progress=update,
    )
    for task, metric in todo:
        key = RowKey(model, task, BOTH, reference, scoring.dataset)
        pair = [c for c in conditions if c.task == task]
        missing = [failed[c] for c in pair if c in failed]
        if missing:
            append_row(scoring.run_dir.results, unavailable_row(key, metric, 0, config, missing[0]))
            continue
        if metric.scope is Scope.FINDING:
            _append(
                scoring,
                key,
                metric,
                lambda m=metric, p=pair: _finding_inputs(m, p, outputs),
                torch.cat([images[c] for c in pair]),
            )
            continue
        if metric.name not in model_results:  # from the row cache when the same images were scored before
            model_results[metric.name] = cached_model_values(
                config.cache_dir, metric, context, lambda m=metric: m.compute_model(context)
            )
        result = model_results[metric.name][task]
        append_row(
            scoring.run_dir.results,
            model_row(key, metric, result, len(scoring.reference), config, _identity(metric, scoring.spaces)),
        )


def _finding_inputs(metric: Metric, pair: list[Condition], outputs: dict) -> MetricInputs:
    """A model's present and absent sets of one finding, stacked, with INTENDED = 1 for present."""
    return finding_inputs(metric, [(c, outputs[c][metric.feature_space]) for c in pair])
