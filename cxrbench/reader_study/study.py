"""A prepared study on disk: what readers are served, the answer key kept apart, reader links.

```
STUDY/
  study.json        design, seed, run folder, models, tasks, conditions, n per cell, readers
  key.json          item id -> truth (model, task, condition, which image is synthetic, sources)
  readers.json      reader id -> private link token
  answers.sqlite    the answers (written by the app and by import)
  served/           the only folder the app reads images from
    items.json      [{id, images: [image ids], finding}] sorted by id: nothing that maps back
    images/ID.png
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from cxrbench.reader_study.design import Design, ReaderStudyError
from cxrbench.seeds import derive_seed

STUDY, KEY, READERS, ANSWERS, SERVED, ITEMS, IMAGES = (
    "study.json",
    "key.json",
    "readers.json",
    "answers.sqlite",
    "served",
    "items.json",
    "images",
)
STATISTICS_JSON, STATISTICS_MD = "statistics.json", "statistics.md"


@dataclass(frozen=True)
class Judgment:
    """One answer joined with the truth of its item (from the key)."""

    reader: str
    item: str
    response: int
    reason: str | None
    truth: dict


@dataclass(frozen=True)
class Study:
    """A study folder; the files are read on first use."""

    root: Path

    def __post_init__(self) -> None:
        if not (Path(self.root) / STUDY).is_file():
            raise ReaderStudyError(
                f"{self.root} is not a reader study (no {STUDY}); make one with `cxrbench reader-study prepare`"
            )

    @cached_property
    def facts(self) -> dict:
        return json.loads((self.root / STUDY).read_text())

    @property
    def design(self) -> Design:
        return Design(self.facts["design"])

    @property
    def seed(self) -> int:
        return int(self.facts["seed"])

    @property
    def run_dir(self) -> Path:
        return Path(self.facts["run"])

    @property
    def served(self) -> Path:
        return self.root / SERVED

    @property
    def answers_path(self) -> Path:
        return self.root / ANSWERS

    @cached_property
    def items(self) -> list[dict]:
        """What readers see, sorted by item id: {"id", "images": [image ids], "finding": display name or ""}."""
        return json.loads((self.served / ITEMS).read_text())

    @cached_property
    def item_ids(self) -> frozenset[str]:
        return frozenset(item["id"] for item in self.items)

    @cached_property
    def image_ids(self) -> frozenset[str]:
        return frozenset(image for item in self.items for image in item["images"])

    @cached_property
    def key(self) -> dict[str, dict]:
        """Item id -> truth; never served."""
        return json.loads((self.root / KEY).read_text())

    @cached_property
    def readers(self) -> dict[str, str]:
        """Reader id -> link token."""
        path = self.root / READERS
        return json.loads(path.read_text()) if path.is_file() else {}

    def judgments(self, answers) -> list[Judgment]:
        """The answers (store.Answer) to this study's items, with each item's truth; others are ignored."""
        return [
            Judgment(a.reader, a.item, a.response, a.reason, self.key[a.item]) for a in answers if a.item in self.key
        ]

    def order(self, reader: str) -> list[str]:
        """The item ids in the order ``reader`` sees them: a shuffle seeded by the study seed and the reader id."""
        ids = sorted(self.item_ids)
        rng = np.random.default_rng(derive_seed(self.seed, "reader-order", reader))
        return [ids[i] for i in rng.permutation(len(ids))]
