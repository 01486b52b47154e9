"""FID from image folders: cxrbench's pipeline against torch-fidelity's, on the same images and weights.

Run: python benchmarks/fid_pipeline_speed.py [--n 500] [--weights PATH]
Writes n real and n fake PNGs (64 px phantom images at two seeds, so 2n images in all), then times
(a) `cxrbench.benchmark.evaluate.evaluate_folders(metrics=("fid",), bootstrap=0)` (read, extract
through torch-fidelity's Inception, exact Frechet distance) and (b) `torch_fidelity.calculate_metrics(
fid=True)` on the same folders, back to back in this process, and prints both values and the ratio.
Without --weights a seeded random-weights file is made (timing does not depend on the weights;
its features are nearly constant, so the FID is tiny and its relative difference is dominated by
float32 rounding;
the FID values are then not comparable to published ones, only to each other).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="images per folder")
    parser.add_argument("--weights", type=Path, default=None, help="FID Inception weights file")
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

        started = time.perf_counter()
        rows = evaluate_folders(EvaluateConfig(
            real=root / "real", fake=root / "fake", out=root / "out", metrics=("fid",), bootstrap=0, device="cpu",
            cache_dir=None, feature_options={"inception-v3": {"weights": weights, "verify": args.weights is not None}}))
        ours = time.perf_counter() - started
        started = time.perf_counter()
        theirs = torch_fidelity.calculate_metrics(input1=str(root / "fake"), input2=str(root / "real"), fid=True,
                                                  feature_extractor_weights_path=str(vetted), cuda=False,
                                                  verbose=False, cache=False)
        fidelity = time.perf_counter() - started
    ours_fid, their_fid = rows[0].value, theirs["frechet_inception_distance"]
    print("| pipeline | images | wall s | FID |\n|---|---|---|---|")
    print(f"| cxrbench evaluate (no feature cache) | {2 * args.n} | {ours:.1f} | {ours_fid:.6g} |")
    print(f"| torch-fidelity calculate_metrics | {2 * args.n} | {fidelity:.1f} | {their_fid:.6g} |")
    print(f"\nratio torch-fidelity / cxrbench: {fidelity / ours:.2f}x; relative FID difference "
          f"{abs(ours_fid - their_fid) / abs(their_fid):.1e}")


if __name__ == "__main__":
    main()
