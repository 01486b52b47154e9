"""The run directory: where results, manifest, leaderboard and samples live, written atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from cxrbench.benchmark.results import ResultRow, read_rows, row_line
from cxrbench.cache import load_arrays, save_arrays
from cxrbench.errors import ConfigError
from cxrbench.files import atomic_save_png, atomic_write_text, remove_partial_files
from cxrbench.models.adapter import GenerationLog

RESULTS, LEADERBOARD, MANIFEST, SAMPLES = "results.jsonl", "leaderboard.md", "manifest.json", "samples"
FEATURES, REVIEWS = "features", "reviews"
GENERATION = "generation.json"  # beside each sample set: seconds per image and the adapter's GenerationLog
REAL_OWNER = "_real"  # the owner name of the real reference features (model names cannot start with "_")
_COMPLETE = ".complete.json"


class RunDirectory:
    """Paths and artefacts of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def results(self) -> Path:
        return self.root / RESULTS

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def leaderboard(self) -> Path:
        return self.root / LEADERBOARD

    def prepare(self, comparable: dict, resume: bool) -> None:
        """Create the folder; refuse to mix a resumed run with a different configuration."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {self.root} is a file; give a folder for the run")
        if self.manifest.is_file() and resume:
            previous = json.loads(self.manifest.read_text()).get("comparable_config", {})
            changed = sorted(k for k in set(previous) | set(comparable) if previous.get(k) != comparable.get(k))
            if changed:
                detail = ", ".join(f"{k}: {previous.get(k)!r} -> {comparable.get(k)!r}" for k in changed[:4])
                raise ConfigError(
                    f"{self.root} holds a run with other settings ({detail}); "
                    "use another --out, or --no-resume to start it over"
                )
        if not resume:
            for name in (RESULTS, LEADERBOARD, MANIFEST):
                (self.root / name).unlink(missing_ok=True)
            for folder in (SAMPLES, FEATURES, REVIEWS):
                shutil.rmtree(self.root / folder, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        remove_partial_files(self.root)  # left by a killed run; the caller holds the run lock

    def keep_rows(self, keep: Callable[[ResultRow], bool]) -> list[ResultRow]:
        """Rewrite results.jsonl with only the rows ``keep`` accepts, and return them.

        Also drops a torn last line left by a crash, so that new rows start on a fresh line.
        """
        kept = [row for row in read_rows(self.results) if keep(row)]
        if self.results.is_file():
            atomic_write_text(self.results, "".join(row_line(r) for r in kept))
        return kept

    def sample_dir(self, model: str, task: str, condition: str) -> Path:
        return self.root / SAMPLES / model / task / condition

    def sample_file(self, model: str, task: str, condition: str, index: int) -> Path:
        """Image ``index`` of a sample set."""
        return self.sample_dir(model, task, condition) / sample_name(index)

    def finished_sets(self) -> dict[tuple[str, str, str], int]:
        """(model, task, condition) -> number of images, for every complete sample set of the run."""
        sets = {}
        for marker in sorted((self.root / SAMPLES).glob(f"*/*/*/{_COMPLETE}")):
            model, task, condition = marker.parent.relative_to(self.root / SAMPLES).parts
            sets[(model, task, condition)] = int(json.loads(marker.read_text())["n"])
        return sets

    def review_dir(self, model: str, task: str, condition: str, metric: str) -> Path:
        return self.root / REVIEWS / model / task / condition / metric

    def features_path(self, space: str, owner: str, task: str, condition: str) -> Path:
        """Where the extractor outputs of one set are kept (owner: a model, or REAL_OWNER)."""
        return self.root / FEATURES / space / owner / task / f"{condition}.npz"

    def write_features(self, space: str, owner: str, task: str, condition: str, outputs: dict) -> None:
        """Save one set's extractor outputs atomically (``cxrbench compare`` reads them back)."""
        save_arrays(self.features_path(space, owner, task, condition), outputs)

    def read_features(self, space: str, owner: str, task: str, condition: str) -> dict[str, np.ndarray] | None:
        return load_arrays(self.features_path(space, owner, task, condition))

    def read_samples(self, model: str, task: str, condition: str, seed: int, n: int) -> torch.Tensor | None:
        return read_png_set(self.sample_dir(model, task, condition), seed, n)

    def write_samples(self, model: str, task: str, condition: str, seed: int, images: torch.Tensor) -> None:
        write_png_set(self.sample_dir(model, task, condition), seed, images)

    def read_generation(self, model: str, task: str, condition: str) -> dict | None:
        """What ``write_generation`` stored for one sample set, or None."""
        path = self.sample_dir(model, task, condition) / GENERATION
        return json.loads(path.read_text()) if path.is_file() else None


def write_generation(folder: Path, seconds: float, n: int, log: GenerationLog | None) -> None:
    """Save how long a sample set took and the adapter's per-image records (before its PNGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = {"seconds": round(seconds, 3), "seconds_per_image": round(seconds / max(n, 1), 5),
             "summary": log.summary if log else {}, "records": log.records if log else []}
    atomic_write_text(folder / GENERATION, json.dumps(facts, indent=1))


def sample_name(index: int) -> str:
    """The file name of image ``index`` in a sample set."""
    return f"{index:05d}.png"


def read_png_set(folder: Path, seed: int, n: int) -> torch.Tensor | None:
    """The images of a complete PNG set made with ``seed`` and ``n``, else None (absent or unfinished)."""
    marker = folder / _COMPLETE
    if not marker.is_file() or json.loads(marker.read_text()) != {"seed": seed, "n": n}:
        return None
    images = [np.asarray(Image.open(folder / sample_name(i))) for i in range(n)]
    return torch.from_numpy(np.stack(images)[:, None])


def write_png_set(folder: Path, seed: int, images: torch.Tensor) -> None:
    """Save uint8 [N, 1, H, W] as 00000.png...; the completion marker is written last."""
    (folder / _COMPLETE).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images[:, 0].numpy()):
        atomic_save_png(folder / sample_name(i), image)
    atomic_write_text(folder / _COMPLETE, json.dumps({"seed": seed, "n": int(images.shape[0])}))
