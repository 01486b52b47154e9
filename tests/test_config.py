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


def test_one_generic_setter_writes_every_option_table_and_checks_names():
    from cxrbench.cli.options import with_settings

    given = [
        "model.pca-gaussian.components=8",
        "metric.utility.epochs=1",
        "feature.clip.weights=/w/clip",
        "data.view=both",
        "feature.clip.batch_size=4",
    ]
    config = with_settings(RunConfig(data_options={"n_images": 700}), given)
    assert config.model_options == {"pca-gaussian": {"components": 8}}
    assert config.metric_options == {"utility": {"epochs": 1}}
    assert config.feature_options == {"clip": {"weights": "/w/clip", "batch_size": 4}}  # TOML values, else text
    assert config.data_options == {"n_images": 700, "view": "both"}  # on top of the config's own table
    shortcut = with_settings(RunConfig(), ["clip.weights=/w/clip"], "--feature-option", "feature")
    assert shortcut.feature_options == {"clip": {"weights": "/w/clip"}}  # --feature-option is the same setter
    with pytest.raises(ConfigError, match=r"--feature-option 'clip' must look like NAME.KEY=VALUE, e.g. xrv-densenet"):
        with_settings(RunConfig(), ["clip"], "--feature-option", "feature")

    with pytest.raises(ConfigError, match="the section must be one of model, metric, feature, data"):
        with_settings(RunConfig(), ["models.cgan.epochs=1"])
    with pytest.raises(ConfigError, match="must look like SECTION.NAME.KEY=VALUE"):
        with_settings(RunConfig(), ["model.cgan.epochs"])
    with pytest.raises(ConfigError, match="did you mean 'pca-gaussian'"):
        with_settings(RunConfig(), ["model.pca-gausian.components=8"])


def test_a_mistyped_option_given_with_set_stops_the_run_before_any_work(capsys, tmp_path):
    from test_bad_input import cli

    code, _, err = cli(
        capsys,
        "run",
        "--models",
        "pca-gaussian",
        "--set",
        "model.pca-gaussian.componets=8",
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 2 and "componets" in err and "components" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
