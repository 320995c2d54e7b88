"""Down-sampling for plots: fewer points, same shape (the extremes of each bucket are kept)."""
from __future__ import annotations

import numpy as np


def min_max_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` rows keeping each bucket's first, minimum and maximum.

    The rows are split into equal buckets; of each the first row and the rows of the smallest
    and largest value are kept, so a plateau's end and a voltage spike both survive. The first
    and last rows are always kept. Indices come back sorted and unique.
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 3)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts = edges[:-1]
    filled = np.where(np.isnan(values), np.nanmean(values) if np.isfinite(values).any() else 0.0, values)
    keep = [np.array([0, n - 1]), starts]
    for reduce in (np.minimum, np.maximum):
        extreme = reduce.reduceat(filled, starts)
        # position of the extreme inside each bucket: the first row equal to it
        bucket_of_row = np.repeat(np.arange(buckets), np.diff(edges))
        hit = filled == extreme[bucket_of_row]
        first_hit = np.full(buckets, -1)
        rows = np.flatnonzero(hit)
        first_hit[bucket_of_row[rows][::-1]] = rows[::-1]
        keep.append(first_hit[first_hit >= 0])
    return np.unique(np.concatenate(keep))[:max_points]
