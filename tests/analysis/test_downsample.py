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
