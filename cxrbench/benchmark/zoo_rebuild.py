"""`cxrbench zoo rebuild`: retrain the reference weights through the run's own code paths (an empty cache,
so everything trains) into a zoo folder, and compare each entry with another zoo (by default the shipped one)."""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from cxrbench import __version__
from cxrbench.benchmark.model_store import WeightsKey, ready_adapter
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.setup import build_dataset, fit_context, load_splits, real_halves, resolve_device
from cxrbench.benchmark.spaces import prepare_spaces
from cxrbench.config import RunConfig
from cxrbench.errors import ConfigError, UnavailableError
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.models import MODELS
from cxrbench.names import split_names
from cxrbench.zoo import read_catalogue, record_entry

EVALUATOR = "cxr-evaluator"
# What the main job would otherwise train: the built-in deep generators and the judge.
ZOO_ENTRIES = (EVALUATOR, "pggan-lco", "cgan", "diffusion-small")


@dataclass(frozen=True)
class Comparison:
    """One rebuilt entry against the same entry of the zoo compared with."""

    name: str
    sha256: str
    seconds: float
    identical: bool | None  # None: that zoo has no entry for these settings
    detail: str


def rebuild_zoo(
    config: RunConfig, out: Path, against: Path | None, reporter: Reporter, only: str = "all"
) -> list[Comparison]:
    """Train each entry of ``only`` (names, or "all" of ZOO_ENTRIES) for ``config``'s data and settings into
    the zoo folder ``out``, then compare it with ``against``'s entry (None: no comparison)."""
    names = ZOO_ENTRIES if only == "all" else split_names(only)
    unknown = [n for n in names if n not in ZOO_ENTRIES]
    if unknown:
        raise ConfigError(f"{unknown[0]!r} has no reference weights; choose from {', '.join(ZOO_ENTRIES)}")
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    _, holdout = real_halves(splits["test"], config.seed)
    device = resolve_device(config.device)
    fingerprint = dataset.fingerprint()
    shipped = read_catalogue(against) if against is not None else {}
    results = []
    with tempfile.TemporaryDirectory(prefix="cxrbench-zoo-") as folder:
        if shipped and Path(against).resolve() == Path(out).resolve():  # renewing a zoo in place: keep the old
            against = shutil.copytree(against, Path(folder) / "before")  # entries to compare with
        scratch = Path(folder) / "cache"  # empty: everything trains
        for name in names:
            started = time.perf_counter()
            if name == EVALUATOR:
                context = ExtractorContext(
                    splits["train"], splits["val"], splits["test"], device, config.seed, scratch, fingerprint
                )
                space = prepare_spaces([name], config.feature_options, context, reporter.step)[name]
                if isinstance(space, UnavailableError):
                    raise space
                source, kind = space.directory, "evaluator"
                keys = {"settings_key": space.settings_key, "cache_key": space.key, "code": space.code}
                recipe = space.recipe_record
            else:
                adapter, options = MODELS.build(name, config.model_options.get(name, {}))
                with reporter.step(f"training {name}") as update:
                    context = fit_context(config, name, splits["train"], holdout, device, update)
                    info = ready_adapter(name, adapter, options, context, None, scratch, fingerprint, None, True)
                key = WeightsKey.of(name, adapter, options, context, fingerprint)
                source, kind = Path(info["path"]), "models"
                keys = {"settings_key": key.settings, "cache_key": key.cache, "code": key.code}
                recipe = key.recipe
            seconds = time.perf_counter() - started
            entry = record_entry(
                out,
                name,
                source,
                {"kind": kind, **keys, "recipe": recipe, "trained_with": _provenance(device, seconds)},
            )
            results.append(_compare(name, entry, out, shipped.get(name), against, seconds))
    return results


def _provenance(device: torch.device, seconds: float) -> dict:
    return {
        "cxrbench_version": __version__,
        "torch": torch.__version__,
        "device": str(device) if device.type != "cpu" else f"cpu ({platform.machine()})",
        "threads": torch.get_num_threads(),
        "seconds": round(seconds, 1),
    }


def _compare(name: str, entry: dict, out: Path, other: dict | None, against: Path | None, seconds: float) -> Comparison:
    """Bit identity of every file; else the largest difference of any weight tensor."""
    if other is None or other["settings_key"] != entry["settings_key"]:
        return Comparison(name, entry["sha256"], seconds, None, "no entry for these settings to compare with")
    if other["files"] == entry["files"]:
        return Comparison(name, entry["sha256"], seconds, True, "bit-identical")
    differences = []
    for file in sorted(set(entry["files"]) & set(other["files"])):
        if file.endswith(".safetensors") and entry["files"][file] != other["files"][file]:
            mine, theirs = load_file(str(out / name / file)), load_file(str(Path(against) / other["folder"] / file))
            largest = max(
                (float((mine[k].double() - theirs[k].double()).abs().max()) for k in mine.keys() & theirs.keys()),
                default=float("nan"),
            )
            differences.append(f"{file}: largest weight difference {largest:.3g}")
    changed = sorted(
        f for f in set(entry["files"]) | set(other["files"]) if entry["files"].get(f) != other["files"].get(f)
    )
    return Comparison(
        name, entry["sha256"], seconds, False, "; ".join(differences) or f"files differ: {', '.join(changed)}"
    )
