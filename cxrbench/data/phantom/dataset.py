"""PhantomDataset: deterministic phantom patients, split by patient into train/val/test."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from cxrbench.data import DATASETS
from cxrbench.data.dataset import SPLITS, Dataset, count_findings
from cxrbench.data.image_set import ImageSet
from cxrbench.data.phantom.anatomy import sample_anatomy
from cxrbench.data.phantom.findings import sample_findings
from cxrbench.data.phantom.render import render
from cxrbench.errors import ConfigError
from cxrbench.tasks import FINDINGS

PHANTOM_VERSION = 3  # bump when rendering changes, so cached work keyed on the fingerprint is redone
_SPLIT_FRACTIONS = {"train": 0.6, "val": 0.1, "test": 0.3}


def render_image(seed: int, patient: int, study: int, resolution: int) -> tuple[np.ndarray, dict]:
    """One phantom image and its metadata; the same arguments always give the same pixels."""
    anatomy = sample_anatomy(np.random.default_rng([seed, patient]))
    rng = np.random.default_rng([seed, patient, study, 1])
    findings = sample_findings(rng)
    image = render(anatomy, findings, resolution, rng)
    meta = {
        "cardiothoracic_ratio": findings.cardiothoracic_ratio or anatomy.cardiothoracic_ratio,
        "effusion_side": "+".join(findings.effusion_sides) or None,
        "effusion_severity": findings.effusion_severity,
        "atelectasis_side": findings.atelectasis_side,
        "atelectasis_kind": findings.atelectasis_kind,
        "opacity_blobs": findings.opacity_blobs,
    }
    return image, {"labels": findings.labels, **meta}


@DATASETS.register("phantom")
class PhantomDataset(Dataset):
    """Procedural frontal chest radiographs with ground-truth findings; no download needed.

    n_images: total images; about one patient in four has a second (follow-up) study.
    seed: the phantom population; splits are 60/10/30 % of patients (train/val/test).
    """

    name = "phantom"
    label_map = {finding: (finding,) for finding in FINDINGS}  # the ground truth it draws (findings.py)

    def __init__(self, n_images: int = 6000, seed: int = 0) -> None:
        if n_images < 20:
            raise ConfigError(f"phantom n_images={n_images} is too small; use at least 20")
        self.n_images = int(n_images)
        self.seed = int(seed)
        self._studies = self._enumerate_studies()

    def _enumerate_studies(self) -> list[tuple[int, int, str]]:
        """(patient, study, split) for every image, deterministic for the seed."""
        rng = np.random.default_rng([self.seed, 7])
        studies: list[tuple[int, int, str]] = []
        patient = 0
        while len(studies) < self.n_images:
            split = str(rng.choice(SPLITS, p=[_SPLIT_FRACTIONS[s] for s in SPLITS]))
            n_studies = 2 if rng.random() < 0.25 else 1
            for study in range(n_studies):
                if len(studies) < self.n_images:
                    studies.append((patient, study, split))
            patient += 1
        return studies

    def fingerprint(self) -> str:
        spec = {"dataset": "phantom", "version": PHANTOM_VERSION, "n_images": self.n_images, "seed": self.seed}
        if self.findings != FINDINGS:  # only then, so that every earlier fingerprint stays
            spec["findings"] = list(self.findings)
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def fingerprint_parts(self) -> dict[str, str]:
        return {"spec": self.fingerprint()}

    def describe(self) -> dict:
        return {**super().describe(), "n_images": self.n_images, "seed": self.seed, "version": PHANTOM_VERSION}

    def counts(self) -> dict:
        labels = np.array(
            [sample_findings(np.random.default_rng([self.seed, p, s, 1])).labels for p, s, _ in self._studies]
        )
        patients = np.array([p for p, _, _ in self._studies])
        splits = np.array([split for _, _, split in self._studies])
        return count_findings(labels[:, self._columns()], patients, splits, self.findings)

    def _columns(self) -> list[int]:
        """The columns of ``findings`` among the four the phantom draws."""
        return [FINDINGS.index(f) for f in self.findings]

    def load(self, split: str, resolution: int, cache_dir: Path | None = None) -> ImageSet:
        # Rendering is faster than reading a cache back, so the phantom only memoises in memory.
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if not 32 <= resolution <= 1024:
            raise ConfigError(f"phantom resolution {resolution} is out of range; choose 32 to 1024")
        rendered = _render_split(self.seed, tuple(self._studies), split, resolution)
        if self.findings == FINDINGS:
            return rendered
        return dataclasses.replace(rendered, labels=rendered.labels[:, self._columns()], findings=self.findings)


@lru_cache(maxsize=8)
def _render_split(seed: int, studies: tuple[tuple[int, int, str], ...], split: str, resolution: int) -> ImageSet:
    chosen = [(p, s) for p, s, sp in studies if sp == split]
    images = np.empty((len(chosen), 1, resolution, resolution), dtype=np.uint8)
    labels = np.empty((len(chosen), len(FINDINGS)), dtype=np.int8)
    meta: dict[str, list] = {}
    for i, (patient, study) in enumerate(chosen):
        images[i, 0], info = render_image(seed, patient, study, resolution)
        labels[i] = info.pop("labels")
        for key, value in info.items():
            meta.setdefault(key, []).append(value)
    return ImageSet(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        image_ids=tuple(f"PH{p:06d}_{s:03d}" for p, s in chosen),
        patient_ids=tuple(f"PH{p:06d}" for p, _ in chosen),
        meta=meta,
    )
