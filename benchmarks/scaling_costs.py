"""What the main process's scoring costs as a set grows: each default metric timed at several n, projected to a target.

Run: PYTHONPATH=. python benchmarks/scaling_costs.py [--sizes 1000,2000,4000] [--target 50000] [--resamples 4]
     [--train 4000] [--run RUN]

Every CONDITION- and FINDING-scope metric of the default run is scored through the runner's own
``scoring.scored_row`` (value, then its bootstrap interval) on seeded synthetic inputs of the real shapes:
features of each space's dimension (cxr-evaluator 128, radiomics 693, pixels 1,024, inception-v3 2,048,
clip 768), the evaluator's probabilities and calls, 64 px images for MS-SSIM diversity, and a training split
of ``--train`` images for memorisation and DCR. Run time depends on the shapes, not the values. Each metric
is timed without resamples (t0, best of two) and once with ``--resamples`` (t1), so one resample costs
(t1 - t0) / resamples; both are fitted as a power of n over the two largest sizes (within [0, 2.5]; linear for
costs under 50 ms, where timer noise would pick the exponent) and projected to ``--target`` images per set
with the run's 1,000 resamples (a metric's own cap applies). MODEL-scope metrics
(the utility classifiers) are timed whole, with the run's resamples (which draw test images, so their cost
does not grow with n), on one model's 8 sets of n images each, and projected along the line through the two
sizes: training is epochs over the images, linear in n plus the real training split's share.

``--run RUN``: also print the per-image generation costs from RUN's manifest (seconds per image, each
model's mean over its sets). CPU time (all threads) is reported beside wall time, with the load average.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cxrbench.benchmark.scoring import RowKey, scored_row
from cxrbench.benchmark.setup import build_metrics
from cxrbench.config import RunConfig
from cxrbench.data.image_set import ImageSet
from cxrbench.metrics.metric import INTENDED, MetricInputs, ModelMetric, ModelMetricContext, Scope
from cxrbench.tasks import FINDINGS, TASKS

DIMS = {"cxr-evaluator": 128, "radiomics": 693, "pixels": 32 * 32, "inception-v3": 2048, "clip": 768}
RESOLUTION = 64


def synthetic(key: str, space: str, n: int, rng: np.random.Generator, shift: float) -> np.ndarray:
    """n rows of output ``key`` of ``space`` (features correlated like a network's, shifted for the fake side)."""
    if key == "features":
        d = DIMS[space]
        mixing = np.random.default_rng(7).standard_normal((d, d)) / math.sqrt(d)
        return rng.standard_normal((n, d)) @ mixing + shift
    if key == "probabilities":
        return rng.uniform(size=(n, len(FINDINGS)))
    if key == "calls":
        return (rng.uniform(size=(n, len(FINDINGS))) > 0.5).astype(np.int8)
    if key == "images":
        return rng.integers(0, 256, size=(n, 1, RESOLUTION, RESOLUTION), dtype=np.uint8)
    raise ValueError(f"no synthetic form for output {key!r}")


def metric_inputs(metric, n: int, train: int, seed: int) -> MetricInputs:
    rng = np.random.default_rng(seed)
    condition = TASKS.get(FINDINGS[0]).conditions()[0]
    fake = {k: synthetic(k, metric.feature_space, n, rng, 0.1) for k in metric.needs}
    real = {k: synthetic(k, metric.feature_space, n, rng, 0.0) for k in metric.needs} if metric.uses_real else {}
    training = (
        {k: synthetic(k, metric.feature_space, train, rng, 0.0) for k in metric.needs} if metric.uses_train else {}
    )
    if metric.scope is Scope.FINDING:  # the present and absent sets stacked
        fake = {k: np.concatenate([v, synthetic(k, metric.feature_space, n, rng, 0.0)]) for k, v in fake.items()}
        fake[INTENDED] = np.repeat([1, 0], n)
    return MetricInputs(real, fake, condition, training)


def timed(call) -> tuple[float, float]:
    """(wall s, CPU s of all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def score_once(metric, n: int, train: int, resamples: int, scratch: Path, seed: int) -> tuple[float, float]:
    inputs = metric_inputs(metric, n, train, seed)
    config = RunConfig(bootstrap=resamples, cache_dir=scratch / f"{metric.id}-{n}-{resamples}-{seed}")
    key = RowKey("scaling", inputs.condition.task, inputs.condition.presence.value, False, "synthetic")
    return timed(lambda: scored_row(key, metric, inputs, config, {"name": metric.feature_space}))


def image_set(n: int, rng: np.random.Generator, prefix: str) -> ImageSet:
    images = torch.from_numpy(rng.integers(0, 256, size=(n, 1, RESOLUTION, RESOLUTION), dtype=np.uint8))
    labels = torch.from_numpy((rng.uniform(size=(n, len(FINDINGS))) > 0.5).astype(np.int8))
    ids = tuple(f"{prefix}{i}" for i in range(n))
    return ImageSet(images, labels, ids, ids)


def model_once(
    metric: ModelMetric, n: int, train: int, resamples: int, scratch: Path, seed: int
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    conditions = [c for name in FINDINGS for c in TASKS.get(name).conditions()]
    fake = {
        c: torch.from_numpy(rng.integers(0, 256, (n, 1, RESOLUTION, RESOLUTION), dtype=np.uint8)) for c in conditions
    }
    context = ModelMetricContext(
        fake=fake,
        train=image_set(train, rng, "train"),
        test=image_set(max(n, 256), rng, "test"),
        device=torch.device("cpu"),
        seed=seed,
        bootstrap=resamples,
        cache_dir=scratch / f"{metric.id}-{n}-{resamples}-{seed}",
    )
    return timed(lambda: metric.compute_model(context))


NOISE_FLOOR = 0.05  # seconds: below this at the largest size, timer noise decides the fitted exponent


def power_fit(sizes: list[int], seconds: list[float]) -> float:
    """The exponent b of t = a n^b through the two largest sizes, within [0, 2.5]; 1 (linear) for costs
    under NOISE_FLOOR at the largest size, whose exponent the timer's noise would decide."""
    (n1, t1), (n2, t2) = list(zip(sizes, seconds))[-2:]
    if t2 < NOISE_FLOOR or t1 <= 0:
        return 1.0
    return min(2.5, max(0.0, math.log(t2 / t1) / math.log(n2 / n1)))


def project(sizes: list[int], seconds: list[float], target: int) -> float:
    return seconds[-1] * (target / sizes[-1]) ** power_fit(sizes, seconds)


def project_line(sizes: list[int], seconds: list[float], target: int) -> float:
    """Along the line through the two largest sizes (a cost linear in n plus a fixed part)."""
    (n1, t1), (n2, t2) = list(zip(sizes, seconds))[-2:]
    return t2 + max(t2 - t1, 0.0) / (n2 - n1) * (target - n2)


def generation_costs(run: Path) -> dict[str, float]:
    manifest = json.loads((run / "manifest.json").read_text())
    costs = {}
    for model, facts in manifest["models"].items():
        cells = [g["seconds_per_image"] for g in facts.get("generation", {}).values()]
        if cells:
            costs[model] = sum(cells) / len(cells)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--target", type=int, default=50_000)
    parser.add_argument("--resamples", type=int, default=4)
    parser.add_argument("--train", type=int, default=4000, help="training-split images for memorisation and DCR")
    parser.add_argument("--model-sizes", default="128,256", help="images per set for the utility classifiers")
    parser.add_argument("--run", type=Path, help="a finished run: print its per-image generation costs too")
    parser.add_argument("--only", default="", help="metric ids to time, separated by commas (default: all)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    model_sizes = [int(s) for s in args.model_sizes.split(",")]
    bootstrap = RunConfig().bootstrap
    metrics = build_metrics(RunConfig())
    if args.only:
        metrics = [m for m in metrics if m.id in args.only.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f}; torch threads {torch.get_num_threads()}\n")
    if args.run:
        print("| model | generation s per image (mean of its sets) |\n| --- | --- |")
        for model, cost in generation_costs(args.run).items():
            print(f"| `{model}` | {cost:.5f} |")
        print()
    print(
        f"| metric | n | value s (wall / CPU) | s per resample | exponent (value, resample) | "
        f"projected at n = {args.target:,}, {bootstrap} resamples |\n| --- | --- | --- | --- | --- | --- |"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for metric in metrics:
            if isinstance(metric, ModelMetric):
                times = []
                for n in model_sizes:
                    wall, cpu = model_once(metric, n, args.train, bootstrap, Path(scratch), 1)
                    times.append(wall)
                    print(
                        f"| `{metric.id}` | {n:,} per set | {wall:.2f} / {cpu:.2f} (with resamples) | | | |", flush=True
                    )
                at = project_line(model_sizes, times, args.target)
                print(f"| `{metric.id}` | {args.target:,} per set (projected, linear) | | | | **{at:,.0f} s** |")
                continue
            resamples = min(args.resamples, metric.max_resamples or args.resamples)
            full = min(bootstrap, metric.max_resamples or bootstrap)
            values, per_resample = [], []
            for n in sizes:  # the value: best of two (new inputs each time, so nothing is read from a cache)
                wall0, cpu0 = min(score_once(metric, n, args.train, 0, Path(scratch), seed) for seed in (1, 2))
                wall1, _ = score_once(metric, n, args.train, resamples, Path(scratch), 3)
                values.append(wall0)
                per_resample.append(max(wall1 - wall0, 0.0) / resamples)
                print(f"| `{metric.id}` | {n:,} | {wall0:.3f} / {cpu0:.3f} | {per_resample[-1]:.4f} | | |", flush=True)
            value_at = project(sizes, values, args.target)
            resample_at = project(sizes, per_resample, args.target)
            total = value_at + full * resample_at
            print(
                f"| `{metric.id}` | {args.target:,} (projected) | {value_at:,.1f} | {resample_at:,.3f} | "
                f"{power_fit(sizes, values):.2f}, {power_fit(sizes, per_resample):.2f} | **{total:,.0f} s** |",
                flush=True,
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
