"""The ranking of process variables by the difference in a metric, against hand-computed numbers."""
import math

import pytest

from analysis.core.compare import (
    differing_variables, eta_squared, group_statistics, highest_common_c_rate, last_common_cycle, rank_variables,
    retention_curve, sort_values,
)

# Four cells: two at 70 MPa, two at 3 MPa; each pair split over two sheets; one at another cut-off.
RETENTION = {"CELL-0001": 0.95, "CELL-0002": 0.97, "CELL-0003": 0.85, "CELL-0004": 0.87}
VARIABLES = {
    "CELL-0001": {"stack pressure": "70 MPa", "sheet": "ES-0001", "upper cut-off": "3.15 V", "temperature": "30 °C"},
    "CELL-0002": {"stack pressure": "70 MPa", "sheet": "ES-0002", "upper cut-off": "3.3 V", "temperature": "30 °C"},
    "CELL-0003": {"stack pressure": "3 MPa", "sheet": "ES-0001", "upper cut-off": "3.3 V", "temperature": "30 °C"},
    "CELL-0004": {"stack pressure": "3 MPa", "sheet": "ES-0002", "upper cut-off": "3.3 V", "temperature": "30 °C"},
}
# grand mean 0.91; SS_total = 0.04² + 0.06² + 0.06² + 0.04² = 0.0104
# stack pressure: means 0.96 and 0.86, SS_between = 4 × 0.05² = 0.0100 → η² = 0.0100/0.0104
# sheet: means 0.90 and 0.92, SS_between = 4 × 0.01² = 0.0004 → η² = 0.0004/0.0104
# upper cut-off: 3.15 V 0.95 (one cell), 3.3 V 0.89667; SS_between = 0.04² + 3 × (0.013333)² = 0.0021333


def test_group_means_spreads_and_counts():
    groups = group_statistics(RETENTION, {c: v["stack pressure"] for c, v in VARIABLES.items()})
    assert [g.value for g in groups] == ["3 MPa", "70 MPa"]  # numeric order, not text order
    low, high = groups
    assert low.cells == ("CELL-0003", "CELL-0004") and low.n_cells == 2
    assert low.mean == pytest.approx(0.86)
    assert high.mean == pytest.approx(0.96)
    assert high.standard_deviation == pytest.approx(math.sqrt(0.0002))  # (0.01² + 0.01²) / (2 − 1)
    assert high.range == pytest.approx(0.02)
    assert (high.minimum, high.maximum) == (0.95, 0.97)


def test_eta_squared_is_the_between_group_share_of_the_variance():
    assert eta_squared(RETENTION, {c: v["stack pressure"] for c, v in VARIABLES.items()}) == pytest.approx(
        0.0100 / 0.0104)
    assert eta_squared(RETENTION, {c: v["sheet"] for c, v in VARIABLES.items()}) == pytest.approx(0.0004 / 0.0104)
    assert eta_squared({"A": 0.9, "B": 0.9}, {"A": "x", "B": "y"}) is None  # no difference to explain


def test_ranking_puts_told_variables_first_and_says_when_too_few_cells():
    ranking = rank_variables(RETENTION, VARIABLES)
    assert [s.variable for s in ranking] == ["stack pressure", "sheet", "upper cut-off"]
    pressure, sheet, cutoff = ranking
    assert pressure.eta_squared == pytest.approx(0.961538, abs=1e-6) and pressure.told
    assert sheet.eta_squared == pytest.approx(0.038462, abs=1e-6) and sheet.told
    # higher than the sheet's, but one cell at 3.15 V cannot tell: ranked after, and said so
    assert cutoff.eta_squared == pytest.approx(0.0021333 / 0.0104, abs=1e-5)
    assert cutoff.too_few == "too few cells to tell: 3.15 V has 1 cell (at least 2 per group needed)"
    assert [g.n_cells for g in cutoff.groups] == [1, 3]
    assert cutoff.groups[1].mean == pytest.approx((0.97 + 0.85 + 0.87) / 3)
    assert "temperature" not in [s.variable for s in ranking]  # the same for all


def test_one_cell_per_group_cannot_tell():
    ranking = rank_variables({"A": 0.956, "B": 0.859}, {"A": {"stack pressure": "70 MPa"},
                                                       "B": {"stack pressure": "3 MPa"}})
    assert len(ranking) == 1
    assert ranking[0].eta_squared == pytest.approx(1.0)
    assert ranking[0].too_few == ("too few cells to tell: 3 MPa has 1 cell, 70 MPa has 1 cell "
                                  "(at least 2 per group needed)")
    assert ranking[0].groups[0].standard_deviation is None


def test_a_variable_a_cell_lacks_is_its_own_group():
    ranking = rank_variables({"A": 0.9, "B": 0.8}, {"A": {"stack pressure": "70 MPa"}, "B": {}})
    assert [g.value for g in ranking[0].groups] == ["70 MPa", "not recorded"]


def test_differing_and_equal_variables():
    differ, same = differing_variables(VARIABLES)
    assert differ == ["sheet", "stack pressure", "upper cut-off"]
    assert same == {"temperature": "30 °C"}


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^values_by_cell: CELL-0009 has no finite value \(nan\)"):
        rank_variables({"CELL-0009": float("nan")}, {"CELL-0009": {}})
    with pytest.raises(ValueError, match="^variables_by_cell: no variables for B"):
        rank_variables({"A": 0.9, "B": 0.8}, {"A": {}})
    with pytest.raises(ValueError, match="^ref_cycle: cycle 9 has no capacity"):
        retention_curve([1, 2], [1.0, 0.9], ref_cycle=9)


def test_retention_curve_from_the_reference_cycle():
    cycles, retention = retention_curve([1, 2, 3, 4], [1.2, 1.1, 1.0, 0.95], ref_cycle=3)
    assert cycles == [3, 4]
    assert retention == pytest.approx([1.0, 0.95])


def test_last_common_cycle_and_highest_common_rate():
    assert last_common_cycle({"A": [1, 2, 3, 102], "B": [1, 2, 50]}) == 50
    assert last_common_cycle({"A": [1], "B": []}) is None
    assert highest_common_c_rate({"A": [0.1, 0.5, 5.0], "B": [0.1, 0.5]}, 0.1) == 0.5
    assert highest_common_c_rate({"A": [0.1], "B": [0.1]}, 0.1) is None


def test_values_sorted_numerically_then_by_name():
    assert sort_values(["70 MPa", "3 MPa", "not recorded", "ES-0002", "ES-0001"]) == [
        "3 MPa", "70 MPa", "ES-0001", "ES-0002", "not recorded"]
