"""Shared fixtures: tiny seeded runs on a small phantom, on the CPU, with a per-session cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cxrbench.config import RunConfig

REPO = Path(__file__).resolve().parents[1]
NIH_SAMPLE = REPO.parent / "shared" / "data" / "nih-cxr14-sample"

# Small enough to run in seconds, large enough that each condition has a dozen real images.
TINY_PHANTOM = {"n_images": 700, "seed": 3}
# Utility trains three classifiers per model; one epoch at 32 px keeps tiny runs fast.
CHEAP_UTILITY = {name: {"epochs": 1, "input_size": 32} for name in ("utility", "utility_ratio", "utility_augmented")}
# The evaluator's min_steps gives a few hundred real images 24 epochs; a tiny phantom trains the
# 8 epochs the default phantom does (an evaluator in 4 s instead of 23 s, each dataset once a session).
TINY_FEATURES = {"cxr-evaluator": {"recipe": {"min_steps": 0}}}
# Each space's validity check at n_samples (12) images per set instead of 100: its verdicts are
# noisier, and the tests of the check itself ask for 100.
TINY_VALIDITY_N = 10
# Tiny presets of the deep generators, so contract tests and tiny runs train them in seconds.
# Every trainable deep model adds its entry here; the TOML form is written by ``options_toml``.
TINY_MODELS: dict[str, dict] = {
    "pggan-lco": {"pggan": {"phase_images": 48, "batch_size": 16}, "lco": {"steps": 3}, "classifier_epochs": 1},
    "cgan": {"gan": {"train_images": 96, "batch_size": 16}},
    "diffusion-small": {
        "network": {
            "sample_size": 32,
            "pixel_unshuffle": 2,
            "channels": [16, 32],
            "head_dim": 8,
            "text_width": 16,
            "text_layers": 1,
            "text_heads": 2,
        },
        "training": {"steps": 6, "batch_size": 8},
        "steps": 3,
    },
    # "roentgen": {"model_path": a tiny random SD-1.x directory, "steps": 2, ...}, set by tiny_sd_pipeline below
}


def options_toml(table: str, options: dict[str, dict]) -> str:
    """``options`` as TOML tables ``[table.NAME]`` (values: numbers, strings, booleans, lists)."""
    import tomli_w

    return tomli_w.dumps({table: options}) if options else ""


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session (so the evaluator is trained once), also for CLI subprocesses."""
    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("CXRBENCH_CACHE")
    os.environ["CXRBENCH_CACHE"] = str(path)  # never touch the user's own cache
    yield path
    if previous is None:
        os.environ.pop("CXRBENCH_CACHE", None)
    else:
        os.environ["CXRBENCH_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_sd_pipeline(tmp_path_factory) -> Path:
    """A tiny random Stable-Diffusion-1.x directory, also given to roentgen in TINY_MODELS (built once)."""
    from diffusion_helpers import build_tiny_sd_pipeline

    path = tmp_path_factory.mktemp("tiny-sd") / "pipeline"
    build_tiny_sd_pipeline(path)
    TINY_MODELS["roentgen"] = {"model_path": str(path), "steps": 2, "resolution": 16}
    return path


@pytest.fixture(autouse=True)
def _roentgen_weights(request) -> None:
    """Tests that may run roentgen with the tiny presets get the tiny pipeline; the others never build it."""
    if "roentgen" in request.node.name or {"tiny_config", "tiny_toml"} & set(request.fixturenames):
        request.getfixturevalue("tiny_sd_pipeline")


@pytest.fixture
def tiny_config(tmp_path, session_cache):
    """A RunConfig factory for small, fast runs; keyword arguments override fields."""

    def make(**overrides) -> RunConfig:
        base = RunConfig(
            models=("all",),
            tasks=("pleural_effusion",),
            metrics=("all",),
            resolution=32,
            n_samples=12,
            bootstrap=20,
            validity_n=TINY_VALIDITY_N,
            device="cpu",
            out=tmp_path / "run",
            cache_dir=session_cache,
            data_options=dict(TINY_PHANTOM),
            metric_options=dict(CHEAP_UTILITY),
            model_options=dict(TINY_MODELS),
            feature_options=dict(TINY_FEATURES),
        )
        return base.with_overrides(**overrides)

    return make


def fake_install(
    site: Path,
    distribution: str,
    entry_points: dict[str, dict[str, str]],
    files: dict[str, str] | None = None,
    version: str = "0.1.0",
    paths: tuple[Path, ...] = (),
) -> dict[str, str]:
    """A package "installed" as pip leaves one, for plugin tests (HELM's technique): ``files`` (path relative
    to ``site`` -> text) and a DIST-VERSION.dist-info folder with METADATA and entry_points.txt (group ->
    name -> "module:attr"). Returns the environment whose PYTHONPATH puts ``site`` (then ``paths``) first."""
    for relative, text in (files or {}).items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    dist = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{n} = {t}\n" for n, t in names.items()) for group, names in entry_points.items()
        )
    )
    return {"PYTHONPATH": os.pathsep.join([str(site), *map(str, paths), os.environ.get("PYTHONPATH", "")])}


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m cxrbench.cli ARGS`` in a subprocess and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cxrbench.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=600,
    )


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """torch-fidelity's Inception state dict with random values, saved like the published file."""
    import torch_fidelity.feature_extractor_inceptionv3 as module

    original_url, original_load = module.load_state_dict_from_url, module.FeatureExtractorInceptionV3.load_state_dict
    module.load_state_dict_from_url = lambda *args, **kwargs: {}  # no download: keep the random init
    module.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        torch.manual_seed(0)
        network = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        module.load_state_dict_from_url, module.FeatureExtractorInceptionV3.load_state_dict = (
            original_url,
            original_load,
        )
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture
def tiny_toml(tmp_path, session_cache):
    """The tiny run as a TOML file, for CLI subprocesses."""
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_toml_text(session_cache))
    return path


def tiny_toml_text(cache: Path, validity_n: int = TINY_VALIDITY_N) -> str:
    """The tiny run's settings as TOML (``cache``: the cache folder)."""
    return (
        f'resolution = 32\nn_samples = 12\nbootstrap = 10\nvalidity_n = {validity_n}\ndevice = "cpu"\n'
        f'tasks = "pleural_effusion"\n'
        f'cache_dir = "{cache}"\n[data_options]\nn_images = {TINY_PHANTOM["n_images"]}\n'
        f"seed = {TINY_PHANTOM['seed']}\n"
        + options_toml("metric_options", CHEAP_UTILITY)
        + options_toml("model_options", TINY_MODELS)
        + options_toml("feature_options", TINY_FEATURES)
    )
