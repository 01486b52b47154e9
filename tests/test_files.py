"""The one place files and folders are written atomically (cxrbench/files.py)."""

from __future__ import annotations

import pytest

from cxrbench.files import atomic_directory, atomic_write, is_partial, temporary_path


def test_a_folder_is_swapped_in_whole_and_a_failed_fill_leaves_the_old_one(tmp_path):
    target = tmp_path / "weights"
    atomic_directory(target, lambda staging: (staging / "a.txt").write_text("one"))
    assert [p.name for p in target.iterdir()] == ["a.txt"]

    def fail(staging):
        (staging / "b.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_directory(target, fail)
    assert [p.name for p in target.iterdir()] == ["a.txt"]  # the old folder, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["weights"]  # no staging folder left behind

    atomic_directory(target, lambda staging: (staging / "c.txt").write_text("two"))
    assert [p.name for p in target.iterdir()] == ["c.txt"]  # replaced, nothing of the old one kept


def test_a_temporary_file_keeps_the_suffix_a_writer_needs_and_is_found_as_partial(tmp_path):
    import numpy as np

    path = tmp_path / "key.npy"
    tmp = temporary_path(path, suffix=".npy")
    assert tmp.name.endswith(".npy") and is_partial(tmp) and not is_partial(path)
    atomic_write(path, lambda t: np.save(t, np.arange(3)), suffix=".npy")  # np.save would add .npy otherwise
    assert np.load(path).tolist() == [0, 1, 2] and [p.name for p in tmp_path.iterdir()] == ["key.npy"]
