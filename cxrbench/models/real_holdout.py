"""Reference adapters that return real images: real-holdout (the floor) and train-copy (a memoriser)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from cxrbench.data.image_set import ImageSet
from cxrbench.errors import UnavailableError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter
from cxrbench.tasks.task import Condition


@MODELS.register("real-holdout")
class RealHoldoutAdapter(ModelAdapter):
    """Real held-out test images of the condition: the best any generator can do.

    The runner splits the test split by patient into two halves: metrics compare against one,
    this adapter returns images of the other, so its scores are the real-vs-real floor.
    """

    conditioning = Conditioning.REFERENCE
    pool_name = "held-out real"

    def __init__(self) -> None:
        self.pool: ImageSet | None = None

    def fit(self, context: FitContext) -> None:
        self.pool = context.holdout

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        if self.pool is None:
            raise RuntimeError(f"{type(self).__name__}.generate called before fit")
        matching = self.pool.matching(condition)
        if len(matching) < indices.stop:
            raise UnavailableError(
                f"only {len(matching)} {self.pool_name} images show {condition.key}; "
                f"lower --n-samples to {len(matching)} or use a larger dataset"
            )
        order = np.random.default_rng(seed).permutation(len(matching))[indices.start : indices.stop]  # image i: item i
        yield from matching.images[torch.from_numpy(order)].split(batch_size)


@MODELS.register("train-copy")
class TrainCopyAdapter(RealHoldoutAdapter):
    """Training images of the condition, returned as they are: a perfect memoriser.

    The memorisation metric must flag it; distribution metrics such as FID may rank it near the
    real-holdout floor, which is why memorisation is measured separately.
    """

    pool_name = "training"

    def fit(self, context: FitContext) -> None:
        self.pool = context.train
