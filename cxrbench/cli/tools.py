"""`cxrbench list`, `convert-weights` and `env`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from cxrbench.cli.options import writing_to


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


def list_components(kind: Kind = typer.Argument(..., help="what to list")) -> None:
    """List registered components (built-in and plugins) without importing them."""
    for entry in _registry(kind).entries():
        source = "" if entry.source == "builtin" else f"  [{entry.source}]"
        typer.echo(f"{entry.name:<30} {entry.summary}{source}")
    if kind is Kind.metrics:
        from cxrbench.metric_ids import ALIASES, metric_id

        for name, alias in sorted(ALIASES.items()):
            typer.echo(f"{name:<30} alias of {metric_id(alias.metric, alias.space)} ({alias.display_name})")


CONVERTERS = {"xrv-densenet": "cxrbench.metrics.xrv_weights:convert_xrv_weights"}


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
    with writing_to(destination.parent):
        weights = getattr(importlib.import_module(module), function)(source, destination)
    typer.echo(
        f"wrote {destination} ({len(weights.tensors)} tensors from {weights.layout} {source}, sha256 "
        f"{weights.source_sha256[:12]}...); use it with --feature-option {space}.weights={destination}"
    )


def env() -> None:
    """Print versions and devices, for bug reports."""
    import torch

    from cxrbench.benchmark.manifest import package_versions

    for name, value in package_versions().items():
        typer.echo(f"{name:<16} {value}")
    typer.echo(f"{'cuda':<16} {torch.cuda.is_available()} ({torch.cuda.device_count()} devices)")
