"""Three-electrode data and the per-electrode cycle table (analysis.core.electrodes): worked
numbers for each small function, the synthetic cell against its model, and the real EC-Lab
file gcpl.issue_211 (.mpr and .mpt, Ewe and Ece recorded) from ../shared/data."""
import math

import numpy as np
import pyarrow as pa
import pytest

from analysis.core import synthetic_three_electrode as s3
from analysis.core.electrodes import differential
from analysis.core.electrodes.cycles import (ELECTRODE_CYCLE_COLUMNS, INTERRUPTION_TIMES_S,
                                             capacity_in_range_mah, cumulative_capacity_mah,
                                             electrode_cycle_table, electrode_differential_curves,
                                             interruption_resistance, mean_potential_v,
                                             potential_range_table, terminating_shares)
from analysis.core.electrodes.diagnosis import diagnose
from analysis.core.electrodes.dma import degradation_modes
from analysis.core.electrodes.three_electrode import (HalfCycles, consistency_check,
                                                      table_metadata, three_electrode_data,
                                                      three_electrode_from_table)
from tests.analysis.electrode_cells import column, ec_lab_column, read_run, write

GCPL_MPR = "biologic_mpr/gcpl.issue_211.mpr"
GCPL_MPT = "biologic_mpt/gcpl.issue_211.mpt"


# --- the three potentials and the consistency check --------------------------------------------

def test_consistency_check_worked_numbers():
    # V, E+, E-: errors 0, 1 mV, 3 mV
    check = consistency_check([3.0, 3.101, 3.203], [3.1, 3.2, 3.3], [0.1, 0.1, 0.1],
                              tolerance_v=0.005)
    assert check.status == "passed" and check.passed is True
    assert check.max_abs_error_v == pytest.approx(0.003) and check.worst_row == 2
    assert check.rms_error_v == pytest.approx(math.sqrt((0 + 0.001 ** 2 + 0.003 ** 2) / 3))
    failed = consistency_check([3.0, 3.101, 3.203], [3.1, 3.2, 3.3], [0.1, 0.1, 0.1],
                               tolerance_v=0.002)
    assert failed.status == "failed" and failed.passed is False and failed.n_over_tolerance == 1
    assert "3.0 mV (row 2)" in failed.message and "2 mV tolerance" in failed.message


def test_any_two_potentials_give_the_third():
    t, i = [0.0, 1.0], [1.0, 1.0]
    data = three_electrode_data(t, i, cell_voltage_v=[3.0, 3.2], negative_potential_v=[0.1, 0.05])
    np.testing.assert_allclose(data.positive_potential_v, [3.1, 3.25])
    assert data.sources["positive_potential_v"] == "derived: V + E₋"
    assert data.check.status == "not_checked" and data.check.passed is None
    data = three_electrode_data(t, i, cell_voltage_v=[3.0, 3.2], positive_potential_v=[3.1, 3.25])
    np.testing.assert_allclose(data.negative_potential_v, [0.1, 0.05])
    with pytest.raises(ValueError, match="missing: cell_voltage_v, negative_potential_v"):
        three_electrode_data(t, i, positive_potential_v=[3.1, 3.2])
    with pytest.raises(ValueError, match="negative_potential_v has 3 values, time_s has 2"):
        three_electrode_data(t, i, positive_potential_v=[3.1, 3.2], negative_potential_v=[0, 0, 0])


def test_working_electrode_negative_swaps_the_roles_and_the_current():
    table = {"test_time_s": [0.0, 1.0], "current_ma": [-0.5, -0.5], "voltage_v": [-3.0, -3.1],
             "ewe_v": [0.1, 0.05], "ece_v": [3.1, 3.15]}
    data = three_electrode_from_table(table, working_electrode="negative")
    np.testing.assert_allclose(data.positive_potential_v, [3.1, 3.15])
    np.testing.assert_allclose(data.negative_potential_v, [0.1, 0.05])
    np.testing.assert_allclose(data.current_ma, [0.5, 0.5])  # Sn reduced: full-cell charge
    assert data.check.status == "not_checked"  # voltage_v is ewe − ece exactly
    with pytest.raises(KeyError, match="not a three-electrode run"):
        three_electrode_from_table({k: v for k, v in table.items() if k != "ece_v"})


def test_half_cycles_are_checked():
    ok = HalfCycles.from_rows(cycle_number=[1, 1], direction=["charge", "discharge"],
                              start_row=[0, 10], end_row=[9, 19], n_rows=20)
    assert ok.index(1, "discharge") == 1 and ok.index(2, "charge") is None
    with pytest.raises(ValueError, match="overlaps"):
        HalfCycles.from_rows(cycle_number=[1, 1], direction=[1, -1], start_row=[0, 5],
                             end_row=[9, 19])
    with pytest.raises(ValueError, match="cycle 1 has more than one charge"):
        HalfCycles.from_rows(cycle_number=[1, 1], direction=[1, 1], start_row=[0, 10],
                             end_row=[9, 19])
    with pytest.raises(ValueError, match=r"direction\[1\] must be"):
        HalfCycles.from_rows(cycle_number=[1, 1], direction=[1, "up"], start_row=[0, 10],
                             end_row=[9, 19])
    with pytest.raises(ValueError, match="beyond the table's 15 rows"):
        HalfCycles.from_rows(cycle_number=[1], direction=[1], start_row=[0], end_row=[19],
                             n_rows=15)


# --- the small functions, by hand --------------------------------------------------------------

def test_capacity_and_mean_potential_worked_numbers():
    # 1 mA for 1 h, then 0.5 mA for 1 h: 1.5 mAh; E 3.0 → 3.2 V during the first hour and
    # 3.2 V during the second: ∫E|I|dt = 1 mAh × 3.1 V + 0.5 mAh × 3.2 V = 4.7 mWh → 3.1333 V
    t = [0.0, 3600.0, 3600.0, 7200.0]
    i = [1.0, 1.0, 0.5, 0.5]
    e = [3.0, 3.2, 3.2, 3.2]
    np.testing.assert_allclose(cumulative_capacity_mah(t, i), [0.0, 1.0, 1.0, 1.5])
    assert mean_potential_v(t, i, e) == pytest.approx(4.7 / 1.5)
    assert math.isnan(mean_potential_v([0.0, 1.0], [0.0, 0.0], [3.0, 3.0]))


def test_interruption_resistance_worked_numbers():
    # 0.08 mA stops at t0 = 100 s with E = 3.40 V; rest rows at 100, 100.5, 102, 120 s:
    # E(1 s) between 100.5 s (3.390 V) and 102 s (3.384 V): 3.390 − 0.006 × 0.5/1.5 = 3.388 V;
    # ΔE = −12 mV, R = 0.012 V / 0.08 mA = 150 Ω
    rest_t, rest_e = [100.0, 100.5, 102.0, 120.0], [3.392, 3.390, 3.384, 3.380]
    delta, ohm = interruption_resistance(rest_t, rest_e, end_time_s=100.0, end_potential_v=3.40,
                                         current_ma=0.08, after_s=1.0)
    assert delta == pytest.approx(-0.012) and ohm == pytest.approx(150.0)
    # 10 s: between 102 s and 120 s: 3.384 − 0.004 × 8/18 = 3.382222 V
    delta, ohm = interruption_resistance(rest_t, rest_e, end_time_s=100.0, end_potential_v=3.40,
                                         current_ma=-0.08, after_s=10.0)
    assert delta == pytest.approx(3.384 - 0.004 * 8 / 18 - 3.40)
    assert ohm == pytest.approx((3.40 - 3.384 + 0.004 * 8 / 18) / 0.08 * 1000)
    # nothing recorded that early, or the rest too short: no value, not a guess
    late = interruption_resistance([105.0, 130.0], [3.39, 3.38], end_time_s=100.0,
                                   end_potential_v=3.4, current_ma=0.08, after_s=1.0)
    short = interruption_resistance([100.0, 105.0], [3.39, 3.38], end_time_s=100.0,
                                    end_potential_v=3.4, current_ma=0.08, after_s=10.0)
    assert all(math.isnan(v) for v in late + short)


def test_terminating_share_worked_numbers():
    # over the last 2 % of 1 mAh (0.98 → 1.00 mAh) the positive rises 3.30 → 3.40 V and the
    # negative falls 0.050 → 0.025 V: shares 0.1/0.125 = 0.8 and 0.2
    q = [0.0, 0.5, 0.98, 1.0]
    positive = [3.0, 3.1, 3.30, 3.40]
    negative = [0.3, 0.1, 0.050, 0.025]
    assert terminating_shares(q, positive, negative) == pytest.approx((0.8, 0.2))
    # the window's start between samples: 5 % → from 0.95 mAh, E₊ = 3.1 + 0.2 × 0.45/0.48
    e_start = 3.1 + 0.2 * 0.45 / 0.48
    n_start = 0.1 - 0.05 * 0.45 / 0.48
    dp, dn = 3.40 - e_start, n_start - 0.025
    assert terminating_shares(q, positive, negative, terminal_fraction=0.05) == pytest.approx(
        (dp / (dp + dn), dn / (dp + dn)))


def test_capacity_in_a_potential_range_worked_numbers():
    # E linear 2.9 → 3.1 V over 0 → 2 mAh: [2.95, 3.05) holds 1 mAh; a plateau at exactly
    # 3.0 V for 0.5 mAh counts entirely
    assert capacity_in_range_mah([0.0, 2.0], [2.9, 3.1], 2.95, 3.05) == pytest.approx(1.0)
    assert capacity_in_range_mah([0.0, 0.5, 1.0], [3.0, 3.0, 3.2], 2.95, 3.05) == pytest.approx(
        0.5 + 0.5 * 0.05 / 0.2)
    with pytest.raises(ValueError, match="must be above"):
        capacity_in_range_mah([0.0, 1.0], [3.0, 3.1], 3.1, 3.0)


def test_dq_de_on_a_known_curve():
    # E = 3.0 + 0.1·Q (V, Q in mAh) over 1 mAh, sampled unevenly: dQ/dE = 10 mAh/V between
    # 3.0 and 3.1 V, nothing outside; the area is the capacity
    q = np.array([0.0, 0.013, 0.2, 0.21, 0.5, 0.77, 1.0])
    curve = differential.incremental_capacity(q, 3.0 + 0.1 * q, bin_width_v=0.005, fwhm_v=0.0)
    inside = (curve.x > 3.0) & (curve.x < 3.1)
    np.testing.assert_allclose(curve.y[inside], 10.0, rtol=1e-9)
    np.testing.assert_allclose(curve.y[~inside], 0.0, atol=1e-9)
    assert curve.y.sum() * 0.005 == pytest.approx(1.0)
    # with a 10 mV Gaussian the area stays 1 mAh and the middle stays 10 mAh/V
    smooth = differential.incremental_capacity(q, 3.0 + 0.1 * q, bin_width_v=0.005, fwhm_v=0.010)
    assert smooth.y.sum() * 0.005 == pytest.approx(1.0)
    assert smooth.y[np.argmin(np.abs(smooth.x - 3.05))] == pytest.approx(10.0, rel=1e-6)
    assert smooth.params == {"method": "potential_bins_gauss", "version": differential.VERSION,
                             "bin_width_v": 0.005, "fwhm_v": 0.010,
                             "sigma_v": pytest.approx(0.010 / 2.3548, rel=1e-4),
                             "capacity_mah": 1.0}
    # noise back and forth on a plateau adds no capacity
    plateau = differential.incremental_capacity([0, 0.25, 0.5, 0.75, 1.0],
                                                [3.000, 3.004, 2.999, 3.003, 3.001], fwhm_v=0.0)
    assert plateau.y.sum() * 0.005 == pytest.approx(1.0)


def test_de_dq_on_a_known_curve():
    # E = 3 + 0.2·Q + 0.1·Q² − 0.05·Q³: a cubic, exact for a 3rd-order Savitzky–Golay filter
    q = np.linspace(0.0, 2.0, 401)
    e = 3.0 + 0.2 * q + 0.1 * q ** 2 - 0.05 * q ** 3
    curve = differential.differential_voltage(q, e)
    np.testing.assert_allclose(curve.y, 0.2 + 0.2 * curve.x - 0.15 * curve.x ** 2, atol=1e-9)
    assert curve.params["window_points"] == 11 and curve.params["step_mah"] == pytest.approx(0.01)


def test_profile_change_worked_numbers():
    a = differential.incremental_capacity([0.0, 1.0], [3.0, 3.1], fwhm_v=0.0)
    b = differential.incremental_capacity([0.0, 2.0], [3.0, 3.1], fwhm_v=0.0)  # twice as much
    c = differential.incremental_capacity([0.0, 1.0], [3.05, 3.15], fwhm_v=0.0)  # half overlap
    d = differential.incremental_capacity([0.0, 1.0], [3.2, 3.3], fwhm_v=0.0)
    assert differential.profile_change(a, b) == pytest.approx(0.0, abs=1e-12)
    assert differential.profile_change(a, c) == pytest.approx(0.5)
    assert differential.profile_change(a, d) == pytest.approx(1.0)


# --- the synthetic cell against its model ------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    sim = s3.simulate(n_cycles=4, degradation=s3.Degradation(sodium_loss_fraction=0.02))
    path = write(tmp_path_factory.mktemp("cells"), "cell.mpt", sim.to_mpt())
    data, halves, result = read_run(path)
    return sim, path, data, halves


def test_synthetic_export_reads_like_an_ec_lab_three_electrode_file(synthetic_run):
    sim, path, data, halves = synthetic_run
    header = path.read_bytes()[:4000].decode("latin-1")
    assert header.startswith("EC-Lab ASCII FILE\nNb header lines : ") and "Record Ece" in header
    names = header.split("\n")[int(header.split("\n")[1].split(":")[1]) - 1].split("\t")
    assert {"Ewe/V", "Ece/V", "Ewe-Ece/V", "I/mA", "time/s", "half cycle"} <= set(names)
    np.testing.assert_allclose(data.positive_potential_v, column(sim.table, "ewe_v"), atol=2e-7)
    np.testing.assert_allclose(data.negative_potential_v, column(sim.table, "ece_v"), atol=2e-7)
    assert len(halves) == 8 and list(halves.cycle_number) == [1, 1, 2, 2, 3, 3, 4, 4]
    # EC-Lab's own cell-voltage column agrees with Ewe − Ece: the check passes
    checked = three_electrode_from_table(read_run(path)[2].table,
                                         cell_voltage_v=ec_lab_column(path, "Ewe-Ece/V"))
    assert checked.check.status == "passed" and checked.check.max_abs_error_v < 1e-6


def test_a_drifting_reference_fails_the_check(tmp_path, synthetic_run):
    sim = synthetic_run[0]
    path = write(tmp_path, "drift.mpt", sim.to_mpt(cell_voltage_offset_v=0.02))
    data = three_electrode_from_table(read_run(path)[2].table,
                                      cell_voltage_v=ec_lab_column(path, "Ewe-Ece/V"))
    assert data.check.status == "failed"
    assert data.check.max_abs_error_v == pytest.approx(0.02, abs=1e-6)
    assert "20.0 mV" in data.check.message
    table = data.to_arrow()
    assert table_metadata(table)["check"]["status"] == "failed"
    np.testing.assert_allclose(column(table, "consistency_error_v"), 0.02, atol=1e-6)


def test_per_electrode_table_against_the_model(synthetic_run):
    sim, _path, data, halves = synthetic_run
    table = electrode_cycle_table(data, halves)
    assert table.column_names == list(ELECTRODE_CYCLE_COLUMNS)
    assert table.num_rows == 8 and column(table, "electrode").tolist() == ["positive", "negative"] * 4
    truth = sim.truth
    positive = column(table, "electrode") == "positive"
    # interruption: R + Rct·(1 − e^(−Δt/τ)) of each electrode, exactly
    for role, kinetics in (("positive", sim.cell.positive_kinetics),
                           ("negative", sim.cell.negative_kinetics)):
        rows = column(table, "electrode") == role
        for after in INTERRUPTION_TIMES_S:
            expected = kinetics.interruption_resistance_ohm(after)
            for direction in ("charge", "discharge"):
                np.testing.assert_allclose(column(table, f"{direction}_interruption_{after:g}s_ohm")[rows],
                                           expected, rtol=2e-4)
    # terminating shares equal the model's (sampled vs exact curves): NaCrO2 ends the charge,
    # Sn the discharge
    np.testing.assert_allclose(column(table, "charge_terminating_share")[positive],
                               column(truth, "charge_positive_share"), atol=0.01)
    np.testing.assert_allclose(column(table, "discharge_terminating_share")[positive],
                               column(truth, "discharge_positive_share"), atol=0.01)
    assert column(table, "charge_terminating")[positive].all()
    assert column(table, "discharge_terminating")[~positive].all()
    # capacities are the model's; the polarisation of each electrode is positive
    np.testing.assert_allclose(column(table, "charge_capacity_mah")[positive],
                               column(truth, "charge_capacity_mah"), rtol=1e-4)
    assert (column(table, "polarisation_v") > 0).all()
    meta = table_metadata(table)
    assert meta["params"]["interruption_times_s"] == [1.0, 10.0]
    assert meta["params"]["dq_de"] == {"method": "potential_bins_gauss", "bin_width_v": 0.005,
                                       "fwhm_v": 0.010}


def test_sodium_loss_shrinks_the_nacro2_first_plateau(synthetic_run):
    """The paper's Fig. 5b: with sodium lost, NaCrO2 no longer reaches its first plateau."""
    _sim, _path, data, halves = synthetic_run
    ranges = potential_range_table(data, halves)
    first = ranges.filter(pa.compute.equal(ranges.column("range_name"), "first_plateau"))
    discharge = column(first, "discharge_capacity_mah")
    assert (np.diff(discharge) < 0).all()
    upper = ranges.filter(pa.compute.equal(ranges.column("range_name"), "upper_region"))
    assert np.ptp(column(upper, "discharge_capacity_mah")) < 0.1 * np.ptp(discharge)
    with pytest.raises(ValueError, match="high_v above low_v"):
        potential_range_table(data, halves, potential_ranges={"positive": {"bad": (3.1, 3.0)}})


def test_differential_curves_table(synthetic_run):
    _sim, _path, data, halves = synthetic_run
    curves = electrode_differential_curves(data, halves, kind="de_dq", cycles=[2],
                                           electrodes=["negative"], step_fraction=0.01)
    assert set(column(curves, "half_cycle")) == {"charge", "discharge"}
    assert set(column(curves, "cycle_number")) == {2}
    assert table_metadata(curves)["params"]["step_fraction"] == 0.01
    with pytest.raises(ValueError, match="unknown parameter"):
        electrode_differential_curves(data, halves, kind="dq_de", window_fraction=0.1)


# --- the real EC-Lab file with Ewe and Ece ------------------------------------------------------

@pytest.fixture(scope="module")
def gcpl_211(shared_data):
    out = {}
    for relative in (GCPL_MPR, GCPL_MPT):
        data, halves, result = read_run(shared_data / relative)
        out[relative] = (data, halves, electrode_cycle_table(data, halves))
    return out


def test_gcpl_211_mpr_and_mpt_give_the_same_per_electrode_table(gcpl_211):
    (_, halves_mpr, mpr), (_, halves_mpt, mpt) = gcpl_211[GCPL_MPR], gcpl_211[GCPL_MPT]
    assert mpr.num_rows == mpt.num_rows == 10  # 5 cycles × 2 electrodes
    np.testing.assert_array_equal(halves_mpr.start_row, halves_mpt.start_row)
    for name, (dtype, _meaning) in ELECTRODE_CYCLE_COLUMNS.items():
        a, b = column(mpr, name), column(mpt, name)
        if pa.types.is_floating(dtype):
            # float32 in the .mpr vs 8 significant digits in the text
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)
        else:
            assert a.tolist() == b.tolist(), name


def test_gcpl_211_per_electrode_numbers(gcpl_211):
    _data, _halves, table = gcpl_211[GCPL_MPT]
    positive = column(table, "electrode") == "positive"
    # the protocol limits Ewe (the working electrode) at +0.50 and −0.60 V (EM in the header),
    # so the working electrode ends every half cycle, and the cell has no rests
    np.testing.assert_allclose(column(table, "charge_end_potential_v")[positive], 0.50, atol=2e-3)
    np.testing.assert_allclose(column(table, "discharge_end_potential_v")[positive], -0.60, atol=2e-3)
    assert column(table, "charge_terminating")[positive].all()
    assert column(table, "discharge_terminating")[positive].all()
    assert np.isnan(column(table, "charge_interruption_10s_ohm")).all()
    assert np.isnan(column(table, "charge_end_relaxed_potential_v")).all()


def test_gcpl_211_consistency_check_passes(gcpl_211, shared_data):
    result = read_run(shared_data / GCPL_MPT)[2]
    checked = three_electrode_from_table(
        result.table, cell_voltage_v=ec_lab_column(shared_data / GCPL_MPT, "Ewe-Ece/V"))
    assert checked.check.status == "passed"
    assert checked.check.n_rows == 2767 and checked.check.max_abs_error_v < 1e-6
    # the .mpr records Ewe and Ece only: the cell voltage is their difference, nothing to check
    data = gcpl_211[GCPL_MPR][0]
    assert data.check.status == "not_checked" and "nothing to check" in data.check.message


def test_gcpl_211_without_reference_curves_says_so(gcpl_211):
    data, halves, table = gcpl_211[GCPL_MPT]
    modes = degradation_modes(data, halves, positive_reference=None, negative_reference=None)
    assert modes.status == "no_reference" and modes.modes.num_rows == 5
    assert np.isnan(column(modes.modes, "loss_of_sodium_inventory")).all()
    assert set(column(modes.fits, "status")) == {"no_reference"}
    diagnosis = diagnose(table, modes, check=data.check)
    assert diagnosis.sentence.startswith("Degradation modes not computed (no reference curve for "
                                         "the positive electrode (NaCrO2)")
    assert diagnosis.limiting["charge"]["electrode"] == "positive"
    assert diagnosis.to_dict()["modes"]["status"] == "no_reference"


def test_half_cycles_from_the_segmentation_leave_pulses_out():
    from types import SimpleNamespace
    # steps: charge, rest, 2-s pulse (charge), rest, discharge; a segmentation that marks the
    # pulse as a half cycle of its own
    steps = SimpleNamespace(start_row=np.array([0, 10, 12, 14, 20]),
                            end_row=np.array([9, 11, 13, 19, 29]))
    cycles = SimpleNamespace(cycle=np.array([1, 1, 1, 1, 1]), half_cycle=np.array([0, -1, 1, -1, 2]),
                             half_cycle_direction=np.array([1, 1, -1]),
                             half_cycle_is_pulse=np.array([False, True, False]))
    from analysis.core.electrodes.three_electrode import half_cycles_from_cycling
    halves = half_cycles_from_cycling(steps, cycles)
    assert halves.start_row.tolist() == [0, 20] and halves.end_row.tolist() == [9, 29]
    assert halves.direction.tolist() == [1, -1]
