"""A full cell's fade predicted from its half cells' coulombic efficiencies and its N/P ratio
(analysis.core.electrodes.fade), on a case worked by hand and against a measured fade."""
import numpy as np
import pytest

from analysis.core import synthetic
from analysis.core.cycling import analyse_cycling
from analysis.core.electrodes.fade import compare_fade, predict_full_cell_fade
from analysis.core.electrodes.three_electrode import table_metadata
from tests.analysis.electrode_cells import column


def test_prediction_worked_by_hand():
    # N/P 1.2; cycle 1: CE₋ 84.3 %, CE₊ 95.2 %; cycle 2: 97.0 %, 99.0 %; cycle 3: 98.0 %, 99.5 %
    # ℓ₋ = (1/CE₋ − 1)·1.2: 0.2234875, 0.0371134, 0.0244898
    # ℓ₊ = 1/CE₊ − 1:        0.0504202, 0.0101010, 0.0050251
    # N = 1 − ℓ₋ + ℓ₊ …:     0.8269326, 0.7999202, 0.7804556
    prediction = predict_full_cell_fade([0.952, 0.990, 0.995], [0.843, 0.970, 0.980], 1.2)
    table = prediction.table
    np.testing.assert_allclose(column(table, "negative_loss"), [0.2234875, 0.0371134, 0.0244898],
                               atol=1e-7)
    np.testing.assert_allclose(column(table, "positive_return"), [0.0504202, 0.0101010, 0.0050251],
                               atol=1e-7)
    np.testing.assert_allclose(column(table, "sodium_inventory"), [0.8269326, 0.7999202, 0.7804556],
                               atol=1e-7)
    np.testing.assert_allclose(column(table, "predicted_retention"), [1.0, 0.9673342, 0.9437958],
                               atol=1e-7)
    cycles, against_2 = prediction.retention(2)
    np.testing.assert_allclose(against_2, [1.0337689, 1.0, 0.9756667], atol=1e-7)
    assert table_metadata(table)["params"]["np_ratio"] == 1.2


def test_the_negative_caps_the_capacity_and_the_positive_caps_the_inventory():
    # N/P 0.8: the negative holds at most 0.8 of the positive's capacity
    small = predict_full_cell_fade([1.0, 1.0], [1.0, 1.0], 0.8)
    np.testing.assert_allclose(column(small.table, "predicted_capacity"), [0.8, 0.8])
    # a positive less efficient than the negative cannot push the inventory above 1
    refill = predict_full_cell_fade([0.98, 0.98], [0.99, 0.99], 1.0)
    np.testing.assert_allclose(column(refill.table, "sodium_inventory"), [1.0, 1.0])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"negative_coulombic_efficiency\[1\] = 97 is not a "
                                         r"coulombic efficiency"):
        predict_full_cell_fade([0.99, 0.99], [0.97, 97.0], 1.2)
    with pytest.raises(ValueError, match="np_ratio must be a positive number"):
        predict_full_cell_fade([0.99], [0.97], 0)
    with pytest.raises(ValueError, match="reference_cycle 9 is not among"):
        predict_full_cell_fade([0.99], [0.97], 1.2, reference_cycle=9)


def test_the_comparison_states_the_difference():
    prediction = predict_full_cell_fade([0.952, 0.990, 0.995], [0.843, 0.970, 0.980], 1.2)
    # measured against cycle 2: 100 %, then 90 % (the prediction says 97.567 %)
    comparison = compare_fade(prediction, [2, 3], [1.0, 0.90], reference_cycle=2)
    assert comparison.cycle == 3
    assert comparison.predicted_retention == pytest.approx(0.9756667, abs=1e-7)
    assert comparison.difference_pp == pytest.approx(100 * (0.90 - 0.9756667), abs=1e-5)
    assert comparison.explained_fraction == pytest.approx((1 - 0.9756667) / 0.10, abs=1e-6)
    assert comparison.sentence == (
        "At cycle 3, against cycle 2, the half cells' coulombic efficiencies and N/P 1.20 predict "
        "97.6 % retention and the full cell kept 90.0 %: the full cell faded 7.6 points more "
        "than its half cells predict (they account for 24 % of its loss).")
    np.testing.assert_allclose(column(comparison.table, "difference"), [0.0, 0.90 - 0.9756667],
                               atol=1e-7)


def test_the_papers_half_cells_set_against_the_papers_full_cell():
    """The synthetic paper cells: the Sn half cell and the full cell run 2 cycles at 0.1C then 50
    at 0.2C, the NaCrO2 half cell 2 at 0.1C then 100 at 0.5C (its first 52 cycles are used); the
    full cell keeps 47.4 % of its first 0.2C cycle (cycle 3) at cycle 52."""
    summaries = {}
    for name, data in (("positive", synthetic.paper_nacro2_long_term()),
                       ("negative", synthetic.paper_sn_half_cell()),
                       ("full", synthetic.paper_full_cell())):
        summaries[name] = analyse_cycling(data.table, **data.analysis_kwargs(), finished=True).summary
    ce = {name: column(summaries[name], "coulombic_efficiency")[:52] for name in ("positive", "negative")}
    prediction = predict_full_cell_fade(ce["positive"], ce["negative"], 1.2, reference_cycle=3)
    full = summaries["full"]
    discharge = column(full, "discharge_capacity_mah")
    measured = discharge / discharge[2]
    comparison = compare_fade(prediction, column(full, "cycle_number"), measured, reference_cycle=3)
    assert comparison.cycle == 52
    assert comparison.measured_retention == pytest.approx(0.474, abs=1e-3)
    # the half cells lose far less sodium than the full cell does: they explain a part only
    assert comparison.predicted_retention > comparison.measured_retention + 0.1
    assert comparison.difference_pp < -10
    assert 0 < comparison.explained_fraction < 1
    assert "faded" in comparison.sentence and "more than its half cells predict" in comparison.sentence
