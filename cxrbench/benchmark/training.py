"""`cxrbench train` and `cxrbench generate`: one model, outside a full benchmark run."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from cxrbench.benchmark.model_store import ready_adapter
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.runner import collect_images, set_seed
from cxrbench.benchmark.setup import build_dataset, fit_context, load_splits, real_halves, resolve_device
from cxrbench.config import RunConfig
from cxrbench.data.dataset import Dataset
from cxrbench.data.image_set import ImageSet
from cxrbench.errors import ConfigError
from cxrbench.models import MODELS
from cxrbench.sample_sets import write_png_set
from cxrbench.tasks import TASKS
from cxrbench.tasks.task import Presence


def _real_data(config: RunConfig, reporter: Reporter) -> tuple[Dataset, ImageSet, ImageSet]:
    """The dataset, its training split and the held-out half, exactly as `cxrbench run` prepares them."""
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    _, holdout = real_halves(splits["test"], config.seed)
    return dataset, splits["train"], holdout


def train_model(config: RunConfig, model: str, out: Path, reporter: Reporter) -> Path:
    """Train ``model`` on the training split and save its checkpoint into ``out``."""
    name = MODELS.entry(model).name
    adapter, _ = MODELS.build(name, config.model_options.get(name, {}))
    if not adapter.trainable:
        raise ConfigError(
            f"model {name!r} is not trainable; train one of: "
            f"{', '.join(n for n in MODELS.names() if MODELS.get(n).trainable)}"
        )
    _, train, holdout = _real_data(config, reporter)
    out = Path(out)
    # Resumable state and sample grids live beside the checkpoint: rerunning the command continues.
    work_dir = out.with_name(f"{out.name}.training")
    with reporter.step(f"training {name}") as update:
        context = fit_context(config, name, train, holdout, resolve_device(config.device), update)
        adapter.fit(dataclasses.replace(context, work_dir=work_dir))
    adapter.save(out)
    if work_dir.is_dir():
        reporter.note(f"training sample grids: {work_dir}")
    return out


def generate_images(
    config: RunConfig, model: str, task: str, condition: str, n: int, out: Path, reporter: Reporter
) -> int:
    """Write ``n`` PNGs of ``task``/``condition`` into ``out``; returns how many were written."""
    name = MODELS.entry(model).name
    try:
        presence = Presence(condition)
    except ValueError:
        raise ConfigError(f"unknown condition {condition!r}; choose present or absent") from None
    adapter, options = MODELS.build(name, config.model_options.get(name, {}))
    dataset, train, holdout = _real_data(config, reporter)  # refuses a task the dataset does not label
    wanted = TASKS.get(task).condition(presence, config.prompt_style, config.absent, train.findings)
    with reporter.step(f"preparing {name}") as update:
        context = fit_context(config, name, train, holdout, resolve_device(config.device), update)
        ready_adapter(
            name,
            adapter,
            options,
            context,
            config.checkpoints.get(name),
            config.cache_dir,
            dataset.fingerprint(),
            config.zoo,
            config.retrain,
        )
    seed = set_seed(config.seed, name, wanted)
    t0 = time.perf_counter()
    images = collect_images(adapter, name, wanted, range(n), seed, config.batch_size, config.resolution)
    write_png_set(Path(out), seed, images, time.perf_counter() - t0, adapter.generation_log())
    return int(images.shape[0])
