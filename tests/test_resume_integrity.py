"""A run folder never holds numbers it did not compute: a resume on changed data is refused, and
``--no-resume`` deletes nothing of the old run until the new one has finished work of its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_bad_input import FINDING_COLUMNS, assert_one_line, cli

from cxrbench.run_dir import PREVIOUS, RunDirectory

RUN = [
    "run",
    "--models",
    "noise",
    "--tasks",
    "pleural_effusion",
    "--metrics",
    "precision,density",
    "--no-floor",
    "--resolution",
    "32",
    "--n-samples",
    "6",
    "--bootstrap",
    "0",
    "--device",
    "cpu",
    "--data",
    "folder",
]


def _dataset(root: Path, n: int = 160) -> Path:
    """A folder dataset of ``n`` noise images, every other one with a pleural effusion."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    lines = [f"path,{FINDING_COLUMNS}"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / f"{i:03d}.png")
        lines.append(f"{i:03d}.png,0,0,{i % 2},0")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def _options(tmp_path: Path) -> Path:
    path = tmp_path / "pixels.toml"
    path.write_text(
        '[metric_options.precision]\nfeature_space = "pixels"\n[metric_options.density]\nfeature_space = "pixels"\n'
    )
    return path


def _snapshot(out: Path) -> dict[str, bytes]:
    """Every file of a run folder (the lock aside) and its bytes."""
    return {
        str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def finished(tmp_path, capsys):
    """A finished run on a folder dataset: (its data root, its --out, the run's arguments)."""
    root, out = _dataset(tmp_path / "data"), tmp_path / "run"
    args = [*RUN, "--data-root", str(root), "--config", str(_options(tmp_path)), "--out", str(out)]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    rows = (out / "results.jsonl").read_text().splitlines()
    assert len(rows) == 4 and all(json.loads(r)["status"] == "ok" for r in rows)
    return root, out, args


def test_a_resume_on_changed_images_is_refused_and_keeps_the_old_run(finished, capsys):
    root, out, args = finished
    before = _snapshot(out)
    image = root / "007.png"  # same name, other pixels (and so another size or modification time)
    Image.fromarray(np.full((32, 32), 9, dtype=np.uint8)).save(image)
    code, _, err = cli(capsys, *args)
    assert_one_line(
        code,
        err,
        f"{out} holds a run made on other data: its image files",
        "use another --out, or --no-resume to start it over",
    )
    assert _snapshot(out) == before  # neither the rows nor the manifest's fingerprint were touched


def test_a_resume_on_changed_labels_names_the_labels(finished, capsys):
    root, out, args = finished
    csv = root / "labels.csv"
    csv.write_text(csv.read_text().replace("007.png,0,0,1,0", "007.png,1,0,1,0"))
    code, _, err = cli(capsys, *args)
    assert_one_line(code, err, "made on other data: its records (image ids, patients, splits or labels) changed")


def test_no_resume_with_a_bad_image_leaves_the_old_run_intact(finished, capsys):
    root, out, args = finished
    before = _snapshot(out)
    (root / "011.png").write_bytes(b"not a png")
    code, _, err = cli(capsys, *args, "--no-resume")
    assert_one_line(code, err, "011.png cannot be decoded", "on_bad_image")
    assert _snapshot(out) == before
    assert not list(out.glob(f"{PREVIOUS}*"))


def test_no_resume_that_fails_before_its_first_sample_set_puts_the_old_run_back(finished, capsys, monkeypatch):
    from cxrbench.benchmark import runner
    from cxrbench.errors import AdapterError

    root, out, args = finished
    before = _snapshot(out)

    def broken(*_args, **_kwargs):
        raise AdapterError("the model broke")

    monkeypatch.setattr(runner, "collect_images", broken)
    code, _, err = cli(capsys, *args, "--no-resume")
    assert_one_line(code, err, "the model broke")
    assert _snapshot(out) == before and not list(out.glob(f"{PREVIOUS}*"))


def test_no_resume_deletes_the_old_run_once_the_new_one_made_a_sample_set(finished, capsys):
    _, out, args = finished
    rows = sorted((out / "results.jsonl").read_text().splitlines())
    (out / "reviews" / "stale.txt").parent.mkdir(exist_ok=True)
    (out / "reviews" / "stale.txt").write_text("from the old run")
    code, _, err = cli(capsys, *args, "--no-resume")
    assert code == 0, err
    assert sorted((out / "results.jsonl").read_text().splitlines()) == rows  # the same numbers, made again
    assert not (out / "reviews" / "stale.txt").exists() and not list(out.glob(f"{PREVIOUS}*"))


def _old_and_new(root: Path) -> RunDirectory:
    """A run folder with an old run in it."""
    root.mkdir()
    (root / "results.jsonl").write_text("old rows\n")
    (root / "manifest.json").write_text('{"old": true}')
    (root / "samples" / "m").mkdir(parents=True)
    (root / "samples" / "m" / "00000.png").write_text("old image")
    return RunDirectory(root)


def test_recover_after_a_kill_in_the_middle_of_setting_aside(tmp_path):
    run = _old_and_new(tmp_path / "run")
    folder = run.root / f"{PREVIOUS}20260101T000000-1"
    folder.mkdir()
    (folder / ".set-aside.json").write_text(json.dumps(["results.jsonl", "samples", "manifest.json"]))
    (run.root / "results.jsonl").rename(folder / "results.jsonl")  # killed after the first of three moves
    (run.root / "results.jsonl").write_text("new rows\n")  # impossible in practice; shows which copy wins
    assert run.recover() == [folder]
    assert (run.root / "results.jsonl").read_text() == "old rows\n"
    assert (run.root / "samples" / "m" / "00000.png").read_text() == "old image"
    assert json.loads((run.root / "manifest.json").read_text()) == {"old": True}
    assert not folder.exists()


def test_recover_after_a_kill_before_the_first_sample_set(tmp_path):
    run = _old_and_new(tmp_path / "run")
    run.prepare(resume=False)
    assert sorted(p.name for p in run.root.iterdir()) == [next(run.root.glob(f"{PREVIOUS}*")).name]
    (run.root / "manifest.json").write_text('{"new": true}')  # the new run got this far, then was killed
    (run.root / "reviews").mkdir()
    assert len(RunDirectory(run.root).recover()) == 1
    assert json.loads((run.root / "manifest.json").read_text()) == {"old": True}
    assert (run.root / "results.jsonl").read_text() == "old rows\n" and not (run.root / "reviews").exists()
    assert not list(run.root.glob(f"{PREVIOUS}*"))


def test_a_half_deleted_old_run_is_never_restored(tmp_path):
    run = _old_and_new(tmp_path / "run")
    run.prepare(resume=False)
    folder = next(run.root.glob(f"{PREVIOUS}*"))
    (run.root / "results.jsonl").write_text("new rows\n")
    (folder / ".set-aside.json").unlink()  # what discard_previous does first; then it was killed
    assert RunDirectory(run.root).recover() == []
    assert (run.root / "results.jsonl").read_text() == "new rows\n" and not folder.exists()
