"""Leaderboard tables and their formats: ranking by direction, references apart, intervals, merging, escaping."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pandas as pd
import pytest

from cxrbench.benchmark.results import ResultRow, append_row
from cxrbench.leaderboard.compare import compare_runs
from cxrbench.leaderboard.latex import render_latex
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.store import load_results
from cxrbench.leaderboard.table import build_leaderboard, build_leaderboards
from cxrbench.leaderboard.tidy_csv import render_csv
from cxrbench.errors import CxrbenchError


def _row(model, metric, value, condition="present", direction="lower", task="atelectasis", **extra):
    base = dict(model=model, task=task, condition=condition, metric=metric, value=value,
                ci_low=None if value is None else value - 1, ci_high=None if value is None else value + 1,
                n_real=10, n_fake=10, direction=direction, feature_space="cxr-evaluator", dataset="phantom",
                seed=0, cxrbench_version="0", resolution=64, reference=model == "real-holdout")
    return ResultRow(**{**base, **extra})


def _rows():
    rows = []
    for model, fd, acc in [("good", 5.0, 0.9), ("bad", 50.0, 0.95), ("real-holdout", 1.0, 0.99), ("a|b", 20.0, 0.5)]:
        for condition in ("present", "absent"):
            rows.append(_row(model, "cxr_fd", fd, condition))
            rows.append(_row(model, "conditional_accuracy", acc, condition, direction="higher"))
            rows.append(_row(model, "fid", None, condition, status="unavailable", reason="no weights; pass X"))
    return rows


def _overview_lines(text):
    overview = text.split("### Overview")[1].split("### atelectasis")[0]
    return [line for line in overview.splitlines() if line.startswith("| ")][1:]


def test_ranked_by_headline_metric_with_references_apart():
    board = build_leaderboard(_rows())
    assert board.overview.models == ["good", "a|b", "bad", "real-holdout"]
    assert board.overview.ranks["good"] == 1 and board.overview.ranks["real-holdout"] is None
    lines = _overview_lines(render_markdown(board))
    assert [re.split(r"(?<!\\)\|", line)[2].strip() for line in lines] == ["`good`", "`a\\|b`", "`bad`",
                                                                          "`real-holdout`"]
    assert lines[0].startswith("| 1 |") and lines[-1].startswith("| ref |")
    assert "**5**" in lines[0]  # lowest FD among competitors, not the reference's 1.0
    assert "**0.95**" in lines[2]  # highest accuracy among competitors
    assert "**" not in lines[-1]
    assert lines[0].split("|")[-2].strip() == "n/a"  # FID, unavailable everywhere, is the last column


def test_intervals_unavailable_reasons_and_empty():
    text = render_markdown(build_leaderboard(_rows()))
    assert "**5** [4, 6]" in text and "50 [49, 51]" in text and "no weights; pass X" in text
    assert "CXR-FD ↓" in text and "Cond. acc. ↑" in text
    assert "No results yet" in render_markdown([])


def test_a_model_missing_a_cell_gets_no_mean():
    rows = _rows() + [_row("partial", "cxr_fd", 0.5)]  # only one of the two cells
    board = build_leaderboard(rows)
    column = next(i for i, c in enumerate(board.overview.columns) if c.metric == "cxr_fd")
    assert ("partial", column) not in board.overview.cells and board.overview.ranks["good"] == 1


def test_settings_are_never_mixed_and_unknown_metrics_still_show():
    rows = _rows() + [_row("good", "brand_new_metric", 3.0, dataset="nih-cxr14", direction="higher")]
    boards = build_leaderboards(rows)
    assert [b.setting["dataset"] for b in boards] == ["phantom", "nih-cxr14"]
    assert boards[1].schemas["brand_new_metric"]["display_name"] == "brand_new_metric"
    assert "brand_new_metric ↑" in render_markdown(boards)


def test_latex_structure_and_escaping(tmp_path):
    rows = _rows() + [_row("x_&_%", "cxr_fd", 7.0), _row("x_&_%", "cxr_fd", 7.0, condition="absent")]
    text = render_latex(build_leaderboard(rows))
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == 2
    assert text.count(r"\toprule") == 2 and r"\bottomrule" in text and r"\midrule" in text
    assert r"\texttt{x\_\&\_\%}" in text and r"$\downarrow$" in text and r"\textbf{5}" in text
    assert text.count("{") == text.count("}")
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine installed: structure checked, compile skipped")
    document = tmp_path / "paper.tex"
    (tmp_path / "board.tex").write_text(text)
    document.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}"
                        "\\input{board.tex}\\end{document}\n")
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", document.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]


def test_tidy_csv_is_one_row_per_value():
    rows = _rows()
    frame = pd.read_csv(io.StringIO(render_csv(rows)))
    assert len(frame) == len(rows) and {"model", "metric", "value", "ci_low", "ci_high", "direction"} <= set(frame)


def _write_run(folder, rows):
    folder.mkdir(parents=True)
    for row in rows:
        append_row(folder / "results.jsonl", row)
    return folder


def test_merging_runs_reports_conflicts_instead_of_overwriting(tmp_path):
    a = _write_run(tmp_path / "a", [_row("good", "cxr_fd", 5.0), _row("other", "cxr_fd", 9.0)])
    b = _write_run(tmp_path / "b", [_row("good", "cxr_fd", 6.0), _row("other", "cxr_fd", 9.0),
                                    _row("new", "cxr_fd", 1.0)])
    merged = load_results([a, b])
    assert {r.model for r in merged.rows} == {"other", "new"}  # the disagreeing row is in no table
    assert len(merged.conflicts) == 1 and "5.0" in merged.conflicts[0] and "6.0" in merged.conflicts[0]
    with pytest.raises(CxrbenchError, match="has no results.jsonl"):
        load_results([tmp_path / "missing"])


def test_compare_reports_deltas_and_verdicts(tmp_path):
    a = _write_run(tmp_path / "a", [_row("m", "cxr_fd", 10.0), _row("m", "conditional_accuracy", 0.5,
                                                                     direction="higher")])
    b = _write_run(tmp_path / "b", [_row("m", "cxr_fd", 5.0), _row("m", "conditional_accuracy", 0.9,
                                                                    direction="higher", ci_low=0.85, ci_high=0.95)])
    changes = {c.metric: c for c in compare_runs(a, b)}
    assert changes["fd@cxr-evaluator"].delta == -5.0 and changes["fd@cxr-evaluator"].verdict == "better"
    assert changes["conditional_accuracy"].verdict == "overlap"  # [-0.5, 1.5] overlaps [0.85, 0.95]


def test_figures_from_any_metric_including_a_precision_recall_scatter(tmp_path):
    from cxrbench.leaderboard.figures import heatmap, scatter

    rows = _rows() + [_row(m, metric, v, c, direction="higher") for m in ("good", "bad")
                      for metric, v in (("precision", 0.7), ("recall", 0.4)) for c in ("present", "absent")]
    board = build_leaderboard(rows)
    assert heatmap(board, "cxr_fd", tmp_path / "h.png").stat().st_size > 5_000
    assert scatter(board, "atelectasis", "precision", "recall", tmp_path / "s.png").stat().st_size > 5_000
    assert scatter(board, "atelectasis", "cxr_fd", "fid", tmp_path / "none.png") is None  # FID has no values


def test_sample_grid_ignores_names_that_are_paths(tmp_path):
    from cxrbench.leaderboard.figures import sample_grid

    assert sample_grid(tmp_path, ["../../etc"], "atelectasis", "present", tmp_path / "g.png") is None
    assert sample_grid(tmp_path, ["ok"], "../x", "present", tmp_path / "g.png") is None
