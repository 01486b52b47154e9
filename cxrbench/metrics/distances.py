"""Squared Euclidean distances in row chunks, so memory stays bounded for 50k x 50k sets."""

from __future__ import annotations

from typing import Iterator

import numpy as np

DEFAULT_MAX_BYTES = 32 * 2**20  # at 5,000 x 5,000 still ~280-row blocks: large matrix products, flat memory
_BYTES_PER_ENTRY = 24  # per distance entry of a chunk: two float64 buffers plus comparison temporaries


def squared_distance_chunks(x: np.ndarray, y: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES
                            ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, D) where D[i, j] = |x[start + i] - y[j]|^2, float64 [rows, len(y)], clipped at 0.

    Computed as |x|^2 + |y|^2 - 2 x.y, which is exact for small integer-valued data, so ties
    (the <= and < rules of precision/recall and density/coverage) are decided exactly there.
    A chunk and its temporaries hold about ``max_bytes`` (at least one row).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x_sq = np.einsum("ij,ij->i", x, x)
    y_sq = np.einsum("ij,ij->i", y, y)
    rows = max(1, int(max_bytes) // (_BYTES_PER_ENTRY * max(len(y), 1)))
    for start in range(0, len(x), rows):
        stop = min(start + rows, len(x))
        block = x[start:stop] @ y.T
        block *= -2.0
        # |x|^2 + |y|^2 first, so that x-vs-y and y-vs-x blocks round alike (addition commutes).
        block += x_sq[start:stop, None] + y_sq[None, :]
        np.maximum(block, 0.0, out=block)  # rounding can push a zero distance slightly negative
        yield start, block


def nearest(points: np.ndarray, centres: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES
            ) -> tuple[np.ndarray, np.ndarray]:
    """Distance [N] (not squared) and index [N] of each point's nearest centre."""
    distance = np.empty(len(points))
    index = np.empty(len(points), dtype=np.int64)
    for start, d in squared_distance_chunks(points, centres, max_bytes):
        arg = d.argmin(axis=1)
        index[start:start + len(d)] = arg
        distance[start:start + len(d)] = np.sqrt(d[np.arange(len(d)), arg])
    return distance, index
