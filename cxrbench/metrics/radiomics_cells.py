"""Texture matrices kept as their non-zero cells, so a batch of images (and an image with a few
extreme pixels, hence thousands of gray levels) never needs a dense [groups, Ng, Ng] array.

A matrix family is a set of ``groups`` (one per image, or per image and angle), each a
rows x cols count matrix; ``Cells`` holds the non-zero entries of all of them, sorted by group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Counting by bincount over every potential cell pays when the cells are few next to the keys
# (large images, few levels); otherwise sorting the keys (np.unique) is cheaper.
_DENSE_PER_KEY = 4


@dataclass(frozen=True)
class Cells:
    """Non-zero cells of ``groups`` count matrices of shape rows x cols (indices 0-based, sorted by group).

    group, row, col: int64 [K]; count: float64 [K].
    """

    group: np.ndarray
    row: np.ndarray
    col: np.ndarray
    count: np.ndarray
    groups: int
    rows: int
    cols: int

    def sum(self, weights: np.ndarray) -> np.ndarray:
        """Per-group sums of ``weights`` [K] over the cells -> [groups]."""
        return np.bincount(self.group, weights=weights, minlength=self.groups)

    def totals(self) -> np.ndarray:
        """Sum of counts of each group's matrix -> [groups]."""
        return self.sum(self.count)

    def row_marginal(self, weights: np.ndarray) -> np.ndarray:
        """Per-group sums of ``weights`` by row -> dense [groups, rows]."""
        return np.bincount(
            self.group * self.rows + self.row, weights=weights, minlength=self.groups * self.rows
        ).reshape(self.groups, self.rows)

    def col_marginal(self, weights: np.ndarray) -> np.ndarray:
        """Per-group sums of ``weights`` by column -> dense [groups, cols]."""
        return np.bincount(
            self.group * self.cols + self.col, weights=weights, minlength=self.groups * self.cols
        ).reshape(self.groups, self.cols)

    def group_max(self, values: np.ndarray) -> np.ndarray:
        """Per-group maximum of ``values`` [K] -> [groups] (every group must have a cell)."""
        starts = np.flatnonzero(np.r_[True, self.group[1:] != self.group[:-1]])
        return np.maximum.reduceat(values, starts)

    def dense(self) -> np.ndarray:
        """The matrices as a dense array [groups, rows, cols] (for tests and small inputs)."""
        out = np.zeros((self.groups, self.rows, self.cols))
        out[self.group, self.row, self.col] = self.count
        return out


def count_cells(
    group: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    groups: int,
    rows: int,
    cols: int,
    weights: np.ndarray | None = None,
) -> Cells:
    """Count each (group, row, col) occurrence (int arrays of one length; ``weights``: what each
    occurrence adds, default 1) -> the non-zero cells."""
    keys = (group.astype(np.int64) * rows + row) * cols + col
    return cells_from_keys(keys, groups, rows, cols, weights)


def cells_from_keys(keys: np.ndarray, groups: int, rows: int, cols: int, weights: np.ndarray | None = None) -> Cells:
    """As ``count_cells``, from flat keys (group * rows + row) * cols + col."""
    size = groups * rows * cols
    if size <= _DENSE_PER_KEY * len(keys):
        counts = np.bincount(keys, weights=weights, minlength=size)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    elif weights is None:  # sort and count the runs of equal keys
        keys = np.sort(keys)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        counts = np.diff(np.append(starts, len(keys)))
        keys = keys[starts]
    else:
        keys, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse, weights=weights, minlength=len(keys))
    return Cells(
        keys // (rows * cols), (keys // cols) % rows, keys % cols, counts.astype(np.float64), groups, rows, cols
    )
