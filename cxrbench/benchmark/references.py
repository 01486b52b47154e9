"""`cxrbench export-references`: the real reference images of every cell of a finished run, as PNGs.

The metrics of a run compare each sample set with the same real images of its task and condition
(the reference half of the test split, up to n_samples of the condition: ``setup.reference_index``).
This writes them as OUT/TASK/CONDITION/00000.png... with a ``references.csv`` (file, label,
image_id), for users who score their images with other tools, or train on the same split.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.setup import build_dataset, load_splits, real_halves, reference_index, run_conditions
from cxrbench.config import RunConfig
from cxrbench.errors import ConfigError
from cxrbench.files import atomic_save_png
from cxrbench.run_dir import MANIFEST
from cxrbench.sample_sets import sample_name

LISTING = "references.csv"


def export_references(run_dir: Path, out: Path, cache_dir: Path, reporter: Reporter | None = None) -> dict[str, int]:
    """Write the run's real reference images per cell into ``out`` (new or empty); returns cell -> count."""
    manifest_path = Path(run_dir) / MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(f"{run_dir} has no {MANIFEST}; give a run folder written by `cxrbench run`")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} is not an empty folder; give export-references a new or empty --out")
    config = RunConfig.of_run(json.loads(manifest_path.read_text()), cache_dir)
    splits = load_splits(build_dataset(config), config.resolution, config.cache_dir, reporter or Reporter())
    reference, _ = real_halves(splits["test"], config.seed)
    counts, lines = {}, []
    for condition in run_conditions(config, reference.findings):
        index = reference_index(reference, condition, config)
        folder = out / condition.task / condition.presence.value
        folder.mkdir(parents=True, exist_ok=True)
        for i, k in enumerate(index):
            name = sample_name(i)
            atomic_save_png(folder / name, reference.images[int(k), 0].numpy())
            lines.append((f"{condition.key}/{name}", condition.key, reference.image_ids[int(k)]))
        counts[condition.key] = len(index)
    with (out / LISTING).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "image_id"])
        writer.writerows(lines)
    return counts
