"""FID from image folders: cxrbench's pipeline (fused and plain) against torch-fidelity's, same images and weights.

Run: python benchmarks/fid_pipeline_speed.py [--n 500] [--weights PATH] [--repeats 1]
Writes n real and n fake PNGs (64 px phantom images at two seeds, so 2n images in all), then times,
back to back in this process and in a rotating order (each repeat starts with the next pipeline):
(a) `evaluate_folders(metrics=("fid",), bootstrap=0)` with the fused Inception (the default),
(b) the same with `fused=False` (torch-fidelity's own forward: the plain path, "before"),
(c) `torch_fidelity.calculate_metrics(fid=True)` on the same folders.
Each cxrbench run gets a fresh, empty feature cache folder, so every feature is computed; the
stored features of (a) and (b) are then compared. Prints the best wall time and the CPU time
(user + system of this process and of its finished children, e.g. torch-fidelity's data-loader
workers; steadier than wall time on a shared machine) of each pipeline, the ratios, the FID values and the features'
max abs/relative difference.
Without --weights a seeded random-weights file is made (timing does not depend on the weights;
its features are nearly constant, so the FID is tiny and its relative difference is dominated by
float32 rounding; the FID values are then comparable only to each other).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxrbench.benchmark.evaluate import EvaluateConfig, evaluate_folders
from cxrbench.data.phantom.dataset import render_image


def random_weights(path: Path) -> Path:
    """torch-fidelity's Inception with its seeded random initialisation, saved as a state dict."""
    import torch_fidelity.feature_extractor_inceptionv3 as module

    url, load = module.load_state_dict_from_url, module.FeatureExtractorInceptionV3.load_state_dict
    module.load_state_dict_from_url = lambda *a, **k: {}
    module.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        torch.manual_seed(0)
        torch.save(module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict(), path)
    finally:
        module.load_state_dict_from_url, module.FeatureExtractorInceptionV3.load_state_dict = url, load
    return path


def _features(cache: Path) -> np.ndarray:
    """The stored inception-v3 features of one cxrbench run (real then fake, in file-name order of the keys)."""
    files = sorted((cache / "features" / "inception-v3").glob("*.npz"))
    return np.concatenate([np.load(f)["features"] for f in files])


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="images per folder")
    parser.add_argument("--weights", type=Path, default=None, help="FID Inception weights file")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the three pipelines")
    parser.add_argument("--batch-size", type=int, default=32, help="cxrbench's images per forward pass")
    parser.add_argument("--skip-plain", action="store_true", help="time only (a) and (c), alternating")
    args = parser.parse_args()
    import torch_fidelity

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name, seed in (("real", 1), ("fake", 2)):
            (root / name).mkdir()
            for i in range(args.n):
                Image.fromarray(render_image(seed, i, 0, 64)[0]).save(root / name / f"{i:05d}.png")
        weights = args.weights or random_weights(root / "random-inception.pth")
        vetted = root / "vetted.pth"
        torch.save(torch.load(weights, weights_only=True), vetted)

        def cxrbench(fused: bool, run: int) -> tuple[float, np.ndarray]:
            cache = root / f"cache-{fused}-{run}"
            rows = evaluate_folders(
                EvaluateConfig(
                    real=root / "real",
                    fake=root / "fake",
                    out=root / f"out-{fused}-{run}",
                    metrics=("fid",),
                    bootstrap=0,
                    device="cpu",
                    cache_dir=cache,
                    feature_options={
                        "inception-v3": {
                            "weights": weights,
                            "verify": args.weights is not None,
                            "fused": fused,
                            "batch_size": args.batch_size,
                        }
                    },
                )
            )
            return rows[0].value, _features(cache)

        def fidelity(run: int) -> tuple[float, None]:
            theirs = torch_fidelity.calculate_metrics(
                input1=str(root / "fake"),
                input2=str(root / "real"),
                fid=True,
                feature_extractor_weights_path=str(vetted),
                cuda=False,
                verbose=False,
                cache=False,
            )
            return theirs["frechet_inception_distance"], None

        pipelines = {
            "cxrbench evaluate, fused Inception (default)": lambda r: cxrbench(True, r),
            "cxrbench evaluate, plain Inception (fused=False)": lambda r: cxrbench(False, r),
            "torch-fidelity calculate_metrics": fidelity,
        }
        names = list(pipelines)
        order = [names[0], names[2]] if args.skip_plain else names
        seconds: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        results: dict[str, tuple] = {}
        for run in range(args.repeats):
            for name in order[run % len(order) :] + order[: run % len(order)]:
                load = os.getloadavg()[0]
                cpu_before = _cpu_seconds()
                started = time.perf_counter()
                results[name] = pipelines[name](run)
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(_cpu_seconds() - cpu_before)
                print(
                    f"  run {run}: {name}: {seconds[name][-1]:.1f} s wall, {cpu[name][-1]:.1f} s CPU "
                    f"(load average before {load:.1f})",
                    flush=True,
                )
    fused_name, plain_name, tf_name = names
    reference = results[tf_name][0]
    print(
        "\n| pipeline | images | best wall s (all) | images/s | best CPU s (all) | images per CPU s | FID "
        "| rel. difference to torch-fidelity |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in order:
        value = results[name][0]
        runs = ", ".join(f"{s:.1f}" for s in seconds[name])
        cpu_runs = ", ".join(f"{s:.1f}" for s in cpu[name])
        print(
            f"| {name} | {2 * args.n} | {min(seconds[name]):.1f} ({runs}) | {2 * args.n / min(seconds[name]):.2f} "
            f"| {min(cpu[name]):.1f} ({cpu_runs}) | {2 * args.n / min(cpu[name]):.2f} "
            f"| {value:.6g} | {abs(value - reference) / abs(reference):.1e} |"
        )
    ratio = lambda a, b, t: f"{min(t[a]) / min(t[b]):.2f}x"  # noqa: E731
    for label, t in (("CPU-time", cpu), ("wall-time", seconds)):
        line = f"{label} ratio torch-fidelity / cxrbench fused: {ratio(tf_name, fused_name, t)}"
        if not args.skip_plain:
            line += (
                f"; plain / fused: {ratio(plain_name, fused_name, t)}; torch-fidelity / cxrbench plain: "
                f"{ratio(tf_name, plain_name, t)}"
            )
        print(("\n" if label == "CPU-time" else "") + line)
    if args.skip_plain:
        return
    fused_features, plain_features = results[fused_name][1], results[plain_name][1]
    difference = np.abs(fused_features - plain_features)
    print(
        f"features fused vs plain ({fused_features.shape}): max abs difference {difference.max():.2e}, max relative "
        f"{(difference / np.abs(plain_features).clip(min=1e-30)).max():.2e}, max abs relative to the largest feature "
        f"{difference.max() / np.abs(plain_features).max():.2e}; per-image spread (std over images, mean over "
        f"dims) {plain_features.std(axis=0).mean():.2e}; FID fused vs plain rel. difference "
        f"{abs(results[fused_name][0] - results[plain_name][0]) / abs(results[plain_name][0]):.1e}"
    )


if __name__ == "__main__":
    main()
