"""The run directory: where results, manifest, leaderboard and samples live, written atomically."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from cxrbench.cache import load_arrays, save_arrays
from cxrbench.data.dataset import FINGERPRINT_PARTS
from cxrbench.errors import ConfigError
from cxrbench.files import atomic_write_text, remove_partial_files
from cxrbench.results import ResultRow, read_rows, row_line
from cxrbench.sample_sets import COMPLETE, GENERATION, sample_name

RESULTS, LEADERBOARD, MANIFEST, SAMPLES = "results.jsonl", "leaderboard.md", "manifest.json", "samples"
FEATURES, REVIEWS = "features", "reviews"
REAL_OWNER = "_real"  # the owner name of the real reference features (model names cannot start with "_")
# A run's own files, in the order --no-resume moves them aside (results first, manifest last).
_RUN_ENTRIES = (RESULTS, SAMPLES, FEATURES, REVIEWS, LEADERBOARD, MANIFEST)
PREVIOUS = ".previous-"  # OUT/.previous-TIMESTAMP-PID/: an old run set aside by --no-resume
_SET_ASIDE = ".set-aside.json"  # inside it: the entries moved (written before the first move)
_START_OVER = "use another --out, or --no-resume to start it over"


class RunDirectory:
    """Paths and artefacts of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._previous: Path | None = None  # the old run a --no-resume set aside, until discarded

    @property
    def results(self) -> Path:
        return self.root / RESULTS

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def leaderboard(self) -> Path:
        return self.root / LEADERBOARD

    def check_resume(self, comparable: dict, dataset: dict, samples: dict[str, str] | None = None) -> dict[str, str]:
        """Refuse to resume a run made with other settings or on other data (one line: what changed, the fix).

        comparable: the settings that change rows (``RunConfig.comparable()``); dataset: the dataset's
        ``describe()``, whose fingerprint changes with its files, labels and options; samples: each
        pre-generated set's content digest, refused when the run scored that name from other images.
        Returns the digests the folder's run recorded (to keep them in the new manifest).
        """
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {self.root} is a file; give a folder for the run")
        if not self.manifest.is_file():
            return {}
        previous = json.loads(self.manifest.read_text())
        settings = previous.get("comparable_config", {})
        changed = sorted(k for k in set(settings) | set(comparable) if settings.get(k) != comparable.get(k))
        if changed:
            detail = ", ".join(f"{k}: {settings.get(k)!r} -> {comparable.get(k)!r}" for k in changed[:4])
            raise ConfigError(f"{self.root} holds a run with other settings ({detail}); {_START_OVER}")
        made_on = previous.get("dataset", {})  # a manifest without a fingerprint: nothing to compare
        if made_on.get("fingerprint") not in (None, dataset.get("fingerprint")):
            raise ConfigError(
                f"{self.root} holds a run made on other data: {dataset_change(made_on, dataset)} since; {_START_OVER}"
            )
        recorded = previous.get("samples", {})
        for name, digest in (samples or {}).items():
            if recorded.get(name) not in (None, digest):
                raise ConfigError(
                    f"{self.root} scored the samples {name!r} from other images (their content changed "
                    f"since); {_START_OVER}"
                )
        return recorded

    def prepare(self, resume: bool) -> None:
        """Create the folder; without ``resume``, set the old run aside (deleted by ``discard_previous``).

        Call it only once the new run is known to be valid (names, data, weights): nothing of the
        old run is deleted before the new one has finished a span of a sample set, and a new run that stops
        before that puts the old one back (``restore_previous``, or ``recover`` after a kill).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        if not resume:
            self._previous = self._set_aside()
        remove_partial_files(self.root)  # left by a killed run; the caller holds the run lock

    def _set_aside(self) -> Path | None:
        """Move the old run's files into ``.previous-TIMESTAMP/``; the list of them is written first,
        so that ``recover`` can tell old files from new ones after a kill in the middle."""
        entries = [name for name in _RUN_ENTRIES if (self.root / name).exists()]
        if not entries:
            return None
        folder = self.root / f"{PREVIOUS}{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        folder.mkdir()
        atomic_write_text(folder / _SET_ASIDE, json.dumps(entries))
        for name in entries:  # results first: a folder caught half-way never offers old rows as new
            os.replace(self.root / name, folder / name)
        return folder

    def discard_previous(self) -> None:
        """Delete the run ``prepare`` set aside (the new run has finished a span of a sample set, or the whole run)."""
        if self._previous is not None:
            (self._previous / _SET_ASIDE).unlink()  # first: a half-deleted folder is never restored
            shutil.rmtree(self._previous)
            self._previous = None

    def restore_previous(self) -> None:
        """Put the set-aside run back, removing what the new run wrote (it stopped before a sample set)."""
        if self._previous is not None:
            _restore(self.root, self._previous)
            self._previous = None

    def recover(self) -> list[Path]:
        """Restore every run an interrupted ``--no-resume`` set aside (a kill before its first span).

        Returns the folders it restored from; call it holding the run lock, before anything else.
        """
        folders = sorted(self.root.glob(f"{PREVIOUS}*"))
        for unlisted in [p for p in folders if not (p / _SET_ASIDE).is_file()]:
            shutil.rmtree(unlisted)  # killed while being deleted, or before anything was moved into it
        restored = [p for p in folders if p.exists()]
        for folder in reversed(restored):  # newest first: the oldest run is the one left in place
            _restore(self.root, folder)
        return restored

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
        for marker in sorted((self.root / SAMPLES).glob(f"*/*/*/{COMPLETE}")):
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

    def read_generation(self, model: str, task: str, condition: str) -> dict | None:
        """What a finished sample set's ``generation.json`` holds (sample_sets.finish_set), or None."""
        path = self.sample_dir(model, task, condition) / GENERATION
        return json.loads(path.read_text()) if path.is_file() else None


def _restore(root: Path, folder: Path) -> None:
    """Move the entries listed in ``folder`` back into ``root``; what the new run wrote under those
    names is deleted, and so are its other run files (an entry not moved yet is still the old one)."""
    moved = json.loads((folder / _SET_ASIDE).read_text())
    for name in _RUN_ENTRIES:
        old, current = folder / name, root / name
        if name in moved and not old.exists():
            continue  # killed before this entry was moved: root still holds the old one
        if current.is_dir():
            shutil.rmtree(current)
        else:
            current.unlink(missing_ok=True)
        if old.exists():
            os.replace(old, current)
    shutil.rmtree(folder)


def dataset_change(before: dict, after: dict) -> str:
    """What differs between two ``Dataset.describe()`` records, in words (for a refusal message)."""
    parts_before, parts_after = before.get("fingerprint_parts", {}), after.get("fingerprint_parts", {})
    changed = [part for part in parts_after if part in parts_before and parts_before[part] != parts_after[part]]
    if changed:
        return " and ".join(FINGERPRINT_PARTS.get(part, part) for part in changed) + " changed"
    return f"the dataset's fingerprint changed ({before.get('fingerprint')} -> {after.get('fingerprint')})"
