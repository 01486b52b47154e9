"""manifest.json: what a reviewer needs to trust and reproduce a run."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from cxrbench import __version__

_PACKAGES = (
    "torch",
    "torchvision",
    "torch-fidelity",
    "diffusers",
    "transformers",
    "accelerate",
    "numpy",
    "scipy",
    "pandas",
    "safetensors",
)


def package_versions() -> dict[str, str]:
    """Installed versions of cxrbench's main dependencies ("missing" when absent)."""
    found = {"cxrbench": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found
