"""mimic-cxr-jpg: MIMIC-CXR-JPG v2 (Johnson et al.) with its CheXpert-labeller, split and metadata CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxrbench.data import DATASETS
from cxrbench.data.chexpert import LABEL_MAP, read_chexpert_labels
from cxrbench.data.table_dataset import TableDataset, read_csv
from cxrbench.errors import CxrbenchError

_SPLIT_NAMES = {"train": "train", "validate": "val", "test": "test"}


@DATASETS.register("mimic-cxr-jpg")
class MimicCxrJpgDataset(TableDataset):
    """MIMIC-CXR-JPG: mimic-cxr-2.0.0-{chexpert,split,metadata}.csv(.gz) and files/pXX/pSUBJECT/sSTUDY/*.jpg.

    Labels are per study (CheXpert labeller); views come from the metadata's ViewPosition; the
    official split (train / validate / test) is used as it is. Images of studies without labels
    are left out.
    """

    name = "mimic-cxr-jpg"
    label_map = LABEL_MAP

    def _csv(self, kind: str, columns: tuple[str, ...]) -> pd.DataFrame:
        for suffix in (".csv", ".csv.gz"):
            path = self.root / f"mimic-cxr-2.0.0-{kind}{suffix}"
            if path.is_file():
                return read_csv(path, self.name, columns, dtype={"dicom_id": str})
        raise CxrbenchError(
            f"mimic-cxr-jpg: no mimic-cxr-2.0.0-{kind}.csv(.gz) in {self.root}; point --data-root "
            "at the MIMIC-CXR-JPG folder"
        )

    def read_records(self) -> pd.DataFrame:
        labels_table = self._csv("chexpert", ("subject_id", "study_id"))
        split = self._csv("split", ("dicom_id", "split"))
        metadata = self._csv("metadata", ("dicom_id", "subject_id", "study_id", "ViewPosition"))
        labels = read_chexpert_labels(labels_table, "mimic-cxr-2.0.0-chexpert.csv")
        labels[["subject_id", "study_id"]] = labels_table[["subject_id", "study_id"]]
        images = metadata[["dicom_id", "subject_id", "study_id", "ViewPosition"]].merge(
            split[["dicom_id", "split"]], on="dicom_id", how="left"
        )
        images["row"] = np.arange(len(images)) + 2
        joined = images.merge(labels, on=["subject_id", "study_id"], how="inner")
        subject = joined["subject_id"].astype(str)
        records = pd.DataFrame(
            {
                "path": [
                    str(self.root / "files" / f"p{s[:2]}" / f"p{s}" / f"s{st}" / f"{d}.jpg")
                    for s, st, d in zip(subject, joined["study_id"], joined["dicom_id"])
                ],
                "image_id": joined["dicom_id"],
                "patient_id": subject,
                "view": joined["ViewPosition"].fillna("").str.upper(),
                "official_split": joined["split"].map(_SPLIT_NAMES),
                "source": "mimic-cxr-2.0.0-metadata.csv",
                "row": joined["row"],
            }
        )
        return pd.concat([records, self.findings_from(joined)], axis=1)
