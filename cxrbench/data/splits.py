"""Patient-level splits: deterministic for a seed, official assignments kept, no patient in two splits."""

from __future__ import annotations

import hashlib

import pandas as pd

from cxrbench.data.dataset import SPLITS
from cxrbench.errors import CxrbenchError


def _unit_interval(seed: int, patient: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, patient): stable when other patients are added."""
    digest = hashlib.sha256(f"{seed}:{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def assign_splits(records: pd.DataFrame, fractions: dict[str, float], seed: int) -> pd.Series:
    """The split of every record.

    Records with an ``official_split`` keep it. The others are assigned by patient to the splits
    no official assignment covers, in proportion to ``fractions`` (renormalised over those splits).
    Raises when a patient would end up in two splits.
    """
    official = records["official_split"] if "official_split" in records else pd.Series(None, index=records.index)
    covered = set(official.dropna())
    unknown = covered - set(SPLITS)
    if unknown:
        raise CxrbenchError(f"official split names {sorted(unknown)} are not among {SPLITS}; fix the split file")
    open_splits = [s for s in SPLITS if s not in covered] or list(SPLITS)
    total = sum(fractions[s] for s in open_splits)
    edges, running = [], 0.0
    for split in open_splits:
        running += fractions[split] / total
        edges.append((running, split))

    def pick(patient: str) -> str:
        u = _unit_interval(seed, patient)
        return next((split for edge, split in edges if u < edge), open_splits[-1])

    assigned = official.copy().astype(object)
    missing = assigned.isna()
    assigned[missing] = [pick(p) for p in records.loc[missing, "patient_id"]]
    per_patient = assigned.groupby(records["patient_id"]).nunique()
    if (per_patient > 1).any():
        patient = per_patient[per_patient > 1].index[0]
        raise CxrbenchError(
            f"patient {patient} is in more than one split; the official split files disagree "
            "with each other, fix them or leave them out"
        )
    return assigned
