"""The extension guides' code is a working plugin: each guide's module, "installed" through the entry point the
guide gives (a *.dist-info folder on sys.path, as pip leaves one), runs in `cxrbench run`.

docs/adding-a-metric.md, docs/adding-a-feature-space.md, docs/adding-a-dataset.md and docs/adding-a-task.md, in one
run with the example model package of examples/ (docs/adding-a-model.md has its own test, tests/test_docs_adapter.py).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TINY_FEATURES, TINY_MODELS, fake_install, options_toml, run_cli
from test_plugin import install_example_adapter

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


# PadChest's words for the phantom's four findings (the plugin's label map reads them back)
PADCHEST_WORDS = ("laminar atelectasis", "infiltrates", "pleural effusion", "cardiomegaly")


def _padchest_folder(root: Path, n: int = 400) -> int:
    """``n`` phantom images in PadChest's release layout (16-bit PNGs under IMAGEDIR/, the labels CSV), one in
    ten a lateral view, about 40 % with pneumothorax; returns how many are frontal."""
    from PIL import Image

    from cxrbench.data.phantom.dataset import render_image

    rng = np.random.default_rng(0)
    lines, frontal = ["ImageID,ImageDir,PatientID,Projection,Labels"], 0
    for i in range(n):
        image, info = render_image(seed=5, patient=i, study=0, resolution=64)
        words = [w for w, label in zip(PADCHEST_WORDS, info["labels"]) if label] + ["pneumothorax"] * (
            rng.random() < 0.4
        )
        folder = root / str(i % 3)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.astype(np.uint16) * 257).save(folder / f"img{i}.png")
        projection = "L" if i % 10 == 9 else "PA"
        frontal += projection == "PA"
        lines.append(f'img{i}.png,{i % 3},patient{i},{projection},"{words or ["normal"]}"')
    (root / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv").write_text("\n".join(lines) + "\n")
    return frontal


GUIDES = {  # guide -> (entry-point group, name)
    "adding-a-dataset.md": ("cxrbench.datasets", "padchest"),
    "adding-a-task.md": ("cxrbench.tasks", "pneumothorax"),
    "adding-a-metric.md": ("cxrbench.metrics", "mean_gap"),
    "adding-a-feature-space.md": ("cxrbench.feature_extractors", "resnet50"),
}
FIVE = ["atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette", "pneumothorax"]


@pytest.mark.slow
def test_the_four_guides_run_as_plugins_together_end_to_end(tmp_path, session_cache):
    """The PadChest dataset, the pneumothorax task, the mean_gap metric and the resnet50 space in one run."""
    import torch
    from safetensors.torch import save_file
    from torchvision.models import resnet50

    site = tmp_path / "site"
    for guide, entry in GUIDES.items():
        assert tuple(install_guide(REPO / "docs" / guide, site)[1:]) == entry, guide
    env = install_example_adapter(site)  # and examples/cxrbench-example-adapter, a model plugin
    for kind, name, dist in (("datasets", "padchest", "padchest"), ("tasks", "pneumothorax", "pneumothorax")):
        listed = run_cli("list", kind, env=env)
        assert re.search(rf"{name}\s.*plugin:cxrbench-{dist}", listed.stdout), listed.stdout + listed.stderr
    root = tmp_path / "padchest"
    frontal = _padchest_folder(root)

    torch.manual_seed(0)  # random weights in torchvision's state-dict layout: nothing can be downloaded here
    weights = tmp_path / "resnet50.safetensors"
    save_file({k: v.contiguous() for k, v in resnet50(weights=None).state_dict().items()}, str(weights))
    config = tmp_path / "padchest.toml"
    config.write_text(
        f'resolution = 32\nn_samples = 10\nbootstrap = 10\nvalidity_n = 10\ndevice = "cpu"\n'
        f'cache_dir = "{session_cache}"\n'
        + options_toml("model_options", {**TINY_MODELS, "example-mean": {"noise_std": 5.0}})
        + options_toml("feature_options", {**TINY_FEATURES, "resnet50": {"weights": str(weights), "size": 64}})
    )
    out = tmp_path / "run"
    models = "pca-gaussian,cgan,diffusion-small,example-mean"
    spaced_metrics = "mean_gap@pixels,mean_gap@resnet50,fd@resnet50,precision@resnet50"  # the plugin metric in both
    metrics = f"{spaced_metrics},conditional_accuracy,fd@cxr-evaluator"
    result = run_cli(
        *("run", "--data", "padchest", "--data-root", str(root), "--tasks", "pneumothorax", "--config", str(config)),
        *("--models", models, "--metrics", metrics, "--out", str(out)),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rows, run = _rows(out), RunDirectory(out)
    assert {r["task"] for r in rows} == {"pneumothorax"}
    cells = {(m, c) for m in (*models.split(","), "real-holdout") for c in ("present", "absent")}  # the floor too
    for metric in metrics.split(","):
        assert {(r["model"], r["condition"]) for r in rows if r["metric"] == metric and r["status"] == "ok"} == cells

    # the model: its options recorded, its images scored
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"]["example-mean"]["options"] == {"noise_std": 5.0}
    assert all(r["value"] > 0 for r in rows if r["model"] == "example-mean" and r["metric"] == "fd@cxr-evaluator")

    # the dataset: its label map gave the run five label columns, its lateral views were dropped
    assert manifest["dataset"]["findings"] == FIVE
    counts = manifest["dataset"]["counts"]
    assert sum(counts[s]["images"] for s in ("train", "val", "test")) == frontal
    assert counts["train"]["pneumothorax"]["present"] > 0
    # the task: the evaluator learnt the fifth finding, the diffusion model was given its prompts
    assert set(manifest["feature_spaces"]["cxr-evaluator"]["test_auroc"]) == set(FIVE)
    for condition, prompt in (("present", "pneumothorax"), ("absent", "no findings")):
        log = json.loads(
            (out / "samples" / "diffusion-small" / "pneumothorax" / condition / "generation.json").read_text()
        )
        assert {r["prompt"] for r in log["records"]} == {prompt}
    board = (out / "leaderboard.md").read_text()
    assert "### pneumothorax" in board

    # the metric: its declared formula on the stored features of its images, in both spaces
    for row in (r for r in rows if r["metric"].startswith("mean_gap@")):
        space = row["feature_space"]
        real = run.read_features(space, REAL_OWNER, row["task"], row["condition"])["features"]
        fake = run.read_features(space, row["model"], row["task"], row["condition"])["features"]
        assert row["value"] == pytest.approx(float(np.linalg.norm(real.mean(0) - fake.mean(0))), rel=1e-12)
        assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["direction"] == "lower"
    assert "Mean gap (pixels) ↓" in board and "Mean gap (resnet50) ↓" in board and "FD (resnet50) ↓" in board

    # the feature space: its option, its weights' hash on every row, checked like every space
    spaced = [r for r in rows if r["feature_space"] == "resnet50"]
    assert all(r["comparability"]["dim"] == 2048 and "64px" in r["comparability"]["preprocessing"] for r in spaced)
    assert all(r["validity"] in ("passed", "failed") for r in spaced)
    assert run.read_features("resnet50", "cgan", "pneumothorax", "present")["features"].shape == (10, 2048)
    assert {r["comparability"]["weights_sha256"] for r in spaced} == {
        manifest["feature_spaces"]["resnet50"]["weights_sha256"]
    }
