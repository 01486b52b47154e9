"""Pre-generated sample sets (`run --samples NAME=PATH`): scored exactly like the adapters that made them."""

from __future__ import annotations

import csv
import dataclasses
import shutil

import pytest

from cxrbench.benchmark.runner import run_benchmark
from cxrbench.errors import ConfigError

# Metrics whose values do not depend on which model made a set (all of them here: the bootstrap
# is seeded per row name, so intervals are compared with the bootstrap off).
METRICS = ("fd@pixels", "kid@pixels", "precision@pixels", "frd", "diversity", "memorisation", "conditional_auroc")


def comparable(row) -> dict:
    """A row without its name and reference flag (a pre-generated set is always a competitor)."""
    return {k: v for k, v in dataclasses.asdict(row).items() if k not in ("model", "reference")}


@pytest.fixture(scope="module")
def made(tmp_path_factory, session_cache):
    """A tiny run of pca-gaussian and noise: its samples/ folders are the pre-generated sets."""
    from conftest import TINY_FEATURES, TINY_PHANTOM, TINY_VALIDITY_N

    from cxrbench.config import RunConfig

    root = tmp_path_factory.mktemp("made")
    config = RunConfig(
        models=("pca-gaussian", "noise"),
        tasks=("pleural_effusion",),
        metrics=METRICS,
        resolution=32,
        n_samples=12,
        bootstrap=0,
        validity_n=TINY_VALIDITY_N,
        device="cpu",
        out=root / "run",
        cache_dir=session_cache,
        data_options=dict(TINY_PHANTOM),
        feature_options=dict(TINY_FEATURES),
        floor=False,
    )
    return config, run_benchmark(config)


def test_two_pre_generated_folders_give_the_rows_of_the_adapters_that_made_them(made, tmp_path):
    config, summary = made
    samples = {"mine": str(config.out / "samples" / "pca-gaussian"), "theirs": str(config.out / "samples" / "noise")}
    again = run_benchmark(dataclasses.replace(config, models=(), samples=samples, out=tmp_path / "run"))
    by_name = {"mine": "pca-gaussian", "theirs": "noise"}
    for name, model in by_name.items():
        ours = sorted((r for r in again.rows if r.model == name), key=lambda r: (r.task, r.condition, r.metric))
        source = sorted((r for r in summary.rows if r.model == model), key=lambda r: (r.task, r.condition, r.metric))
        assert len(ours) == len(source) == len(METRICS) * 2 - 1  # conditional_auroc is one row per task
        assert [comparable(r) for r in ours] == [comparable(r) for r in source]
        assert not any(r.reference for r in ours)
    manifest = again.manifest
    assert manifest["models"]["mine"]["weights"] == {"source": "samples"}
    assert manifest["models"]["mine"]["settings"]["digest"] == manifest["samples"]["mine"]


def test_a_csv_listing_and_a_missing_cell(made, tmp_path):
    config, summary = made
    present = config.out / "samples" / "pca-gaussian" / "pleural_effusion" / "present"
    shutil.copytree(present, tmp_path / "images")  # any layout: the CSV says what each file is
    listing = tmp_path / "listing.csv"
    with listing.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "prompt"])
        for png in sorted((tmp_path / "images").glob("*.png")):
            writer.writerow([f"images/{png.name}", "pleural_effusion/present", "effusion"])
    result = run_benchmark(
        dataclasses.replace(
            config, models=(), samples={"listed": str(listing)}, metrics=("fd@pixels",), out=tmp_path / "run"
        )
    )
    rows = {r.condition: r for r in result.rows if r.model == "listed"}
    expected = {r.condition: r for r in summary.rows if r.model == "pca-gaussian" and r.metric == "fd@pixels"}
    assert rows["present"].value == expected["present"].value
    assert rows["absent"].status == "unavailable"
    assert (
        "0 images for pleural_effusion/absent" in rows["absent"].reason and "lower --n-samples" in rows["absent"].reason
    )


def test_a_resumed_run_refuses_changed_images(made, tmp_path):
    config, _ = made
    folder = tmp_path / "set"
    shutil.copytree(config.out / "samples" / "pca-gaussian", folder)
    changed = dataclasses.replace(
        config, models=(), samples={"mine": str(folder)}, metrics=("fd@pixels",), out=tmp_path / "run"
    )
    run_benchmark(changed)
    first = sorted((folder / "pleural_effusion" / "present").glob("*.png"))[0]
    shutil.copy(sorted((config.out / "samples" / "noise" / "pleural_effusion" / "present").glob("*.png"))[0], first)
    with pytest.raises(ConfigError, match="scored the samples 'mine' from other images"):
        run_benchmark(changed)


def test_bad_sample_settings_are_one_line_errors(tmp_path, tiny_config):
    with pytest.raises(ConfigError, match="is a registered model"):
        tiny_config(samples={"cgan": str(tmp_path)})
    with pytest.raises(ConfigError, match="not valid"):
        tiny_config(samples={"My Set": str(tmp_path)})
    with pytest.raises(ConfigError, match="does not exist"):
        run_benchmark(tiny_config(models=(), samples={"mine": str(tmp_path / "nowhere")}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no TASK/CONDITION"):
        run_benchmark(tiny_config(models=(), samples={"mine": str(tmp_path / "empty")}))
    with pytest.raises(ConfigError, match="no models selected"):
        run_benchmark(tiny_config(models=()))


def test_exported_references_scored_as_a_set_sit_at_distance_zero(made, tmp_path):
    from cxrbench.benchmark.references import LISTING, export_references

    config, _ = made
    counts = export_references(config.out, tmp_path / "refs", config.cache_dir)
    assert counts == {"pleural_effusion/present": 12, "pleural_effusion/absent": 12}
    listing = (tmp_path / "refs" / LISTING).read_text().splitlines()
    assert listing[0] == "file,label,image_id" and len(listing) == 25
    result = run_benchmark(
        dataclasses.replace(
            config, models=(), samples={"refs": str(tmp_path / "refs")}, metrics=("fd@pixels",), out=tmp_path / "run"
        )
    )
    assert all(abs(r.value) < 1e-6 for r in result.rows if r.model == "refs")  # the very images of the reference
    with pytest.raises(ConfigError, match="not an empty folder"):
        export_references(config.out, tmp_path / "refs", config.cache_dir)


def test_cli_samples_flag(made, tmp_path, capsys):
    from test_bad_input import cli

    config, _ = made
    toml = tmp_path / "run.toml"
    toml.write_text(
        'tasks = "pleural_effusion"\nmetrics = "fd@pixels"\nresolution = 32\nn_samples = 12\n'
        'bootstrap = 0\nvalidity_n = 10\nfloor = false\ndevice = "cpu"\n'
        "[data_options]\nn_images = 700\nseed = 3\n"
    )
    folder = config.out / "samples" / "noise"
    code, out, err = cli(
        capsys, "run", "--config", str(toml), "--samples", f"theirs={folder}", "--out", str(tmp_path / "run")
    )
    assert code == 0, err
    assert "theirs" in (tmp_path / "run" / "leaderboard.md").read_text()
    from cxrbench.results import read_rows

    assert {r.model for r in read_rows(tmp_path / "run" / "results.jsonl")} == {"theirs"}  # no model ran
    code, _, err = cli(capsys, "run", "--config", str(toml), "--samples", "theirs", "--out", str(tmp_path / "x"))
    assert code == 2 and "--samples takes NAME=PATH" in err
