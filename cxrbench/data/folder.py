"""folder: any folder of images plus a CSV with a path column and finding columns (names mappable)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxrbench.data import DATASETS
from cxrbench.data.table_dataset import UNKNOWN_VIEW, CsvFixes, TableDataset, read_csv
from cxrbench.errors import CxrbenchError
from cxrbench.tasks import TASKS


@DATASETS.register("folder")
class FolderDataset(TableDataset):
    """Your own images: root/labels.csv with a path column (relative to root) and one column per finding.

    csv: the CSV's name in the root. columns: finding -> CSV column (default: the finding names; any
    task's finding, plugins' too, is labelled this way).
    Labels: 1 present, 0 absent, -1 uncertain, blank absent. Optional columns: patient_column
    (default: each image its own patient), view_column (without one, no view filter is applied),
    split_column (train / val / test; rows left blank are split by patient). Paths ending in .dcm
    are read as DICOM.
    """

    name = "folder"

    def __init__(
        self,
        root: str | None = None,
        csv: str = "labels.csv",
        path_column: str = "path",
        columns: dict | None = None,
        patient_column: str | None = None,
        view_column: str | None = None,
        split_column: str | None = None,
        view: str = "PA",
        uncertain: str = "ignore",
        split_seed: int = 0,
        split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
        aspect: str = "crop",
        on_bad_image: str = "fail",
    ) -> None:
        super().__init__(root, view, uncertain, split_seed, split_fractions, aspect, on_bad_image)
        self.csv, self.path_column = csv, path_column
        self.mapped = dict(columns or {})
        unknown = sorted(set(self.mapped) - set(TASKS.names()))
        if unknown:
            raise CxrbenchError(f"folder: columns maps unknown findings {unknown}; use {', '.join(TASKS.names())}")
        self.patient_column, self.view_column, self.split_column = patient_column, view_column, split_column

    def labels_finding(self, finding: str) -> bool:
        return True  # a column of the CSV, named after the finding or mapped with `columns`

    @property
    def label_map(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        return {finding: (self.mapped.get(finding, finding),) for finding in self.findings}

    def _csv_columns(self) -> tuple[str, ...]:
        """The columns the CSV must have with these options: the path, one per finding, the optional ones."""
        return (
            self.path_column,
            *(column for (column,) in self.label_map.values()),
            *(c for c in (self.patient_column, self.view_column, self.split_column) if c),
        )

    def _csv_fixes(self) -> CsvFixes:
        """The CSV is the user's own: a bad one is fixed by them, so the messages say what it must hold."""
        columns = ", ".join(self._csv_columns())
        layout = (
            f"a header row naming {columns}, then one row per image (its path relative to the data root, "
            "its labels 1, 0, -1 or blank)"
        )
        return CsvFixes(
            empty=f"it must hold {layout}; write those rows, or point data_options csv at the right file",
            unreadable=f"it must be comma-separated UTF-8 text holding {layout}; fix what the message names, "
            "or save the file again as CSV",
            missing_columns=f"its header row must name {columns}; rename those columns in the file, or map yours "
            'with data_options path_column = "NAME" and columns = {FINDING = "NAME"}',
        )

    def read_records(self) -> pd.DataFrame:
        path = self.root / self.csv
        if not path.is_file():
            raise CxrbenchError(f'folder: no {self.csv} in {self.root}; pass data_options csv = "NAME.csv"')
        fixes = self._csv_fixes()
        table = read_csv(path, self.name, self._csv_columns(), fixes, dtype=str, keep_default_na=False)
        if table.empty:
            raise CxrbenchError(f"folder: {path} has no rows below its header; {fixes.empty}")
        source = pd.DataFrame(index=table.index)
        for (column,) in self.label_map.values():
            values = pd.to_numeric(table[column].replace("", "0"), errors="coerce")
            bad = ~values.isin([1, 0, -1])
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise CxrbenchError(
                    f"folder: {self.csv} row {row + 2}, column {column!r}: label "
                    f"{table[column].iloc[row]} is not 1, 0, -1 or blank"
                )
            source[column] = values
        split = table[self.split_column].replace("", None) if self.split_column else None
        records = pd.DataFrame(
            {
                "path": [str(self.root / p) for p in table[self.path_column]],
                "image_id": table[self.path_column],
                "patient_id": table[self.patient_column] if self.patient_column else table[self.path_column],
                "view": table[self.view_column].str.upper() if self.view_column else UNKNOWN_VIEW,
                "official_split": split,
                "source": self.csv,
                "row": np.arange(len(table)) + 2,
            }
        )
        return pd.concat([records, self.findings_from(source)], axis=1)
