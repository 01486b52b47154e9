"""The feature-extractor contract: uint8 images in, named float arrays out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch

from cxrbench.data.image_set import ImageSet

# An identity field: False when a space's weights are not its published file (verify = false).
PUBLISHED_WEIGHTS_FIELD = "published_weights"


@dataclass(frozen=True)
class ExtractorContext:
    """What an extractor may use to get ready: real splits, device, cache, its options.

    zoo: a folder of reference weights an extractor trained here may load instead of training (cxrbench/zoo);
    retrain: train even when reference or cached weights match.
    """

    train: ImageSet
    val: ImageSet
    test: ImageSet
    device: torch.device
    seed: int
    cache_dir: Path
    dataset_fingerprint: str
    options: dict = field(default_factory=dict)
    progress: Callable[[int, int, str], None] = lambda done, total, text: None
    zoo: Path | None = None
    retrain: bool = False


class FeatureExtractor(ABC):
    """A feature space. ``extract`` returns named arrays; every extractor returns ``features``.

    Grayscale policy: inputs are uint8 [B, 1, H, W]; networks that expect RGB get the one
    channel replicated three times. Each extractor documents its one resize policy.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]] = ("features",)
    needs_training_data: ClassVar[bool] = False  # True: prepare() trains on the labelled real splits

    @abstractmethod
    def prepare(self, context: ExtractorContext) -> None:
        """Load weights or train; raise UnavailableError with the fix when that cannot work here."""

    @abstractmethod
    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 [B, 1, H, W] -> {"features": float64 [B, D], ...}."""

    @abstractmethod
    def identity(self) -> dict:
        """What makes numbers in this space comparable: weights hash, preprocessing, dimension."""

    def report(self) -> dict:
        """Facts for the manifest (e.g. the evaluator's test AUROC). Default: the identity."""
        return self.identity()
