"""Faster sampling where quality holds: a model's conditional AUROC and CXR-FD under other sampling options,
against the default's 95% intervals, at the main job's settings (phantom, 64 px, n = 128, seed 0, 1,000
bootstrap resamples) and with its weights (the reference weights when they match).

Run (the first variant is the baseline; each is NAME:KEY=VALUE[;KEY=VALUE...], values read as TOML):
    python benchmarks/sampler_quality.py --model diffusion-small --out /tmp/sampler \
        --variant 'ddpm-50:scheduler="ddpm";steps=50' --variant 'dpm-20:scheduler="dpm-solver";steps=20'
    python benchmarks/sampler_quality.py --model pggan-lco --out /tmp/lco \
        --variant 'lco-60:lco={steps=60}' --variant 'lco-30:lco={steps=30}'
Each variant is one `cxrbench run` (run_benchmark) of that model alone into OUT/NAME, one cache for all.
Prints, per cell, each variant's value with its interval and whether it lies within the baseline's
interval, then each variant's generation time (the sample sets' generation.json seconds) and CPU time.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from cxrbench.benchmark.runner import run_benchmark
from cxrbench.cache import default_cache_root
from cxrbench.config import RunConfig, tomllib

METRICS = ("conditional_auroc", "fd@cxr-evaluator")


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, settings = text.partition(":")
    options = tomllib.loads("\n".join(settings.split(";"))) if settings else {}
    return name, options


def cells(rows, model: str) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """(metric, task, condition) -> (value, low, high) of ``model``'s rows."""
    return {
        (r.metric, r.task, r.condition): (r.value, r.ci_low, r.ci_high)
        for r in rows
        if r.model == model and r.status == "ok" and r.metric in METRICS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion-small")
    parser.add_argument("--variant", action="append", required=True, help="NAME:KEY=VALUE;... (first: baseline)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    results, costs = {}, {}
    for name, options in variants:
        config = RunConfig(
            models=(args.model,),
            metrics=METRICS,
            floor=False,
            out=args.out / name,
            cache_dir=default_cache_root(),
            model_options={args.model: options},
        )
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_benchmark(config)
        generation = summary.manifest["models"][args.model]["generation"]
        n = config.n_samples * len(generation)
        costs[name] = (
            sum(g["seconds_per_image"] for g in generation.values()) * config.n_samples,
            n,
            time.process_time() - cpu,
            time.perf_counter() - wall,
            summary.manifest["models"][args.model]["weights"]["source"],
        )
        results[name] = cells(summary.rows, args.model)
        print(f"{name}: done ({costs[name][3]:.0f} s wall)", flush=True)
    baseline = variants[0][0]
    names = [name for name, _ in variants]
    print(f"\n{args.model} at the main job's settings; load average {os.getloadavg()[0]:.1f}\n")
    print("| metric | task | condition | " + " | ".join(names) + " |")
    print("|---" * (3 + len(names)) + "|")
    within = {name: 0 for name in names[1:]}
    for key in sorted(results[baseline]):
        value, low, high = results[baseline][key]
        shown = [f"{value:.4g} [{low:.4g}, {high:.4g}]"]
        for name in names[1:]:
            other = results[name].get(key)
            inside = other is not None and low <= other[0] <= high
            within[name] += inside
            shown.append(
                "missing"
                if other is None
                else f"{other[0]:.4g} [{other[1]:.4g}, {other[2]:.4g}]" + (" ✓" if inside else " ✗")
            )
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(shown) + " |")
    total = len(results[baseline])
    print(f"\nwithin {baseline}'s interval: " + ", ".join(f"{n} {c} of {total}" for n, c in within.items()))
    print(
        "\n| variant | generation s (sum over sets) | images | run CPU s | run wall s | weights |\n"
        "|---|---|---|---|---|---|"
    )
    for name in names:
        gen, n, cpu, wall, source = costs[name]
        print(f"| {name} | {gen:.0f} | {n} | {cpu:.0f} | {wall:.0f} | {source} |")


if __name__ == "__main__":
    main()
