"""leaderboard.md: ranking by direction, references apart, intervals, unavailable reasons, escaping."""

from __future__ import annotations

import re

from cxrbench.benchmark.results import ResultRow
from cxrbench.leaderboard.markdown import render_leaderboard
from cxrbench.metrics.metric_conditional_accuracy import ConditionalAccuracy
from cxrbench.metrics.metric_frechet import CxrFrechetDistance, FrechetInceptionDistance

SCHEMAS = [CxrFrechetDistance.schema(), ConditionalAccuracy.schema(), FrechetInceptionDistance.schema()]


def _row(model, metric, value, condition="present", direction="lower", **extra):
    base = dict(model=model, task="atelectasis", condition=condition, metric=metric, value=value,
                ci_low=None if value is None else value - 1, ci_high=None if value is None else value + 1,
                n_real=10, n_fake=10, direction=direction, feature_space="cxr-evaluator", dataset="phantom",
                seed=0, cxrbench_version="0")
    return ResultRow(**{**base, **extra})


def _rows():
    rows = []
    for model, fd, acc in [("good", 5.0, 0.9), ("bad", 50.0, 0.95), ("real-holdout", 1.0, 0.99), ("a|b", 20.0, 0.5)]:
        for condition in ("present", "absent"):
            rows.append(_row(model, "cxr_fd", fd, condition))
            rows.append(_row(model, "conditional_accuracy", acc, condition, direction="higher"))
            rows.append(_row(model, "fid", None, condition, status="unavailable", reason="no weights; pass X"))
    return rows


def test_ranked_by_first_metric_with_references_apart():
    text = render_leaderboard(_rows(), SCHEMAS, references=("real-holdout",))
    overview = text.split("## Overview")[1].split("## atelectasis")[0]
    lines = [line for line in overview.splitlines() if line.startswith("| ")][1:]
    assert [re.split(r"(?<!\\)\|", line)[2].strip() for line in lines] == ["`good`", "`a\\|b`", "`bad`", "`real-holdout`"]
    assert lines[0].startswith("| 1 |") and lines[-1].startswith("| ref |")
    assert "**5**" in lines[0]  # lowest FD among competitors, not the reference's 1.0
    assert "**0.95**" in lines[2]  # highest accuracy among competitors
    assert "**" not in lines[-1]


def test_intervals_and_unavailable_reasons():
    text = render_leaderboard(_rows(), SCHEMAS, references=("real-holdout",))
    assert "5 [4, 6]" in text
    assert "n/a" in text and "no weights; pass X" in text
    assert "CXR-FD ↓" in text and "Cond. acc. ↑" in text


def test_empty_results():
    assert "No results yet" in render_leaderboard([], SCHEMAS)
