"""The extension guides' code is a working plugin: each guide's module, "installed" through the entry point the
guide gives (a *.dist-info folder on sys.path, as pip leaves one), runs in `cxrbench run`.

docs/adding-a-metric.md and docs/adding-a-feature-space.md (docs/adding-a-model.md has its own test,
tests/test_docs_adapter.py).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, fake_install, run_cli, tiny_toml_text

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
    package, file = target.split(":")[0].split(".")
    files = {f"{package}/__init__.py": "", f"{package}/{file}.py": _block(guide, "1.", "python")}
    return fake_install(site, package.replace("_", "-"), {group: {name: target}}, files), group, name


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_the_metric_and_feature_space_guides_run_as_plugins_together(tmp_path, session_cache):
    import torch
    from safetensors.torch import save_file
    from torchvision.models import resnet50

    site = tmp_path / "site"
    metric_env, *metric_entry = install_guide(REPO / "docs" / "adding-a-metric.md", site)
    space_env, *space_entry = install_guide(REPO / "docs" / "adding-a-feature-space.md", site)
    assert metric_entry == ["cxrbench.metrics", "mean_gap"] and metric_env == space_env
    assert space_entry == ["cxrbench.feature_extractors", "resnet50"]
    listed = run_cli("list", "metrics", env=metric_env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"mean_gap\s.*plugin:cxrbench-mean-gap", listed.stdout)

    torch.manual_seed(0)  # random weights in torchvision's state-dict layout: nothing can be downloaded here
    weights = tmp_path / "resnet50.safetensors"
    save_file({k: v.contiguous() for k, v in resnet50(weights=None).state_dict().items()}, str(weights))
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache))
    out = tmp_path / "run"
    metrics = "mean_gap@pixels,mean_gap@resnet50,fd@resnet50,precision@resnet50"  # the plugin metric in both
    result = run_cli(
        *("run", "--models", "pca-gaussian", "--metrics", metrics, "--n-samples", "10", "--config", str(config)),
        *("--feature-option", f"resnet50.weights={weights}", "--feature-option", "resnet50.size=64"),
        *("--out", str(out)),
        env=metric_env,
    )
    assert result.returncode == 0, result.stderr
    rows, run = _rows(out), RunDirectory(out)
    cells = {(m, c) for m in ("pca-gaussian", "real-holdout") for c in ("present", "absent")}  # the floor runs too
    for metric in metrics.split(","):
        assert {(r["model"], r["condition"]) for r in rows if r["metric"] == metric} == cells, metric
    for row in (r for r in rows if r["metric"].startswith("mean_gap@")):  # the declared formula, on its images
        space = row["feature_space"]
        real = run.read_features(space, REAL_OWNER, row["task"], row["condition"])["features"]
        fake = run.read_features(space, row["model"], row["task"], row["condition"])["features"]
        assert row["value"] == pytest.approx(float(np.linalg.norm(real.mean(0) - fake.mean(0))), rel=1e-12)
        assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["direction"] == "lower"
    board = (out / "leaderboard.md").read_text()
    assert "Mean gap (pixels) ↓" in board and "Mean gap (resnet50) ↓" in board and "FD (resnet50) ↓" in board

    spaced = [r for r in rows if r["feature_space"] == "resnet50"]
    assert all(r["comparability"]["dim"] == 2048 and "64px" in r["comparability"]["preprocessing"] for r in spaced)
    assert all(r["validity"] in ("passed", "failed") for r in spaced)  # checked like every space
    assert run.read_features("resnet50", "pca-gaussian", "pleural_effusion", "present")["features"].shape == (10, 2048)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {r["comparability"]["weights_sha256"] for r in spaced} == {
        manifest["feature_spaces"]["resnet50"]["weights_sha256"]
    }
