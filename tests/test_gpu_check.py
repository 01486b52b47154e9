"""benchmarks/gpu_check.sh in its tiny CPU setting, so that the GPU check cannot rot where no GPU is.

The script runs every step (the main job, the three deep trainings with their sample grids, images/s of every
feature space against torch-fidelity's forward, autocast against float32) and the report must hold each of
them with finite, positive numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE, REPO
from PIL import Image

DEEP_MODELS = ("pggan-lco", "cgan", "diffusion-small")
SPACES = ("inception-v3", "cxr-evaluator", "xrv-densenet", "rad-dino", "dinov2", "clip", "pixels", "radiomics")
NETWORK_SPACES = SPACES[:6]
NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)


def fake_nih(root: Path, n: int = 60) -> Path:
    """A small folder in the NIH ChestX-ray14 layout (one patient per image, every finding present somewhere)."""
    labels = ["No Finding", "Effusion", "Atelectasis|Infiltration", "Cardiomegaly|Effusion", "Consolidation"]
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    rows = [NIH_HEADER]
    for i in range(n):
        name = f"{i + 1:08d}_000.png"
        Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / "images" / name)
        rows.append(f"{name},{labels[i % len(labels)]},0,{i + 1},50,F,{'PA' if i % 2 else 'AP'},2500,2048,0.14,0.14")
    (root / "Data_Entry_2017_v2020.csv").write_text("\n".join(rows) + "\n")
    return root


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_gpu_check_runs_tiny_on_cpu_and_reports_every_step(tmp_path):
    out = tmp_path / "check"
    args = ["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--tiny", "--out", str(out)]
    if not (NIH_SAMPLE / "Data_Entry_2017_v2020_subset.csv").is_file():
        args += ["--data-root", str(fake_nih(tmp_path / "nih"))]
    # One thread: on two shared cores, two OpenMP threads per process wait on each other (10x slower here).
    env = {**os.environ, "CXRBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*args, "--python", sys.executable], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["device"] == "cpu" and report["settings"]["cache_empty_at_start"] == "true"

    steps = report["steps"]
    assert set(steps) == {"run", *(f"train-{m}" for m in DEEP_MODELS), "sample-diffusion-small"}
    for name, step in steps.items():
        assert step["exit_code"] == 0, name
        assert positive(step["wall_s"]) and positive(step["peak_rss_mib"]), name
        assert not step["peak_gpu_mib"], name  # --device cpu: no GPU memory (None without CUDA)
    for model in DEEP_MODELS:
        assert positive(steps["run"]["timings_s"][f"model:{model}"])  # the run trained and scored it
        step = steps[f"train-{model}"]
        assert step["images"] > 0 and positive(step["images_per_s"]), model
        assert step["grids"] and all(Path(grid).is_file() for grid in step["grids"]), model
    with Image.open(steps["train-diffusion-small"]["grids"][0]) as grid:
        assert grid.size == (8 * 32, 2 * 32)  # 16 samples of 32 px, 8 per row
    assert positive(steps["sample-diffusion-small"]["images_per_s"])

    rows = {row["space"]: row for row in report["spaces"]["rows"]}
    assert set(rows) == {*SPACES, "inception-v3 plain (fused=False)", "torch-fidelity forward"}
    for name, row in rows.items():
        assert "unavailable" not in row, row
        assert positive(row["images_per_s"]) and row["images"] == 4 and positive(row["dim"]), name
    for name in ("inception-v3", "inception-v3 plain (fused=False)"):
        assert positive(rows[name]["speedup_over_torch_fidelity"])
        # the same network as torch-fidelity's: the same features up to float32 rounding
        assert rows[name]["vs_torch_fidelity"]["max_abs_over_max"] < 1e-4

    autocast = {(row["space"], row["dtype"]): row for row in report["autocast"]["rows"]}
    assert set(autocast) == {(name, "bf16") for name in NETWORK_SPACES}
    for key, row in autocast.items():
        assert "error" not in row, row
        assert positive(row["images_per_s"]) and positive(row["fd_fp32"]) and positive(row["fd"]), key
        # bfloat16 keeps 8 bits of mantissa: features move by about 1%, not more, and not at all is suspect
        assert 0 < row["features"]["max_abs_over_max"] < 0.1, key
        assert math.isfinite(row["fd_rel_diff"]), key

    markdown = (out / "report.md").read_text()
    for text in ("## Steps", "## Feature spaces", "## Autocast against float32", "## cxrbench env", *steps):
        assert text in markdown
