"""A small run folder for reader-study tests: PNG sample sets and a manifest, no training or scoring."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from conftest import TINY_PHANTOM

from cxrbench.config import RunConfig
from cxrbench.reader_study.study import Study
from cxrbench.results import ResultRow, append_row
from cxrbench.sample_sets import write_png_set

TASK = "pleural_effusion"
N_SAMPLES = 6
# An automated metric per model (CXR-FD, lower is better), for the rank-correlation test.
FD = {"alpha": 1.0, "beta": 2.0, "gamma": 3.0}


def make_run(root: Path, models: tuple[str, ...] = ("alpha", "beta", "gamma"), n: int = N_SAMPLES) -> Path:
    """A run folder with seeded-noise sample sets of ``models`` for TASK, both conditions, at 32 px."""
    config = RunConfig(
        models=models, tasks=(TASK,), resolution=32, n_samples=n, data_options=dict(TINY_PHANTOM), out=root
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"config": config.to_dict()}, default=str))
    generator = torch.Generator().manual_seed(0)
    for model in models:
        for condition in ("present", "absent"):
            images = torch.randint(0, 256, (n, 1, 32, 32), generator=generator, dtype=torch.uint8)
            write_png_set(root / "samples" / model / TASK / condition, 7, images, 0.0, None)
            append_row(
                root / "results.jsonl",
                ResultRow(
                    model=model,
                    task=TASK,
                    condition=condition,
                    metric="cxr_fd",
                    value=FD.get(model, 0.0),
                    ci_low=None,
                    ci_high=None,
                    n_real=n,
                    n_fake=n,
                    direction="lower",
                    feature_space="cxr-evaluator",
                    dataset="phantom",
                    seed=0,
                    cxrbench_version="0",
                    resolution=32,
                ),
            )
    return root


def write_study(root: Path, design: str, key: dict[str, dict]) -> Study:
    """A study folder with only what the statistics read: study.json, key.json and served/items.json."""
    (root / "served").mkdir(parents=True)
    (root / "study.json").write_text(json.dumps({"design": design, "seed": 0, "run": str(root)}))
    (root / "key.json").write_text(json.dumps(key))
    (root / "served" / "items.json").write_text(json.dumps([{"id": i, "images": [], "finding": ""} for i in key]))
    return Study(root)
