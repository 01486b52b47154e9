"""rad-dino, dinov2, clip: images/s of each cxrbench extractor against its reference code, same images.

Run: python benchmarks/extraction_speed_hf.py [--images 4] [--resolution 256] [--threads 2] [--repeats 2]
     [--only rad-dino,dinov2,clip]
For each feature space a local copy is written in the published layout, with the published network
size and seeded random weights (tests/hf_helpers.py; the speed does not depend on the weights):
rad-dino ViT-B/14 at 518 px, dinov2 ViT-L/14 at 224 px, clip ViT-L/14 at 336 px (its vision tower
with projection). Then, on the same --images phantom images of --resolution px, back to back and
in alternating order (each repeat starts with the other side), it times:
(a) cxrbench's extractor, ``extract`` after ``prepare`` (loading is outside the timing), one batch;
(b) the reference code (tests/hf_helpers.py: CheXGenBench's, dgm-eval's and CMMD's feature code, with
    transformers' processor or torchvision's transforms on PIL RGB images and the model forward
    called the plain way), one batch.
The first run of each side pays one-off costs (oneDNN kernel setup, first allocations), so the
best of 2 or more is the steady rate. Prints per side the best wall seconds and the CPU seconds
of that run (time.process_time: all threads of this process, so time slices other processes take
count for neither side), images per wall second, the ratios, the load average before and after,
and the largest absolute difference between the two sides' features; then the preprocessing
alone (cxrbench's GreyPipeline against the reference's transforms up to the model's input; best
of max(--repeats, 5)), CPU ms per image, and whether the two inputs are equal bit for bit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the layouts and references the tests use
from hf_helpers import PUBLISHED, REFERENCES, write_local_copy  # noqa: E402

from cxrbench.data.phantom.dataset import PhantomDataset  # noqa: E402
from cxrbench.metrics import FEATURE_EXTRACTORS  # noqa: E402
from cxrbench.metrics.feature_extractor import ExtractorContext  # noqa: E402


def _timed(call) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds of this process, and what ``call`` returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def best_of(sides: dict, repeats: int, key: int) -> dict:
    """Each side's best run (key 0: wall, 1: CPU) of ``repeats``, back to back, a repeat starting with the next side."""
    runs: dict[str, list] = {side: [] for side in sides}
    for repeat in range(repeats):
        for side in list(sides) if repeat % 2 == 0 else list(sides)[::-1]:
            runs[side].append(_timed(sides[side]))
    return {side: min(runs[side], key=lambda run: run[key]) for side in sides}


def measure(name: str, images: torch.Tensor, scratch: Path, repeats: int) -> dict:
    directory = write_local_copy(name, scratch / name, PUBLISHED[name], whole_clip=False)
    extractor, _ = FEATURE_EXTRACTORS.build(name, {"weights": str(directory), "batch_size": len(images)})
    extractor.prepare(ExtractorContext(None, None, None, torch.device("cpu"), 0, scratch, "none"))
    reference = REFERENCES[name](directory)
    whole = best_of(
        {"cxrbench": lambda: extractor.extract(images)["features"], "reference": lambda: reference(images)},
        repeats,
        key=0,
    )
    inputs = best_of(
        {
            "cxrbench": lambda: extractor.pipeline(images, torch.device("cpu")),
            "reference": lambda: reference.pixels(images),
        },
        max(repeats, 5),
        key=1,
    )  # cheap: 5 runs
    return {
        "name": name,
        "whole": whole,
        "inputs": inputs,
        "diff": float(np.abs(whole["cxrbench"][2] - whole["reference"][2]).max()),
        "same_input": torch.equal(inputs["cxrbench"][2], inputs["reference"][2]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=256, help="side of the phantom input images, px")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="rad-dino,dinov2,clip")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = PhantomDataset(n_images=max(40, args.images), seed=0).load("train", args.resolution).images[: args.images]
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only.split(","):
            rows.append(measure(name, images, Path(scratch), args.repeats))
            print(f"{name} done", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    print(
        f"{args.images} phantom images of {args.resolution} px, one batch; threads {args.threads}; best of "
        f"{args.repeats}; load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} after; {os.cpu_count()} CPUs"
    )
    print(
        "\n| space | cxrbench wall s | CPU s | images/s | reference wall s | CPU s | images/s | speed-up (wall) "
        "| CPU ratio | max abs diff |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    n = args.images
    for row in rows:
        (ours_wall, ours_cpu, _), (ref_wall, ref_cpu, _) = row["whole"]["cxrbench"], row["whole"]["reference"]
        print(
            f"| {row['name']} | {ours_wall:.1f} | {ours_cpu:.1f} | {n / ours_wall:.2f} | {ref_wall:.1f} | "
            f"{ref_cpu:.1f} | {n / ref_wall:.2f} | {ref_wall / ours_wall:.2f} | {ref_cpu / ours_cpu:.2f} | "
            f"{row['diff']:.1e} |"
        )
    print("\npreprocessing alone (the model's input), CPU ms per image, best of the repeats:\n")
    print("| space | cxrbench | reference | CPU ratio | same input bit for bit |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        ours, ref = row["inputs"]["cxrbench"][1], row["inputs"]["reference"][1]
        print(
            f"| {row['name']} | {1e3 * ours / n:.1f} | {1e3 * ref / n:.1f} | {ref / ours:.1f} | {row['same_input']} |"
        )


if __name__ == "__main__":
    main()
