"""Read any MRMC ROC study: a plain CSV (reader, case, truth, modality, rating) or the LABMRMC ``.lrc`` format.

CSV: one row per rating, with a header naming the columns ``reader``, ``case``, ``truth`` (1 positive /
diseased, 0 negative), ``modality`` (or ``treatment``) and ``rating`` (higher = more likely positive).

LABMRMC (``.lrc``; the format of the Iowa/Chicago MRMC programs and RJafroc's examples):

```
a title line
READER                      first reader's name
"MOD1" "MOD2" ...           modality names
L L ...                     per modality: L = larger rating means more likely positive, S = smaller
r1 r2 ... [case label]      one line per negative case, one rating per modality
*
r1 r2 ... [case label]      one line per positive case
*
READER                      the next reader: negatives * positives *, in the same case order
...
#
```

Cases are matched across readers by their position in each block (the LABMRMC convention).
"""

from __future__ import annotations

import csv
from pathlib import Path

from cxrbench.reader_study.design import ReaderStudyError
from cxrbench.reader_study.mrmc_data import Ratings

CSV_COLUMNS = ("reader", "case", "truth", "modality", "rating")


def read_mrmc_file(path: Path) -> Ratings:
    """The ratings of ``path``: ``.lrc`` read as LABMRMC, anything else as CSV."""
    path = Path(path)
    if not path.is_file():
        raise ReaderStudyError(f"{path} does not exist; give an MRMC ratings file (.csv or .lrc)")
    records = _lrc_records(path) if path.suffix.lower() == ".lrc" else _csv_records(path)
    return Ratings.from_records(records)


def _csv_records(path: Path) -> list[tuple]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "treatment" in header and "modality" not in header:
            header[header.index("treatment")] = "modality"
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ReaderStudyError(
                f"{path.name}: missing column(s) {', '.join(missing)}; an MRMC CSV has "
                f"the columns {', '.join(CSV_COLUMNS)}"
            )
        reader.fieldnames = header
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                records.append(
                    (
                        row["modality"].strip(),
                        row["reader"].strip(),
                        row["case"].strip(),
                        int(row["truth"]),
                        float(row["rating"]),
                    )
                )
            except (TypeError, ValueError):
                raise ReaderStudyError(
                    f"{path.name} row {line}: truth must be 0 or 1 and rating a number, got "
                    f"truth={row.get('truth')!r} rating={row.get('rating')!r}"
                ) from None
    return records


def _lrc_records(path: Path) -> list[tuple]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 4:
        raise ReaderStudyError(f"{path.name}: too short for LABMRMC (title, reader, modalities, L/S flags, ratings)")
    modalities = [m.strip('"') for m in lines[2].split()]
    flags = lines[3].split()
    if len(flags) != len(modalities) or any(f.upper() not in ("L", "S") for f in flags):
        raise ReaderStudyError(
            f"{path.name} line 4: expected one L or S per modality ({len(modalities)}), got {lines[3]!r}"
        )
    signs = [1.0 if f.upper() == "L" else -1.0 for f in flags]
    records, position, reader = [], 4, lines[1]
    while True:
        for truth, kind in ((0, "negative"), (1, "positive")):
            count = 0
            while position < len(lines) and lines[position] != "*":
                tokens = lines[position].split()
                try:
                    ratings = [float(tokens[i]) for i in range(len(modalities))]
                except (IndexError, ValueError):
                    raise ReaderStudyError(
                        f"{path.name}: line {lines[position]!r} does not start with {len(modalities)} ratings"
                    ) from None
                count += 1
                for modality, sign, rating in zip(modalities, signs, ratings):
                    records.append((modality, reader, f"{kind}-{count}", truth, sign * rating))
                position += 1
            if position >= len(lines):
                raise ReaderStudyError(f"{path.name}: reader {reader!r} has no '*' after its {kind} cases")
            position += 1  # the '*'
        if position >= len(lines) or lines[position] == "#":
            return records
        reader, position = lines[position], position + 1
