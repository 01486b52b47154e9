"""The one cache root and content-addressed keys; nothing is ever written into the package."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


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


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
