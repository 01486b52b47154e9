"""radiomics feature space: images/s at 64 and 256 px, and its GLCM against scikit-image's, side by side.

Run: python benchmarks/radiomics_speed.py [--n 64] [--sizes 64 256] [--workers 2] [--glcm-n 32]
Images: the first n NIH ChestX-ray14 sample radiographs (../shared/data/nih-cxr14-sample, resized
with PIL's bilinear filter) when present, else phantom images rendered at each size.
(a) `RadiomicsExtractor.extract` in this process (the feature code is single-threaded numpy/scipy);
(b) the same images split across --workers processes (chunks of 32), the way a caller would use two
    cores; wall, CPU seconds (user + system of this process, plus the process time each worker reports
    for its chunks) and the load average before each run are printed, with images/s and per CPU second.
(c) GLCM alone, on the discretised original images after FRDv1's resampling: cxrbench's batched
    `glcm_features` (22 features) against scikit-image's per-image `graycomatrix` (4 angles, symmetric,
    normed) + `graycoprops` (6 properties), in alternating order; the shared features' max difference.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxrbench.metrics.extractor_radiomics import CHUNK, RadiomicsExtractor
from cxrbench.metrics.radiomics_discretise import discretise
from cxrbench.metrics.radiomics_glcm import glcm_features
from cxrbench.metrics.radiomics_preprocess import normalise, resample_half
from cxrbench.metrics.radiomics_settings import GLCM

NIH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nih-cxr14-sample" / "images"


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load_images(n: int, size: int) -> tuple[torch.Tensor, str]:
    """uint8 [n, 1, size, size] and where they came from."""
    paths = sorted(NIH.glob("*.png"))[:n]
    if len(paths) == n:
        pixels = [np.asarray(Image.open(p).convert("L").resize((size, size), Image.BILINEAR)) for p in paths]
        return torch.from_numpy(np.stack(pixels))[:, None], "NIH sample"
    from cxrbench.data.phantom.dataset import PhantomDataset

    return PhantomDataset(n_images=max(2 * n, 40), seed=0).load("train", size).images[:n], "phantom"


_WORKER_CPU: list[float] = []  # CPU seconds the pool's (still running) workers report per chunk


def _extract_chunk(images: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.process_time()
    features = RadiomicsExtractor(standardise=False).extract(torch.from_numpy(images))["features"]
    return features, time.process_time() - start


def _pooled(pool: ProcessPoolExecutor, chunks: list[np.ndarray]) -> np.ndarray:
    results = list(pool.map(_extract_chunk, chunks))
    _WORKER_CPU.append(sum(cpu for _, cpu in results))
    return np.concatenate([features for features, _ in results])


def timed(label: str, n: int, work) -> object:
    load = os.getloadavg()[0]
    _WORKER_CPU.clear()
    wall, cpu = time.perf_counter(), _cpu_seconds()
    out = work()
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu + sum(_WORKER_CPU)
    print(
        f"  {label:<34} wall {wall:7.2f} s  cpu {cpu:7.2f} s  {n / wall:7.1f} img/s  {n / cpu:7.1f} img/cpu-s"
        f"  (load {load:.2f})"
    )
    return out


def skimage_glcm(levels: np.ndarray, ng: np.ndarray) -> np.ndarray:
    """graycomatrix + graycoprops per image: [B, 6] (contrast, dissimilarity, homogeneity, ASM, energy,
    correlation), each the mean over the 4 angles."""
    from skimage.feature import graycomatrix, graycoprops

    props = ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation")
    rows = []
    for image, top in zip(levels, ng):
        matrix = graycomatrix(
            (image - 1).astype(np.uint16),
            [1],
            [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
            levels=int(top),
            symmetric=True,
            normed=True,
        )
        rows.append([graycoprops(matrix, prop)[0].mean() for prop in props])
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--glcm-n", type=int, default=32)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}")
    for size in args.sizes:
        images, source = load_images(args.n, size)
        print(f"{size} px, {len(images)} {source} images (features at {(size + 1) // 2} px after FRDv1's resampling)")
        extractor = RadiomicsExtractor(standardise=False)
        one = timed("extract, 1 process", len(images), lambda e=extractor, x=images: e.extract(x)["features"])
        chunks = [images[i : i + CHUNK].numpy() for i in range(0, len(images), CHUNK)]
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(_extract_chunk, chunks[:1]))  # start the workers before timing
            two = timed(f"extract, {args.workers} processes", len(images), lambda c=chunks: _pooled(pool, c))
        print(f"  same features either way: {np.array_equal(one, two)}")

        levels = discretise(resample_half(normalise(images[: args.glcm_n, 0].numpy().astype(np.float64))))
        for order in (0, 1):
            runs = [
                ("cxrbench glcm_features (22)", lambda x=levels: glcm_features(x)),
                ("skimage graycomatrix+props (6)", lambda x=levels: skimage_glcm(x.levels, x.ng)),
            ]
            results = {label: timed(label, len(levels.levels), work) for label, work in runs[order:] + runs[:order]}
        ours = dict(zip(GLCM, glcm_features(levels).T))
        theirs = results["skimage graycomatrix+props (6)"]
        shared = np.stack(
            [ours[name] for name in ("Contrast", "DifferenceAverage", "Idm", "JointEnergy", "Correlation")], axis=1
        )
        reference = theirs[:, [0, 1, 2, 3, 5]]  # energy (sqrt ASM) has no cxrbench twin
        difference = np.max(np.abs(shared - reference) / np.maximum(1e-12, np.abs(reference)))
        print(
            f"  GLCM max relative difference (contrast, dissimilarity, homogeneity, ASM, correlation): "
            f"{difference:.1e}; gray levels up to {levels.max_level}"
        )


if __name__ == "__main__":
    main()
