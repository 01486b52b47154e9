"""chexpert: CheXpert (Irvin et al., AAAI 2019) train.csv / valid.csv with its 14 observations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data import DATASETS
from cxrbench.data.table_dataset import TableDataset, read_csv
from cxrbench.errors import CxrbenchError

OBSERVATIONS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

# The CheXpert labeller's observations, shared by CheXpert and MIMIC-CXR-JPG.
LABEL_MAP = {
    "atelectasis": ("Atelectasis",),
    "lung_opacity": ("Lung Opacity",),
    "pleural_effusion": ("Pleural Effusion",),
    # Cardiomegaly, not "Enlarged Cardiomediastinum", which also counts mediastinal widening.
    "enlarged_cardiac_silhouette": ("Cardiomegaly",),
    # every observation under its own name too, for plugin tasks ("Pleural Effusion" -> pleural_effusion)
    **{o.lower().replace(" ", "_"): (o,) for o in OBSERVATIONS if o != "No Finding"},
}


def read_chexpert_labels(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """The 14 observation columns as floats (1, 0, -1 uncertain, NaN not mentioned), values checked."""
    missing = [c for c in OBSERVATIONS if c not in table]
    if missing:
        raise CxrbenchError(f"{source} lacks CheXpert observation columns {missing[:3]}")
    labels = table[list(OBSERVATIONS)].apply(pd.to_numeric, errors="coerce")
    bad = ~(labels.isin([1.0, 0.0, -1.0]) | labels.isna()) | (labels.isna() & table[list(OBSERVATIONS)].notna())
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise CxrbenchError(
            f"{source} row {row + 2}, column {OBSERVATIONS[column]!r}: label "
            f"{table[OBSERVATIONS[column]].iloc[row]} is not 1, 0, -1 or blank"
        )
    return labels


def _relative_to_release(path: str) -> Path:
    """'CheXpert-v1.0-small/train/...' -> 'train/...'; paths without the release folder stay as they are."""
    parts = Path(path).parts
    return Path(*parts[1:]) if parts and parts[0].lower().startswith("chexpert") else Path(path)


@DATASETS.register("chexpert")
class CheXpertDataset(TableDataset):
    """CheXpert: the root holds train.csv, valid.csv and the image folders they name.

    Paths in the CSVs start with the release folder (e.g. CheXpert-v1.0-small/train/...), which is
    the root itself. valid.csv is the official evaluation set and becomes the test split; train.csv
    patients are split into train and val by seed. Uncertain labels (-1) follow `uncertain`.
    """

    name = "chexpert"
    label_map = LABEL_MAP

    def read_records(self) -> pd.DataFrame:
        parts = []
        for csv, split in (("train.csv", None), ("valid.csv", "test")):
            path = self.root / csv
            if not path.is_file():
                if csv == "train.csv":
                    raise CxrbenchError(
                        f"chexpert: no train.csv in {self.root}; point --data-root at the folder "
                        "that holds train.csv and valid.csv"
                    )
                continue
            table = read_csv(
                path,
                self.name,
                ("Path", "Frontal/Lateral", "AP/PA"),
                dtype={"Path": str, "Frontal/Lateral": str, "AP/PA": str},
            )
            table["Path"] = table["Path"].fillna("")  # an empty path is refused with its row
            labels = read_chexpert_labels(table, csv)
            relative = table["Path"].map(_relative_to_release)
            lateral = table["Frontal/Lateral"].str.lower() == "lateral"
            records = pd.DataFrame(
                {
                    "path": [str(self.root / r) for r in relative],
                    "image_id": table["Path"],
                    "patient_id": table["Path"].str.extract(r"(patient\d+)", expand=False),
                    "view": np.where(lateral, "LATERAL", table["AP/PA"].fillna("").str.upper()),
                    "official_split": split,
                    "source": csv,
                    "row": np.arange(len(table)) + 2,
                }
            )
            parts.append(pd.concat([records, self.findings_from(labels)], axis=1))
        return pd.concat(parts, ignore_index=True)
