"""A third-party adapter package, registered only by its entry point, is listed (its run: test_plugin_guides.py).

The example package in examples/ is "installed" the way pip would leave it: a *.dist-info folder
with entry_points.txt on sys.path (as HELM's tests do), plus the package source on PYTHONPATH.
"""

from __future__ import annotations

from conftest import REPO, fake_install, run_cli

EXAMPLE = REPO / "examples" / "cxrbench-example-adapter"


def install_example_adapter(site):
    """The example package "installed" into ``site``; returns the environment that sees it."""
    entry = {"cxrbench.models": {"example-mean": "cxrbench_example_adapter.adapter:ConditionalMeanAdapter"}}
    return fake_install(site, "cxrbench-example-adapter", entry, paths=(EXAMPLE / "src",))


def test_entry_point_in_example_pyproject_matches_the_fake_install():
    assert (
        'example-mean = "cxrbench_example_adapter.adapter:ConditionalMeanAdapter"'
        in (EXAMPLE / "pyproject.toml").read_text()
    )


def test_plugin_is_listed(tmp_path):
    """Listed by its entry point; tests/test_plugin_guides.py runs it in `cxrbench run` with the guides' plugins."""
    listed = run_cli("list", "models", env=install_example_adapter(tmp_path / "site"))
    assert listed.returncode == 0, listed.stderr
    assert "example-mean" in listed.stdout and "plugin:cxrbench-example-adapter" in listed.stdout


def test_plugin_name_clash_is_a_clear_error(tmp_path):
    env = fake_install(tmp_path / "site", "clash", {"cxrbench.models": {"noise": "clash:Noise"}}, version="0.1")
    result = run_cli("list", "models", env=env)
    assert result.returncode == 2
    assert "plugin clash registers model 'noise'" in result.stderr
