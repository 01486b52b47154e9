"""Progress without a terminal: timestamped lines when a step starts and ends and every N seconds in between."""

from __future__ import annotations

import io
import re
import time

from conftest import run_cli

from cxrbench.benchmark.progress import LogReporter, duration, progress_text

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def test_a_long_step_gets_a_line_every_interval_with_rate_and_time_left():
    stream = io.StringIO()
    reporter = LogReporter(stream, interval=0.05)
    with reporter.step("training cgan", total=100) as update:
        for done in range(1, 11):
            update(done, 100, "epoch 1")
            time.sleep(0.03)
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(rf"{STAMP} training cgan: started", lines[0])
    assert re.fullmatch(rf"{STAMP} training cgan: done in \d+ s", lines[-1])
    middle = lines[1:-1]
    assert len(middle) >= 3  # 0.3 s at one line per 0.05 s
    assert all(
        re.fullmatch(
            rf"{STAMP} training cgan: epoch 1: \d+/100 \(\d+%\), [\d.]+/s, about .+ left, "
            r"\d+ s elapsed",
            line,
        )
        for line in middle
    ), middle


def test_a_step_that_fails_says_so():
    stream = io.StringIO()
    try:
        with LogReporter(stream, interval=10).step("scoring"):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert stream.getvalue().splitlines()[-1].endswith("scoring: stopped after 0 s")


def test_progress_text_and_durations():
    assert progress_text("x", 30, 120, "", 60.0) == "x: 30/120 (25%), 0.5/s, about 3 min 00 s left, 1 min 00 s elapsed"
    assert progress_text("x", 3, None, "y", 5.0) == "x: y: 3 done, 5 s elapsed"
    assert (duration(59), duration(61), duration(3725)) == ("59 s", "1 min 01 s", "1 h 02 min")


def test_a_run_logged_to_a_file_shows_progress_lines_during_its_steps(tiny_toml, tmp_path):
    result = run_cli(
        "run",
        "--config",
        str(tiny_toml),
        "--models",
        "pca-gaussian",
        "--metrics",
        "fd@pixels",
        "--out",
        str(tmp_path / "run"),
        env={"CXRBENCH_PROGRESS_SECONDS": "0.05"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    starts = [line for line in lines if re.fullmatch(rf"{STAMP} .+: started", line)]
    ends = [line for line in lines if re.fullmatch(rf"{STAMP} .+: done in .+", line)]
    during = [line for line in lines if re.fullmatch(rf"{STAMP} .+ elapsed", line)]
    assert starts and len(starts) == len(ends) and during, result.stderr
    assert "━" not in result.stderr  # no terminal bars in a log
    bad = run_cli(
        "run", "--config", str(tiny_toml), "--out", str(tmp_path / "x"), env={"CXRBENCH_PROGRESS_SECONDS": "soon"}
    )
    assert bad.returncode == 2 and "CXRBENCH_PROGRESS_SECONDS='soon'" in bad.stderr


def test_a_terminal_bar_keeps_one_total_and_a_new_phase_gets_its_own_bar():
    from rich.console import Console

    from cxrbench.benchmark.progress import RichReporter

    stream = io.StringIO()
    reporter = RichReporter(Console(file=stream, force_terminal=False, width=120))
    with reporter.step("preparing pggan-lco") as update:
        for done in range(1, 11):
            update(done, 10, "pggan")
        for done in range(1, 4):
            update(done, 3, "classifier")
    text = stream.getvalue()
    assert re.search(r"preparing pggan-lco: pggan .* 10/10", text), text
    assert re.search(r"preparing pggan-lco .* 3/3", text), text
    assert "/10" not in text.split("10/10")[-1]  # the second bar never counts against the first one's total
