"""Results rows to pandas tables: overview (mean over cells) and per task (one column per condition)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from cxrbench.benchmark.results import OK, ResultRow


def rows_frame(rows: list[ResultRow]) -> pd.DataFrame:
    """One row per result, with the flat keys of results.jsonl as columns."""
    columns = list(ResultRow.__dataclass_fields__)
    return pd.DataFrame([asdict(r) for r in rows], columns=columns)


def overview(frame: pd.DataFrame) -> pd.DataFrame:
    """models x metrics: the unweighted mean over every task and condition where the value exists.

    A model missing a value in some cell gets no mean for that metric (it would not be comparable).
    """
    ok = frame[frame["status"] == OK]
    cells = frame.groupby(["metric"])[["task", "condition"]].apply(lambda g: len(g.drop_duplicates()))
    grouped = ok.groupby(["model", "metric"])["value"]
    means = grouped.mean().unstack("metric")
    counts = grouped.count().unstack("metric")
    for metric in means.columns:
        means.loc[counts[metric] < cells.get(metric, 0), metric] = float("nan")
    return means
