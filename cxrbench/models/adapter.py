"""The model adapter contract: a small class that owns one generator and nothing else.

The runner owns seeds, files, caching and resume. An adapter only:
- declares how it is conditioned (``conditioning``),
- optionally trains (``fit``) and saves/loads its weights (``save`` / ``load``),
- generates uint8 batches [B, 1, H, W] for a ``Condition`` with ``generate``: any span of image indices of
  a sample set, each image made from its own seed (``image_generators``), so a set can be split across
  processes by index and still be the same images.
Constructor keyword arguments are the adapter's options; they are recorded in the run manifest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, ClassVar, Iterator, Sequence

import torch

from cxrbench.data.image_set import ImageSet
from cxrbench.seeds import image_seed
from cxrbench.tasks.task import Condition


class Conditioning(str, Enum):
    """How an adapter is told which finding to draw."""

    CLASS = "class"  # a label vector
    TEXT = "text"  # a prompt
    LATENT_SEARCH = "latent_search"  # an unconditional model steered by a classifier
    UNCONDITIONAL = "unconditional"
    REFERENCE = "reference"  # real images or a fixed baseline, not a generative model
    SAMPLES = "samples"  # images made elsewhere, read from disk (``run --samples NAME=PATH``)


@dataclass(frozen=True)
class FitContext:
    """What an adapter may use to train.

    train: real training split at the benchmark resolution.
    holdout: real held-out images that no model trains on; only reference adapters may read it.
    conditions: every condition the run will ask ``generate`` for.
    progress: callback(completed, total, description) for the runner's progress bar.
    work_dir: a folder for resumable training state and sample grids (kept across an
    interruption, so that rerunning the command continues the training); None = no resume.
    """

    train: ImageSet
    holdout: ImageSet
    conditions: tuple[Condition, ...]
    resolution: int
    device: torch.device
    seed: int
    progress: Callable[[int, int, str], None] = lambda done, total, text: None
    work_dir: Path | None = None


@dataclass(frozen=True)
class GenerationLog:
    """What an adapter records about its last ``generate`` call (one span of a sample set).

    records: one JSON-serialisable dict per image, in image order, with its set-wide ``index`` (e.g. prompt
    and seed, or the classifier probabilities and steps of a latent search). summary: per-image means (e.g.
    success rate, seconds per image) or facts every image shares (e.g. the sampler's settings). The runner
    writes both beside the samples; for a set made in several spans it joins the records and takes the
    image-weighted mean of each summary number that differs between spans.
    """

    records: list[dict]
    summary: dict


class ModelAdapter(ABC):
    """Base class of every model adapter (built-in or plugin).

    Subclasses set ``conditioning`` and ``trainable`` and implement ``generate``; trainable
    adapters also implement ``fit``, ``save`` and ``load``. Reference adapters (``trainable =
    False``) may still need ``fit`` to receive the real images they return. A bad option value is
    a ``cxrbench.errors.ConfigError`` raised in ``__init__`` (shown as one line, exit code 2).
    """

    conditioning: ClassVar[Conditioning]
    trainable: ClassVar[bool] = False
    # Whether fit uses context.conditions (the run's selected tasks): then they are part of the
    # weights' cache key. False (training reads every label whatever --tasks selects): a --tasks
    # subset reuses the weights a --models all run trained. True is the safe default.
    trains_per_condition: ClassVar[bool] = True
    # Constructor options that change only how images are drawn from trained weights (a sampler, its steps):
    # left out of the weights' cache key, so changing them reuses the trained (or reference) weights.
    sampling_options: ClassVar[tuple[str, ...]] = ()

    def fit(self, context: FitContext) -> None:
        """Train (or receive reference images). Default: nothing to do."""

    def training_settings(self) -> dict:
        """Resolved settings that determine the trained weights beyond the constructor options
        (e.g. a preset's values). They are part of the weights' cache key and of the manifest,
        so a changed default never reuses stale weights. Default: none."""
        return {}

    def place(self, device: torch.device) -> None:
        """Move loaded or trained weights to ``device`` before ``generate``. Default: nothing to move."""

    def generation_log(self) -> GenerationLog | None:
        """Facts about the last completed ``generate`` call, or None when there are none to record."""
        return None

    def save(self, directory: Path) -> None:
        """Write weights (safetensors) and config (JSON) into ``directory``."""
        raise NotImplementedError(f"{type(self).__name__} has no weights to save")

    def load(self, directory: Path) -> None:
        """Read weights written by ``save``; never unpickles arbitrary objects."""
        raise NotImplementedError(f"{type(self).__name__} has no weights to load")

    @abstractmethod
    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        """Yield uint8 tensors [B, 1, H, W] (B <= batch_size): images ``indices`` of the set made with ``seed``.

        Image i must depend only on (condition, seed, i), never on which other images are asked for in the
        same call: draw its randomness from ``image_generators(seed, indices)[j]``, or take item i of a
        fixed order. The runner asks for spans of at most ``batch_size`` images, the same spans whatever
        the number of processes. An ``UnavailableError`` (e.g. too few real images) marks the whole set.
        """


def image_generators(seed: int, indices: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per image, seeded by ``image_seed(seed, i)`` for each i in ``indices``."""
    return [torch.Generator().manual_seed(image_seed(seed, i)) for i in indices]


def image_normal(generators: Sequence[torch.Generator], *shape: int) -> torch.Tensor:
    """float32 [len(generators), *shape] standard normal draws, row j from ``generators[j]`` alone."""
    return torch.stack([torch.randn(shape, generator=g) for g in generators])
