"""Feature extraction images/s against the machine's arithmetic ceiling (float32 GEMM) on the same threads.

Run: taskset -c 0 python benchmarks/extraction_ceiling.py [--threads 1] [--images 64]
For each extractor: FLOPs per image counted with torch.utils.flop_counter.FlopCounterMode
(convolutions and matrix products, 2 FLOPs per multiply-add; the resize, pooling and
element-wise work is not counted), images/s on 64 px phantom images (best of --repeats), and the
fraction of the sustained float32 GEMM rate (torch.mm of 2048 x 2048 matrices, best of 10) that
this is. All rates are per CPU second of this process (time.process_time), so that the time
slices other processes take on a shared core count for neither side; with --threads 1 this is
the rate of one core. Extractors: inception-v3 fused (default) and plain (torch-fidelity's forward), with a
seeded random-weights file (speed does not depend on the weights), and cxr-evaluator (the default
feature space, 64 px input) with an untrained network of its default recipe (same shapes and
work as the trained one).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from cxrbench.data.phantom.dataset import render_image
from cxrbench.metrics.cxr_classifier import ClassifierRecipe, CxrClassifier
from cxrbench.metrics.extractor_cxr_evaluator import CxrEvaluatorExtractor
from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor
from cxrbench.metrics.feature_extractor import ExtractorContext


def gemm_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b, out = torch.randn(size, size), torch.randn(size, size), torch.empty(size, size)
    torch.mm(a, b, out=out)
    best = min(_timed(lambda: torch.mm(a, b, out=out)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(call) -> float:
    """CPU seconds of ``call`` in this process (all its threads): on a shared machine the time slices
    other processes take are left out, for the GEMM and the extractors alike."""
    started = time.process_time()
    call()
    return time.process_time() - started


def flops_per_image(call, images: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        call(images)
    return counter.get_total_flops() / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=64, help="images per timed extraction (inception)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from fid_pipeline_speed import random_weights  # this folder is on sys.path when run as a script

    images = torch.from_numpy(np.stack([render_image(3, i, 0, 64)[0] for i in range(max(args.images, 512))])[:, None])
    device = torch.device("cpu")
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        weights = random_weights(Path(scratch) / "random-inception.pth")
        context = ExtractorContext(None, None, None, device, 0, Path(scratch), "none")
        for fused in (True, False):
            extractor = InceptionV3Extractor(weights=weights, verify=False, fused=fused)
            extractor.prepare(context)
            if fused:
                flops = flops_per_image(lambda x: extractor.network(x), images[:2])
            else:
                flops = flops_per_image(lambda x: extractor.network(x.expand(-1, 3, -1, -1).contiguous()), images[:2])
            batch = images[: args.images]
            extractor.extract(batch[: extractor.batch_size])
            gemm = gemm_gflops()
            best = min(_timed(lambda: extractor.extract(batch)) for _ in range(args.repeats))
            rows.append(
                (
                    f"inception-v3 {'fused (default)' if fused else 'plain (torch-fidelity forward)'}, 299 px",
                    flops,
                    len(batch) / best,
                    (gemm + gemm_gflops()) / 2,
                )
            )
    evaluator = CxrEvaluatorExtractor()
    torch.manual_seed(0)
    evaluator.model, evaluator.device = CxrClassifier(evaluator.recipe).eval(), device
    flops = flops_per_image(lambda x: evaluator.model(evaluator.model.preprocess(x)), images[:2])
    many = images[:2048] if len(images) >= 2048 else images.repeat(2048 // len(images) + 1, 1, 1, 1)[:2048]
    evaluator.extract(many[:256])
    gemm = gemm_gflops()
    best = min(_timed(lambda: evaluator.extract(many)) for _ in range(args.repeats))
    rows.append(
        (
            f"cxr-evaluator ({ClassifierRecipe().input_size} px, default recipe)",
            flops,
            len(many) / best,
            (gemm + gemm_gflops()) / 2,
        )
    )

    print(
        f"threads {args.threads}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; GEMM: float32 "
        "2048^3 torch.mm, best of 10, measured just before and after each extractor's timing (mean of the two); "
        "all rates per CPU second of this process"
    )
    print("\n| extractor | GFLOP per image | images/s | achieved GFLOP/s | GEMM GFLOP/s | fraction of GEMM |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, flops, rate, ceiling in rows:
        print(
            f"| {name} | {flops / 1e9:.4g} | {rate:.1f} | {rate * flops / 1e9:.1f} | {ceiling:.1f} "
            f"| {rate * flops / 1e9 / ceiling:.0%} |"
        )


if __name__ == "__main__":
    main()
