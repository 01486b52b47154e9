"""Answers in SQLite: one row per reader x item, committed as soon as it is given.

WAL journalling lets the app's threads write while a reader of the file (``import``, a backup)
reads. A reader's first answer to an item is final: a second submission (a double click, a
resent request) does not change it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    reader TEXT NOT NULL,
    item TEXT NOT NULL,
    response INTEGER NOT NULL CHECK (response BETWEEN 1 AND 5),
    reason TEXT,
    seconds REAL,
    answered_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (reader, item)
)
"""


@dataclass(frozen=True)
class Answer:
    """One reader's answer to one item.

    response: 1..5 on the design's scale; reason: a paired-design reason or None; seconds: time
    from the item being shown to the answer (None when an imported file has no times);
    answered_at: ISO 8601 UTC; source: "app" or the file it was imported from.
    """

    reader: str
    item: str
    response: int
    reason: str | None
    seconds: float | None
    answered_at: str = ""
    source: str = "app"

    def same_answer(self, other: "Answer") -> bool:
        """Whether two records give the same judgment (times and sources aside)."""
        return (self.response, self.reason or None) == (other.response, other.reason or None)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AnswerStore:
    """The answers of one study (a connection per call, so any thread may use it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, answer: Answer) -> bool:
        """Store ``answer`` at once; False when the reader had already answered that item (kept as it was)."""
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.reader,
                    answer.item,
                    answer.response,
                    answer.reason or None,
                    answer.seconds,
                    answer.answered_at or now(),
                    answer.source,
                ),
            )
            return cursor.rowcount == 1

    def add_all(self, answers: list[Answer]) -> int:
        """Store every answer in one transaction (all or none); returns how many were new."""
        with closing(self._connect()) as db, db:
            added = 0
            for answer in answers:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        answer.reader,
                        answer.item,
                        answer.response,
                        answer.reason or None,
                        answer.seconds,
                        answer.answered_at or now(),
                        answer.source,
                    ),
                )
                added += cursor.rowcount
            return added

    def answers(self, reader: str | None = None) -> list[Answer]:
        """All answers (or one reader's), in the order they were stored."""
        query = "SELECT reader, item, response, reason, seconds, answered_at, source FROM answers"
        with closing(self._connect()) as db:
            rows = (
                db.execute(query + " WHERE reader = ? ORDER BY rowid", (reader,))
                if reader is not None
                else db.execute(query + " ORDER BY rowid")
            )
            return [Answer(*row) for row in rows.fetchall()]

    def answered(self, reader: str) -> set[str]:
        """The item ids ``reader`` has answered."""
        with closing(self._connect()) as db:
            return {row[0] for row in db.execute("SELECT item FROM answers WHERE reader = ?", (reader,))}


def read_answer_file(path: Path) -> list[Answer]:
    """Every row of another study app's answers.sqlite, in stored order (read only)."""
    try:
        with closing(sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT reader, item, response, reason, seconds, answered_at, source FROM answers ORDER BY rowid"
            ).fetchall()
    except sqlite3.DatabaseError as error:
        from cxrbench.reader_study.design import ReaderStudyError

        raise ReaderStudyError(f"{path} is not a reader-study answers database ({error})") from None
    return [Answer(*row) for row in rows]
