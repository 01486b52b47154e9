"""Squared Euclidean distances in row blocks, with k-NN decisions made on exactly computed distances.

The bulk comes from the BLAS expansion |x|^2 + |y|^2 - 2 x.y (float64), which is fast but rounds:
an exact duplicate comes out as ~1e-15 instead of 0. Every decision the k-NN metrics make (a k-th
neighbour radius, a `<` or `<=` against a radius, a nearest neighbour) is therefore taken on the
*direct* distance sum_k (x_k - y_k)^2 in float64: identical rows give exactly 0, and a pair's value
depends only on its two rows (never on block shapes, chunk sizes or BLAS), so equal pairs give
bitwise-equal values and x-vs-y equals y-vs-x. The expansion only picks the entries that could be
affected by rounding (those within a proven error bound, `DistanceBlock.slack`); those, and only
those, are recomputed directly. Blocks are sized from ``max_bytes``, so no N x M matrix is held.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

DEFAULT_MAX_BYTES = 32 * 2**20  # at 5,000 x 5,000 still ~280-row blocks: large matrix products, flat memory
_BYTES_PER_ENTRY = 24  # per distance entry of a block: two float64 buffers plus comparison temporaries
_BYTES_PER_CANDIDATE = 48  # per recomputed entry: row and column indices, value, sort order, temporaries
_EPS = float(np.finfo(np.float64).eps)  # 2^-52, twice the unit roundoff u
_TINY = float(np.finfo(np.float64).smallest_subnormal)
_SAFETY = 2.0


def _slack(dim: int, max_x_sq: float, max_y_sq: float) -> float:
    """A bound on |expansion - direct| for every pair with |x|^2 <= max_x_sq, |y|^2 <= max_y_sq.

    With u = eps / 2, gamma_n = n u / (1 - n u), S = |x|^2 + |y|^2 and T = |x - y|^2 (exact, of the
    float64 inputs), the standard bounds for sums and dot products of length D in any order (blocked,
    FMA or not, as BLAS does) give:
    - expansion E = fl(fl(a + b) - 2 p) with a = fl|x|^2, b = fl|y|^2, p = fl(x.y):
      |a - |x|^2| + |b - |y|^2| <= gamma_D S, 2 |p - x.y| <= 2 gamma_D |x||y| <= gamma_D S, the two
      final roundings add u S + u 2S: |E - T| <= (2D + 3) u S + O(u^2). Clipping at 0 only moves E
      towards T >= 0.
    - direct: each term (x_k - y_k)^2 carries 2 roundings and the sum of D non-negative terms
      gamma_(D-1), so |direct - T| <= gamma_(D+2) T <= (2D + 4) u S + O(u^2), as T <= 2S.
    Together |E - direct| <= (4D + 7) u S <= 2 (D + 2) eps S. The safety factor 2 covers the O(u^2)
    terms, S being taken from the computed (rounded) norms, and the rounding of `radius +- slack`;
    the absolute term covers underflow (each of the ~4D operations can lose half a subnormal).
    """
    return _SAFETY * (2 * (dim + 2) * _EPS * (max_x_sq + max_y_sq) + 4 * (dim + 2) * _TINY)


def _row_groups(mask: np.ndarray, cap: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(rows, cols) of the True entries of mask [R, M], in row-major order, in groups of whole rows.

    Each group holds at most ``cap`` entries, or one row: a degenerate block (every entry a candidate,
    e.g. all rows identical) is worked through without holding its R x M (row, column) pairs at once.
    """
    flat = np.flatnonzero(mask)  # far faster than 2-d np.nonzero; 8 bytes per entry at most
    width = mask.shape[1]
    if len(flat) <= cap:
        yield np.divmod(flat, width)
        return
    row_ends = np.searchsorted(flat, np.arange(1, len(mask) + 1) * width)  # end of each row's entries
    done, row = 0, 0
    while done < len(flat):
        row = max(row + 1, int(np.searchsorted(row_ends, done + cap, side="right")))
        yield np.divmod(flat[done : row_ends[row - 1]], width)
        done = int(row_ends[row - 1])


def _sorted_rows(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order sorting entries by (row, value), stable, and where each row's run starts in that order.

    rows must be sorted and hold every row between its first and last.
    """
    order = np.lexsort((values, rows))  # stable: equal values keep their (ascending) column order
    counts = np.bincount(rows - rows[0])
    return order, np.cumsum(counts) - counts


class DistanceBlock:
    """Rows [start, stop) of x against all of y: the expansion, its error bound, and exact decisions.

    ``expansion`` is float64 [rows, len(y)] (|x|^2 + |y|^2 - 2 x.y, clipped at 0): fast, rounded.
    ``slack`` bounds |expansion - direct| for every entry of this block (see `_slack`).
    The methods return results on the direct distances, exactly as if the full direct matrix were used.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, start: int, expansion: np.ndarray, slack: float, max_bytes: int
    ) -> None:
        self.x, self.y, self.start, self.expansion, self.slack = x, y, start, expansion, slack
        self.stop = start + len(expansion)
        self._max_bytes = max_bytes
        self._cap = max(len(y), max_bytes // _BYTES_PER_CANDIDATE)

    def direct(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Direct squared distances sum((x[start + rows] - y[cols])^2), float64 [len(rows)]."""
        out = np.empty(len(rows))
        # Two [pairs, D] buffers per chunk (the gathered rows, the gathered columns).
        pairs = max(1, self._max_bytes // (16 * max(self.x.shape[1], 1)))
        for at in range(0, len(rows), pairs):
            diff = self.x[self.start + rows[at : at + pairs]]
            diff -= self.y[cols[at : at + pairs]]
            np.square(diff, out=diff)
            out[at : at + pairs] = diff.sum(axis=1)  # numpy's pairwise sum per row: layout-independent
        return out

    def within(self, radii_sq: np.ndarray, strict: bool) -> np.ndarray:
        """Whether direct distance < (strict) or <= radius, bool [rows, len(y)].

        radii_sq broadcasts against the block: [1, len(y)] for a radius per column (y point), [rows, 1]
        for one per row. An entry is recomputed only where |expansion - radius| <= slack.
        """
        radii = np.asarray(radii_sq, dtype=np.float64)
        inside = self.expansion <= radii + self.slack  # a superset: only near-boundary ones can be wrong
        radii = np.broadcast_to(radii, self.expansion.shape)
        for rows, cols in _row_groups(inside, self._cap):
            radius = radii[rows, cols]
            unsure = self.expansion[rows, cols] >= radius - self.slack
            rows, cols, radius = rows[unsure], cols[unsure], radius[unsure]
            distance = self.direct(rows, cols)
            inside[rows, cols] = distance < radius if strict else distance <= radius
        return inside

    def kth_smallest(self, ks: list[int], exclude_self: bool) -> list[np.ndarray]:
        """For each k, each row's k-th smallest direct distance, float64 [rows] (k counts from 1).

        ``exclude_self`` (x is y): the entry (i, start + i) is left out by position, not by value, so a
        duplicate of a point is its neighbour at distance 0 (those expansion entries become inf).
        With e the k-th smallest expansion and s the slack, the k-th direct distance R lies in
        [e - s, e + s] (at least k entries have expansion <= e, at most k - 1 have expansion < e).
        Entries with expansion < e - 2s are below R for sure and are only counted; those with
        expansion > e + 2s are above it; R is found among the band in between, recomputed directly.
        """
        block = self.expansion
        if exclude_self:
            rows = np.arange(len(block))
            block[rows, self.start + rows] = np.inf
        # One selection at the largest k (several kth positions, or a repeated one, cost several).
        smallest = np.partition(block, max(ks) - 1, axis=1)[:, : max(ks)].copy()  # frees the partitioned copy
        smallest.sort(axis=1)
        kth = smallest[:, [k - 1 for k in ks]]  # [rows, len(ks)]
        candidates = block <= (kth.max(axis=1) + 2 * self.slack)[:, None]
        out = [np.empty(len(block)) for _ in ks]
        for rows, cols in _row_groups(candidates, self._cap):
            first, last = rows[0], rows[-1] + 1
            local = rows - first
            expansion = block[rows, cols]
            low, high = kth[rows] - 2 * self.slack, kth[rows] + 2 * self.slack  # [entries, len(ks)]
            band = (expansion[:, None] >= low) & (expansion[:, None] <= high)
            distance = np.full(len(rows), np.inf)
            unsure = band.any(axis=1)
            distance[unsure] = self.direct(rows[unsure], cols[unsure])
            for j, (values, k) in enumerate(zip(out, ks)):
                below = np.bincount(local[expansion < low[:, j]], minlength=last - first)
                in_band = np.where(band[:, j], distance, np.inf)
                order, starts = _sorted_rows(rows, in_band)
                values[first:last] = in_band[order][starts + k - below - 1]
        return out

    def row_min(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's smallest direct distance, float64 [rows], and its column, int64 [rows].

        Ties go to the lowest column, as numpy's argmin. Candidates: expansion <= row minimum + 2 slack.
        """
        block = self.expansion
        candidates = block <= (block.min(axis=1) + 2 * self.slack)[:, None]
        value, index = np.empty(len(block)), np.empty(len(block), dtype=np.int64)
        for rows, cols in _row_groups(candidates, self._cap):
            distance = self.direct(rows, cols)
            order, starts = _sorted_rows(rows, distance)
            first, last = rows[0], rows[-1] + 1
            value[first:last], index[first:last] = distance[order][starts], cols[order][starts]
        return value, index


def distance_blocks(x: np.ndarray, y: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[DistanceBlock]:
    """Yield DistanceBlocks covering the rows of x [N, D] against y [M, D] (float64), in order.

    A block and its temporaries hold about ``max_bytes`` (at least one row); entries recomputed
    directly go in chunks of the same budget.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    x_sq = np.einsum("ij,ij->i", x, x)
    y_sq = np.einsum("ij,ij->i", y, y)
    max_y_sq = float(y_sq.max(initial=0.0))
    rows = max(1, int(max_bytes) // (_BYTES_PER_ENTRY * max(len(y), 1)))
    for start in range(0, len(x), rows):
        stop = min(start + rows, len(x))
        block = x[start:stop] @ y.T
        block *= -2.0
        block += x_sq[start:stop, None] + y_sq[None, :]
        np.maximum(block, 0.0, out=block)  # rounding can push a zero distance slightly negative
        slack = _slack(x.shape[1], float(x_sq[start:stop].max()), max_y_sq)
        yield DistanceBlock(x, y, start, block, slack, int(max_bytes))


def squared_distance_chunks(
    x: np.ndarray, y: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, E) where E[i, j] ~ |x[start + i] - y[j]|^2, float64 [rows, len(y)], clipped at 0.

    The rounded BLAS expansion only (an exact duplicate can come out as ~1e-15): fine for magnitudes,
    not for ties; use `distance_blocks` for decisions.
    """
    for block in distance_blocks(x, y, max_bytes):
        yield block.start, block.expansion


def nearest(
    points: np.ndarray, centres: np.ndarray, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """Distance [N] (not squared, exactly 0 for a copy) and index [N] of each point's nearest centre.

    Distances are the direct ones; ties go to the lowest centre index.
    """
    points, centres = np.asarray(points, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    if not (np.isfinite(points).all() and np.isfinite(centres).all()):
        raise ValueError("features contain NaN or infinite values")
    distance = np.empty(len(points))
    index = np.empty(len(points), dtype=np.int64)
    for block in distance_blocks(points, centres, max_bytes):
        value, index[block.start : block.stop] = block.row_min()
        distance[block.start : block.stop] = np.sqrt(value)
    return distance, index
