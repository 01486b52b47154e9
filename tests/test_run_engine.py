"""The run engine under failure: kill -9 at several points, the run lock, and 2 or 3 accelerate processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import REPO, run_cli, tiny_toml_text

from cxrbench.files import TMP_MARK
from cxrbench.results import read_rows
from cxrbench.run_lock import RunLockedError, run_lock

# Batches of 5 split each set of 12 into spans of 5, 5 and 2 images: the units shared out between processes
# (2 sets x 3 spans per model; 3 processes get uneven shares of each set) and resumed after a kill.
FAST = ("--models", "noise,pca-gaussian", "--batch-size", "5")

# Runs the CLI after wrapping one writer so that its K-th call leaves half a file and kills the process
# with SIGKILL: what a power cut or the OOM killer does in the middle of that write.
KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import cxrbench.sample_sets as sample_sets
    import cxrbench.benchmark.runner as runner
    from cxrbench.results import row_line
    from cxrbench.files import temporary_path

    point, k = sys.argv[1], int(sys.argv[2])
    calls = [0]

    def half(path, payload, mode="wb"):
        with open(path, mode) as handle:
            handle.write(payload[: len(payload) // 2])

    def kill_on_call(original, half_write):
        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == k:
                half_write(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)
        return wrapper

    if point == "generation":  # the K-th sample PNG
        sample_sets.atomic_save_png = kill_on_call(
            sample_sets.atomic_save_png, lambda path, image: half(temporary_path(path), image.tobytes()))
    elif point == "features":  # the K-th feature file (the cache's or the run folder's)
        np.savez = kill_on_call(np.savez, lambda file, **arrays: half(file, b"PK\\x03\\x04" * 1024))
    elif point == "metrics":  # the K-th row of results.jsonl
        runner.append_row = kill_on_call(runner.append_row, lambda path, row: half(path, row_line(row).encode(), "ab"))
    sys.argv = ["cxrbench", *sys.argv[3:]]
    from cxrbench.cli import main
    main()
""")


def _comparable(rows) -> list[tuple]:
    return sorted((r.key, r.status, r.value, r.ci_low, r.ci_high, r.n_real, r.n_fake) for r in rows)


def _partial_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"*{TMP_MARK}*"))


@pytest.fixture(scope="module")
def engine_toml(tmp_path_factory, session_cache):
    """The tiny run's TOML, for this module's subprocesses (the fast models need no tiny pipeline)."""
    path = tmp_path_factory.mktemp("engine") / "tiny.toml"
    path.write_text(tiny_toml_text(session_cache))
    return path


@pytest.fixture(scope="module")
def uninterrupted(engine_toml, tmp_path_factory):
    """The tiny run with the fast models, run once without interruption, in one process: its folder."""
    out = tmp_path_factory.mktemp("engine") / "uninterrupted"
    result = run_cli("run", "--config", str(engine_toml), *FAST, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("point, k", [("generation", 20), ("features", 3), ("metrics", 25)])
def test_sigkill_then_resume_equals_an_uninterrupted_run(point, k, uninterrupted, engine_toml, tmp_path):
    out = tmp_path / "killed"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(k), "run", "--config", str(engine_toml), *FAST, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # it really died at that write
    rows_before = read_rows(out / "results.jsonl")
    assert len(rows_before) < len(read_rows(uninterrupted / "results.jsonl"))

    resumed = run_cli("run", "--config", str(engine_toml), *FAST, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert _comparable(read_rows(out / "results.jsonl")) == _comparable(read_rows(uninterrupted / "results.jsonl"))
    assert _sample_files(out) == _sample_files(uninterrupted)  # finished spans reused, the others made again
    assert _partial_files(out) == []
    lines = (out / "results.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line is gone, not merely skipped
    assert {r.key for r in rows_before} <= {r.key for r in read_rows(out / "results.jsonl")}


def _hold_lock(folder) -> subprocess.Popen:
    """A separate process that takes ``folder``'s run lock and keeps it (until killed)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from pathlib import Path
        from cxrbench.run_lock import run_lock
        with run_lock(Path({str(folder)!r})):
            print("held", flush=True)
            time.sleep(120)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    with run_lock(tmp_path):
        with pytest.raises(
            RunLockedError, match=rf"pid {os.getpid()} on .*wait for it to finish, or give another --out"
        ):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):  # released on exit
        pass


def test_a_second_cxrbench_process_on_the_same_folder_gets_one_line(engine_toml, tmp_path):
    out = tmp_path / "busy"
    holder = _hold_lock(out)
    try:
        refused = run_cli("run", "--config", str(engine_toml), *FAST, "--out", str(out))
        assert refused.returncode == 2
        assert refused.stderr.strip().count("\n") == 0
        assert f"pid {holder.pid}" in refused.stderr and "in use by another cxrbench process" in refused.stderr
        assert not (out / "results.jsonl").exists()  # nothing was touched
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_process_is_recovered(tmp_path):
    holder = _hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == holder.pid  # the stale file is still there
    with run_lock(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate's launcher is not on PATH")
@pytest.mark.parametrize("processes", [2, 3])
def test_accelerate_processes_give_the_run_of_one(processes, uninterrupted, engine_toml, tmp_path):
    out = tmp_path / f"{processes}-processes"
    started = time.perf_counter()
    # accelerate names its multi-process launcher --multi_gpu; without CUDA the processes talk over gloo.
    launched = subprocess.run(
        [
            "accelerate",
            "launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "cxrbench",
            "run",
            "--config",
            str(engine_toml),
            *FAST,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["processes"] == processes, f"not distributed ({time.perf_counter() - started:.0f} s)"
    # the same rows, byte for byte and in the same order, and the same images and generation records
    assert (out / "results.jsonl").read_text() == (uninterrupted / "results.jsonl").read_text()
    assert _sample_files(out) == _sample_files(uninterrupted)
    assert _partial_files(out) == []


def _sample_files(root) -> dict[str, bytes]:
    """Every PNG of the run's sample sets and each set's generation records, by path."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "samples").rglob("*.png"))}
    for path in sorted((root / "samples").rglob("generation.json")):
        files[str(path.relative_to(root))] = json.dumps(json.loads(path.read_text())["records"]).encode()
    return files


def test_reader_rows_are_not_written_while_a_run_holds_the_folder(tmp_path):
    from cxrbench.reader_study.rows import replace_rows

    (tmp_path / "results.jsonl").write_text("")
    with run_lock(tmp_path):
        with pytest.raises(RunLockedError):
            replace_rows(tmp_path, "reader.paired.", [])
    assert replace_rows(tmp_path, "reader.paired.", []) == []
