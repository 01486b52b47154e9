"""The three study designs, their five-point scales and reason categories (Schuit et al. protocol).

Every answer is a five-point response 1..5. Points 1-2 and 4-5 are decisions ("probably" or
"definitely" one way), 3 is "cannot tell". Decisions per design:

- single: 1-2 real, 4-5 synthetic ("is this image real or synthetic?")
- paired: 1-2 left, 4-5 right ("which image is synthetic?"); a decision carries a reason
- finding: 1-2 absent, 4-5 present ("is FINDING present?")
"""

from __future__ import annotations

import re
from enum import Enum

from cxrbench.errors import CxrbenchError
from cxrbench.metrics.reader_measures import REASONS  # declared with the measures they name


class ReaderStudyError(CxrbenchError):
    """A reader-study input the user can fix (unknown model, too few images, bad answer rows)."""


class Design(str, Enum):
    SINGLE = "single"
    PAIRED = "paired"
    FINDING = "finding"


SCALE = (1, 2, 3, 4, 5)
NEUTRAL = 3
# The two sides of each scale (low points 1-2, high points 4-5), as CSV imports spell them.
SIDES: dict[Design, tuple[str, str]] = {
    Design.SINGLE: ("real", "synthetic"),
    Design.PAIRED: ("left", "right"),
    Design.FINDING: ("no", "yes"),
}
QUESTIONS: dict[Design, str] = {
    Design.SINGLE: "Is this image real or synthetic?",
    Design.PAIRED: "Which image is synthetic?",
    Design.FINDING: "Is {finding} present?",
}
LABELS: dict[Design, tuple[str, ...]] = {
    Design.SINGLE: ("definitely real", "probably real", "cannot tell", "probably synthetic", "definitely synthetic"),
    Design.PAIRED: ("definitely left", "probably left", "cannot tell", "probably right", "definitely right"),
    Design.FINDING: ("definitely not", "probably not", "cannot tell", "probably yes", "definitely yes"),
}
REAL = "real"  # the model name of real images in keys and rows (a run model of that name is refused)
READER_ID = re.compile(r"^[a-z0-9_]{1,32}$")  # ids end up in metric names: no dots, dashes or spaces


def decision(response: int) -> int:
    """-1 for the low side (points 1-2), +1 for the high side (4-5), 0 for cannot tell (3)."""
    return (response > NEUTRAL) - (response < NEUTRAL)


def check_reader_id(reader: str) -> str:
    """``reader`` if it is a valid reader id (1-32 of a-z, 0-9, _), else a ReaderStudyError."""
    if not READER_ID.match(reader):
        raise ReaderStudyError(f"reader id {reader!r} is not valid; use 1-32 lowercase letters, digits or _")
    return reader


def reason_problem(design: Design, response: int, reason: str | None) -> str | None:
    """Why ``reason`` does not fit the answer, or None: only paired decisions carry a reason."""
    if reason in (None, ""):
        return None
    if design is not Design.PAIRED:
        return f"a reason is only given in the paired design, got {reason!r}"
    if decision(response) == 0:
        return f"'cannot tell' takes no reason, got {reason!r}"
    if reason not in REASONS:
        return f"unknown reason {reason!r}; choose one of {', '.join(REASONS)}"
    return None
