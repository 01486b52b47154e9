"""The adapter guide's code is a working plugin: built from docs/adding-a-model.md and run through `cxrbench run`.

Also the weights key's contract: editing a plugin's code trains it again, and a --tasks subset
reuses the weights of models whose training does not depend on the selected tasks.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import sys

import pytest
from conftest import REPO, fake_install, run_cli, tiny_toml_text

from cxrbench.errors import ConfigError

GUIDE = REPO / "docs" / "adding-a-model.md"
EXAMPLE = REPO / "examples" / "cxrbench-example-adapter" / "src" / "cxrbench_example_adapter" / "adapter.py"


def guide_adapter() -> str:
    """The Python block of the guide's section 2 (the example adapter)."""
    section = GUIDE.read_text().split("## 2. The example adapter", 1)[1]
    return re.search(r"```python\n(.*?)```\n", section, re.S).group(1)


def install_from_guide(site, version: str = "0.0.1") -> dict:
    """A package `docs_adapter` holding the guide's code, "installed" with a dist-info entry point."""
    files = {"docs_adapter/__init__.py": "", "docs_adapter/adapter.py": guide_adapter()}
    entry = {"cxrbench.models": {"docs-mean": "docs_adapter.adapter:ConditionalMeanAdapter"}}
    return fake_install(site, "docs-adapter", entry, files, version)


def test_the_guide_shows_the_example_package_file():
    assert guide_adapter() == EXAMPLE.read_text()


def test_the_guide_adapter_runs_as_a_plugin_and_its_edits_retrain_it(tmp_path, session_cache):
    env = install_from_guide(tmp_path / "site")
    listed = run_cli("list", "models", env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"docs-mean\s+Mean image per condition plus Gaussian pixel noise", listed.stdout), listed.stdout
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache))
    args = ["run", "--models", "docs-mean", "--metrics", "fd@pixels", "--config", str(config), "--no-floor"]
    first = run_cli(*args, "--out", str(tmp_path / "a"), env=env)
    assert first.returncode == 0, first.stderr
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())["models"]["docs-mean"]
    assert manifest["component"]["source"] == "plugin:docs-adapter" and manifest["component"]["version"] == "0.0.1"
    assert manifest["weights"]["source"] == "trained"
    again = run_cli(*args, "--out", str(tmp_path / "b"), env=env)
    cached = json.loads((tmp_path / "b" / "manifest.json").read_text())["models"]["docs-mean"]["weights"]
    assert cached["source"] == "cache" and cached["path"] == manifest["weights"]["path"]  # unchanged code
    with (tmp_path / "site" / "docs_adapter" / "adapter.py").open("a") as handle:
        handle.write("# an edit\n")
    edited = run_cli(*args, "--out", str(tmp_path / "c"), env=env)
    assert again.returncode == edited.returncode == 0, edited.stderr
    after = json.loads((tmp_path / "c" / "manifest.json").read_text())["models"]["docs-mean"]
    assert after["weights"]["source"] == "trained" and after["weights"]["path"] != manifest["weights"]["path"]
    assert after["component"]["code"] != manifest["component"]["code"]
    # A bad option is a ConfigError (the command line prints it as one line with exit code 2).
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        module = importlib.import_module("docs_adapter.adapter")
        with pytest.raises(ConfigError, match="noise_std -1.0 must be 0 or more"):
            module.ConditionalMeanAdapter(noise_std=-1.0)
    finally:
        sys.path.remove(str(tmp_path / "site"))
        for name in [m for m in sys.modules if m.startswith("docs_adapter")]:
            del sys.modules[name]


def test_a_tasks_subset_reuses_task_independent_weights(tiny_config):
    from cxrbench.benchmark.runner import run_benchmark

    full = tiny_config(
        models=("cgan", "pca-gaussian"), tasks=("pleural_effusion", "atelectasis"), metrics=("fd@pixels",), floor=False
    )
    first = run_benchmark(full).manifest["models"]
    subset = run_benchmark(dataclasses.replace(full, tasks=("pleural_effusion",), out=full.out.parent / "subset"))
    second = subset.manifest["models"]
    assert second["cgan"]["weights"]["source"] == "cache"  # trained on every finding's labels either way
    assert second["cgan"]["weights"]["path"] == first["cgan"]["weights"]["path"]
    assert second["pca-gaussian"]["weights"]["path"] != first["pca-gaussian"]["weights"]["path"]  # per condition
