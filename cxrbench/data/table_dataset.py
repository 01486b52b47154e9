"""TableDataset: the shared machinery of datasets described by a table of records (one row per image).

A subclass only reads its files into records; this base filters views, applies the uncertain-label
policy, assigns patient-level splits, decodes and square-resizes every image once into a memory-mapped
cache, and reports bad files with their file and row.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cxrbench.cache import cache_key, code_digest
from cxrbench.data import image_io, preprocess
from cxrbench.data.dataset import SPLITS, Dataset, count_findings
from cxrbench.data.image_io import BadImageError, read_image
from cxrbench.data.image_set import ImageSet
from cxrbench.data.preprocess import ASPECT_POLICIES, to_square
from cxrbench.data.splits import assign_splits
from cxrbench.errors import ConfigError, CxrbenchError
from cxrbench.files import atomic_write

VIEWS = ("PA", "AP", "both")
UNCERTAIN_POLICIES = ("ignore", "negative", "positive")
FRONTAL_VIEWS = ("PA", "AP")
UNKNOWN_VIEW = "unknown"
RECORD_COLUMNS = ("path", "image_id", "patient_id", "view", "official_split", "source", "row")


@dataclass(frozen=True)
class CsvFixes:
    """What ``read_csv``'s one-line messages tell the user to do, per problem with the file."""

    empty: str
    unreadable: str
    missing_columns: str


# A table of an official release (NIH, CheXpert, MIMIC): the user did not write it, so a broken one
# is restored; a user's own table (the folder dataset) brings its own CsvFixes.
RELEASE_CSV = CsvFixes(
    empty="restore the file from the dataset release",
    unreadable="fix the line it names or restore the file from the dataset release",
    missing_columns="is it the file of the official release? restore it from the dataset release",
)


def read_csv(
    path: Path, dataset: str, columns: tuple[str, ...] = (), fixes: CsvFixes = RELEASE_CSV, **options: object
) -> pd.DataFrame:
    """``pd.read_csv(path, **options)``; a malformed or unreadable file, or missing ``columns``, is a
    one-line CxrbenchError naming the file and the fix (``fixes``)."""
    try:
        table = pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise CxrbenchError(f"{dataset}: {path} is empty; {fixes.empty}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise CxrbenchError(f"{dataset}: {path} is not a readable CSV ({detail}); {fixes.unreadable}") from None
    missing = [c for c in columns if c not in table]
    if missing:
        raise CxrbenchError(f"{dataset}: {path.name} lacks columns {missing}; {fixes.missing_columns}")
    return table


class TableDataset(Dataset):
    """A dataset on disk described by a table of records.

    root: the dataset folder. view: "PA" (default), "AP" or "both" frontal views; lateral views are
    always dropped. uncertain: what an uncertain label (-1) becomes: "ignore" (default: the image
    counts as neither present nor absent for that finding), "negative" or "positive".
    split_seed / split_fractions: patient-level assignment of records without an official split.
    aspect: "crop" (centre square, default) or "pad". on_bad_image: "fail" (default) stops before any
    work with every bad file listed; "skip" drops them and counts them in the manifest.

    A subclass declares its ``label_map`` and turns its source labels into finding columns with
    ``findings_from``.
    """

    def __init__(
        self,
        root: str | None = None,
        view: str = "PA",
        uncertain: str = "ignore",
        split_seed: int = 0,
        split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
        aspect: str = "crop",
        on_bad_image: str = "fail",
    ) -> None:
        if root is None:
            raise ConfigError(f"{self.name} needs its data folder; pass --data-root PATH (or data_root in the config)")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ConfigError(f"{self.name} data root {self.root} is not a folder; pass --data-root PATH")
        for value, allowed, what in (
            (view, VIEWS, "view"),
            (uncertain, UNCERTAIN_POLICIES, "uncertain"),
            (aspect, ASPECT_POLICIES, "aspect"),
            (on_bad_image, ("fail", "skip"), "on_bad_image"),
        ):
            if value not in allowed:
                raise ConfigError(f"{self.name} {what}={value!r}; choose one of {', '.join(allowed)}")
        if len(split_fractions) != 3 or min(split_fractions) < 0 or sum(split_fractions) <= 0:
            raise ConfigError(
                f"split_fractions {split_fractions} must be three non-negative numbers (train, val, test)"
            )
        self.view, self.uncertain, self.split_seed = view, uncertain, int(split_seed)
        self.split_fractions = dict(zip(SPLITS, (float(f) for f in split_fractions)))
        self.aspect, self.on_bad_image = aspect, on_bad_image
        self._records: pd.DataFrame | None = None
        self._fingerprint: tuple[str, dict[str, str]] | None = None
        self._decoded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.skipped: list[str] = []
        self._decodes: np.ndarray | None = None  # per record: does its file decode? (None: not yet tried)

    @abstractmethod
    def read_records(self) -> pd.DataFrame:
        """One row per image: RECORD_COLUMNS plus one column per finding of ``self.findings`` (1, 0, -1),
        before any filtering."""

    def findings_from(self, source: pd.DataFrame) -> pd.DataFrame:
        """Source label columns (1 positive, 0 negative, -1 uncertain, NaN not mentioned) -> one int8 column
        per finding of ``self.findings``, through ``label_map``.

        A finding is positive when any source label mapped to it is positive, else uncertain when any is
        uncertain, else negative ("not mentioned" counts as negative).
        """
        out = {}
        for finding in self.findings:
            values = source[list(self.label_map[finding])].astype(float)
            out[finding] = np.where((values == 1).any(axis=1), 1, np.where((values == -1).any(axis=1), -1, 0))
        return pd.DataFrame(out, index=source.index).astype(np.int8)

    def labelling(self, findings: tuple[str, ...]) -> "TableDataset":
        super().labelling(findings)
        self._records, self._fingerprint, self._decoded, self._decodes = None, None, {}, None  # labels changed
        return self

    # -- records --------------------------------------------------------------------------------
    def records(self) -> pd.DataFrame:
        """Filtered, labelled and split records (cached in memory)."""
        if self._records is None:
            table = self.read_records()
            missing = [c for c in (*RECORD_COLUMNS, *self.findings) if c not in table]
            if missing:
                raise CxrbenchError(f"{self.name} records lack columns {missing}")
            self._check_paths(table)
            if not (table["view"] == UNKNOWN_VIEW).all():  # without view information nothing is filtered
                table = table[table["view"].isin(FRONTAL_VIEWS if self.view == "both" else (self.view,))]
            table = table.copy()
            if table.empty:
                raise CxrbenchError(f"{self.name}: no {self.view} images under {self.root}; try view='both'")
            if self.uncertain != "ignore":
                replacement = 0 if self.uncertain == "negative" else 1
                table[list(self.findings)] = table[list(self.findings)].replace(-1, replacement)
            table["split"] = assign_splits(table, self.split_fractions, self.split_seed)
            self._records = table.reset_index(drop=True)
        return self._records

    def _check_paths(self, table: pd.DataFrame) -> None:
        """Refuse image paths that are empty or lead outside the data root ('..', absolute paths).

        Lexical (symbolic links inside the root may point anywhere): a label file must not make
        cxrbench read, or report on, files its user did not put under the data root.
        """
        root = os.path.normpath(os.path.abspath(self.root))
        for record in table[["path", "image_id", "source", "row"]].itertuples(index=False):
            path = os.path.normpath(os.path.abspath(str(record.path)))
            if path == root or os.path.commonpath([root, path]) != root:
                problem = "is empty" if path == root else f"leads outside the data root {self.root}"
                raise CxrbenchError(
                    f"{self.name}: {record.source} row {record.row}: image path {record.image_id!r} "
                    f"{problem}; give paths relative to the data root, inside it (no '..', no "
                    "absolute paths)"
                )

    def fingerprint(self) -> str:
        """Changes with the records, labels, options and every file's size and modification time.

        Computed once per instance: a run asks for it often, and stat-ing every file is not free.
        """
        return self._fingerprints()[0]

    def fingerprint_parts(self) -> dict[str, str]:
        return self._fingerprints()[1]

    def _fingerprints(self) -> tuple[str, dict[str, str]]:
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprints()
        return self._fingerprint

    def _compute_fingerprints(self) -> tuple[str, dict[str, str]]:
        """The whole digest (unchanged since 0.1, so cached work stays valid) and one per part."""
        table = self.records()
        whole = hashlib.sha256()
        parts = {name: hashlib.sha256() for name in ("options", "labels", "files")}

        def add(part: str, data: bytes) -> None:
            whole.update(data)
            parts[part].update(data)

        add("options", json.dumps(self._options(), sort_keys=True).encode())
        add(
            "labels",
            pd.util.hash_pandas_object(
                table[["image_id", "patient_id", "split", *self.findings]], index=False
            ).values.tobytes(),
        )
        for path in table["path"]:
            stat = os.stat(path) if os.path.exists(path) else None
            add("files", f"{path}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}".encode())
        return whole.hexdigest()[:16], {name: digest.hexdigest()[:16] for name, digest in parts.items()}

    def _options(self) -> dict:
        return {
            "dataset": self.name,
            "root": str(self.root),
            "view": self.view,
            "uncertain": self.uncertain,
            "split_seed": self.split_seed,
            "split_fractions": self.split_fractions,
            "aspect": self.aspect,
        }

    def describe(self) -> dict:
        return {**super().describe(), **self._options(), "skipped_files": len(self.skipped)}

    def counts(self) -> dict:
        """Per split: images, patients and findings of the records; once ``load`` or ``check`` has tried
        the files, only of those that decode (the fingerprint, made of the files on disk, stays)."""
        table = self.records()
        if self._decodes is not None:
            table = table[self._decodes]
        return count_findings(
            table[list(self.findings)].to_numpy(),
            table["patient_id"].to_numpy(),
            table["split"].to_numpy(),
            self.findings,
        )

    # -- pixels ----------------------------------------------------------------------------------
    def load(self, split: str, resolution: int, cache_dir: Path | None = None) -> ImageSet:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        pixels, good = self._pixels(resolution, cache_dir)
        table = self.records()
        rows = np.flatnonzero((table["split"].to_numpy() == split) & good)
        part = table.iloc[rows]
        return ImageSet(
            images=torch.from_numpy(np.array(pixels[rows]))[:, None],
            labels=torch.from_numpy(part[list(self.findings)].to_numpy(dtype=np.int8).copy()),
            image_ids=tuple(part["image_id"].astype(str)),
            patient_ids=tuple(part["patient_id"].astype(str)),
            meta={"view": list(part["view"]), "source_row": [f"{s}:{r}" for s, r in zip(part["source"], part["row"])]},
            findings=self.findings,
        )

    def check(self) -> list[str]:
        """Every bad file as 'FILE (SOURCE row N): problem', decoding each image once; ``counts`` leaves
        them out from then on."""
        table = self.records()
        problems, decodes = [], np.ones(len(table), dtype=bool)
        for i, record in enumerate(table.itertuples()):
            try:
                read_image(Path(record.path))
            except BadImageError as error:
                decodes[i] = False
                problems.append(f"{error} ({record.source} row {record.row})")
        self._decodes = decodes
        return problems

    def _pixels(self, resolution: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        """All records decoded at ``resolution`` (memory-mapped from the cache when there is one) and a
        mask of the good ones."""
        key = cache_key(
            "datasets",
            self.fingerprint(),
            {"dataset": self.name, "resolution": resolution, "aspect": self.aspect},
            code_digest(image_io.__file__, preprocess.__file__),  # the decoding and the square resize
        )
        if key not in self._decoded:  # the three splits of one run decode the files once
            self._decoded[key] = self._decode(key, resolution, cache_dir)
        return self._decoded[key]

    def _decode(self, key: str, resolution: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        folder = Path(cache_dir) / "datasets" / self.name if cache_dir else None
        if folder is not None and (folder / f"{key}.npy").is_file():
            good = np.load(folder / f"{key}.good.npy")
            self._fail_or_note(good, [f"image file {p} cannot be used" for p in self.records()["path"][~good]])
            return np.load(folder / f"{key}.npy", mmap_mode="r"), good
        table = self.records()
        pixels = np.zeros((len(table), resolution, resolution), dtype=np.uint8)
        good = np.ones(len(table), dtype=bool)
        problems = []
        for i, record in enumerate(table.itertuples()):
            try:
                pixels[i] = to_square(read_image(Path(record.path)), resolution, self.aspect)
            except BadImageError as error:
                good[i] = False
                problems.append(f"{error} ({record.source} row {record.row})")
        self._fail_or_note(good, problems)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for suffix, array in ((".npy", pixels), (".good.npy", good)):
                atomic_write(folder / f"{key}{suffix}", lambda tmp, array=array: np.save(tmp, array), suffix=".npy")
        return pixels, good

    def _fail_or_note(self, good: np.ndarray, problems: list[str]) -> None:
        """Stop before any work on bad files (on_bad_image="fail"), or remember them as skipped."""
        self._decodes = np.asarray(good, dtype=bool).copy()
        if problems and self.on_bad_image == "fail":
            more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
            raise CxrbenchError(
                f"{self.name}: {problems[0]}{more}; run `cxrbench data check` for the list, fix "
                'or remove them, or set data_options on_bad_image = "skip"'
            )
        self.skipped = [str(p) for p in self.records()["path"][~good]]
