"""Build a blinded study from a finished run: pick images, blind them, write served files and the key.

Synthetic images come from ``samples/MODEL/TASK/CONDITION/`` of the run; real images from the
dataset's test split, the half the run's metrics compare against (``real_halves``), at the run's
resolution. Every image is decoded and re-encoded by the same PNG writer, so files differ only in
pixels. Everything is drawn from generators seeded by the study seed: the same seed and options
give the same study files (reader link tokens excepted: they are secrets).
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cxrbench import __version__
from cxrbench.config import RunConfig
from cxrbench.names import split_names
from cxrbench.reader_study.design import REAL, Design, ReaderStudyError, check_reader_id
from cxrbench.reader_study.study import IMAGES, ITEMS, KEY, READERS, SERVED, STUDY, Study
from cxrbench.run_dir import MANIFEST, SAMPLES, RunDirectory
from cxrbench.seeds import derive_seed

ID_BYTES = 6  # 12 hex characters per item or image id


@dataclass(frozen=True)
class PrepareConfig:
    """What to put in a study.

    models / tasks: names, or ("all",) for every complete sample set in the run; conditions:
    "present" and/or "absent"; n_items: items per model x task x condition cell (and real images
    per task x condition in the single and finding designs); readers: reader ids (a-z, 0-9, _).
    """

    run_dir: Path
    out: Path
    design: Design
    n_items: int
    readers: tuple[str, ...]
    models: tuple[str, ...] = ("all",)
    tasks: tuple[str, ...] = ("all",)
    conditions: tuple[str, ...] = ("present", "absent")
    seed: int = 0
    cache_dir: Path = Path(".cxrbench-cache")


def prepare_study(config: PrepareConfig) -> Study:
    """Write a new study folder (refusing to overwrite one) and return it."""
    if config.n_items < 1:
        raise ReaderStudyError(f"--n {config.n_items}: give at least 1 item per cell")
    readers = tuple(dict.fromkeys(check_reader_id(r) for r in config.readers))
    if not readers:
        raise ReaderStudyError("give at least one reader id (--readers r1,r2,r3)")
    if (config.out / STUDY).exists():
        raise ReaderStudyError(
            f"{config.out} already holds a study; choose another --out (answers are never overwritten)"
        )
    manifest = _manifest(config.run_dir)
    sets = RunDirectory(config.run_dir).finished_sets()
    cells = _cells(config, sets)
    run_config = RunConfig.of_run(manifest, config.cache_dir)
    real = _real_pools(run_config, sorted({(t, c) for _, t, c in cells}))

    ids = _IdSource(derive_seed(config.seed, "ids"))
    builder = _Builder(config, ids)
    for model, task, condition in cells:
        builder.add_cell(model, task, condition, sets[(model, task, condition)], real[(task, condition)])
    if config.design is not Design.PAIRED:
        for task, condition in sorted({(t, c) for _, t, c in cells}):
            builder.add_real(task, condition, real[(task, condition)])

    tmp = config.out.with_name(f".{config.out.name}.preparing")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / SERVED / IMAGES).mkdir(parents=True)
    for image_id, pixels in builder.images.items():
        Image.fromarray(pixels).save(tmp / SERVED / IMAGES / f"{image_id}.png", format="PNG")
    items = sorted(builder.items, key=lambda item: item["id"])  # id order: random, unrelated to the models
    (tmp / SERVED / ITEMS).write_text(json.dumps(items, indent=1))
    (tmp / KEY).write_text(json.dumps(dict(sorted(builder.key.items())), indent=1))
    (tmp / READERS).write_text(json.dumps({r: secrets.token_urlsafe(16) for r in readers}, indent=1))
    facts = {
        "design": config.design.value,
        "seed": config.seed,
        "run": str(Path(config.run_dir).resolve()),
        "models": sorted({m for m, _, _ in cells}),
        "tasks": sorted({t for _, t, _ in cells}),
        "conditions": sorted({c for _, _, c in cells}),
        "n_items": config.n_items,
        "readers": list(readers),
        "n_served_items": len(items),
        "dataset": run_config.data,
        "resolution": run_config.resolution,
        "run_seed": run_config.seed,
        "n_samples": run_config.n_samples,
        "cxrbench_version": __version__,
    }
    (tmp / STUDY).write_text(json.dumps(facts, indent=1))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    if config.out.exists() and any(config.out.iterdir()):
        shutil.rmtree(tmp)
        raise ReaderStudyError(f"{config.out} exists and is not empty; choose a new folder for the study")
    if config.out.exists():
        config.out.rmdir()
    tmp.rename(config.out)  # the study appears whole or not at all
    return Study(config.out)


def _manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise ReaderStudyError(f"{run_dir} has no {MANIFEST}; pass a run folder written by `cxrbench run`")
    return json.loads(path.read_text())


def _pick(names: tuple[str, ...], available: list[str], what: str, run_dir: Path) -> list[str]:
    wanted = list(split_names(names))
    if wanted == ["all"]:
        return available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ReaderStudyError(
            f"{what} {unknown[0]!r} has no finished sample set in {run_dir}; "
            f"available: {', '.join(available) or '(none)'}"
        )
    return list(dict.fromkeys(wanted))


def _cells(config: PrepareConfig, sets: dict[tuple[str, str, str], int]) -> list[tuple[str, str, str]]:
    """The (model, task, condition) cells of the study, each checked to hold n_items images."""
    if not sets:
        raise ReaderStudyError(f"{config.run_dir} has no finished sample sets under {SAMPLES}/; finish the run first")
    models = _pick(config.models, sorted({m for m, _, _ in sets}), "model", config.run_dir)
    tasks = _pick(config.tasks, sorted({t for _, t, _ in sets}), "task", config.run_dir)
    conditions = _pick(config.conditions, ["absent", "present"], "condition", config.run_dir)
    if REAL in models:
        raise ReaderStudyError(f"the run has a model named {REAL!r}, which reader studies use for real images")
    cells = []
    for model in models:
        for task in tasks:
            for condition in conditions:
                n = sets.get((model, task, condition), 0)
                if n < config.n_items:
                    raise ReaderStudyError(
                        f"{model} {task}/{condition} has {n} finished images in the run, fewer "
                        f"than --n {config.n_items}; lower --n or run with more --n-samples"
                    )
                cells.append((model, task, condition))
    return cells


def _real_pools(run_config, keys: list[tuple[str, str]]) -> dict[tuple[str, str], "_RealPool"]:
    """The real test-split images of each task and condition (the metrics' reference half)."""
    from cxrbench.benchmark.setup import build_dataset, real_halves
    from cxrbench.tasks import TASKS

    dataset = build_dataset(run_config)
    reference, _ = real_halves(dataset.load("test", run_config.resolution, run_config.cache_dir), run_config.seed)
    pools = {}
    for task, condition in keys:
        wanted = TASKS.get(task).condition(condition, run_config.prompt_style, run_config.absent, reference.findings)
        index = reference.matching_index(wanted)
        pools[(task, condition)] = _RealPool(
            reference.images[index, 0].numpy(), [reference.image_ids[i] for i in index]
        )
    return pools


@dataclass(frozen=True)
class _RealPool:
    images: np.ndarray  # uint8 [N, H, W]
    image_ids: list[str]


class _IdSource:
    """Random hex ids from the study seed: unique, and unrelated to models, paths or pixels."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._used: set[str] = set()

    def new(self) -> str:
        while True:
            token = self._rng.bytes(ID_BYTES).hex()
            if token not in self._used:
                self._used.add(token)
                return token


class _Builder:
    """Collects served items, their images and the key, cell by cell."""

    def __init__(self, config: PrepareConfig, ids: _IdSource) -> None:
        self.config = config
        self.ids = ids
        self.items: list[dict] = []
        self.images: dict[str, np.ndarray] = {}
        self.key: dict[str, dict] = {}

    def _image(self, pixels: np.ndarray) -> str:
        image_id = self.ids.new()
        self.images[image_id] = np.ascontiguousarray(pixels, dtype=np.uint8)
        return image_id

    def _finding(self, task: str) -> str:
        from cxrbench.tasks import TASKS

        return TASKS.get(task).display_name if self.config.design is Design.FINDING else ""

    def _draw(self, n_from: int, n: int, *names: str) -> np.ndarray:
        rng = np.random.default_rng(derive_seed(self.config.seed, *names))
        return np.sort(rng.choice(n_from, size=n, replace=False))

    def add_cell(self, model: str, task: str, condition: str, n_available: int, real: _RealPool) -> None:
        """n_items items showing ``model``'s images of one task and condition (``n_available`` in its set)."""
        n = self.config.n_items
        run = RunDirectory(self.config.run_dir)
        chosen = self._draw(n_available, n, "synthetic", model, task, condition)
        if self.config.design is Design.PAIRED:
            if len(real.images) < n:
                raise ReaderStudyError(
                    f"the test split has {len(real.images)} real {task}/{condition} images, "
                    f"fewer than --n {n} pairs; lower --n"
                )
            partners = self._draw(len(real.images), n, "partners", model, task, condition)
            sides = np.random.default_rng(derive_seed(self.config.seed, "sides", model, task, condition)).integers(
                0, 2, size=n
            )
        for j, index in enumerate(chosen):
            path = run.sample_file(model, task, condition, index)
            pixels = np.asarray(Image.open(path).convert("L"))
            if pixels.shape != real.images.shape[1:]:
                raise ReaderStudyError(
                    f"{path} is {pixels.shape[1]}x{pixels.shape[0]} px but the real images are "
                    f"{real.images.shape[2]}x{real.images.shape[1]}; the run folder is mixed"
                )
            source = f"{SAMPLES}/{model}/{task}/{condition}/{path.name}"
            item_id = self.ids.new()
            truth = {"model": model, "task": task, "condition": condition}
            if self.config.design is Design.PAIRED:
                synthetic, partner = self._image(pixels), self._image(real.images[partners[j]])
                side = "right" if sides[j] else "left"
                images = [partner, synthetic] if side == "right" else [synthetic, partner]
                truth |= {"synthetic_side": side, "synthetic": source, "real": f"test:{real.image_ids[partners[j]]}"}
            else:
                images = [self._image(pixels)]
                truth |= {"kind": "synthetic", "source": source}
            self.items.append({"id": item_id, "images": images, "finding": self._finding(task)})
            self.key[item_id] = truth

    def add_real(self, task: str, condition: str, real: _RealPool) -> None:
        """n_items real images of one task and condition (single and finding designs)."""
        n = self.config.n_items
        if len(real.images) < n:
            raise ReaderStudyError(
                f"the test split has {len(real.images)} real {task}/{condition} images, fewer than --n {n}; lower --n"
            )
        for index in self._draw(len(real.images), n, "real", task, condition):
            item_id = self.ids.new()
            self.items.append(
                {"id": item_id, "images": [self._image(real.images[index])], "finding": self._finding(task)}
            )
            self.key[item_id] = {
                "model": REAL,
                "task": task,
                "condition": condition,
                "kind": "real",
                "source": f"test:{real.image_ids[index]}",
            }
