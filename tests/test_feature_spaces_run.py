"""Feature spaces end to end through the CLI: a plugin space from an entry point, the built-in
spaces from local random weights (and their unavailable rows without them), `evaluate` with
[feature_options] and --feature-option, and a run folder of cxrbench 0.1 that resumes and renders
as before.

The runs are the tiny phantom runs of conftest (32 px, 12 images, one task, `noise`, no floor);
the CLI runs in this process (``cli``) except for the plugin, which needs a fresh interpreter to
find its entry point the way an installed package is found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fake_install, run_cli, tiny_toml_text
from hf_helpers import TINY, write_local_copy
from PIL import Image
from test_bad_input import cli

from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.metric_ids import ALIASES, alias_of, legacy_id, split_id
from cxrbench.results import OK, UNAVAILABLE, read_rows

CONDITIONS = {"present", "absent"}
TINY_RUN = ("--models", "noise", "--no-floor", "--tasks", "pleural_effusion")

# A third-party feature space: its module and the dist-info that pip would write for it.
PLUGIN_MODULE = '''
"""Mean and standard deviation of each pixel block: a deterministic feature space without weights."""

import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.metrics.feature_extractor import FeatureExtractor


class BlockStatsExtractor(FeatureExtractor):
    """uint8 [B, 1, H, W] -> float64 [B, 2 * blocks**2]: each block's mean and standard deviation in [0, 1]."""

    name = "myspace"

    def __init__(self, blocks: int = 2) -> None:
        self.blocks = blocks

    def prepare(self, context) -> None:
        """Nothing to load."""

    def extract(self, images: torch.Tensor) -> dict:
        x = images.double() / 255
        mean = F.adaptive_avg_pool2d(x, self.blocks).flatten(1)
        square = F.adaptive_avg_pool2d(x * x, self.blocks).flatten(1)
        std = (square - mean * mean).clamp(min=0).sqrt()
        return {"features": torch.cat([mean, std], dim=1).numpy()}

    def identity(self) -> dict:
        return {"name": self.name, "preprocessing": f"block-mean-std-{self.blocks}", "dim": 2 * self.blocks ** 2}
'''


def error_lines(err: str) -> list[str]:
    """The lines of stderr that are not progress bars."""
    return [line for line in err.splitlines() if line.strip() and "━" not in line]


def rows_of(run: Path) -> dict[tuple[str, str], object]:
    """(condition, metric) -> row of the run's only model and task."""
    rows = read_rows(run / "results.jsonl")
    keyed = {(r.condition, r.metric): r for r in rows}
    assert len(keyed) == len(rows), "one row per condition and metric"
    return keyed


@pytest.fixture
def tiny_run_toml(tmp_path, session_cache) -> Path:
    """conftest's tiny settings (without the tiny Stable Diffusion: these runs never use roentgen)."""
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_toml_text(session_cache))
    return path


@pytest.fixture(scope="module")
def xrv_weights(tmp_path_factory) -> Path:
    """A seeded random torchxrayvision DenseNet-121 saved as the published file is: a whole model, legacy format."""
    from cxrbench.metrics.xrv_weights import import_torchxrayvision

    xrv = import_torchxrayvision()
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("xrv") / "random-densenet121.pt"
    torch.save(xrv.models.DenseNet(weights=None).eval(), path, _use_new_zipfile_serialization=False)
    return path


@pytest.fixture(scope="module")
def hf_copies(tmp_path_factory) -> dict[str, Path]:
    """Tiny random rad-dino and clip directories in the published layouts."""
    root = tmp_path_factory.mktemp("hf")
    return {
        name: write_local_copy(name, root / name, TINY[name], seed=seed)
        for seed, name in enumerate(("rad-dino", "clip"))
    }


# -- 1. a plugin feature space through its entry point ---------------------------------------------


def _fake_plugin_install(site: Path) -> dict[str, str]:
    """The module and its *.dist-info/entry_points.txt in ``site``; the environment that puts it on sys.path."""
    entry = {"cxrbench.feature_extractors": {"myspace": "cxrbench_block_stats:BlockStatsExtractor"}}
    return fake_install(site, "cxrbench-block-stats", entry, {"cxrbench_block_stats.py": PLUGIN_MODULE})


@pytest.mark.slow
def test_plugin_feature_space_scores_any_space_metrics(capsys, tmp_path, tiny_run_toml):
    env = _fake_plugin_install(tmp_path / "site")
    listed = run_cli("list", "feature-extractors", env=env)
    assert listed.returncode == 0, listed.stderr
    assert any(
        line.startswith("myspace") and "plugin:cxrbench-block-stats" in line for line in listed.stdout.splitlines()
    )

    out = tmp_path / "run"
    ids = ("fd@myspace", "kid@myspace", "precision@myspace")
    result = run_cli(
        "run",
        *TINY_RUN,
        "--metrics",
        ",".join(ids),
        "--bootstrap",
        "0",
        "--config",
        str(tiny_run_toml),
        "--out",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rows = rows_of(out)
    assert set(rows) == {(c, m) for c in CONDITIONS for m in ids}
    for row in rows.values():
        assert row.status == OK and row.feature_space == "myspace", row
        assert row.comparability == {"name": "myspace", "preprocessing": "block-mean-std-2", "dim": 8, "resolution": 32}
        assert np.isfinite(row.value)
    assert rows["present", "fd@myspace"].value > 0  # noise is far from chest X-rays, even in 8 numbers
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_spaces"]["myspace"]["dim"] == 8

    board = (out / "leaderboard.md").read_text()
    for header in ("FD (myspace) ↓", "KID (myspace) ↓", "Precision (myspace) ↑"):
        assert header in board
    # rendered here, where the plugin is not installed: the same table (rows name their space)
    code, _, err = cli(capsys, "leaderboard", str(out), "--out", str(tmp_path / "here.md"))
    assert code == 0, err
    assert (tmp_path / "here.md").read_text() == board


# -- 2. built-in spaces from local weights; unavailable rows without them --------------------------

SPACES_METRICS = "fd@xrv-densenet,fd@rad-dino,cmmd@clip,fd_inf"
NEEDS_WEIGHTS = {
    "fd@xrv-densenet": "[feature_options.xrv-densenet]",
    "fd@rad-dino": "[feature_options.rad-dino]",
    "cmmd@clip": "[feature_options.clip]",
}


@pytest.mark.slow
def test_spaces_without_weights_are_unavailable_then_scored_once_weights_are_given(
    capsys, tmp_path, tiny_run_toml, xrv_weights, hf_copies
):
    out = tmp_path / "run"
    command = ("run", *TINY_RUN, "--metrics", SPACES_METRICS, "--config", str(tiny_run_toml), "--out", str(out))
    code, _, err = cli(capsys, *command)
    assert code == 0, err
    rows = rows_of(out)
    assert set(rows) == {(c, m) for c in CONDITIONS for m in [*NEEDS_WEIGHTS, "fd_inf@cxr-evaluator"]}
    for condition in CONDITIONS:
        for metric, table in NEEDS_WEIGHTS.items():
            row = rows[condition, metric]
            assert row.status == UNAVAILABLE and row.value is None, row
            assert table in row.reason and "weights" in row.reason, row.reason  # the fix, naming the option
        assert rows[condition, "fd_inf@cxr-evaluator"].status == OK
    kept = rows["present", "fd_inf@cxr-evaluator"]

    given = (
        "--feature-option",
        f"xrv-densenet.weights={xrv_weights}",
        "--feature-option",
        "xrv-densenet.verify=false",
        "--feature-option",
        f"rad-dino.weights={hf_copies['rad-dino']}",
        "--feature-option",
        f"clip.weights={hf_copies['clip']}",
    )
    code, _, err = cli(capsys, *command, *given)
    assert code == 0, err
    rows = rows_of(out)
    assert set(rows) == {(c, m) for c in CONDITIONS for m in [*NEEDS_WEIGHTS, "fd_inf@cxr-evaluator"]}
    spaces = {
        "fd@xrv-densenet": "xrv-densenet",
        "fd@rad-dino": "rad-dino",
        "cmmd@clip": "clip",
        "fd_inf@cxr-evaluator": "cxr-evaluator",
    }
    for (condition, metric), row in rows.items():
        assert row.status == OK and np.isfinite(row.value), row
        assert row.feature_space == spaces[metric] == row.comparability["name"]
        assert row.ci_low is not None and row.ci_low <= row.ci_high  # bootstrap = 10 in the tiny settings
    assert rows["present", "fd_inf@cxr-evaluator"] == kept  # the finished row was kept, not redone
    assert rows["present", "fd@xrv-densenet"].comparability["published_weights"] is False
    fit = json.loads(
        (
            out / "reviews" / "noise" / "pleural_effusion" / "present" / "fd_inf@cxr-evaluator" / "fd_vs_n.json"
        ).read_text()
    )
    assert len(fit["sizes"]) == len(fit["fd"]) == 15
    board = (out / "leaderboard.md").read_text()
    for header in ("FD∞ ↓", "FD (xrv-densenet) ↓", "FD (rad-dino) ↓", "CMMD ↓"):
        assert header in board


# -- 3. evaluate: [feature_options] in --config, --feature-option, and a typo ----------------------


def _png_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{index:03d}.png")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """12 real and 12 other phantom images as PNG files (32 px)."""
    root = tmp_path_factory.mktemp("folders")
    images = PhantomDataset(n_images=40, seed=0).load("train", 32).images
    return _png_folder(root / "real", images[:12]), _png_folder(root / "fake", images[12:24])


@pytest.mark.slow
def test_evaluate_takes_feature_options_from_config_and_flags(capsys, tmp_path, folders, xrv_weights):
    real, fake = folders
    config = tmp_path / "spaces.toml"
    config.write_text(f'[feature_options.xrv-densenet]\nweights = "{xrv_weights}"\nverify = false\n')
    base = (
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--metrics",
        "fd@xrv-densenet,precision@pixels",
        "--bootstrap",
        "0",
        "--device",
        "cpu",
    )
    values = []
    for out, how in (
        (tmp_path / "by-config", ("--config", str(config))),
        (
            tmp_path / "by-flag",
            (
                "--feature-option",
                f"xrv-densenet.weights={xrv_weights}",
                "--feature-option",
                "xrv-densenet.verify=false",
            ),
        ),
    ):
        code, stdout, err = cli(capsys, *base, "--out", str(out), *how)
        assert code == 0, err
        rows = read_rows(out / "results.jsonl")
        assert [r.metric for r in rows] == ["fd@xrv-densenet", "precision@pixels"]
        assert all(r.status == OK and np.isfinite(r.value) for r in rows), rows
        assert [r.feature_space for r in rows] == ["xrv-densenet", "pixels"]
        assert "fd@xrv-densenet" in stdout
        values.append([r.value for r in rows])
    assert values[0] == values[1]  # one setting, two ways to give it

    code, _, err = cli(
        capsys, *base, "--out", str(tmp_path / "typo"), "--feature-option", f"xrv-densnet.weights={xrv_weights}"
    )
    assert code == 2
    assert len(error_lines(err)) == 1, err
    assert "did you mean 'xrv-densenet'?" in err
    assert not (tmp_path / "typo").exists()


# -- 4. a run folder of cxrbench 0.1 ---------------------------------------------------------------


def old_name(metric: str) -> str:
    """The name cxrbench 0.1 wrote for a metric id: the alias of its space, else the bare name
    (the inverse of ``legacy_id``)."""
    name, space = split_id(metric)
    if space is None:
        return metric
    alias = alias_of(name, space)
    return next(a for a, known in ALIASES.items() if known == alias) if alias else name


def to_format_01(run: Path) -> None:
    """Rewrite the run's rows and its manifest's metric declarations as cxrbench 0.1 wrote them."""
    lines = []
    for line in (run / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        metric, row["metric"] = row["metric"], old_name(row["metric"])
        assert legacy_id(row["metric"], row["feature_space"]) == metric  # what read_rows undoes
        lines.append(json.dumps(row, sort_keys=True) + "\n")
    (run / "results.jsonl").write_text("".join(lines))
    manifest = json.loads((run / "manifest.json").read_text())
    old = {}
    for metric, schema in manifest["metrics"].items():
        schema = {k: v for k, v in schema.items() if k != "metric"}  # 0.1 declared no separate metric name
        old[old_name(metric)] = {**schema, "name": old_name(metric)}
    manifest["metrics"] = old
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2))


def files_and_times(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_run_folder_of_0_1_resumes_and_renders_unchanged(capsys, tmp_path, tiny_run_toml):
    # kid in the pixel space, as a 0.1 config chose another space: [metric_options.kid] feature_space
    config = tmp_path / "tiny-kid-pixels.toml"
    config.write_text(tiny_run_toml.read_text() + '[metric_options.kid]\nfeature_space = "pixels"\n')
    out = tmp_path / "run"
    command = ("run", *TINY_RUN, "--metrics", "cxr_fd,precision,kid", "--config", str(config), "--out", str(out))
    code, _, err = cli(capsys, *command)
    assert code == 0, err
    made = rows_of(out)
    assert {m for _, m in made} == {"fd@cxr-evaluator", "precision@cxr-evaluator", "kid@pixels"}
    assert all(row.status == OK for row in made.values())

    to_format_01(out)
    written = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["metric"] for r in written} == {"cxr_fd", "precision", "kid"}
    # values a recomputation could not give back: a kept row keeps them, a redone one loses them
    (out / "results.jsonl").write_text(
        "".join(json.dumps({**r, "value": r["value"] * (1 + 1e-9)}, sort_keys=True) + "\n" for r in written)
    )
    old_rows = read_rows(out / "results.jsonl")
    assert {r.metric for r in old_rows} == {"fd@cxr-evaluator", "precision@cxr-evaluator", "kid@pixels"}
    code, _, err = cli(capsys, "leaderboard", str(out), "--out", str(tmp_path / "from-0.1.md"))
    assert code == 0, err
    from_old = (tmp_path / "from-0.1.md").read_bytes()
    for header in ("CXR-FD ↓", "Precision ↑", "KID (pixels) ↓"):
        assert header in from_old.decode()
    samples = files_and_times(out / "samples")
    assert samples

    code, _, err = cli(capsys, *command)
    assert code == 0, err
    assert read_rows(out / "results.jsonl") == old_rows  # same rows, same values: nothing recomputed
    assert files_and_times(out / "samples") == samples  # no sample set written again, none added
    assert (out / "leaderboard.md").read_bytes() == from_old
    code, _, err = cli(capsys, "leaderboard", str(out), "--out", str(tmp_path / "resumed.md"))
    assert code == 0, err
    assert (tmp_path / "resumed.md").read_bytes() == from_old
