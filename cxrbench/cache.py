"""The one cache root and content-addressed keys; nothing is ever written into the package."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are saved, so `cxrbench --help` stays light
    import numpy as np


def default_cache_root() -> Path:
    """``$CXRBENCH_CACHE``, else ``$XDG_CACHE_HOME/cxrbench``, else ``~/.cache/cxrbench``.

    Only the CLI calls this; the core receives the root inside its config.
    """
    if os.environ.get("CXRBENCH_CACHE"):
        return Path(os.environ["CXRBENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cxrbench"


def content_key(*parts: object) -> str:
    """A short stable hash of JSON-serialisable parts (used as a cache folder name)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save named arrays as .npz through a temporary file and a rename (readers never see half a file)."""
    import numpy as np

    from cxrbench.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")  # np.savez appends .npz otherwise


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """What ``save_arrays`` wrote (no pickled objects), or None when the file is absent."""
    import numpy as np

    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
