"""RunConfig: TOML loading, overrides, and one-line errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrbench.config import RunConfig, load_config
from cxrbench.errors import ConfigError


def test_toml_and_flag_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'models = "pca-gaussian,noise"\nresolution = 48\nout = "somewhere"\n'
        "[model_options.pca-gaussian]\ncomponents = 8\n"
    )
    config = load_config(path)
    assert config.models == ("pca-gaussian", "noise")
    assert config.resolution == 48 and config.out == Path("somewhere")
    assert config.model_options == {"pca-gaussian": {"components": 8}}
    assert config.with_overrides(resolution=None, seed=5).resolution == 48
    assert config.with_overrides(seed=5).seed == 5


def test_unknown_key_names_the_closest(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("n_sample = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'n_samples'"):
        load_config(path)


@pytest.mark.parametrize(
    "field,value",
    [
        ("resolution", 16),
        ("n_samples", 1),
        ("device", "tpu"),
        ("bootstrap", -1),
        ("prompt_style", "poem"),
        ("validity_n", 9),
    ],
)
def test_bad_values_are_config_errors(field, value):
    with pytest.raises(ConfigError):
        RunConfig().with_overrides(**{field: value})


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("models = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_comparable_ignores_where_and_how():
    a = RunConfig(out=Path("a"), device="cpu")
    b = RunConfig(out=Path("b"), device="auto", models=("noise",))
    assert a.comparable() == b.comparable()
    assert a.comparable() != RunConfig(seed=1).comparable()


def test_validity_n_changes_no_comparable_setting():
    """A resumed run checks its spaces again and restamps its rows, so the check's size may change."""
    assert RunConfig(validity_n=20).comparable() == RunConfig().comparable()
    with pytest.raises(ConfigError, match="validity_n 9 is too small; use at least 10"):
        RunConfig(validity_n=9)
