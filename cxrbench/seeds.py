"""Seeds derived from the run seed and names, so each sample set, and each image of it, is reproducible on its own."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *names: str) -> int:
    """A 31-bit seed from ``seed`` and ``names``; independent of run order and of other models."""
    digest = hashlib.sha256(":".join([str(seed), *names]).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index`` of the sample set made with ``seed``: the same whichever batch or
    process makes that image (a set is split across processes by image index)."""
    return derive_seed(seed, "image", str(index))
