"""xrv-densenet features: cxrbench's extractor against RoentGen's XRV-FID pipeline, same images and weights.

Run: python benchmarks/extraction_speed_xrv.py [--n 64] [--size 64] [--repeats 2] [--weights PATH]
Renders n phantom images (size px) and times, back to back in this process and in a rotating
order (each repeat starts with the next pipeline):
(a) cxrbench: `XrvDenseNetExtractor.extract` on the uint8 tensor [n, 1, size, size];
(b) the reference, as StanfordMIMI/RoentGen eval/calculate_fid.py --xrv_fid runs it: the images as
    grayscale PNG files, clean-fid `get_files_features(mode="clean")` with RoentGen's transform
    (rgb_to_grayscale, 2048 x / 255 - 1024, centre crop, Resize(224)) and torchxrayvision's
    `features2`, same batch size (--workers data-loader processes; RoentGen's default is 4).
Prints wall and CPU seconds (user + system of this process and its finished children: the
data-loader workers) per run, the load average before each, images/s and images per CPU second,
the ratios, the features' max difference, and how (a) splits into preprocessing and network.
Without --weights a seeded random DenseNet-121 is saved as a whole-model pickle in the published
(legacy) layout: the time does not depend on the values of the weights.
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

from cxrbench.data.phantom.dataset import render_image
from cxrbench.metrics.extractor_xrv_densenet import XrvDenseNetExtractor, roentgen_xrv_input
from cxrbench.metrics.xrv_weights import import_torchxrayvision


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def roentgen_pipeline(network: torch.nn.Module, files: list[str], batch_size: int, workers: int) -> np.ndarray:
    """RoentGen's XRV-FID features of image files: clean-fid's loader and resize, RoentGen's transform."""
    from cleanfid import fid
    from torchvision import transforms

    def centre_crop(x: torch.Tensor) -> torch.Tensor:
        side = min(x.shape[-2:])
        top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
        return x[..., top : top + side, left : left + side]

    transform = transforms.Compose(
        [
            lambda x: transforms.functional.rgb_to_grayscale(x, 1),
            transforms.Lambda(lambda x: 2048 * (x / 255) - 1024),
            centre_crop,
            transforms.Resize(224),
        ]
    )
    return fid.get_files_features(
        files,
        model=lambda x: network.features2(transform(x)),
        mode="clean",
        batch_size=batch_size,
        num_workers=workers,
        device=torch.device("cpu"),
        verbose=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="images")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the two pipelines")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass (both pipelines)")
    parser.add_argument("--workers", type=int, default=0, help="clean-fid data-loader processes")
    parser.add_argument("--weights", type=Path, default=None, help="torchxrayvision DenseNet weights file")
    args = parser.parse_args()
    xrv = import_torchxrayvision()
    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs", flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        images = np.stack([render_image(1, i, 0, args.size)[0] for i in range(args.n)])[:, None]
        files = []
        for i, image in enumerate(images):
            files.append(str(root / f"{i:05d}.png"))
            Image.fromarray(image[0]).save(files[-1])
        weights = args.weights
        if weights is None:
            torch.manual_seed(0)
            weights = root / "random-densenet121.pt"
            torch.save(xrv.models.DenseNet(weights=None), weights, _use_new_zipfile_serialization=False)
        extractor = XrvDenseNetExtractor(weights=weights, verify=args.weights is not None, batch_size=args.batch_size)
        extractor.prepare(type("Context", (), {"device": torch.device("cpu")})())
        tensor = torch.from_numpy(images)

        pipelines = {
            "cxrbench xrv-densenet extract (uint8 tensor)": lambda: extractor.extract(tensor)["features"],
            "RoentGen XRV-FID (PNG files, clean-fid, torchxrayvision)": lambda: roentgen_pipeline(
                extractor.network, files, args.batch_size, args.workers
            ),
        }
        names = list(pipelines)
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        features: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            for run in range(args.repeats):
                for name in names[run % 2 :] + names[: run % 2]:
                    load = os.getloadavg()[0]
                    cpu_before, started = _cpu_seconds(), time.perf_counter()
                    features[name] = pipelines[name]()
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(_cpu_seconds() - cpu_before)
                    print(
                        f"  run {run}: {name}: {wall[name][-1]:.1f} s wall, {cpu[name][-1]:.1f} s CPU "
                        f"(load average before {load:.1f})",
                        flush=True,
                    )
            load = os.getloadavg()[0]
            started = time.perf_counter()
            batches = [roentgen_xrv_input(tensor[i : i + args.batch_size]) for i in range(0, args.n, args.batch_size)]
            preprocessing = time.perf_counter() - started
            started = time.perf_counter()
            for batch in batches:
                extractor.network.features2(batch)
            network = time.perf_counter() - started

    print(
        f"\n| pipeline | images ({args.size} px) | best wall s (all) | images/s | best CPU s (all) | images per CPU s |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        print(
            f"| {name} | {args.n} | {min(wall[name]):.1f} ({', '.join(f'{s:.1f}' for s in wall[name])}) "
            f"| {args.n / min(wall[name]):.2f} | {min(cpu[name]):.1f} ({', '.join(f'{s:.1f}' for s in cpu[name])}) "
            f"| {args.n / min(cpu[name]):.2f} |"
        )
    ours, reference = names
    print(
        f"\nratio reference / cxrbench: wall {min(wall[reference]) / min(wall[ours]):.2f}x, "
        f"CPU {min(cpu[reference]) / min(cpu[ours]):.2f}x"
    )
    difference = np.abs(features[ours] - features[reference])
    print(
        f"features {features[ours].shape}: max abs difference {difference.max():.2e} "
        f"({difference.max() / np.abs(features[reference]).max():.1e} of the largest feature)"
    )
    print(
        f"cxrbench split (one more pass, load average before {load:.1f}): preprocessing {preprocessing:.2f} s, "
        f"DenseNet features2 {network:.1f} s"
    )


if __name__ == "__main__":
    main()
