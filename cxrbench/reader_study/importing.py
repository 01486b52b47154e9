"""Import answers: another copy of the app's answers.sqlite, or CSV files, validated all or nothing.

The documented CSV schema (header row first; row numbers in errors count it as row 1):

| column      | required | values |
| ---         | ---      | ---    |
| reader_id   | yes      | 1-32 of a-z, 0-9, _ |
| item_id     | yes      | an item id of the study (served/items.json) |
| response    | yes      | real/synthetic (single), left/right (paired), no/yes (finding), cannot_tell; or a code 1..5 |
| confidence  | no       | definitely or probably for a side; empty for cannot_tell and for codes 1..5 |
| reason      | no       | paired decisions: soft_tissue, bone_structure, external_devices, image_artifacts, other |
| seconds     | no       | response time in seconds (empty: unknown) |

A generic CSV is read through a column mapping, e.g. ``reader_id=Rater,item_id=Case``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from cxrbench.names import split_names
from cxrbench.reader_study.design import NEUTRAL, READER_ID, SCALE, SIDES, Design, ReaderStudyError, reason_problem
from cxrbench.reader_study.store import Answer, AnswerStore, now, read_answer_file
from cxrbench.reader_study.study import Study

COLUMNS = ("reader_id", "item_id", "response", "confidence", "reason", "seconds")
REQUIRED = ("reader_id", "item_id", "response")
CANNOT_TELL = "cannot_tell"
CONFIDENCE = {"definitely": 0, "probably": 1}  # distance of the point from the scale's end
SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class ImportReport:
    """What one import did: rows read, answers new to the store, rows already stored identically."""

    source: str
    rows: int
    added: int
    already_stored: int


def parse_columns(text: str | None) -> dict[str, str]:
    """``"reader_id=Rater,item_id=Case"`` -> {"reader_id": "Rater", ...}; unknown schema names are errors."""
    mapping: dict[str, str] = {}
    for part in split_names(text):
        name, sep, column = part.partition("=")
        if not sep or not column.strip():
            raise ReaderStudyError(f"--columns part {part!r} must look like schema_name=csv_column")
        if name.strip() not in COLUMNS:
            raise ReaderStudyError(
                f"--columns names unknown schema column {name.strip()!r}; schema columns: {', '.join(COLUMNS)}"
            )
        mapping[name.strip()] = column.strip()
    return mapping


def five_point(design: Design, response: str, confidence: str) -> int:
    """The 1..5 code of a CSV answer (see the module docstring); ValueError says what is wrong."""
    response, confidence = response.strip().lower(), confidence.strip().lower()
    if response.isdigit():
        if confidence:
            raise ValueError(f"a five-point code ({response}) takes no confidence, got {confidence!r}")
        if int(response) not in SCALE:
            raise ValueError(f"response {response} is not on the scale 1..5")
        return int(response)
    if response == CANNOT_TELL:
        if confidence:
            raise ValueError(f"{CANNOT_TELL} takes no confidence, got {confidence!r}")
        return NEUTRAL
    low, high = SIDES[design]
    if response not in (low, high):
        raise ValueError(
            f"response {response!r} is not one of {low}, {high}, {CANNOT_TELL} or 1..5 for the {design.value} design"
        )
    if confidence not in CONFIDENCE:
        raise ValueError(f"confidence {confidence!r} must be definitely or probably for response {response!r}")
    return 1 + CONFIDENCE[confidence] if response == low else 5 - CONFIDENCE[confidence]


def _seconds(text: object) -> float | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    value = float(text)  # ValueError for text that is not a number
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"seconds {text!r} must be a finite number, 0 or more")
    return value


def _check(study: Study, reader: str, item: str, response: int, reason: str | None) -> None:
    if not READER_ID.match(reader):
        raise ValueError(f"reader id {reader!r} is not valid (1-32 of a-z, 0-9, _)")
    if item not in study.item_ids:
        raise ValueError(f"item {item!r} is not in this study")
    problem = reason_problem(study.design, response, reason)
    if problem:
        raise ValueError(problem)


def read_csv(
    study: Study, path: Path, columns: dict[str, str] | None = None
) -> tuple[list[tuple[int, Answer]], list[str]]:
    """(row number, answer) of the good rows of a CSV file and the problems of its bad rows ("row N: ...";
    the header is row 1)."""
    mapping = {name: (columns or {}).get(name, name) for name in COLUMNS}
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # Excel writes a byte-order mark
    except OSError as error:
        raise ReaderStudyError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [
            f"{mapping[n]!r}" + (f" (for {n})" if mapping[n] != n else "") for n in REQUIRED if mapping[n] not in header
        ]
        if missing:
            raise ReaderStudyError(
                f"{path} has no column {', '.join(missing)}; its columns: "
                f"{', '.join(header) or '(none)'}; map them with --columns"
            )
        answers, problems = [], []
        for number, row in enumerate(reader, start=2):
            if None in row:
                problems.append(f"row {number}: more cells than header columns")
                continue
            field = {name: (row.get(mapping[name]) or "").strip() for name in COLUMNS}
            try:
                response = five_point(study.design, field["response"], field["confidence"])
                reason = field["reason"].lower() or None
                _check(study, field["reader_id"], field["item_id"], response, reason)
                answers.append(
                    (
                        number,
                        Answer(
                            field["reader_id"],
                            field["item_id"],
                            response,
                            reason,
                            _seconds(field["seconds"]),
                            now(),
                            f"csv:{Path(path).name}",
                        ),
                    )
                )
            except ValueError as error:
                problems.append(f"row {number}: {error}")
    return answers, problems


def read_database(study: Study, path: Path) -> tuple[list[tuple[int, Answer]], list[str]]:
    """(row number, answer) of another answers.sqlite and the problems of its bad rows (rows in stored order,
    from 1)."""
    answers, problems = [], []
    for number, answer in enumerate(read_answer_file(path), start=1):
        try:
            if not isinstance(answer.response, int) or answer.response not in SCALE:
                raise ValueError(f"response {answer.response!r} is not on the scale 1..5")
            _check(study, str(answer.reader), str(answer.item), answer.response, answer.reason)
            answers.append(
                (
                    number,
                    Answer(
                        answer.reader,
                        answer.item,
                        answer.response,
                        answer.reason or None,
                        _seconds(answer.seconds),
                        answer.answered_at or now(),
                        answer.source,
                    ),
                )
            )
        except (ValueError, TypeError) as error:
            problems.append(f"row {number}: {error}")
    return answers, problems


def import_answers(study: Study, paths: list[Path], columns: dict[str, str] | None = None) -> list[ImportReport]:
    """Validate every row of every file (.csv, or an answers .sqlite) and store them all, or none.

    A row is bad when a field is invalid, when the files answer the same reader x item twice, or
    when the store already holds a different answer for it; an identical stored answer is skipped.
    """
    store = AnswerStore(study.answers_path)
    stored = {(a.reader, a.item): a for a in store.answers()}
    seen: dict[tuple[str, str], str] = {}
    problems: list[tuple[str, int, str]] = []
    new: list[Answer] = []
    reports = []
    for path in map(Path, paths):
        if not path.is_file():
            raise ReaderStudyError(f"{path} does not exist")
        if path.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
            if columns:
                raise ReaderStudyError("--columns applies to CSV files, not to an answers database")
            answers, bad = read_database(study, path)
        else:
            answers, bad = read_csv(study, path, columns)
        problems += [(path.name, int(p.split(":", 1)[0].split()[-1]), p) for p in bad]
        added = same = 0
        for number, answer in answers:
            key = (answer.reader, answer.item)
            where = f"{path.name} row {number}"
            if key in seen:
                problems.append(
                    (
                        path.name,
                        number,
                        f"row {number}: reader {answer.reader} answers item {answer.item} again (first in {seen[key]})",
                    )
                )
                continue
            seen[key] = where
            if key in stored:
                if not stored[key].same_answer(answer):
                    problems.append(
                        (
                            path.name,
                            number,
                            f"row {number}: reader {answer.reader} already has a "
                            f"different stored answer for item {answer.item}",
                        )
                    )
                else:
                    same += 1
                continue
            new.append(answer)
            added += 1
        reports.append(ImportReport(str(path), len(answers) + len(bad), added, same))
    if problems:
        problems.sort(key=lambda p: (p[0], p[1]))
        shown = "; ".join(f"{name} {text}" for name, _, text in problems[:SHOWN_PROBLEMS])
        more = f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
        raise ReaderStudyError(f"{len(problems)} bad row(s), nothing imported: {shown}{more}")
    store.add_all(new)
    return reports
