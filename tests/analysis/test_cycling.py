"""Steps, cycles and per-cycle summaries (analysis.core.cycling), on hand-worked cases, on the
synthetic paper cells (analysis.core.synthetic) and on two real cycler files from ../shared/data."""
import math
import time

import numpy as np
import pyarrow as pa
import pytest

from analysis.core import cycling, synthetic
from analysis.core.cycling import analyse_cycling, assign_cycles, detect_steps

# hand-worked cells: 10 mg × 100 mAh/g, so 1C = 1 mA and 1 mAh is 100 mAh/g
CELL = dict(active_mass_mg=10.0, electrode_area_cm2=1.0, reference_capacity_mah_g=100.0)


def segments(*parts, start_s=0.0):
    """Canonical columns from (duration_s, n_points, current_ma, voltage_v) parts; current and
    voltage are scalars or arrays of n_points. Consecutive parts share the boundary time stamp
    (as Neware and BioLogic files do)."""
    t, i, v, now = [], [], [], start_s
    for duration, n, current, voltage in parts:
        offsets = np.linspace(0.0, duration, n)
        t.append(now + offsets)
        i.append(np.broadcast_to(np.asarray(current, float), (n,)))
        v.append(np.broadcast_to(np.asarray(voltage, float), (n,)))
        now += duration
    return {"test_time_s": np.concatenate(t), "current_ma": np.concatenate(i),
            "voltage_v": np.concatenate(v)}


def trapezoid(y, x):
    """∫y dx by the trapezoid rule, written out (numpy < 2 has no np.trapezoid)."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    return float(np.sum((y[1:] + y[:-1]) / 2.0 * np.diff(x)))


def run(columns, first_half_cycle="charge", finished=False, **kwargs):
    return analyse_cycling(columns, first_half_cycle=first_half_cycle, finished=finished,
                           **{**CELL, **kwargs})


def col(summary, name):
    return summary.column(name).to_pylist()


def pct(value):
    return round(100.0 * value, 1)


def rest(duration=600.0, n=11, voltage=3.0):
    return (duration, n, 0.0, voltage)


def charge(duration=3600.0, n=61, current=1.0, v0=2.8, v1=3.3):
    return (duration, n, current, np.linspace(v0, v1, n))


def discharge(duration=3600.0, n=61, current=1.0, v0=3.2, v1=2.2):
    return (duration, n, -current, np.linspace(v0, v1, n))


# --------------------------------------------------------------------------------------------
# hand-worked integration and step typing
# --------------------------------------------------------------------------------------------

def test_trapezoid_capacity_and_energy_of_three_points_by_hand():
    # ∫|I|dt = (1+1)/2·1800 + (1+2)/2·1800 = 1800 + 2700 = 4500 mA·s = 1.25 mAh
    # ∫V|I|dt = (3.0·1+3.1·1)/2·1800 + (3.1·1+3.2·2)/2·1800 = 5490 + 8550 = 14040 mW·s = 3.9 mWh
    steps = detect_steps([0.0, 1800.0, 3600.0], [1.0, 1.0, 2.0], [3.0, 3.1, 3.2])
    assert list(steps.kind) == ["charge"]
    assert steps.capacity_mah[0] == pytest.approx(1.25, rel=1e-12)
    assert steps.energy_mwh[0] == pytest.approx(3.9, rel=1e-12)
    assert steps.duration_s[0] == 3600.0
    assert steps.mean_current_ma[0] == pytest.approx(4500.0 / 3600.0)
    assert steps.mean_voltage_v[0] == pytest.approx(3.9 / 1.25)


def test_the_interval_before_a_steps_first_row_belongs_to_that_step_at_its_current():
    # rest rows at 0, 10 s; discharge rows at 20, 30 s (-2 mA). The interval 10-20 s ends at the
    # discharge's first row: the cycler counts it "since the previous record", so it is the
    # discharge's, at that row's 2 mA (sample and hold): 10 s + 10 s inside = 40 mA·s.
    steps = detect_steps([0.0, 10.0, 20.0, 30.0], [0.0, 0.0, -2.0, -2.0], [3.0, 3.0, 2.9, 2.8])
    assert list(steps.kind) == ["rest", "discharge"]
    assert steps.capacity_mah[1] == pytest.approx(40.0 / 3600.0)
    assert steps.duration_s.tolist() == [10.0, 20.0]
    assert steps.mean_current_ma[1] == pytest.approx(-2.0)
    # ∫V|I|dt: 2.9 V·2 mA·10 s held, then the trapezoid (2.9·2 + 2.8·2)/2·10 s
    assert steps.energy_mwh[1] == pytest.approx((58.0 + 57.0) / 3600.0)
    # a rest after the discharge written long after its last row adds nothing to it
    late = detect_steps([0.0, 10.0, 20.0, 620.0], [-2.0, -2.0, -2.0, 0.0], [3.0, 2.9, 2.8, 2.9])
    assert late.capacity_mah[0] == pytest.approx(40.0 / 3600.0)
    assert late.capacity_mah[1] == 0.0 and late.duration_s[1] == 600.0


def test_typical_current_and_noise_estimates():
    # 50 rest rows, 40 at 1 mA, 10 at 5 mA: the typical |I| is the median of the non-rest rows
    current = np.r_[np.zeros(50), np.ones(40), 5 * np.ones(10)]
    assert cycling.typical_current_ma(current) == 1.0
    assert cycling.current_noise_ma(current) == 0.0
    noisy = current + np.random.default_rng(0).normal(0.0, 0.01, current.size)
    assert cycling.current_noise_ma(noisy) == pytest.approx(0.01, rel=0.3)


def test_rest_is_current_below_a_threshold_relative_to_the_typical_current():
    columns = segments(charge(), (600.0, 11, [0.0, 0.004, -0.003] * 3 + [0.0, 0.0], 3.2),
                       discharge())
    steps = detect_steps(columns["test_time_s"], columns["current_ma"], columns["voltage_v"])
    assert list(steps.kind) == ["charge", "rest", "discharge"]
    assert steps.params["rest_current_ma"] == pytest.approx(0.01)  # 1 % of the typical 1 mA
    # the same rows with a threshold below the noise are not a rest any more
    strict = detect_steps(columns["test_time_s"], columns["current_ma"], columns["voltage_v"],
                          rest_current_ma=0.001)
    assert len(strict) > 3


def test_cc_cv_charge_is_recognised_and_is_one_half_cycle():
    # CC 1 mA for 1 h to 3.35 V, then CV at 3.35 V with the current decaying to 0.05 mA
    cv_t = np.linspace(0.0, 3000.0, 101)
    cv_i = np.exp(-cv_t / 1000.0)
    columns = segments(charge(v1=3.35), (3000.0, 101, cv_i, 3.35), rest(voltage=3.3),
                       discharge(duration=4000.0, n=81), rest(voltage=2.6))
    result = run(columns)
    assert list(result.steps.kind) == ["charge", "cv_charge", "rest", "discharge", "rest"]
    assert result.cycles.cycle.tolist() == [1, 1, 1, 1, 1]
    assert result.cycles.half_cycle[0] == result.cycles.half_cycle[1]  # one half cycle
    assert list(result.cycles.role) == ["in", "in", "rest", "out", "rest"]
    cc = 1.0 * 3600.0 / 3600.0
    cv = trapezoid(cv_i, cv_t) / 3600.0
    summary = result.summary
    assert summary.num_rows == 1
    # the first CV rows still carry more than 95 % of the CC current and count as CC
    assert col(summary, "charge_capacity_mah")[0] == pytest.approx(cc + cv, rel=1e-12)
    assert 0.9 * cv < col(summary, "charge_cv_capacity_mah")[0] < cv
    assert col(summary, "discharge_capacity_mah")[0] == pytest.approx(4000.0 / 3600.0)
    assert col(summary, "coulombic_efficiency")[0] == pytest.approx(
        (4000.0 / 3600.0) / (cc + cv))
    # the C-rate is taken from the CC part only: 1 mA ÷ (10 mg × 100 mAh/g = 1 mA) = 1C
    assert col(summary, "charge_c_rate")[0] == pytest.approx(1.0, rel=1e-3)


def test_synthetic_cc_cv_charge_gives_back_its_target_capacity():
    cell = synthetic.nacro2_half_cell()
    targets = [synthetic.CycleTarget(0.5, 120.0, 115.0, 3.1, 2.95, cv_charge_fraction=0.1)] * 3
    data = synthetic.generate(cell, targets)
    result = analyse_cycling(data.table, **data.analysis_kwargs())
    assert set(result.steps.kind) == {"rest", "charge", "cv_charge", "discharge"}
    assert col(result.summary, "cycle_number") == [1, 2, 3]
    np.testing.assert_allclose(col(result.summary, "charge_specific_capacity_mah_g"), 120.0)
    np.testing.assert_allclose(col(result.summary, "coulombic_efficiency"), 115.0 / 120.0)
    np.testing.assert_allclose(col(result.summary, "mean_charge_voltage_v"), 3.1)
    np.testing.assert_allclose(col(result.summary, "charge_c_rate"), 0.5, rtol=1e-2)


def test_rests_belong_to_the_cycle_they_fall_in():
    columns = segments(rest(), charge(), rest(), discharge(), rest(), charge(), rest(),
                       discharge(), rest())
    result = run(columns)
    # the leading rest goes with the first cycle, every other rest with the half cycle before
    assert result.cycles.cycle.tolist() == [1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert col(result.summary, "complete") == [True, True]
    assert col(result.summary, "n_steps") == [5, 4]
    assert col(result.summary, "start_row") == [0, 11 + 61 + 11 + 61 + 11]
    assert col(result.summary, "start_time_s") == [0.0, 600.0 + 3600.0 + 600.0 + 3600.0 + 600.0]


def test_a_noise_blip_or_a_pulse_does_not_split_a_half_cycle():
    # a charge interrupted by a rest holding a one-row -0.5 mA blip, then resumed
    blip = (20.0, 3, [0.0, -0.5, 0.0], 3.0)
    columns = segments(charge(1800.0, 31), rest(), blip, rest(), charge(1800.0, 31, v0=3.0),
                       rest(), discharge(), rest(), charge(), rest(), discharge(), rest())
    result = run(columns)
    kinds = list(result.steps.kind)
    assert kinds[:5] == ["charge", "rest", "discharge", "rest", "charge"]
    assert list(result.cycles.role)[:5] == ["in", "rest", "pulse", "rest", "in"]
    assert col(result.summary, "cycle_number") == [1, 2]
    assert col(result.summary, "n_pulses") == [1, 0]
    # the two charge parts are one half cycle; the blip is a pulse of its own, not discharge
    assert col(result.summary, "charge_capacity_mah")[0] == pytest.approx(1.0)
    assert col(result.summary, "discharge_capacity_mah")[0] == pytest.approx(1.0)
    # were nothing a pulse, the blip would end cycle 1
    naive = assign_cycles(result.steps, "charge", max_pulse_s=0.0)
    assert naive.cycle.max() == 3


def test_a_file_starting_mid_cycle_puts_the_leading_partial_half_cycle_in_cycle_0():
    columns = segments(discharge(duration=1800.0, n=31), rest(), charge(), rest(),
                       discharge(duration=3420.0, n=58), rest())
    result = run(columns)
    assert result.cycles.cycle.tolist() == [0, 0, 1, 1, 1, 1]
    summary = result.summary
    assert col(summary, "cycle_number") == [0, 1]
    assert col(summary, "complete") == [False, True]
    assert col(summary, "coulombic_efficiency")[0] is None
    assert col(summary, "discharge_capacity_mah")[0] == pytest.approx(0.5)
    assert col(summary, "charge_capacity_mah")[0] == 0.0
    assert col(summary, "coulombic_efficiency")[1] == pytest.approx(0.95)
    assert col(summary, "cumulative_irreversible_capacity_mah") == [None, pytest.approx(0.05)]


def test_synthetic_file_cut_mid_discharge_numbers_cycles_from_the_next_charge():
    data = synthetic.paper_nacro2_long_term()
    full = analyse_cycling(data.table, **data.analysis_kwargs())
    steps = full.steps
    # the discharge of cycle 5, cut in its middle
    k = np.flatnonzero((full.cycles.cycle == 5) & (steps.direction < 0))[0]
    cut = int((steps.start_row[k] + steps.end_row[k]) // 2)
    part = analyse_cycling(data.table.slice(cut), **data.analysis_kwargs())
    assert col(part.summary, "cycle_number")[:3] == [0, 1, 2]
    assert col(part.summary, "complete")[0] is False
    # cycle 1 of the cut file is cycle 6 of the whole file
    assert col(part.summary, "discharge_capacity_mah")[1:] == pytest.approx(
        col(full.summary, "discharge_capacity_mah")[5:], rel=1e-12)


def test_sn_half_cell_cycles_start_with_sodiation_and_ce_is_desodiation_over_sodiation():
    columns = segments(rest(voltage=1.2), discharge(duration=3600.0, v0=1.0, v1=0.01), rest(),
                       charge(duration=3000.0, n=51, v0=0.1, v1=2.0), rest())
    result = run(columns, first_half_cycle="discharge")
    assert col(result.summary, "cycle_number") == [1]
    assert col(result.summary, "coulombic_efficiency")[0] == pytest.approx(3000.0 / 3600.0)
    assert col(result.summary, "irreversible_capacity_mah")[0] == pytest.approx(600.0 / 3600.0)
    # read as a charge-first cell the same file would be cycle 0 (discharge) + an open cycle 1
    wrong = run(columns, first_half_cycle="charge")
    assert col(wrong.summary, "cycle_number") == [0, 1]
    assert col(wrong.summary, "complete") == [False, False]


def test_partial_last_cycle_is_flagged_incomplete():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    full = analyse_cycling(data.table, **kwargs)
    steps, cycles = full.steps, full.cycles
    discharge_10 = np.flatnonzero((cycles.cycle == 10) & (steps.direction < 0))[0]
    mid = int((steps.start_row[discharge_10] + steps.end_row[discharge_10]) // 2)
    end = int(steps.end_row[discharge_10])

    running = analyse_cycling(data.table.slice(0, mid + 1), **kwargs).summary
    assert col(running, "cycle_number")[-1] == 10
    assert col(running, "complete") == [True] * 9 + [False]
    assert col(running, "coulombic_efficiency")[-1] is None
    assert col(running, "discharge_capacity_mah")[-1] < col(full.summary,
                                                            "discharge_capacity_mah")[9]
    # the discharge has reached its end but nothing follows yet: still open, unless the
    # caller knows the test is finished
    at_end = analyse_cycling(data.table.slice(0, end + 1), **kwargs).summary
    assert col(at_end, "complete")[-1] is False
    finished = analyse_cycling(data.table.slice(0, end + 1), finished=True, **kwargs).summary
    assert col(finished, "complete")[-1] is True
    assert col(finished, "coulombic_efficiency")[-1] == pytest.approx(
        col(full.summary, "coulombic_efficiency")[9], rel=1e-12)
    # the first rows of the rest after it close the cycle
    resting = analyse_cycling(data.table.slice(0, end + 3), **kwargs).summary
    assert col(resting, "complete")[-1] is True


# --------------------------------------------------------------------------------------------
# the paper's numbers, through the whole pipeline
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper():
    results = {}
    for name, make in synthetic.PAPER_DATASETS.items():
        data = make()
        results[name] = (data, analyse_cycling(data.table, **data.analysis_kwargs()).summary)
    return results


def test_nacro2_half_cell_first_and_second_cycle_efficiency(paper):
    _data, summary = paper["nacro2_long_term_70mpa"]
    ce = col(summary, "coulombic_efficiency")
    assert pct(ce[0]) == 95.2
    assert pct(ce[1]) == 99.0
    assert round(col(summary, "discharge_specific_capacity_mah_g")[0]) == 118
    assert col(summary, "discharge_c_rate")[:3] == pytest.approx([0.1, 0.1, 0.5])
    # 0.1C at 7.0 mg/cm² and 120 mAh/g is 0.084 mA/cm²
    assert round(col(summary, "discharge_current_density_ma_cm2")[0], 3) == 0.084
    assert summary.num_rows == 102 and all(col(summary, "complete"))


def test_sn_half_cell_efficiency_is_desodiation_over_sodiation(paper):
    _data, summary = paper["sn_half_cell"]
    ce = col(summary, "coulombic_efficiency")
    assert pct(ce[0]) == 84.3
    assert pct(ce[1]) == 97.0
    charge = col(summary, "charge_capacity_mah")
    discharge = col(summary, "discharge_capacity_mah")
    assert ce[0] == pytest.approx(charge[0] / discharge[0], rel=1e-12)
    assert pct(discharge[0] / charge[0]) != 84.3  # the charge-first ratio would be wrong
    assert round(col(summary, "charge_specific_capacity_mah_g")[1]) == 634


def test_full_cell_efficiencies_and_energy_efficiency(paper):
    _data, summary = paper["full_cell"]
    ce = col(summary, "coulombic_efficiency")
    assert pct(ce[0]) == 72.2
    assert pct(ce[1]) == 95.8
    ee = col(summary, "energy_efficiency")
    assert pct(ee[1]) == 84.9
    energy = col(summary, "discharge_energy_mwh")[1] / col(summary, "charge_energy_mwh")[1]
    assert ee[1] == pytest.approx(energy, rel=1e-12)
    assert round(col(summary, "discharge_specific_capacity_mah_g")[0]) == 110
    assert round(col(summary, "discharge_specific_energy_wh_kg")[0]) == 282
    v = col(summary, "mean_charge_voltage_v")[1] - col(summary, "mean_discharge_voltage_v")[1]
    assert col(summary, "mean_voltage_difference_v")[1] == pytest.approx(v)
    assert 0.2 < v < 0.5


def test_cumulative_irreversible_capacity_adds_up_in_minus_out(paper):
    _data, summary = paper["full_cell"]
    irreversible = np.array(col(summary, "charge_capacity_mah")) - np.array(
        col(summary, "discharge_capacity_mah"))
    np.testing.assert_allclose(col(summary, "cumulative_irreversible_capacity_mah"),
                               np.cumsum(irreversible), rtol=1e-12)


def test_every_cycle_stays_inside_the_paper_voltage_windows(paper):
    windows = {"nacro2_long_term_70mpa": (2.10, 3.35), "sn_half_cell": (0.01, 2.00),
               "full_cell": (1.5, 3.3), "nacro2_rate_95_2_3": (2.10, 3.35)}
    for name, (low, high) in windows.items():
        _data, summary = paper[name]
        assert min(col(summary, "min_voltage_v")) == pytest.approx(low)
        assert max(col(summary, "max_voltage_v")) == pytest.approx(high)
        assert col(summary, "charge_end_voltage_v") == pytest.approx([high] * summary.num_rows)
        assert col(summary, "discharge_end_voltage_v") == pytest.approx([low] * summary.num_rows)


def test_synthetic_three_electrode_columns_are_consistent():
    data = synthetic.paper_full_cell(three_electrode=True)
    table = data.table
    np.testing.assert_allclose(
        table.column("ewe_v").to_numpy() - table.column("ece_v").to_numpy(),
        table.column("voltage_v").to_numpy(), atol=1e-12)
    summary = analyse_cycling(table, **data.analysis_kwargs()).summary
    assert pct(col(summary, "energy_efficiency")[1]) == 84.9


def test_synthetic_generator_is_deterministic_and_refuses_unreachable_voltages():
    a = synthetic.paper_sn_half_cell(noise_current_ma=1e-4, seed=3).table
    b = synthetic.paper_sn_half_cell(noise_current_ma=1e-4, seed=3).table
    assert a.equals(b)
    cell = synthetic.nacro2_half_cell()
    with pytest.raises(ValueError, match="cannot be reached"):
        synthetic.generate(cell, [synthetic.CycleTarget(0.1, 120.0, 118.0, 3.34, 2.9)])


def test_noisy_current_and_voltage_give_the_same_cycles():
    clean = synthetic.paper_nacro2_rate_test("95:2:3")
    noisy = synthetic.paper_nacro2_rate_test("95:2:3", noise_current_ma=0.002,
                                             noise_voltage_v=0.001, seed=7)
    a = analyse_cycling(clean.table, **clean.analysis_kwargs())
    b = analyse_cycling(noisy.table, **noisy.analysis_kwargs())
    assert list(b.steps.kind) == list(a.steps.kind)
    assert b.steps.params["rest_current_ma"] > a.steps.params["rest_current_ma"]
    np.testing.assert_allclose(col(b.summary, "coulombic_efficiency"),
                               col(a.summary, "coulombic_efficiency"), atol=2e-3)


# --------------------------------------------------------------------------------------------
# incremental recomputation
# --------------------------------------------------------------------------------------------

def _cut_points(result):
    steps, cycles = result.steps, result.cycles
    out = []
    for number in (3, 17, 40):
        in_step = np.flatnonzero((cycles.cycle == number) & (steps.direction > 0))[0]
        out_step = np.flatnonzero((cycles.cycle == number) & (steps.direction < 0))[0]
        out += [
            int(steps.start_row[in_step]),                                 # a charge starts
            int((steps.start_row[in_step] + steps.end_row[in_step]) // 2),  # mid charge
            int((steps.start_row[out_step] + steps.end_row[out_step]) // 2),  # mid discharge
            int(steps.end_row[out_step]),                                  # discharge ended
            int(steps.end_row[out_step]) + 2,                              # resting after it
        ]
    return out


def _without_shared_stamps(table):
    """The table without the second row of each pair sharing a time stamp: steps then start
    one sample interval after the previous one ended, as many cyclers write them."""
    t = table.column("test_time_s").to_numpy()
    keep = np.r_[True, np.diff(t) > 0]
    return table.filter(pa.array(keep))


@pytest.mark.parametrize("boundaries", ["shared time stamps", "gaps between steps"])
def test_incremental_update_equals_full_recompute(boundaries):
    data = synthetic.paper_full_cell()
    table = data.table if boundaries == "shared time stamps" else _without_shared_stamps(
        data.table)
    kwargs = data.analysis_kwargs()
    full = analyse_cycling(table, **kwargs)
    for cut in _cut_points(full):
        previous = analyse_cycling(table.slice(0, cut + 1), **kwargs).summary
        updated = cycling.update_summary(previous, table, **kwargs)
        assert updated.equals(full.summary), f"cut at row {cut}"


def test_incremental_analysis_returns_the_steps_and_cycles_of_the_recomputed_part():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    full = analyse_cycling(data.table, **kwargs)
    cut = _cut_points(full)[7]  # mid discharge of cycle 17: cycles 1-16 complete
    previous = analyse_cycling(data.table.slice(0, cut + 1), **kwargs).summary
    update = cycling.update_analysis(previous, data.table, **kwargs)
    assert update.first_recomputed_cycle == 16
    first = int(np.flatnonzero(full.cycles.cycle == 16)[0])
    assert update.cycles.cycle.tolist() == full.cycles.cycle[first:].tolist()
    for name in ("kind_code", "start_row", "end_row", "capacity_mah", "energy_mwh"):
        np.testing.assert_array_equal(getattr(update.steps, name),
                                      getattr(full.steps, name)[first:])
    assert update.summary.equals(full.summary)
    assert cycling.update_analysis(None, data.table, **kwargs).first_recomputed_cycle == 0


def test_incremental_updates_while_a_test_runs_follow_the_full_recompute():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    n = data.table.num_rows
    summary = None
    for stop in np.linspace(n // 20, n, 9).astype(int):
        part = data.table.slice(0, int(stop))
        summary = cycling.update_summary(summary, part, **kwargs)
        assert summary.equals(analyse_cycling(part, **kwargs).summary), f"{stop} rows"
    assert summary.num_rows == 52


def test_incremental_updates_of_a_noisy_file_reuse_the_first_thresholds():
    data = synthetic.paper_full_cell(noise_current_ma=0.003, noise_voltage_v=0.001, seed=11)
    kwargs = data.analysis_kwargs()
    n = data.table.num_rows
    summary = None
    for stop in np.linspace(n // 5, n, 6).astype(int):
        summary = cycling.update_summary(summary, data.table.slice(0, int(stop)), **kwargs)
    recorded = cycling.summary_metadata(summary)["steps"]
    assert recorded["current_noise_ma"] == pytest.approx(0.003, rel=0.2)
    same = analyse_cycling(data.table, rest_current_ma=recorded["rest_current_ma"],
                           noise_ma=recorded["current_noise_ma"], **kwargs).summary
    assert summary.equals(same)
    assert summary.num_rows == 52
    fresh = analyse_cycling(data.table, **kwargs).summary
    np.testing.assert_allclose(col(summary, "coulombic_efficiency"),
                               col(fresh, "coulombic_efficiency"), rtol=1e-6)


def test_incremental_update_from_a_summary_kept_as_parquet(tmp_path):
    import pyarrow.parquet as pq

    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    pq.write_table(analyse_cycling(data.table.slice(0, 20000), **kwargs).summary,
                   tmp_path / "summary.parquet")
    previous = pq.read_table(tmp_path / "summary.parquet")
    assert cycling.summary_metadata(previous)["steps"]["rest_current_ma"] > 0
    update = cycling.update_analysis(previous, data.table, **kwargs)
    assert update.first_recomputed_cycle > 1
    assert update.summary.equals(analyse_cycling(data.table, **kwargs).summary)


def test_incremental_update_of_another_file_recomputes_everything():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    previous = analyse_cycling(data.table, **kwargs).summary
    other = synthetic.paper_full_cell(sample_interval_s=20.0).table  # more rows, other times
    assert cycling.update_summary(previous, other, **kwargs).equals(
        analyse_cycling(other, **kwargs).summary)
    shorter = data.table.slice(0, data.table.num_rows // 2)
    assert cycling.update_summary(previous, shorter, **kwargs).equals(
        analyse_cycling(shorter, **kwargs).summary)


def test_incremental_update_keeps_the_rows_before_the_last_complete_cycle():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    full = analyse_cycling(data.table, **kwargs)
    cut = _cut_points(full)[7]  # mid discharge of cycle 17
    previous = analyse_cycling(data.table.slice(0, cut + 1), **kwargs).summary
    complete = col(previous, "complete")
    last_complete = max(k for k, done in enumerate(complete) if done)
    marked = col(previous, "charge_capacity_mah")
    marked[0] = -1.0            # kept as it is
    marked[last_complete] = -1.0  # recomputed
    tampered = previous.set_column(previous.column_names.index("charge_capacity_mah"),
                                   "charge_capacity_mah", pa.array(marked))
    updated = cycling.update_summary(tampered, data.table, **kwargs)
    assert col(updated, "charge_capacity_mah")[0] == -1.0
    assert col(updated, "charge_capacity_mah")[last_complete] > 0
    # other parameters: everything is recomputed
    other = cycling.update_summary(tampered, data.table,
                                   **{**kwargs, "active_mass_mg": kwargs["active_mass_mg"]
                                      * 1.01})
    assert col(other, "charge_capacity_mah")[0] > 0


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------

def test_one_million_rows_segment_in_well_under_a_few_seconds():
    data = synthetic.paper_nacro2_long_term(sample_interval_s=1.6)
    table = data.table
    assert table.num_rows > 950_000
    t, i, v = (table.column(name).to_numpy() for name in ("test_time_s", "current_ma",
                                                           "voltage_v"))
    detect_steps(t[:1000], i[:1000], v[:1000])
    start = time.perf_counter()
    steps = detect_steps(t, i, v)
    segment_s = time.perf_counter() - start
    start = time.perf_counter()
    result = analyse_cycling(table, **data.analysis_kwargs())
    pipeline_s = time.perf_counter() - start
    assert len(steps) == 409 and result.summary.num_rows == 102
    assert pct(col(result.summary, "coulombic_efficiency")[0]) == 95.2
    assert segment_s < 1.0, f"detect_steps took {segment_s:.2f} s"
    assert pipeline_s < 2.0, f"the whole pipeline took {pipeline_s:.2f} s"


# --------------------------------------------------------------------------------------------
# real cycler files
# --------------------------------------------------------------------------------------------

def _read_neware_csv(path):
    """The record rows of a Neware BTSDA 3-header CSV export, and its cycle rows."""
    t, i, v, cycles = [], [], [], []
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            fields = line.rstrip("\n").split(",")
            if line.startswith(",,") and fields[2].isdigit():
                hours, minutes, seconds = fields[4].split(":")
                t.append(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
                i.append(float(fields[5]) * 1000.0)
                v.append(float(fields[6]))
            elif line[:1].isdigit():
                cycles.append([float(x) * 1000.0 for x in (fields[1], fields[2], fields[4],
                                                           fields[5])])
    columns = {"test_time_s": np.array(t), "current_ma": np.array(i), "voltage_v": np.array(v)}
    return columns, np.array(cycles)


def test_neware_file_capacities_and_energies_match_the_cyclers_own(shared_data):
    columns, cycler = _read_neware_csv(shared_data / "neware_csv"
                                       / "nw_regular_export_ife_example.csv")
    result = analyse_cycling(columns, active_mass_mg=2750.0, electrode_area_cm2=10.0,
                             reference_capacity_mah_g=120.0, first_half_cycle="charge",
                             finished=True)
    summary = result.summary
    assert summary.num_rows == len(cycler) == 20
    assert all(col(summary, "complete"))
    ours = np.column_stack([col(summary, name) for name in (
        "charge_capacity_mah", "discharge_capacity_mah", "charge_energy_mwh",
        "discharge_energy_mwh")])
    # cycle 1 is a 3-minute top-up charge of 10 points; the cycler integrates faster
    np.testing.assert_allclose(ours[0], cycler[0], rtol=5e-3)
    np.testing.assert_allclose(ours[1:], cycler[1:], rtol=1.5e-3)
    np.testing.assert_allclose(col(summary, "coulombic_efficiency")[1:],
                               cycler[1:, 1] / cycler[1:, 0], atol=1e-3)
    assert set(result.steps.kind) == {"rest", "charge", "discharge"}
    assert col(summary, "discharge_c_rate")[5] == pytest.approx(474.17 / 330.0, rel=1e-3)


def test_landt_bdf_file_cuts_where_the_cycler_changed_step(shared_data):
    import pandas as pd

    frame = pd.read_csv(shared_data / "generic_csv"
                        / "SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv")
    columns = {"test_time_s": frame["test_time_second"].to_numpy(),
               "current_ma": frame["current_ampere"].to_numpy() * 1000.0,
               "voltage_v": frame["voltage_volt"].to_numpy()}
    # a graphite half cell: lithiation (discharge) first, like the Sn half cell
    result = analyse_cycling(columns, active_mass_mg=20.0, electrode_area_cm2=1.5,
                             reference_capacity_mah_g=350.0, first_half_cycle="discharge")
    cycler_steps = frame["step_index"].to_numpy()
    cycler_starts = np.flatnonzero(np.r_[True, cycler_steps[1:] != cycler_steps[:-1]])
    assert result.steps.start_row.tolist() == cycler_starts.tolist()
    assert list(result.steps.kind) == ["rest", "discharge", "charge", "discharge"]
    assert col(result.summary, "cycle_number") == [1, 2]
    assert col(result.summary, "complete") == [True, False]  # the file stops mid-discharge
    expected = result.steps.capacity_mah[2] / result.steps.capacity_mah[1]
    assert col(result.summary, "coulombic_efficiency")[0] == pytest.approx(expected)
    assert math.isclose(result.steps.capacity_mah[1],
                        0.2 * (frame["test_time_second"].iloc[16044]
                               - frame["test_time_second"].iloc[2881]) / 3600.0, rel_tol=1e-3)


def test_pulses_are_short_against_the_longest_burst_not_against_the_cells_mass():
    """20-s bursts are pulses beside hour-long half cycles (here given as the longest burst seen
    so far, as the incremental update does); alone in a file they are its half cycles."""
    time_s = np.arange(40, dtype=float) * 10
    current_ma = np.zeros(40)
    current_ma[[10, 11]] = 0.1
    current_ma[[25, 26]] = -0.1
    voltage_v = np.full(40, 3.0)
    steps = cycling.detect_steps(time_s, current_ma, voltage_v, rest_current_ma=0.01)
    cycles = cycling.assign_cycles(steps, "charge", reference_burst_s=3600.0)
    assert (cycles.cycle == 0).all()
    assert list(cycles.role) == ["rest", "pulse", "rest", "pulse", "rest"]
    assert cycles.half_cycle.tolist() == [-1, 0, -1, 1, -1]
    assert cycles.half_cycle_is_pulse.tolist() == [True, True]
    alone = cycling.assign_cycles(steps, "charge")
    assert list(alone.role) == ["rest", "in", "rest", "out", "rest"]
    assert alone.cycle.tolist() == [1, 1, 1, 1, 1]
