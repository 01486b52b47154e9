"""Make adapters ready: load a given checkpoint, reuse a cached one, or train and cache it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cxrbench.cache import cache_key, settings_key, sha256_file
from cxrbench.checkpoint import WEIGHTS_FILE
from cxrbench.errors import ConfigError, CxrbenchError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter
from cxrbench.zoo import find_reference

PIPELINE_INDEX = "model_index.json"  # diffusers pipeline directories (diffusion-small) are checkpoints too


def ready_adapter(
    name: str,
    adapter: ModelAdapter,
    options: dict,
    context: FitContext,
    checkpoint: str | None,
    cache_dir: Path,
    dataset_fingerprint: str,
    zoo: Path | None = None,
    retrain: bool = False,
) -> dict:
    """Load, reuse or train ``adapter`` and place it on the context's device.

    zoo: a folder of reference weights (cxrbench/zoo; None: none); retrain: train even when reference or
    cached weights match. Returns what the manifest records about its weights.
    """
    info = _ready(name, adapter, options, context, checkpoint, cache_dir, dataset_fingerprint, zoo, retrain)
    adapter.place(context.device)
    return info


def check_checkpoint(name: str, checkpoint: str | None) -> Path | None:
    """The checkpoint folder given for ``name`` (None: none given), refused up front when it is missing;
    its files are checked by the adapter's load (a run that fails there puts a set-aside run back)."""
    if not checkpoint:
        return None
    path = Path(checkpoint).expanduser()
    if not path.is_dir():
        raise ConfigError(f"checkpoint for {name!r} not found at {path}; pass a folder written by `cxrbench train`")
    return path


def _ready(
    name: str,
    adapter: ModelAdapter,
    options: dict,
    context: FitContext,
    checkpoint: str | None,
    cache_dir: Path,
    dataset_fingerprint: str,
    zoo: Path | None,
    retrain: bool,
) -> dict:
    path = check_checkpoint(name, checkpoint)
    if path is not None:
        try:
            adapter.load(path)
        except NotImplementedError:
            raise ConfigError(f"model {name!r} cannot load checkpoints; remove its checkpoint setting") from None
        return {"source": "given", "path": str(path), "sha256": _weights_hash(path)}
    if not adapter.trainable:
        adapter.fit(context)
        return {"source": "samples" if adapter.conditioning is Conditioning.SAMPLES else "reference"}
    key = WeightsKey.of(name, adapter, options, context, dataset_fingerprint)
    reference = None if retrain else find_reference(zoo, name, "models", key.settings)
    if reference is not None:
        adapter.load(reference.directory)
        return reference.manifest(key.code)
    directory = cache_dir / "models" / name / key.cache
    if _has_weights(directory) and not retrain:
        try:
            adapter.load(directory)
            return {"source": "cache", "path": str(directory), "sha256": _weights_hash(directory)}
        except CxrbenchError:
            pass  # a damaged cache entry is rebuilt below
    # An interrupted training leaves its state here; the same command continues it.
    work_dir = directory.with_name(f"{directory.name}.training")
    if retrain:
        shutil.rmtree(work_dir, ignore_errors=True)  # --retrain trains from the start
    started = time.perf_counter()
    adapter.fit(dataclasses.replace(context, work_dir=work_dir))
    adapter.save(directory)
    info = {
        "source": "trained",
        "path": str(directory),
        "sha256": _weights_hash(directory),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    return {**info, "training_dir": str(work_dir)} if work_dir.is_dir() else info  # sample grids, if any


@dataclass(frozen=True)
class WeightsKey:
    """The keys of a model's trained weights: ``cache`` names the cache entry, ``settings`` (the same parts
    without the code) matches reference weights, ``code`` is the code digest that trains them."""

    cache: str
    settings: str
    code: str
    recipe: dict  # the inputs and component the keys hash, recorded in the zoo's catalogue

    @classmethod
    def of(
        cls, name: str, adapter: ModelAdapter, options: dict, context: FitContext, dataset_fingerprint: str
    ) -> WeightsKey:
        """The data (fingerprint, resolution, and the run's conditions when its training uses them); the
        model (name, source and version, options but its sampling options, resolved settings, seed); and its code
        (``MODELS.identity``: its module and every module it imports)."""
        targets = (
            sorted((c.key, c.target) for c in context.conditions)  # what the model is trained to produce
            if adapter.trains_per_condition
            else "every finding"
        )
        identity = MODELS.identity(name)
        inputs = {"dataset": dataset_fingerprint, "resolution": context.resolution, "targets": targets}
        component = {
            "name": name,
            "source": identity["source"],
            "version": identity["version"],
            "options": {k: v for k, v in options.items() if k not in adapter.sampling_options},
            "settings": adapter.training_settings(),
            "seed": context.seed,
        }
        return cls(
            cache_key("models", inputs, component, identity["code"]),
            settings_key("models", inputs, component),
            identity["code"],
            json.loads(json.dumps({"inputs": inputs, "component": component})),
        )


def _has_weights(directory: Path) -> bool:
    """A cached model: a checkpoint folder, or a diffusers pipeline directory (model_index.json)."""
    return (directory / WEIGHTS_FILE).is_file() or (directory / PIPELINE_INDEX).is_file()


def _weights_hash(directory: Path) -> str | None:
    """sha256 of the weights file; for a pipeline directory, over all its safetensors files (path order)."""
    weights = directory / WEIGHTS_FILE
    if weights.is_file():
        return sha256_file(weights)
    if (directory / PIPELINE_INDEX).is_file():
        digest = hashlib.sha256()
        for file in sorted(directory.rglob("*.safetensors")):
            digest.update(f"{file.relative_to(directory)}:{sha256_file(file)}\n".encode())
        return digest.hexdigest()
    return None
