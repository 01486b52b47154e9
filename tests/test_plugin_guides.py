"""The extension guides' code is a working plugin: each guide's module, "installed" through the entry point the
guide gives (a *.dist-info folder on sys.path, as pip leaves one), runs in `cxrbench run`.

docs/adding-a-metric.md and docs/adding-a-feature-space.md (docs/adding-a-model.md has its own test,
tests/test_docs_adapter.py).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli, tiny_toml_text

from cxrbench.run_dir import REAL_OWNER, RunDirectory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _block(guide: Path, section: str, language: str) -> str:
    """The first ``language`` code block of the guide's section whose heading starts with ``section``."""
    text = guide.read_text().split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```\n", text, re.S).group(1)


def install_guide(guide: Path, site: Path) -> tuple[dict, str, str]:
    """The guide's module as the package its entry point names, with a dist-info folder holding that entry
    point: (the environment that sees it, the entry-point group, the registered name)."""
    entry_points = tomllib.loads(_block(guide, "2.", "toml"))["project"]["entry-points"]
    ((group, names),) = entry_points.items()
    ((name, target),) = names.items()
    module = target.split(":")[0]
    package, file = module.split(".")
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    (site / package / f"{file}.py").write_text(_block(guide, "1.", "python"))
    distribution = package.replace("_", "-")
    dist = site / f"{package}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = {target}\n")
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}, group, name


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_the_metric_guide_runs_as_a_plugin_in_any_space(tmp_path, session_cache):
    env, group, name = install_guide(REPO / "docs" / "adding-a-metric.md", tmp_path / "site")
    assert (group, name) == ("cxrbench.metrics", "mean_gap")
    listed = run_cli("list", "metrics", env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"mean_gap\s.*plugin:cxrbench-mean-gap", listed.stdout)

    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache))
    out = tmp_path / "run"
    args = ("run", "--models", "pca-gaussian,noise", "--metrics", "mean_gap@pixels,fd@pixels")
    result = run_cli(*args, "--config", str(config), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    mine = [r for r in _rows(out) if r["metric"] == "mean_gap@pixels"]
    assert {(r["model"], r["condition"]) for r in mine} >= {
        (m, c) for m in ("pca-gaussian", "noise") for c in ("present", "absent")
    }
    run = RunDirectory(out)
    for row in mine:  # the declared formula, on the images the row was scored on
        real = run.read_features("pixels", REAL_OWNER, row["task"], row["condition"])["features"]
        fake = run.read_features("pixels", row["model"], row["task"], row["condition"])["features"]
        assert row["value"] == pytest.approx(float(np.linalg.norm(real.mean(0) - fake.mean(0))), rel=1e-12)
        assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["direction"] == "lower"
    assert "Mean gap (pixels) ↓" in (out / "leaderboard.md").read_text()


@pytest.mark.slow
def test_the_feature_space_guide_runs_as_a_plugin_with_weights_in_the_published_layout(tmp_path, session_cache):
    import torch
    from safetensors.torch import save_file
    from torchvision.models import resnet50

    env, group, name = install_guide(REPO / "docs" / "adding-a-feature-space.md", tmp_path / "site")
    assert (group, name) == ("cxrbench.feature_extractors", "resnet50")
    torch.manual_seed(0)  # random weights in torchvision's state-dict layout: nothing can be downloaded here
    weights = tmp_path / "resnet50.safetensors"
    save_file({k: v.contiguous() for k, v in resnet50(weights=None).state_dict().items()}, str(weights))

    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache))
    out = tmp_path / "run"
    args = ("run", "--models", "pca-gaussian", "--metrics", "fd@resnet50,precision@resnet50", "--n-samples", "10")
    result = run_cli(
        *args,
        "--feature-option",
        f"resnet50.weights={weights}",
        "--feature-option",
        "resnet50.size=64",
        "--config",
        str(config),
        "--out",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    mine = [r for r in _rows(out) if r["metric"] in ("fd@resnet50", "precision@resnet50")]
    assert {(r["model"], r["condition"]) for r in mine} == {
        (m, c) for m in ("pca-gaussian", "real-holdout") for c in ("present", "absent")
    }  # the real-vs-real floor runs with every model
    assert all(r["status"] == "ok" and r["value"] is not None for r in mine)
    assert all(r["comparability"]["dim"] == 2048 and r["validity"] in ("passed", "failed") for r in mine)
    assert all("64px" in r["comparability"]["preprocessing"] for r in mine)  # the size option (64 px: CPU time)
    features = RunDirectory(out).read_features("resnet50", "pca-gaussian", "pleural_effusion", "present")
    assert features["features"].shape == (10, 2048)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_spaces"]["resnet50"]["weights_sha256"] == mine[0]["comparability"]["weights_sha256"]

    missing = run_cli(*args, "--config", str(config), "--out", str(tmp_path / "none"), env=env)
    assert missing.returncode == 0, missing.stderr  # no weights: its rows are unavailable, with the fix
    reasons = {r["reason"] for r in _rows(tmp_path / "none") if r["metric"] == "fd@resnet50"}
    assert len(reasons) == 1 and "set weights = " in reasons.pop()
