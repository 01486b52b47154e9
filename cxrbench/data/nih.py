"""nih-cxr14: NIH ChestX-ray14 in its official layout (Wang et al., CVPR 2017)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxrbench.data import DATASETS
from cxrbench.data.table_dataset import TableDataset, read_csv
from cxrbench.errors import CxrbenchError

NIH_LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Effusion",
    "Emphysema",
    "Fibrosis",
    "Hernia",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pleural_Thickening",
    "Pneumonia",
    "Pneumothorax",
)

LABEL_MAP = {
    "atelectasis": ("Atelectasis",),
    # NIH has no lung-opacity label: its airspace labels stand in; Edema is left out on purpose (mostly
    # interstitial, and it would tie this finding to the cardiac one).
    "lung_opacity": ("Infiltration", "Consolidation", "Pneumonia"),
    "pleural_effusion": ("Effusion",),
    "enlarged_cardiac_silhouette": ("Cardiomegaly",),
    # every NIH label under its own name too, for plugin tasks (a pneumothorax task finds "pneumothorax")
    **{label.lower(): (label,) for label in NIH_LABELS},
}


@DATASETS.register("nih-cxr14")
class NihCxr14Dataset(TableDataset):
    """NIH ChestX-ray14: Data_Entry_2017*.csv plus PNGs in one or several folders under the root.

    `Finding Labels` is pipe-separated ("No Finding" when empty); NIH labels are never uncertain.
    Official splits come from test_list.txt / train_val_list.txt when they are in the root (the
    train_val images are then split by patient into train and val); otherwise every patient is
    assigned by seed.
    """

    name = "nih-cxr14"
    label_map = LABEL_MAP

    def read_records(self) -> pd.DataFrame:
        candidates = sorted(self.root.glob("Data_Entry_2017*.csv"))
        if not candidates:
            raise CxrbenchError(
                f"nih-cxr14: no Data_Entry_2017*.csv in {self.root}; point --data-root at the folder that holds it"
            )
        csv = candidates[-1]
        table = read_csv(
            csv,
            self.name,
            ("Image Index", "Finding Labels", "Patient ID", "View Position"),
            dtype={"Patient ID": str, "Image Index": str, "Finding Labels": str, "View Position": str},
        )
        files = {p.name: p for p in self.root.rglob("*.png")}
        labels = table["Finding Labels"].fillna("No Finding").str.split("|")
        unknown = sorted(set(label for row in labels for label in row) - set(NIH_LABELS) - {"No Finding"})
        if unknown:
            raise CxrbenchError(f"nih-cxr14: {csv.name} has unknown labels {unknown[:3]}; expected NIH's 14 labels")
        source = pd.DataFrame({name: labels.apply(lambda row, n=name: int(n in row)) for name in NIH_LABELS})
        records = pd.DataFrame(
            {
                "path": [str(files.get(name, self.root / "images" / name)) for name in table["Image Index"]],
                "image_id": table["Image Index"],
                "patient_id": table["Patient ID"].str.lstrip("0").replace("", "0"),
                "view": table["View Position"].str.upper(),
                "official_split": self._official_splits(table["Image Index"]),
                "source": csv.name,
                "row": np.arange(len(table)) + 2,  # 1-based, after the header line
            }
        )
        return pd.concat([records, self.findings_from(source)], axis=1)

    def _official_splits(self, names: pd.Series) -> pd.Series:
        test_list = self.root / "test_list.txt"
        if not test_list.is_file():
            return pd.Series(None, index=names.index, dtype=object)
        test = set(test_list.read_text().split())
        return names.map(lambda name: "test" if name in test else None)
