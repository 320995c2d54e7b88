"""Down-sampling for plots: fewer points, same shape (the extremes of each bucket are kept)."""
from __future__ import annotations

from typing import Any

import numpy as np


def min_max_indices(values: np.ndarray, max_points: int, *, step_starts: Any = None) -> np.ndarray:
    """Indices of at most ``max_points`` rows keeping each bucket's first, minimum and maximum.

    The rows are split into equal buckets; of each the first row and the rows of the smallest
    and largest value are kept, so a plateau's end and a voltage spike both survive. The first
    and last rows are always kept. Indices come back sorted and unique.

    ``step_starts`` (the first row of each step, e.g. where a constant current turns into a
    constant voltage or a rest) keeps the steps apart: the buckets also break there, and the
    first and last row of every step are kept, so a curve shows each step's ends where they
    were measured. A step start at row 0 or outside the rows is ignored. When the steps are too
    many for the points (more than a fifth of ``max_points``), they are not kept apart.
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    if n <= max_points:
        return np.arange(n)
    starts = np.zeros(0, dtype=np.int64)
    if step_starts is not None:
        given = np.asarray(step_starts)
        if given.size and not np.issubdtype(given.dtype, np.integer):
            raise ValueError("step_starts must be row numbers (whole numbers)")
        starts = np.unique(given.astype(np.int64))
        starts = starts[(starts > 0) & (starts < n)]
    # each bucket costs up to 3 points, each step its 2 ends; a step start adds a bucket
    buckets = (max_points - 2 - 5 * starts.size) // 3
    if starts.size and buckets < 1:
        starts = starts[:0]
        buckets = (max_points - 2) // 3
    buckets = max(1, buckets)
    edges = np.unique(np.concatenate((np.linspace(0, n, buckets + 1).astype(np.int64), starts)))
    first_rows = edges[:-1]
    filled = np.where(np.isnan(values), np.nanmean(values) if np.isfinite(values).any() else 0.0, values)
    bucket_of_row = np.repeat(np.arange(first_rows.size), np.diff(edges))
    keep = [np.array([0, n - 1]), first_rows, starts - 1]
    for reduce in (np.minimum, np.maximum):
        extreme = reduce.reduceat(filled, first_rows)
        # the first row of each bucket equal to its extreme
        rows = np.flatnonzero(filled == extreme[bucket_of_row])
        _, first = np.unique(bucket_of_row[rows], return_index=True)
        keep.append(rows[first])
    return np.unique(np.concatenate(keep))[:max_points]
