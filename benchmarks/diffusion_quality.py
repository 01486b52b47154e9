"""diffusion-small on the phantom at 64 px: conditional AUROC, CXR-FD against noise, CPU throughput, steps vs quality.

Runs ``cxrbench run`` (through run_benchmark) for diffusion-small and the noise baseline with the
run's conditional_auroc and cxr_fd metrics, then reloads the trained pipeline directory through
the roentgen adapter (model_path) at several step counts, and times sampling on this process's
threads. Pin it to one core for the numbers in docs/diffusion.md:

    CXRBENCH_CACHE=/tmp/diffcache taskset -c 1 python benchmarks/diffusion_quality.py --out /tmp/diffbench

Prints Markdown tables; writes the run folders under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cxrbench.benchmark.runner import run_benchmark
from cxrbench.cache import default_cache_root
from cxrbench.config import RunConfig
from cxrbench.models import MODELS
from cxrbench.tasks import TASKS

METRICS = ("conditional_auroc", "cxr_fd")
SAMPLING = {"guidance": 6.0, "scheduler": "ddpm"}  # diffusion-small's defaults (with 50 steps)


def table(rows, model: str) -> dict[str, dict[str, float]]:
    """metric -> task/condition -> value of ``model``."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.model == model and r.status == "ok":
            out.setdefault(r.metric, {})[f"{r.task}/{r.condition}"] = r.value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/diffusion-bench"))
    parser.add_argument("--n-samples", type=int, default=64)
    parser.add_argument("--steps", default="10,25,50", help="sampling step counts for the trade-off table")
    parser.add_argument("--guidance", default="", help="guidance scales for a table at 50 steps (e.g. 1,6)")
    parser.add_argument("--table-n-samples", type=int, default=32, help="images per condition in the steps table")
    parser.add_argument("--throughput-images", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = RunConfig(
        models=("diffusion-small", "noise"),
        metrics=METRICS,
        resolution=64,
        n_samples=args.n_samples,
        device="cpu",
        bootstrap=200,
        floor=False,
        out=args.out / "main",
        cache_dir=default_cache_root(),
    )
    started = time.perf_counter()
    summary = run_benchmark(base)
    wall = time.perf_counter() - started
    manifest = summary.manifest
    print(f"run wall time {wall:.0f} s; timings {json.dumps({k: round(v) for k, v in manifest['timings_s'].items()})}")
    print(f"evaluator test AUROC: {manifest['feature_spaces']['cxr-evaluator'].get('test_auroc')}")
    print(f"diffusion-small weights: {manifest['models']['diffusion-small']['weights']}")
    small, noise = table(summary.rows, "diffusion-small"), table(summary.rows, "noise")
    print(
        "\n| task | cond. AUROC diffusion-small | cond. AUROC noise | CXR-FD present (small / noise) "
        "| CXR-FD absent (small / noise) |\n|---|---|---|---|---|"
    )
    for task in TASKS.resolve(("all",)):
        auroc = small.get("conditional_auroc", {}).get(f"{task}/both")
        print(
            f"| {task} | {auroc:.3f} | {noise.get('conditional_auroc', {}).get(f'{task}/both', float('nan')):.3f} | "
            f"{small['cxr_fd'][f'{task}/present']:.1f} / {noise['cxr_fd'][f'{task}/present']:.1f} | "
            f"{small['cxr_fd'][f'{task}/absent']:.1f} / {noise['cxr_fd'][f'{task}/absent']:.1f} |"
        )
    mean = sum(small["conditional_auroc"].values()) / len(small["conditional_auroc"])
    print(f"mean conditional AUROC over the findings: {mean:.3f}")

    pipeline = manifest["models"]["diffusion-small"]["weights"]["path"]
    print(
        f"\n| sampling steps (DDPM, guidance 6) | mean cond. AUROC (n = {args.table_n_samples}) | mean CXR-FD "
        f"(n = {args.table_n_samples}) | images/s (1 thread, wall) | images per CPU second |\n|---|---|---|---|---|"
    )
    condition = TASKS.get("pleural_effusion").conditions()[0]
    for steps in (int(s) for s in args.steps.split(",") if s):
        options = {"model_path": pipeline, "steps": steps, **SAMPLING, "resolution": None}
        scores = table(
            run_benchmark(
                base.with_overrides(
                    models="roentgen",
                    out=args.out / f"steps-{steps}",
                    n_samples=args.table_n_samples,
                    model_options={"roentgen": options},
                )
            ).rows,
            "roentgen",
        )
        adapter = run_adapter(options)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for _ in adapter.generate(condition, range(args.throughput_images), 0, 32):
            pass
        rate = args.throughput_images / (time.perf_counter() - t0)
        cpu_rate = args.throughput_images / (time.process_time() - cpu0)  # what an unshared core would give
        auroc = sum(scores["conditional_auroc"].values()) / len(scores["conditional_auroc"])
        fd = sum(scores["cxr_fd"].values()) / len(scores["cxr_fd"])
        print(f"| {steps} | {auroc:.3f} | {fd:.1f} | {rate:.2f} | {cpu_rate:.2f} |", flush=True)
    if args.guidance:
        print(
            f"\n| guidance (DDPM, 50 steps) | {' | '.join(TASKS.resolve(('all',)))} | mean cond. AUROC | mean CXR-FD |"
            f"\n|---|---|---|---|---|---|---|"
        )
    for guidance in (float(g) for g in args.guidance.split(",") if g):
        options = {"model_path": pipeline, "steps": 50, "guidance": guidance, "scheduler": "ddpm", "resolution": None}
        scores = table(
            run_benchmark(
                base.with_overrides(
                    models="roentgen",
                    out=args.out / f"guidance-{guidance:g}",
                    n_samples=args.table_n_samples,
                    model_options={"roentgen": options},
                )
            ).rows,
            "roentgen",
        )
        per_task = " | ".join(f"{scores['conditional_auroc'][f'{t}/both']:.3f}" for t in TASKS.resolve(("all",)))
        auroc = sum(scores["conditional_auroc"].values()) / len(scores["conditional_auroc"])
        fd = sum(scores["cxr_fd"].values()) / len(scores["cxr_fd"])
        print(f"| {guidance:g} | {per_task} | {auroc:.3f} | {fd:.1f} |", flush=True)


def run_adapter(options: dict):
    """roentgen on the trained directory, ready to generate 64 px images on the CPU."""
    from cxrbench.data.phantom.dataset import PhantomDataset
    from cxrbench.models.adapter import FitContext

    adapter, _ = MODELS.build("roentgen", options)
    split = PhantomDataset(n_images=20).load("train", 64)
    adapter.fit(
        FitContext(train=split, holdout=split, conditions=(), resolution=64, device=torch.device("cpu"), seed=0)
    )
    return adapter


if __name__ == "__main__":
    main()
