"""The dataset contract: a named source of labelled real chest X-rays split by patient."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from cxrbench.data.image_set import ImageSet

SPLITS = ("train", "val", "test")


class Dataset(ABC):
    """A source of real images at a requested square resolution.

    Constructor arguments are the dataset's options (``root`` for datasets on disk) and are
    recorded in the run manifest. ``load`` must give the same images for the same options.
    """

    name: ClassVar[str]

    @abstractmethod
    def load(self, split: str, resolution: int) -> ImageSet:
        """Images of ``split`` (one of SPLITS) as uint8 [N, 1, resolution, resolution]."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A short string that changes whenever the dataset's images or labels would change."""

    def describe(self) -> dict:
        """What the manifest records about this dataset."""
        return {"name": self.name, "fingerprint": self.fingerprint()}
