"""Pre-generated sample sets: images made elsewhere, scored in a run exactly like a model's generated sets.

``cxrbench run --samples NAME=PATH`` (or a ``[samples]`` table, ``NAME = "PATH"``) adds a competitor
NAME whose images are read from PATH instead of generated:

- a folder laid out as ``PATH/TASK/CONDITION/*.png`` (also .jpg, .jpeg, .dcm; e.g. a run's own
  ``samples/MODEL/``), or
- a CSV file with the columns ``file`` (relative to the CSV's folder), ``label`` (``TASK/CONDITION``,
  e.g. ``pleural_effusion/present``) and optionally ``prompt``.

A cell uses the first ``n_samples`` images in file-name (or CSV row) order, brought to the run's
resolution as real images are (crop to square, bilinear); a cell with fewer images, or none, is
unavailable with the reason. The content digest of every listed file is part of the run's settings,
so a resumed run refuses a folder whose images changed.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

import torch

from cxrbench.data.image_io import IMAGE_SUFFIXES
from cxrbench.data.preprocess import read_squares
from cxrbench.errors import ConfigError, UnavailableError
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter
from cxrbench.tasks.task import Condition

CSV_COLUMNS = ("file", "label")


@dataclass(frozen=True)
class SampleSource:
    """Where one pre-generated set's images are: a folder or a CSV listing."""

    name: str
    path: Path

    def __post_init__(self) -> None:
        if not self.path.exists():
            raise ConfigError(
                f"samples {self.name}: {self.path} does not exist; give a folder laid out as "
                "TASK/CONDITION/*.png or a CSV listing file,label"
            )

    @cached_property
    def listing(self) -> dict[str, list[Path]]:
        """``TASK/CONDITION`` -> its image files, in the order they are used."""
        return self._csv_listing() if self.path.is_file() else self._folder_listing()

    def _folder_listing(self) -> dict[str, list[Path]]:
        out = {}
        for task_dir in sorted(p for p in self.path.iterdir() if p.is_dir()):
            for condition_dir in sorted(p for p in task_dir.iterdir() if p.is_dir()):
                files = sorted(p for p in condition_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                if files:
                    out[f"{task_dir.name}/{condition_dir.name}"] = files
        if not out:
            raise ConfigError(
                f"samples {self.name}: {self.path} holds no TASK/CONDITION/*.png images; lay it out "
                "as TASK/CONDITION/*.png (e.g. pleural_effusion/present/0001.png) or give a CSV"
            )
        return out

    def _csv_listing(self) -> dict[str, list[Path]]:
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(
                    f"samples {self.name}: {self.path.name} lacks the column(s) {', '.join(missing)}; "
                    "a samples CSV has file,label[,prompt] with label = TASK/CONDITION"
                )
            out: dict[str, list[Path]] = {}
            for line, row in enumerate(reader, start=2):
                label = (row["label"] or "").strip()
                if label.count("/") != 1:
                    raise ConfigError(
                        f"samples {self.name}: {self.path.name} row {line}: label {label!r} is not "
                        "TASK/CONDITION (e.g. pleural_effusion/present)"
                    )
                out.setdefault(label, []).append(self.path.parent / row["file"].strip())
        for files in out.values():
            for file in files:
                if not file.is_file():
                    raise ConfigError(f"samples {self.name}: {file} is listed in {self.path.name} but does not exist")
        return out

    @cached_property
    def digest(self) -> str:
        """sha256 over every listed file's cell, name and bytes: changes with any image."""
        h = hashlib.sha256()
        for cell, files in sorted(self.listing.items()):
            for file in files:
                h.update(f"{cell}\0{file.name}\0".encode())
                h.update(file.read_bytes())
        return h.hexdigest()

    def images(self, condition: Condition, indices: range, resolution: int) -> torch.Tensor:
        """Images ``indices`` of the condition's cell (in listing order) as uint8 [len(indices), 1, R, R];
        UnavailableError if the cell has fewer than ``indices.stop``."""
        files = self.listing.get(condition.key, [])
        if len(files) < indices.stop:
            where = self.path if self.path.is_file() else self.path / condition.key
            raise UnavailableError(
                f"samples {self.name} has {len(files)} images for {condition.key} in {where}, "
                f"the run needs {indices.stop}; add images or lower --n-samples to {len(files)}"
            )
        return torch.from_numpy(read_squares(files[indices.start : indices.stop], resolution)[:, None])


class SampleFolderAdapter(ModelAdapter):
    """Images made elsewhere, read from a folder or a CSV listing (not registered: built by ``--samples``)."""

    conditioning = Conditioning.SAMPLES

    def __init__(self, source: SampleSource) -> None:
        self.source = source
        self.resolution: int | None = None

    def fit(self, context: FitContext) -> None:
        self.resolution = context.resolution

    def training_settings(self) -> dict:
        return {"samples": str(self.source.path), "digest": self.source.digest}

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        if self.resolution is None:
            raise RuntimeError("SampleFolderAdapter.generate called before fit")
        yield from self.source.images(condition, indices, self.resolution).split(batch_size)
