"""Leaderboards as tidy CSV: one row per value, every results.jsonl key a column (for pandas users)."""

from __future__ import annotations

import json

from cxrbench.leaderboard.table import rows_frame
from cxrbench.results import ResultRow


def render_csv(rows: list[ResultRow]) -> str:
    frame = rows_frame(rows)
    frame["comparability"] = frame["comparability"].map(lambda d: json.dumps(d, sort_keys=True))
    return frame.to_csv(index=False)
