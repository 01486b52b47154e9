"""A third-party adapter package, registered only by its entry point, runs through `cxrbench run`.

The example package in examples/ is "installed" the way pip would leave it: a *.dist-info folder
with entry_points.txt on sys.path (as HELM's tests do), plus the package source on PYTHONPATH.
"""

from __future__ import annotations

import json

from conftest import REPO, fake_install, run_cli, tiny_toml_text

EXAMPLE = REPO / "examples" / "cxrbench-example-adapter"


def _fake_install(site):
    entry = {"cxrbench.models": {"example-mean": "cxrbench_example_adapter.adapter:ConditionalMeanAdapter"}}
    return fake_install(site, "cxrbench-example-adapter", entry, paths=(EXAMPLE / "src",))


def test_entry_point_in_example_pyproject_matches_the_fake_install():
    assert (
        'example-mean = "cxrbench_example_adapter.adapter:ConditionalMeanAdapter"'
        in (EXAMPLE / "pyproject.toml").read_text()
    )


def test_plugin_is_listed_and_runs(tmp_path, session_cache):
    env = _fake_install(tmp_path / "site")
    listed = run_cli("list", "models", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "example-mean" in listed.stdout and "plugin:cxrbench-example-adapter" in listed.stdout

    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache) + "[model_options.example-mean]\nnoise_std = 5.0\n")
    out = tmp_path / "run"
    result = run_cli(
        "run", "--models", "example-mean,real-holdout", "--config", str(config), "--out", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    mine = [r for r in rows if r["model"] == "example-mean" and r["metric"] == "fd@cxr-evaluator"]
    assert len(mine) == 2 and all(r["value"] > 0 for r in mine)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"]["example-mean"]["options"] == {"noise_std": 5.0}


def test_plugin_name_clash_is_a_clear_error(tmp_path):
    env = fake_install(tmp_path / "site", "clash", {"cxrbench.models": {"noise": "clash:Noise"}}, version="0.1")
    result = run_cli("list", "models", env=env)
    assert result.returncode == 2
    assert "plugin clash registers model 'noise'" in result.stderr
