import numpy as np
import pytest

from analysis.core.downsample import min_max_indices


def test_downsampling_keeps_the_extremes_and_the_ends():
    values = np.zeros(10_000)
    values[4321] = 5.0  # a spike that plain striding would miss
    values[7777] = -3.0
    kept = min_max_indices(values, 300)
    assert len(kept) <= 300
    assert {0, 4321, 7777, 9999} <= set(kept.tolist())
    assert (np.diff(kept) > 0).all()
    assert min_max_indices(np.arange(5.0), 300).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="max_points must be at least 2"):
        min_max_indices(values, 1)


def test_each_bucket_keeps_its_first_row_its_lowest_and_its_highest():
    # 12 rows, 8 points: (8 − 2) // 3 = 2 buckets of 6 rows, rows 0–5 and 6–11
    values = np.array([0, 1, 2, 3, 10, 5, 6, 7, 8, 9, -4, 11], dtype=float)
    # bucket 1: first 0, lowest 0 (row 0), highest 10 (row 4); bucket 2: first 6, lowest −4
    # (row 10), highest 11 (row 11, the last row, kept anyway)
    assert min_max_indices(values, 8).tolist() == [0, 4, 6, 10, 11]


def test_the_ends_of_every_step_are_kept():
    values = np.arange(30, dtype=float)
    values[14] = 100.0  # a spike inside the second step
    # steps start at rows 0, 10 and 20; 17 points: (17 − 2 − 5 × 2) // 3 = 1 bucket, broken at
    # the step starts into rows 0–9, 10–19, 20–29. Kept: each step's first and last row
    # (0, 9; 10, 19; 20, 29), each stretch's lowest (its first, the values rise) and highest
    # (9, the spike at 14, 29).
    assert min_max_indices(values, 17, step_starts=[10, 20]).tolist() == [0, 9, 10, 14, 19, 20, 29]
    # without the steps: (17 − 2) // 3 = 5 buckets of 6 rows; row 9 and 10 are not kept
    assert min_max_indices(values, 17).tolist() == [0, 5, 6, 11, 12, 14, 18, 23, 24, 29]


def test_too_many_steps_for_the_points_are_not_kept_apart():
    values = np.arange(30, dtype=float)
    values[14] = 100.0
    # 29 step starts need 2 + 5 × 29 points at least: more than 17, so the steps are ignored
    everyone = min_max_indices(values, 17, step_starts=range(1, 30))
    assert everyone.tolist() == min_max_indices(values, 17).tolist()
    # step starts at row 0 or beyond the rows change nothing
    assert min_max_indices(values, 17, step_starts=[0, 30, 99]).tolist() == min_max_indices(values, 17).tolist()
    with pytest.raises(ValueError, match="step_starts must be row numbers"):
        min_max_indices(values, 17, step_starts=[1.5])


@pytest.mark.parametrize("rows", [1_001, 54_321, 1_000_000])
@pytest.mark.parametrize("steps", [0, 50, 199, 5_000])
def test_the_points_stay_within_the_limit_whatever_the_rows_and_steps(rows, steps):
    rng = np.random.default_rng(rows + steps)
    values = rng.normal(size=rows)
    starts = np.sort(rng.choice(np.arange(1, rows), size=min(steps, rows // 2), replace=False)) if steps else None
    kept = min_max_indices(values, 1000, step_starts=starts)
    assert 300 < len(kept) <= 1000
    assert kept[0] == 0 and kept[-1] == rows - 1
    assert (np.diff(kept) > 0).all()
    if steps and 5 * len(starts) + 2 <= 1000:
        assert set((starts - 1).tolist()) | set(starts.tolist()) <= set(kept.tolist())
