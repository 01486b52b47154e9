"""ImageSet: the one in-memory form of real images that datasets hand to the rest of cxrbench."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cxrbench.tasks.task import FINDINGS, Condition


@dataclass(frozen=True)
class ImageSet:
    """Images with their labels.

    images: uint8 tensor [N, 1, H, W] (0 = black, 255 = white, radiographic convention: dense is bright).
    labels: int8 tensor [N, len(findings)], 1 = finding present, 0 = absent, -1 = uncertain (an uncertain
    image belongs to neither condition of that finding).
    image_ids / patient_ids: one string each per image.
    meta: optional per-image metadata columns (each a list of N values).
    findings: the finding of each label column.
    """

    images: torch.Tensor
    labels: torch.Tensor
    image_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    meta: dict[str, list] = field(default_factory=dict)
    findings: tuple[str, ...] = FINDINGS

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be uint8 [N, 1, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        if tuple(self.labels.shape) != (n, len(self.findings)):
            raise ValueError(f"labels must be [N, {len(self.findings)}], got {tuple(self.labels.shape)}")
        if len(self.image_ids) != n or len(self.patient_ids) != n:
            raise ValueError("image_ids and patient_ids need one entry per image")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, index: np.ndarray | list[int]) -> "ImageSet":
        """The images at ``index`` (in that order)."""
        idx = np.asarray(index, dtype=np.int64)
        t = torch.from_numpy(idx)
        return ImageSet(
            images=self.images[t],
            labels=self.labels[t],
            image_ids=tuple(self.image_ids[i] for i in idx),
            patient_ids=tuple(self.patient_ids[i] for i in idx),
            meta={k: [v[i] for i in idx] for k, v in self.meta.items()},
            findings=self.findings,
        )

    def matching_index(self, condition: Condition) -> np.ndarray:
        """Positions of the images whose labels agree with every non-free entry of ``condition.target``."""
        return np.flatnonzero(condition.matches(self.labels.numpy()))

    def matching(self, condition: Condition) -> "ImageSet":
        """The images of ``condition`` (see ``matching_index``)."""
        return self.subset(self.matching_index(condition))

    def split_by_patient(self, seed: int) -> tuple["ImageSet", "ImageSet"]:
        """Two disjoint halves with no patient in both, deterministic for ``seed``."""
        patients = sorted(set(self.patient_ids))
        order = np.random.default_rng(seed).permutation(len(patients))
        first = {patients[i] for i in order[: len(patients) // 2]}
        in_first = np.array([p in first for p in self.patient_ids])
        return self.subset(np.flatnonzero(in_first)), self.subset(np.flatnonzero(~in_first))
