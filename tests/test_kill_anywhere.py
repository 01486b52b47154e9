"""kill -9 anywhere: a run killed at a point in every stage, and resumed each time, ends with the rows
of an uninterrupted run; so does a reader-study import. benchmarks/kill_anywhere.py runs a larger chain.

One run folder is killed at each point in turn, in the order a run reaches them, so every rerun
resumes from what the killed ones left (cache, sample sets, rows) and then dies at the next point.
tests/kill_at.py forks each killed run from one process that has imported cxrbench already.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli, tiny_toml_text

from cxrbench.files import TMP_MARK
from cxrbench.results import read_rows

MODELS = ("--models", "pca-gaussian,cgan")

# (stage, FILE:QUALNAME under cxrbench/, K-th call, argument filter), in the order a run reaches them.
RUN_POINTS = [
    ("data rendering", "data/phantom/dataset.py:render_image", 100, None),
    ("evaluator training", "metrics/cxr_classifier.py:CxrClassifier.forward", 3, None),
    ("feature extraction", "metrics/extractor_pixels.py:PixelsExtractor.extract", 1, None),
    ("model training (pca-gaussian)", "models/pca_gaussian.py:PcaGaussianAdapter.fit", 1, None),
    ("generation", "files.py:atomic_save_png", 5, None),
    # one distribution metric stands for all of them (KID, PRDC, CMMD are scored on the same path as FD;
    # benchmarks/kill_anywhere.py kills at random moments, inside them too)
    ("metric: Frechet distance", "metrics/frechet.py:frechet_distance_features", 1, None),
    ("metric: memorisation", "metrics/metric_memorisation.py:_Memorisation.statistic", 1, None),
    ("metric: diversity", "metrics/metric_diversity.py:group_ms_ssim", 1, None),
    ("metric: conditional", "metrics/metric_conditional_accuracy.py:ConditionalAuroc.compute", 1, None),
    ("metric: utility", "metrics/cxr_classifier.py:train_classifier", 1, None),
    ("model training (cgan, resumable)", "models/gan/cgan_training.py:_discriminator_step", 3, None),
    ("leaderboard writing", "leaderboard/markdown.py:render_markdown", 1, None),
    ("manifest writing", "files.py:atomic_write", 2, "path=manifest.json"),
]


class Killer:
    """tests/kill_at.py as a server: one request per killed command."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "kill_at.py")],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def kill(self, stage: str, point: str, k: int, arg: str | None, *argv: str) -> None:
        """Run ``cxrbench ARGV`` and check that it died at the point."""
        self.count += 1
        log = self.logs / f"{self.count:02d}.log"
        request = {"point": point, "k": k, "arg": arg, "argv": list(argv), "log": str(log)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        status = json.loads(self.process.stdout.readline())["status"]
        assert status == -signal.SIGKILL, f"{stage}: {point} #{k} was not reached (exit {status}): {log.read_text()}"

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def killer(tmp_path):
    server = Killer(tmp_path)
    yield server
    server.close()


def _comparable(rows) -> list[tuple]:
    return sorted((r.key, r.status, r.value, r.ci_low, r.ci_high, r.n_real, r.n_fake, r.reason) for r in rows)


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if TMP_MARK in p.name or ".previous-" in p.name)


@pytest.mark.slow
def test_a_run_killed_in_every_stage_ends_with_the_uninterrupted_rows(killer, tmp_path, session_cache):
    reference = tmp_path / "reference.toml"
    reference.write_text(tiny_toml_text(session_cache))
    whole = run_cli("run", "--config", str(reference), *MODELS, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    expected = _comparable(read_rows(tmp_path / "whole" / "results.jsonl"))

    fresh = tmp_path / "fresh.toml"  # its own cache: the evaluator and the models are trained again
    fresh.write_text(tiny_toml_text(tmp_path / "cache"))
    args = ("run", "--config", str(fresh), *MODELS, "--out", str(tmp_path / "killed"))
    for stage, point, k, arg in RUN_POINTS:
        killer.kill(stage, point, k, arg, *args)
    finished = run_cli(*args)
    assert finished.returncode == 0, finished.stderr
    out = tmp_path / "killed"
    assert _comparable(read_rows(out / "results.jsonl")) == expected
    assert (out / "leaderboard.md").read_text() == (tmp_path / "whole" / "leaderboard.md").read_text()
    assert json.loads((out / "manifest.json").read_text())["timings_s"]["total"] > 0
    assert _leftovers(out) == []

    # --no-resume killed after it set the finished run aside, before its first sample set: the next
    # run puts the old run back and has nothing left to do.
    killer.kill("--no-resume before its first sample set", "files.py:atomic_save_png", 3, None, *args, "--no-resume")
    assert list(out.glob(".previous-*"))
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "put back the run that an interrupted --no-resume had set aside" in again.stdout + again.stderr
    assert _comparable(read_rows(out / "results.jsonl")) == expected and _leftovers(out) == []


@pytest.mark.slow
def test_a_reader_study_import_killed_anywhere_ends_with_the_uninterrupted_rows(killer, tmp_path):
    from reader_study_helpers import make_run

    from cxrbench.reader_study.design import Design
    from cxrbench.reader_study.prepare import PrepareConfig, prepare_study

    def study(name: str) -> tuple[Path, Path]:
        run = make_run(tmp_path / name / "run")
        prepared = prepare_study(
            PrepareConfig(
                run_dir=run,
                out=tmp_path / name / "study",
                design=Design("single"),
                n_items=4,
                readers=("r1", "r2"),
                seed=5,
                cache_dir=tmp_path / "cache",
            )
        )
        answers = tmp_path / name / "answers.csv"
        answers.write_text(
            "reader_id,item_id,response\n"
            + "".join(
                f"{reader},{item},{1 + (i % 5)}\n"
                for reader in ("r1", "r2")
                for i, item in enumerate(prepared.order(reader))
            )
        )
        return prepared.root, answers

    whole_study, whole_answers = study("whole")
    done = run_cli("reader-study", "import", str(whole_study), str(whole_answers))
    assert done.returncode == 0, done.stderr
    killed_study, killed_answers = study("killed")
    args = ("reader-study", "import", str(killed_study), str(killed_answers))
    for stage, point, k, arg in [
        ("storing answers", "reader_study/store.py:AnswerStore.add_all", 1, None),
        ("statistics", "files.py:atomic_write", 1, "path=statistics.md"),
        ("reader rows", "reader_study/rows.py:replace_rows", 1, None),
        ("leaderboard", "files.py:atomic_write", 1, "path=leaderboard.md"),
    ]:
        killer.kill(stage, point, k, arg, *args)
    finished = run_cli(*args)
    assert finished.returncode == 0, finished.stderr
    assert "0 new answers" in finished.stdout  # stored by a killed import, not stored twice
    rows = {name: _comparable(read_rows(tmp_path / name / "run" / "results.jsonl")) for name in ("whole", "killed")}
    assert rows["killed"] == rows["whole"] and any(r[0][3].startswith("reader.") for r in rows["whole"])
    for name in ("statistics.md", "statistics.json"):
        assert (killed_study / name).read_text() == (whole_study / name).read_text().replace("whole", "killed")
    assert _leftovers(tmp_path / "killed") == []
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
