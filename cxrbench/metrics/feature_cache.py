"""Extractor outputs cached on disk, keyed by what they depend on and nothing else.

Key (``cache.cache_key("features", ...)``): the sha256 of the image bytes (and shape), the extractor's
identity (name, weights hash, preprocessing, dim) and the digest of its code (its class's modules and every
module they import). A changed image, extractor or code gets a new key, so stale features are never reused.
Files are written atomically (temporary, then rename).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from cxrbench.cache import cache_key, class_files, code_digest, load_arrays, save_arrays
from cxrbench.metrics.feature_extractor import FeatureExtractor


def images_digest(images: torch.Tensor) -> str:
    """sha256 of uint8 images [N, 1, H, W] and their shape."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_extract(extractor: FeatureExtractor, images: torch.Tensor, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """``extractor.extract(images)``, read from or written to ``cache_dir/features`` (None: no cache)."""
    if cache_dir is None:
        return extractor.extract(images)
    key = cache_key("features", images_digest(images), extractor.identity(), code_digest(*class_files(type(extractor))))
    path = Path(cache_dir) / "features" / extractor.name / f"{key}.npz"
    outputs = load_arrays(path)
    if outputs is None:
        outputs = extractor.extract(images)
        # NaN or infinite outputs are refused by the scoring (scoring.check_finite); kept out of the
        # cache so that a fixed extractor with the same identity never reads them back.
        if all(np.isfinite(v).all() for v in map(np.asarray, outputs.values()) if v.dtype.kind in "fc"):
            save_arrays(path, outputs)
    return outputs
