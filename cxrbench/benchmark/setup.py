"""Setting up a run, shared by the runner and the commands beside it (evaluate, export-references,
validate-metrics, train, reader-study prepare): the device, the dataset and its splits, the real halves,
the conditions, the metrics, the reference rows of a cell and a model's fit context."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cxrbench.benchmark.progress import Reporter
from cxrbench.config import RunConfig
from cxrbench.data import DATASETS
from cxrbench.data.dataset import SPLITS, Dataset
from cxrbench.data.image_set import ImageSet
from cxrbench.errors import ConfigError
from cxrbench.metrics.metric import Metric
from cxrbench.metrics.selection import build_metrics as selected_metrics
from cxrbench.models.adapter import FitContext
from cxrbench.names import split_names
from cxrbench.seeds import derive_seed
from cxrbench.tasks import TASKS, label_findings
from cxrbench.tasks.task import Condition


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} was asked for but no CUDA device is visible; use --device cpu or auto")
    return torch.device(name)


def build_dataset(config: RunConfig) -> Dataset:
    """The dataset named in the config, with its root and options, labelling the findings of the run's tasks.

    A task named in the config that the dataset does not label is a ConfigError; ``all`` takes only the tasks
    it labels, so that an installed plugin task does not stop a run on a dataset without its label.
    """
    options = dict(config.data_options)
    if config.data_root is not None:
        options["root"] = config.data_root
    dataset = DATASETS.build(config.data, options)[0]
    tasks = TASKS.resolve(config.tasks)
    if "all" in split_names(config.tasks):
        tasks = tuple(t for t in tasks if dataset.labels_finding(t))
    return dataset.labelling(label_findings(tasks))


def run_tasks(config: RunConfig, findings: tuple[str, ...]) -> tuple[str, ...]:
    """The selected tasks among ``findings`` (a dataset's, from ``build_dataset``), in the config's order."""
    return tuple(t for t in TASKS.resolve(config.tasks) if t in findings)


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


def run_conditions(config: RunConfig, findings: tuple[str, ...]) -> list[Condition]:
    """Both conditions of every selected task, over the label columns ``findings``, with the run's prompt style
    and meaning of absent."""
    return [
        c
        for name in run_tasks(config, findings)
        for c in TASKS.get(name).conditions(config.prompt_style, config.absent, findings)
    ]


def fit_context(
    config: RunConfig, model: str, train: ImageSet, holdout: ImageSet, device: torch.device, progress
) -> FitContext:
    """What ``model`` may train on; its seed depends only on the run seed and its name."""
    return FitContext(
        train=train,
        holdout=holdout,
        conditions=tuple(run_conditions(config, train.findings)),
        resolution=config.resolution,
        device=device,
        seed=derive_seed(config.seed, model, "fit"),
        progress=progress,
    )


def build_metrics(config: RunConfig) -> list[Metric]:
    """The selected metrics (``fd@rad-dino``, ``precision``, ``fid``...), built with their options."""
    return selected_metrics(config.metrics, config.metric_options)


def reference_index(reference: ImageSet, condition: Condition, config: RunConfig) -> np.ndarray:
    """The same real reference images for every model: up to n of the condition, without replacement."""
    candidates = reference.matching_index(condition)
    return np.sort(
        np.random.default_rng(derive_seed(config.seed, condition.key)).permutation(candidates)[: config.n_samples]
    )
