"""The CLI contract: one-line errors with exit code 2, light listing, train/generate/run from TOML."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, run_cli


@pytest.mark.parametrize(
    "args,expected",
    [
        (["run", "--models", "pca-gausian"], "unknown model 'pca-gausian'; did you mean 'pca-gaussian'? known:"),
        (["run", "--tasks", "effusion"], "unknown task 'effusion'"),
        (["run", "--metrics", "fdi"], "unknown metric 'fdi'; did you mean 'fd'?"),
        (["run", "--metrics", "fd@radino"], "unknown feature extractor 'radino'; did you mean 'rad-dino'?"),
        (["run", "--metrics", "utility@pixels"], "metric 'utility' is not computed in a chosen feature space"),
        (["run", "--data", "mimic"], "unknown dataset 'mimic'"),
        (["run", "--resolution", "8"], "resolution 8 is out of range"),
        (["run", "--config", "missing.toml"], "config file missing.toml does not exist"),
        (["generate", "noise", "--task", "atelectasis", "--condition", "maybe", "--out", "x"], "unknown condition"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, expected, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_list_and_help_import_no_heavy_backend():
    code = (
        "import sys\nfrom cxrbench.cli import main\nsys.argv = ['cxrbench', 'list', 'models']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\nprint('light')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "pca-gaussian" in result.stdout and "real-holdout" in result.stdout and "light" in result.stdout


@pytest.mark.parametrize(
    "kind,name",
    [
        ("tasks", "lung_opacity"),
        ("metrics", "cxr_fd"),
        ("datasets", "phantom"),
        ("feature-extractors", "cxr-evaluator"),
    ],
)
def test_list_every_kind(kind, name):
    result = run_cli("list", kind)
    assert result.returncode == 0 and name in result.stdout


def test_train_then_generate_from_the_checkpoint(tmp_path, tiny_toml, capsys):
    from test_bad_input import cli  # in this process: three commands without three interpreter start-ups

    checkpoint = tmp_path / "ckpt"
    code, _, err = cli(capsys, "train", "pca-gaussian", "--out", str(checkpoint), "--config", str(tiny_toml))
    assert code == 0, err
    assert (checkpoint / "model.safetensors").is_file() and json.loads((checkpoint / "config.json").read_text())
    out = tmp_path / "pngs"
    code, _, err = cli(
        capsys,
        *("generate", "pca-gaussian", "--task", "pleural_effusion", "--condition", "present", "--n", "5"),
        *("--out", str(out), "--checkpoint", str(checkpoint), "--config", str(tiny_toml)),
    )
    assert code == 0, err
    assert len(list(out.glob("*.png"))) == 5
    code, _, err = cli(capsys, "train", "noise", "--out", str(tmp_path / "n"), "--config", str(tiny_toml))
    assert code == 2 and "not trainable" in err


@pytest.fixture(scope="module")
def all_run(tmp_path_factory, session_cache):
    """`cxrbench run --models all` on the tiny phantom, once for this module's tests: (folder, process)."""
    from conftest import tiny_toml_text

    root = tmp_path_factory.mktemp("all-run")
    (root / "tiny.toml").write_text(tiny_toml_text(session_cache))
    result = run_cli("run", "--models", "all", "--out", str(root / "run"), "--config", str(root / "tiny.toml"))
    return root / "run", result


def test_run_prints_a_summary_and_writes_the_run(all_run):
    out, result = all_run
    assert result.returncode == 0, result.stderr
    assert "pca-gaussian" in result.stdout and "CXR-FD" in result.stdout and "test AUROC" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "leaderboard.md", "manifest.json", "samples"}


def test_leaderboard_formats_publish_and_compare(all_run, tmp_path, capsys):
    from test_bad_input import cli  # in this process: the commands read a finished run, nothing to isolate

    run = all_run[0]
    assert all_run[1].returncode == 0, all_run[1].stderr
    for fmt, marker in (("md", "### Overview"), ("latex", r"\toprule"), ("csv", "model,task,condition")):
        code, stdout, err = cli(capsys, "leaderboard", str(run), "--format", fmt)
        assert code == 0, err
        assert marker in stdout
    out = tmp_path / "board.tex"
    assert cli(capsys, "leaderboard", str(run), "--format", "latex", "--out", str(out))[0] == 0
    assert out.read_text().startswith("% cxrbench leaderboard")
    assert cli(capsys, "leaderboard", "publish", str(run), "--out", str(tmp_path / "site"))[0] == 0
    assert (tmp_path / "site" / "index.html").is_file()
    assert cli(capsys, "leaderboard", "publish", str(run))[0] == 2
    code, stdout, _ = cli(capsys, "compare", str(run), str(run))
    assert code == 0 and "overlap" in stdout
    code, _, err = cli(capsys, "leaderboard", str(tmp_path / "nothing"))
    assert code == 2 and "has no results.jsonl" in err
