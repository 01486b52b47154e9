"""Leaderboard tables and their formats: ranking by direction, references apart, intervals, merging, escaping."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pandas as pd
import pytest

from cxrbench.errors import CxrbenchError
from cxrbench.leaderboard.compare import compare_runs
from cxrbench.leaderboard.latex import render_latex
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.store import load_results
from cxrbench.leaderboard.table import build_leaderboard, build_leaderboards
from cxrbench.leaderboard.tidy_csv import render_csv
from cxrbench.results import ResultRow, append_row


def _row(model, metric, value, condition="present", direction="lower", task="atelectasis", **extra):
    base = dict(
        model=model,
        task=task,
        condition=condition,
        metric=metric,
        value=value,
        ci_low=None if value is None else value - 1,
        ci_high=None if value is None else value + 1,
        n_real=10,
        n_fake=10,
        direction=direction,
        feature_space="cxr-evaluator",
        dataset="phantom",
        seed=0,
        cxrbench_version="0",
        resolution=64,
        reference=model == "real-holdout",
    )
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


def test_the_terminal_summary_shows_the_first_columns_with_values_in_rank_order():
    from cxrbench.leaderboard.text import overview_summary

    headers, rows = overview_summary(build_leaderboard(_rows()), 4)
    assert headers[:2] == ["rank", "model"] and len(headers) == 4  # FID has no value anywhere: left out
    assert [row[:2] for row in rows] == [["1", "good"], ["2", "a|b"], ["3", "bad"], ["ref", "real-holdout"]]
    assert rows[0][2] == "5" and overview_summary(build_leaderboard(_rows()), 1)[0][2:] == [headers[2]]


def test_ranked_by_headline_metric_with_references_apart():
    board = build_leaderboard(_rows())
    assert board.overview.models == ["good", "a|b", "bad", "real-holdout"]
    assert board.overview.ranks["good"] == 1 and board.overview.ranks["real-holdout"] is None
    lines = _overview_lines(render_markdown(board))
    assert [re.split(r"(?<!\\)\|", line)[2].strip() for line in lines] == [
        "`good`",
        "`a\\|b`",
        "`bad`",
        "`real-holdout`",
    ]
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
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == 1  # the overview
    assert text.count(r"\begin{longtable}") == text.count(r"\end{longtable}") == 1  # the finding
    assert text.count(r"\toprule") == 3 and r"\bottomrule" in text and r"\midrule" in text
    assert r"\texttt{x\_\&\_\%}" in text and r"$\downarrow$" in text and r"\textbf{5}" in text
    assert text.count("{") == text.count("}")
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no TeX engine installed: structure checked, compile skipped")
    document = tmp_path / "paper.tex"
    (tmp_path / "board.tex").write_text(text)
    document.write_text(
        "\\documentclass{article}\\usepackage{booktabs,longtable,graphicx}\\begin{document}"
        "\\input{board.tex}\\end{document}\n"
    )
    result = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
    b = _write_run(
        tmp_path / "b", [_row("good", "cxr_fd", 6.0), _row("other", "cxr_fd", 9.0), _row("new", "cxr_fd", 1.0)]
    )
    merged = load_results([a, b])
    assert {r.model for r in merged.rows} == {"other", "new"}  # the disagreeing row is in no table
    assert len(merged.conflicts) == 1 and "5.0" in merged.conflicts[0] and "6.0" in merged.conflicts[0]
    with pytest.raises(CxrbenchError, match="has no results.jsonl"):
        load_results([tmp_path / "missing"])


def test_compare_reports_deltas_and_verdicts(tmp_path):
    a = _write_run(
        tmp_path / "a", [_row("m", "cxr_fd", 10.0), _row("m", "conditional_accuracy", 0.5, direction="higher")]
    )
    b = _write_run(
        tmp_path / "b",
        [
            _row("m", "cxr_fd", 5.0),
            _row("m", "conditional_accuracy", 0.9, direction="higher", ci_low=0.85, ci_high=0.95),
        ],
    )
    changes = {c.metric: c for c in compare_runs(a, b)}
    assert changes["fd@cxr-evaluator"].delta == -5.0 and changes["fd@cxr-evaluator"].verdict == "better"
    assert changes["conditional_accuracy"].verdict == "overlap"  # [-0.5, 1.5] overlaps [0.85, 0.95]


def test_figures_from_any_metric_including_a_precision_recall_scatter(tmp_path):
    from cxrbench.leaderboard.figures import heatmap, scatter

    rows = _rows() + [
        _row(m, metric, v, c, direction="higher")
        for m in ("good", "bad")
        for metric, v in (("precision", 0.7), ("recall", 0.4))
        for c in ("present", "absent")
    ]
    board = build_leaderboard(rows)
    assert heatmap(board, "cxr_fd", tmp_path / "h.png").stat().st_size > 5_000
    assert scatter(board, "atelectasis", "precision", "recall", tmp_path / "s.png").stat().st_size > 5_000
    assert scatter(board, "atelectasis", "cxr_fd", "fid", tmp_path / "none.png") is None  # FID has no values


def test_sample_grid_ignores_names_that_are_paths(tmp_path):
    from cxrbench.leaderboard.figures import sample_grid

    assert sample_grid(tmp_path, ["../../etc"], "atelectasis", "present", tmp_path / "g.png") is None
    assert sample_grid(tmp_path, ["ok"], "../x", "present", tmp_path / "g.png") is None


def _wide_rows():
    """Eight models with long names and every default metric in both conditions: a real run's width."""
    from cxrbench.metrics.selection import metric_for_id, resolve_specs

    rows = []
    models = [
        "diffusion-small",
        "pca-gaussian",
        "pggan-lco",
        "cgan",
        "my-own-generator",
        "noise",
        "real-holdout",
        "train-copy",
    ]
    for m, model in enumerate(models):
        for metric_id in resolve_specs(("all",)):
            schema = metric_for_id(metric_id).schema()
            for task in ("atelectasis", "enlarged_cardiac_silhouette"):
                for condition in ("both",) if schema["scope"] != "condition" else ("present", "absent"):
                    value = 123.456 * (m + 1) if schema["valid_range"][1] is None else 0.1 * (m + 1) % 1
                    rows.append(
                        _row(
                            model,
                            metric_id,
                            value,
                            condition,
                            direction=schema["direction"],
                            task=task,
                            ci_low=value * 0.9 - 0.0123,
                            ci_high=value * 1.1 + 0.0123,
                            reference=model in ("noise", "real-holdout", "train-copy"),
                        )
                    )
    return rows


def test_latex_findings_fit_a_page_width():
    engine = shutil.which("pdflatex")
    text = render_latex(build_leaderboard(_wide_rows()))
    assert text.count(r"\begin{longtable}") == 2
    if engine is None:
        pytest.skip("no TeX engine installed: the page-width check needs pdflatex")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "board.tex").write_text(text)
        (Path(folder) / "paper.tex").write_text(
            "\\documentclass{article}"
            "\\usepackage{booktabs,longtable,graphicx}\\begin{document}"
            "\\input{board.tex}\\end{document}\n"
        )
        result = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout[-2000:]
        log = (Path(folder) / "paper.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, [line for line in log.splitlines() if "Overfull" in line]


def _one_cell(models_values, direction="lower", metric="cxr_fd", width=1.0):
    return [
        _row(
            model,
            metric,
            value,
            "present",
            direction=direction,
            ci_low=value - width,
            ci_high=value + width,
            reference=model in ("noise", "real-holdout"),
        )
        for model, value in models_values
    ]


def test_bold_needs_two_competitors_and_separated_intervals():
    finding = lambda rows: build_leaderboard(rows).tasks[0]  # noqa: E731
    alone = finding(_one_cell([("only", 5.0), ("real-holdout", 1.0)]))
    assert not any(cell.best for cell in alone.cells.values())  # one competitor: nothing to beat
    close = finding(_one_cell([("a", 5.0), ("b", 5.5)]))
    assert not any(cell.best for cell in close.cells.values())  # [4, 6] and [4.5, 6.5] overlap
    apart = finding(_one_cell([("a", 5.0), ("b", 9.0)]))
    assert [m for (m, _), cell in apart.cells.items() if cell.best] == ["a"]
    tied = finding(_one_cell([("a", 0.0), ("b", 0.0)], width=0.0))
    assert not any(cell.best for cell in tied.cells.values())  # all tied: no best
    board = build_leaderboard(_one_cell([("a", 5.0), ("b", 5.5), ("noise", 0.1)]))
    assert [m for (m, _), c in board.overview.cells.items() if c.best] == ["a"]  # the overview: by value
    assert not board.overview.cells[("noise", 0)].best


def test_intervals_are_clipped_to_the_metrics_range_and_values_kept():
    board = build_leaderboard(
        [
            _row("a", "fd@cxr-evaluator", 0.5, ci_low=-0.3, ci_high=2.0),
            _row("b", "precision@cxr-evaluator", 0.97, direction="higher", ci_low=0.9, ci_high=1.04),
            _row("c", "kid@cxr-evaluator", -0.02, ci_low=-0.1, ci_high=0.3),
        ]
    )
    cells = {m: cell for (m, _), cell in board.tasks[0].cells.items()}
    assert (cells["a"].ci_low, cells["a"].ci_high) == (0.0, 2.0)
    assert (cells["b"].ci_low, cells["b"].ci_high) == (0.9, 1.0)
    assert cells["c"].value == -0.02 and cells["c"].ci_low == 0.0  # the value as computed, the interval clipped


def test_warnings_for_a_winning_baseline_and_chance_level_utility():
    rows = _one_cell([("a", 5.0), ("b", 9.0), ("noise", 0.5), ("real-holdout", 0.1)])
    rows += [
        _row("a", "utility", 0.52, "both", direction="higher", ci_low=0.45, ci_high=0.6),
        _row("b", "utility", 0.8, "both", direction="higher", ci_low=0.75, ci_high=0.85),
    ]
    warnings = build_leaderboard(rows).warnings
    assert any(w.startswith("noise (a baseline, not a generator) beats every competitor on CXR-FD") for w in warnings)
    assert not any(w.startswith("real-holdout") for w in warnings)  # real images are meant to win
    assert any(w.startswith("a: TSTR AUROC on atelectasis is within its interval of chance (0.5)") for w in warnings)
    assert not any(w.startswith("b:") for w in warnings)
    assert "**Read with care:**" in render_markdown(build_leaderboard(rows))


def test_leaderboard_selects_metrics_and_models(tmp_path):
    from cxrbench.leaderboard.store import select_rows

    rows = _rows()
    assert {r.metric for r in select_rows(rows, metrics="cxr_fd")} == {"cxr_fd"}
    assert {r.model for r in select_rows(rows, models="good,bad")} == {"good", "bad"}
    assert {r.metric for r in select_rows(rows, metrics="c*")} == {"cxr_fd", "conditional_accuracy"}
    with pytest.raises(CxrbenchError, match="did you mean 'good'"):
        select_rows(rows, models="goood")
