"""Atomic file writes: a temporary file in the same folder, then a rename.

A reader (or a resumed run after kill -9) sees either the old file or the whole new one, never
half of one. Temporary files are named ``.NAME.tmp-PID...`` so that a resumed run can find and
delete the ones a killed process left behind (``remove_partial_files``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np

TMP_MARK = ".tmp-"


def temporary_path(path: Path, suffix: str = "") -> Path:
    """Where ``path`` is written before its rename (``suffix`` keeps an extension some writers need)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}{suffix}")


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` and rename ``tmp`` to ``path``; the temporary file is removed if ``write`` fails."""
    tmp = temporary_path(path, suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_directory(directory: Path, fill: Callable[[Path], None]) -> None:
    """Call ``fill(staging)`` on an empty staging folder, then swap it in for ``directory`` (replacing an
    old one): readers see the old folder or the whole new one, never half of one."""
    directory = Path(directory)
    staging = temporary_path(directory)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fill(staging)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_save_png(path: Path, image: np.ndarray) -> None:
    """Save a uint8 [H, W] array as a PNG file atomically."""
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def is_partial(path: Path) -> bool:
    """A temporary file of ``atomic_write`` (left behind only by a killed process)."""
    return path.name.startswith(".") and TMP_MARK in path.name


def remove_partial_files(root: Path) -> list[Path]:
    """Delete every temporary file under ``root``; call only while holding the folder's lock."""
    removed = [path for path in root.rglob(f".*{TMP_MARK}*") if path.is_file() and is_partial(path)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
