"""Per-finding test AUROC of cxr-evaluator recipes on the NIH ChestX-ray14 sample, and their training CPU time.

Run from the repository root: python benchmarks/evaluator_auroc.py [--resolutions 64 128] [--recipes a,b]
                                      [--seeds 1] [--tta] [--threads 1] [--phantom]
The data is loaded as `cxrbench run --config docs/results/nih-sample.toml` loads it (PA and AP,
patient splits 0.5/0.1/0.4, split seed 0), at each --resolution (the run's image size; every
recipe's input_size is set to it). Each recipe is trained through the run's own path
(prepare_spaces, so with the space's derived seed; --seeds N adds run seeds 1..N-1) on the
training split only; val sets its operating points and is the split to choose a recipe by (its
mean AUROC is printed as `val`), the test split only reports. Printed per recipe: test AUROC per
finding, their mean, the val mean, and the training CPU seconds (time.process_time, on --threads
threads: one by default, because on a loaded machine a second thread's spin-waiting is counted as
CPU time and the same training then measures anywhere from 70 to 270 s) with the 1-minute load
average. With --seeds N > 1 two more rows per recipe: the mean over the seeds, and the ensemble
(probabilities averaged over the N networks). --tta scores each network averaged over its four
2-pixel shifts as well. --phantom times the 0.1 recipe and the default on the default phantom's
training split (6,000 images, 64 px): the main job's evaluator training. Skips with a message when
the NIH sample is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.setup import build_dataset, load_splits
from cxrbench.benchmark.spaces import prepare_spaces
from cxrbench.cache import default_cache_root
from cxrbench.config import load_config
from cxrbench.data.image_set import ImageSet
from cxrbench.metrics.auroc import auroc
from cxrbench.metrics.cxr_classifier import EVALUATOR_RECIPE, ClassifierRecipe, train_classifier
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.tasks import FINDINGS

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "docs" / "results" / "nih-sample.toml"

BASE = ClassifierRecipe()  # the 0.1 recipe: 8 epochs, batch 64, one wrap-around shift per batch
AFFINE = dict(augment="affine", max_rotation=10.0, max_scale=0.1, intensity=0.1)
STD_AUG = dict(standardise=True, **AFFINE)
LONG = dict(decoupled_decay=True, weight_decay=0.05)
# name -> fields changed from the 0.1 recipe (input_size always follows the run's resolution)
CANDIDATES: dict[str, dict | str] = {
    "0.1 recipe": {},
    "standardise": dict(standardise=True),
    "batch 16": dict(batch_size=16),
    "affine aug": dict(AFFINE),
    "balance": dict(balance=True),
    "std+aug b16": dict(STD_AUG, batch_size=16),
    "std+aug b16 +balance": dict(STD_AUG, batch_size=16, balance=True),
    "std+aug b16 res2": dict(STD_AUG, batch_size=16, blocks=2),
    "std+aug b16 wide": dict(STD_AUG, batch_size=16, widths=(32, 64, 128, 256)),
    "std+aug b16 30ep": dict(STD_AUG, batch_size=16, epochs=30, **LONG),
    "std+aug b32 24ep": dict(STD_AUG, batch_size=32, epochs=24, **LONG),
    "std+aug b32 24ep drop": dict(STD_AUG, batch_size=32, epochs=24, dropout=0.3, **LONG),
    "std+aug b64 40ep": dict(STD_AUG, epochs=40, **LONG),
    "default": "default",
    "default + grain 8": "default + grain 8",  # additive pixel noise up to 8 grey levels (docs/performance.md)
}


def load_nih(resolution: int) -> tuple[dict[str, ImageSet], int, str] | None:
    """The run's train/val/test splits at ``resolution``, its seed and the dataset fingerprint; None
    when the sample is absent."""
    config = load_config(CONFIG).with_overrides(resolution=resolution)
    root = (REPO / config.data_root).resolve()  # the config's data_root is relative to the repository root
    if not root.is_dir():
        return None
    dataset = build_dataset(config.with_overrides(data_root=str(root)))
    return load_splits(dataset, resolution, default_cache_root(), Reporter()), config.seed, dataset.fingerprint()


def recipe_for(name: str, resolution: int) -> ClassifierRecipe:
    changes = CANDIDATES[name]
    if isinstance(changes, str):
        recipe = EVALUATOR_RECIPE if changes == "default" else dataclasses.replace(EVALUATOR_RECIPE, grain=8.0)
    else:
        recipe = dataclasses.replace(BASE, **changes)
    return dataclasses.replace(recipe, input_size=resolution)


def train_space(recipe: ClassifierRecipe, splits: dict[str, ImageSet], fingerprint: str, seed: int, scratch: Path):
    """The cxr-evaluator prepared as a run prepares it (its own derived seed), and its CPU seconds."""
    context = ExtractorContext(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        device=torch.device("cpu"),
        seed=seed,
        cache_dir=scratch,
        dataset_fingerprint=fingerprint,
    )
    started = time.process_time()
    extractor = prepare_spaces(["cxr-evaluator"], {"cxr-evaluator": {"recipe": recipe}}, context)["cxr-evaluator"]
    return extractor, time.process_time() - started


def aurocs(probabilities: np.ndarray, labels: np.ndarray) -> list[float]:
    """AUROC per finding over the images whose label is known."""
    return [auroc(probabilities[labels[:, i] >= 0, i], labels[labels[:, i] >= 0, i]) for i in range(len(FINDINGS))]


@torch.no_grad()
def shifted_mean(model, images: torch.Tensor, shift: int = 2) -> np.ndarray:
    """Probabilities [N, F] averaged over the image and its four ``shift``-pixel translations (edges continued)."""
    x = model.preprocess(images)
    padded = torch.nn.functional.pad(x, (shift,) * 4, mode="replicate")
    views = [x] + [
        padded[..., shift + dy : shift + dy + x.shape[-2], shift + dx : shift + dx + x.shape[-1]]
        for dy, dx in ((shift, 0), (-shift, 0), (0, shift), (0, -shift))
    ]
    return np.mean([torch.sigmoid(model(v)).numpy() for v in views], 0)


def row(name: str, test: list[float], val: list[float] | None, seconds: float | None) -> str:
    val_text = f"{np.mean(val):>7.3f}" if val is not None else "      -"
    cpu = f"{seconds:8.1f}" if seconds is not None else "       -"
    return (
        f"{name:<30}" + "".join(f"{v:>9.3f}" for v in test) + f"{np.mean(test):>8.3f}{val_text}{cpu}"
        f"{os.getloadavg()[0]:>6.2f}"
    )


def phantom_times() -> None:
    """Training CPU seconds of the 0.1 recipe and the default on the default phantom's training split."""
    from cxrbench.data.phantom.dataset import PhantomDataset

    train = PhantomDataset().load("train", 64)
    print(f"\nphantom (default: 6,000 images, seed 0) training split: {len(train)} images at 64 px")
    for name, recipe in (("0.1 recipe", BASE), ("default", EVALUATOR_RECIPE)):
        started = time.process_time()
        train_classifier(train, recipe, 0, torch.device("cpu"))
        print(
            f"  {name:<12} {recipe.total_epochs(len(train))} epochs  {time.process_time() - started:8.1f} CPU s  "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


def score_recipe(
    name: str,
    recipe: ClassifierRecipe,
    splits: dict[str, ImageSet],
    fingerprint: str,
    seeds: range,
    tta: bool,
    scratch: Path,
) -> None:
    test_labels, val_labels = splits["test"].labels.numpy(), splits["val"].labels.numpy()
    test_probs, val_probs = [], []
    for seed in seeds:
        extractor, seconds = train_space(recipe, splits, fingerprint, seed, scratch)
        test_probs.append(extractor.extract(splits["test"].images)["probabilities"])
        val_probs.append(extractor.extract(splits["val"].images)["probabilities"])
        test = aurocs(test_probs[-1], test_labels)
        assert np.allclose(test, [extractor.test_auroc[f] for f in FINDINGS])  # what the run's manifest reports
        print(
            row(f"{name} (seed {seed})" if len(seeds) > 1 else name, test, aurocs(val_probs[-1], val_labels), seconds),
            flush=True,
        )
        if tta:
            print(
                row(
                    "  + test-time shifts",
                    aurocs(shifted_mean(extractor.model, splits["test"].images), test_labels),
                    aurocs(shifted_mean(extractor.model, splits["val"].images), val_labels),
                    None,
                ),
                flush=True,
            )
    if len(seeds) > 1:
        singles = np.array([aurocs(p, test_labels) for p in test_probs])
        val_singles = np.array([aurocs(p, val_labels) for p in val_probs])
        print(row(f"{name} (mean of seeds)", list(singles.mean(0)), list(val_singles.mean(0)), None))
        print(
            row(
                f"{name} ensemble-{len(seeds)}",
                aurocs(np.mean(test_probs, 0), test_labels),
                aurocs(np.mean(val_probs, 0), val_labels),
                None,
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument(
        "--recipes", default="0.1 recipe,default", help=f"comma-separated names or all; known: {', '.join(CANDIDATES)}"
    )
    parser.add_argument("--seeds", type=int, default=1, help="run seeds per recipe (0, 1, ...)")
    parser.add_argument("--tta", action="store_true", help="also score each network averaged over shifted views")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--phantom", action="store_true", help="also time phantom training (0.1 recipe, default)")
    args = parser.parse_args()
    names = list(CANDIDATES) if args.recipes == "all" else [n.strip() for n in args.recipes.split(",")]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown recipe {unknown[0]!r}; known: {', '.join(CANDIDATES)}")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; default recipe: {EVALUATOR_RECIPE}")
    with tempfile.TemporaryDirectory() as scratch:
        for resolution in args.resolutions:
            loaded = load_nih(resolution)
            if loaded is None:
                print(
                    f"skipped: the NIH sample is not at {REPO.parent / 'shared' / 'data' / 'nih-cxr14-sample'} "
                    "(the data_root of docs/results/nih-sample.toml)"
                )
                return
            splits, seed, fingerprint = loaded
            print(
                f"\n{resolution} px: train {len(splits['train'])}, val {len(splits['val'])}, test "
                f"{len(splits['test'])} images; test AUROC per finding"
            )
            print(
                f"{'recipe':<30}"
                + "".join(f"{f[:8]:>9}" for f in FINDINGS)
                + f"{'mean':>8}{'val':>7}{'CPU s':>8}{'load':>6}"
            )
            for name in names:
                score_recipe(
                    name,
                    recipe_for(name, resolution),
                    splits,
                    fingerprint,
                    range(seed, seed + args.seeds),
                    args.tta,
                    Path(scratch),
                )
    if args.phantom:
        phantom_times()


if __name__ == "__main__":
    main()
