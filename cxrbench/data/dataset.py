"""The dataset contract: a named source of labelled real chest X-rays split by patient."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from cxrbench.data.image_set import ImageSet
from cxrbench.errors import ConfigError
from cxrbench.tasks import FINDINGS

SPLITS = ("train", "val", "test")
# The parts a fingerprint may be made of, in the words a refusal uses when one of them changed.
FINGERPRINT_PARTS = {
    "options": "its options (root, view, uncertain labels, splits, aspect)",
    "labels": "its records (image ids, patients, splits or labels)",  # the findings labelled among them
    "files": "its image files (a size or modification time)",
    "spec": "its generator (version, size or seed)",  # the findings labelled among them
}


class Dataset(ABC):
    """A source of real images at a requested square resolution.

    Constructor arguments are the dataset's options (``root`` for datasets on disk) and are
    recorded in the run manifest. ``load`` must give the same images for the same options.

    ``label_map`` declares the findings the dataset labels: finding -> the source labels that make it
    positive. ``findings`` are the label columns ``load`` gives, FINDINGS unless a run asks for others
    through ``labelling`` (a run whose tasks include a plugin finding).
    """

    name: ClassVar[str]
    label_map: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    findings: tuple[str, ...] = FINDINGS

    def labels_finding(self, finding: str) -> bool:
        """Whether this dataset can label ``finding`` (by default: ``label_map`` has it)."""
        return finding in self.label_map

    def labelling(self, findings: tuple[str, ...]) -> "Dataset":
        """This dataset, giving the label columns ``findings`` from now on; a finding it does not label is a
        one-line ConfigError naming it. Call before anything is loaded (labels are part of the fingerprint)."""
        missing = [f for f in findings if not self.labels_finding(f)]
        if missing:
            raise ConfigError(
                f"dataset {self.name} does not label finding {missing[0]!r} (it labels "
                f"{', '.join(self.label_map) or 'none'}); leave that task out of --tasks, or use a dataset "
                "whose label_map has it"
            )
        self.findings = tuple(findings)
        return self

    @abstractmethod
    def load(self, split: str, resolution: int, cache_dir: Path | None = None) -> ImageSet:
        """Images of ``split`` (one of SPLITS) as uint8 [N, 1, resolution, resolution].

        cache_dir: where decoded arrays may be cached (the run's cache root); None = no disk cache.
        """

    @abstractmethod
    def fingerprint(self) -> str:
        """A short string that changes whenever the dataset's images or labels would change."""

    def fingerprint_parts(self) -> dict[str, str]:
        """Digests of the parts behind ``fingerprint`` (keys of FINGERPRINT_PARTS), so that a refusal can
        say which part changed; default: none."""
        return {}

    @abstractmethod
    def counts(self) -> dict:
        """Per split: images, patients, and per finding the images present / absent / uncertain."""

    def check(self) -> list[str]:
        """Every bad input file as one line naming the file, its source row and the problem."""
        return []

    def describe(self) -> dict:
        """What the manifest records about this dataset."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint(),
            "fingerprint_parts": self.fingerprint_parts(),
            "findings": list(self.findings),
            "counts": self.counts(),
        }


def count_findings(
    labels: np.ndarray, patient_ids: np.ndarray, splits: np.ndarray, findings: tuple[str, ...] = FINDINGS
) -> dict:
    """``counts()`` from labels [N, len(findings)] (1 / 0 / -1), patient ids [N] and split names [N]."""
    result = {}
    for split in SPLITS:
        part = splits == split
        result[split] = {"images": int(part.sum()), "patients": int(len(set(patient_ids[part])))}
        for column, finding in enumerate(findings):
            values = labels[part, column]
            result[split][finding] = {
                "present": int((values == 1).sum()),
                "absent": int((values == 0).sum()),
                "uncertain": int((values == -1).sum()),
            }
    return result
