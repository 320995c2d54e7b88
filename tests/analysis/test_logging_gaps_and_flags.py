"""Synthetic files logged the way real cyclers log: rests without rows, a late last row, a CV
hold whose start is not sampled, 2-s pulses between cycles, and the quality flags each case
(and each damage to a file) must raise, with reason and size."""
import numpy as np
import pyarrow as pa
import pytest

from analysis.core import synthetic
from analysis.core.cycling import analyse_cycling, summary_flags
from analysis.core.synthetic import CycleTarget, Pulse

CELL = synthetic.nacro2_half_cell()  # 7.0 mg/cm², 1C = 0.95 mA
TARGETS = [CycleTarget(0.5, 120.0, 115.0, 3.1, 2.95)] * 3


def run(data, **kwargs):
    return analyse_cycling(data.table, **{**data.analysis_kwargs(), **kwargs})


def col(summary, name):
    return summary.column(name).to_pylist()


def codes(summary):
    return [[flag["code"] for flag in flags] for flags in summary_flags(summary)]


def mah(specific):
    return specific * CELL.active_mass_mg / 1000.0


def test_a_rest_logged_only_at_its_end_adds_nothing_to_the_half_cycle_before_it():
    """A 10-minute rest with no row until its end: the 600 s between the last charge row and
    that row belong to the rest (I = 0). Split at its midpoint, as before, they would have
    added 300 s at the charge current, 4 % of the charge."""
    data = synthetic.generate(CELL, TARGETS, rests_logged_at_end_only=True, rest_s=600.0,
                              cycler_counters=True)
    t = data.table.column("test_time_s").to_numpy()
    assert np.diff(t).max() == pytest.approx(600.0)  # the rests are single rows
    summary = run(data).summary
    assert col(summary, "complete") == [True, True, True]
    for name, target in (("charge", 120.0), ("discharge", 115.0)):
        assert col(summary, f"{name}_capacity_mah") == pytest.approx([mah(target)] * 3, rel=1e-9)
        assert col(summary, f"{name}_capacity_integral_mah") == pytest.approx([mah(target)] * 3,
                                                                              rel=1e-9)
    assert col(summary, "capacity_source") == ["counter"] * 3
    assert col(summary, "n_warnings") == [0, 0, 0]


def test_a_last_rest_row_written_long_after_the_final_discharge():
    data = synthetic.generate(CELL, TARGETS, final_rest_row_after_s=3 * 3600.0,
                              cycler_counters=True)
    summary = run(data).summary
    assert col(summary, "complete") == [True, True, True]  # the late row closes the cycle
    assert col(summary, "discharge_capacity_integral_mah")[-1] == pytest.approx(mah(115.0),
                                                                                rel=1e-9)
    assert col(summary, "discharge_capacity_mah")[-1] == pytest.approx(mah(115.0), rel=1e-9)
    assert col(summary, "n_warnings") == [0, 0, 0]


def test_a_cv_hold_whose_start_is_not_sampled_gives_the_counter_and_a_flag():
    """A 2C charge to 3.35 V, then a CV hold whose current halves every 26 s, first sampled two
    minutes after it began: the trapezoid from the CC's last row to that first CV row is far
    above the current that flowed. The capacity is the counter's; the integral beside it is
    1.5 % high, and the cycle says so."""
    targets = [CycleTarget(2.0, 120.0, 115.0, 3.1, 2.9, cv_charge_fraction=0.02,
                           cv_end_c_rate=0.05)] * 3
    data = synthetic.generate(CELL, targets, cv_first_sample_after_s=120.0, cycler_counters=True)
    summary = run(data).summary
    assert col(summary, "charge_capacity_mah") == pytest.approx([mah(120.0)] * 3, rel=1e-9)
    integral = np.array(col(summary, "charge_capacity_integral_mah"))
    assert integral / mah(120.0) - 1 == pytest.approx([0.015] * 3, abs=0.002)
    for cycle, flags in enumerate(summary_flags(summary), start=1):
        (flag,) = [f for f in flags if f["quantity"] == "capacity"]
        assert (flag["code"], flag["half"], flag["limit"]) == ("counter_integral_mismatch",
                                                               "charge", 0.005)
        assert flag["counter"] == pytest.approx(mah(120.0), rel=1e-9)
        assert flag["integral"] == pytest.approx(integral[cycle - 1])
        assert flag["value"] == pytest.approx(integral[cycle - 1] / mah(120.0) - 1)
        assert "tolerance ±0.5 %" in flag["message"]
    # the discharge was sampled fully: no flag there
    assert not [f for flags in summary_flags(summary) for f in flags if f["half"] == "discharge"]


PULSES = (Pulse(1.0, 2.0, 10.0), Pulse(-1.0, 2.0, 10.0))


@pytest.mark.parametrize("mass_mg", [0.5, 6.9, 700.0])
def test_two_second_pulses_between_cycles_are_their_own_half_cycles_whatever_the_mass(mass_mg):
    data = synthetic.generate(CELL, TARGETS, pulses_between_cycles=PULSES, cycler_counters=True)
    result = run(data, active_mass_mg=mass_mg)
    roles = list(result.cycles.role)
    assert roles.count("pulse") == 4  # two after each of the first two cycles
    pulses = np.flatnonzero(result.cycles.is_pulse)
    assert len(set(result.cycles.half_cycle[pulses])) == 4  # each its own half cycle
    assert result.cycles.half_cycle_is_pulse.sum() == 4
    assert result.steps.duration_s[pulses] == pytest.approx([2.0] * 4)
    summary = result.summary
    assert col(summary, "cycle_number") == [1, 2, 3]
    assert col(summary, "cycler_cycle_index") == [1, 2, 3]
    assert col(summary, "n_pulses") == [2, 2, 0]
    # the pulses' charge is not the cycle's
    assert col(summary, "charge_capacity_mah") == pytest.approx([mah(120.0)] * 3, rel=1e-9)
    assert col(summary, "discharge_capacity_mah") == pytest.approx([mah(115.0)] * 3, rel=1e-9)
    assert col(summary, "coulombic_efficiency") == pytest.approx([115.0 / 120.0] * 3)
    assert col(summary, "n_warnings") == [0, 0, 0]


def test_a_pulse_straight_after_a_cc_step_is_a_step_of_its_own():
    """A 2-s discharge pulse at 2C at the end of a 0.5C discharge, without a rest between: a
    new set point of the same sign."""
    data = synthetic.generate(CELL, TARGETS[:1], sample_interval_s=1.0, rest_s=60.0)
    table = data.table.to_pandas()
    discharge = table.index[table.current_ma < 0]
    tail = discharge[-3:]  # the discharge's last 3 s at 2C
    table.loc[tail, "current_ma"] *= 4.0
    result = run(synthetic.SyntheticDataset(pa.Table.from_pandas(table, preserve_index=False),
                                            CELL, tuple(TARGETS[:1])))
    assert list(result.steps.kind) == ["rest", "charge", "rest", "discharge", "discharge",
                                       "rest"]
    assert list(result.cycles.role)[3:5] == ["out", "pulse"]
    assert result.steps.mean_current_ma[4] == pytest.approx(-4 * 0.5 * CELL.one_c_current_ma)


def test_counters_one_percent_apart_from_the_integral_flag_each_cycle():
    data = synthetic.generate(CELL, TARGETS, cycler_counters=True)
    table = data.table
    for name in ("charge_capacity_mah", "discharge_capacity_mah"):
        index = table.column_names.index(name)
        table = table.set_column(index, name, pa.array(table.column(name).to_numpy() * 1.01))
    summary = analyse_cycling(table, **data.analysis_kwargs()).summary
    assert col(summary, "charge_capacity_mah") == pytest.approx([1.01 * mah(120.0)] * 3)
    for number, flags in zip(col(summary, "cycle_number"), summary_flags(summary)):
        capacity = [f for f in flags if f["quantity"] == "capacity"]
        assert [(f["code"], f["half"]) for f in capacity] == [
            ("counter_integral_mismatch", "charge"), ("counter_integral_mismatch", "discharge")]
        for flag in capacity:
            assert flag["value"] == pytest.approx(1 / 1.01 - 1)
            assert flag["counter"] == pytest.approx(1.01 * flag["integral"])
            assert f"{flag['counter']:.6g}" in flag["message"]
            assert f"{flag['integral']:.6g}" in flag["message"]
            assert "-0.99 %" in flag["message"] and "tolerance ±0.5 %" in flag["message"]
    # a stricter tolerance is a stated parameter
    assert analyse_cycling(table, counter_tolerance=0.02, **data.analysis_kwargs()).n_warnings == 0


def test_a_gap_inside_a_discharge_is_flagged_with_its_length_and_the_limit():
    data = synthetic.generate(CELL, TARGETS)
    table = data.table.to_pandas()
    discharge = table.index[(table.current_ma < 0) & (table.cycle_index == 2)]
    lost = discharge[20:45]  # 25 rows × 30 s: 13 minutes without a row
    kept = pa.Table.from_pandas(table.drop(lost), preserve_index=False)
    summary = analyse_cycling(kept, **data.analysis_kwargs()).summary
    assert codes(summary) == [[], ["time_gap"], []]
    (flag,) = summary_flags(summary)[1]
    assert flag["half"] == "discharge"
    assert flag["value"] == pytest.approx(26 * 30.0)
    assert flag["limit"] == 600.0 and flag["unit"] == "s"
    assert "no row for 780 s" in flag["message"]


def test_a_step_whose_start_was_not_logged_counts_two_sampling_intervals_and_is_flagged():
    """No row at all during a 2-h rest before the discharge: the interval before the
    discharge's first row is 2 h, of which the discharge was in only the last moments."""
    data = synthetic.generate(CELL, TARGETS, rest_s=7200.0)
    table = data.table.to_pandas()
    rest = table.index[(table.current_ma == 0) & (table.cycle_index == 2)]
    first_rest = rest[rest < table.index[(table.current_ma < 0) & (table.cycle_index == 2)][0]]
    kept = pa.Table.from_pandas(table.drop(first_rest), preserve_index=False)
    summary = analyse_cycling(kept, **data.analysis_kwargs()).summary
    assert codes(summary)[1] == ["time_gap"]
    flag = summary_flags(summary)[1][0]
    assert flag["value"] == pytest.approx(7200.0)
    assert flag["limit"] == pytest.approx(60.0)  # two 30-s sampling intervals were counted
    assert col(summary, "discharge_capacity_mah")[1] == pytest.approx(mah(115.0) + 0.5 * 60 / 3600
                                                                      * 0.95, rel=1e-3)


def test_time_going_backwards_is_flagged_and_counts_as_zero():
    data = synthetic.generate(CELL, TARGETS)
    t = data.table.column("test_time_s").to_numpy().copy()
    charge = np.flatnonzero((data.table.column("current_ma").to_numpy() > 0)
                            & (data.table.column("cycle_index").to_numpy() == 3))
    t[charge[10]] -= 45.0  # the clock went 15 s before the row before it
    table = data.table.set_column(0, "test_time_s", pa.array(t))
    summary = analyse_cycling(table, **data.analysis_kwargs()).summary
    assert codes(summary) == [[], [], ["time_backwards"]]
    (flag,) = summary_flags(summary)[2]
    assert flag["value"] == pytest.approx(15.0) and flag["unit"] == "s"


def test_a_half_cycle_that_stops_short_of_its_cut_off_without_a_step_change():
    data = synthetic.generate(CELL, TARGETS)
    table = data.table.drop(["step_index"]).to_pandas()
    discharge = table.index[(table.current_ma < 0) & (table.cycle_index == 2)]
    cut = pa.Table.from_pandas(table.drop(discharge[-15:]), preserve_index=False)
    limits = dict(lower_cutoff_v=CELL.lower_cutoff_v, upper_cutoff_v=CELL.upper_cutoff_v)
    summary = analyse_cycling(cut, **data.analysis_kwargs(), **limits).summary
    assert codes(summary) == [[], ["unexpected_end"], []]
    (flag,) = summary_flags(summary)[1]
    assert flag["half"] == "discharge" and flag["limit"] == 0.01
    assert flag["value"] > 0.05  # V short of 2.10 V
    # with the cycler's step numbers the cycler ended it by its protocol: no doubt
    with_steps = data.table.to_pandas().drop(discharge[-15:])
    steps_kept = analyse_cycling(pa.Table.from_pandas(with_steps, preserve_index=False),
                                 **data.analysis_kwargs(), **limits).summary
    assert codes(steps_kept) == [[], [], []]
    # without a cut-off to judge by, nothing is said
    assert analyse_cycling(cut, **data.analysis_kwargs()).n_warnings == 0


def test_missing_and_non_finite_values_hold_the_previous_row_and_flag_the_cycle():
    data = synthetic.generate(CELL, TARGETS)
    table = data.table.to_pandas()
    rows = table.index[(table.current_ma > 0) & (table.cycle_index == 1)]
    table.loc[rows[5], "voltage_v"] = np.inf
    table.loc[rows[6], "current_ma"] = np.nan
    summary = analyse_cycling(pa.Table.from_pandas(table, preserve_index=False),
                              **data.analysis_kwargs()).summary
    assert codes(summary) == [["missing_values"], [], []]
    assert summary_flags(summary)[0][0]["value"] == 2
    values = summary.to_pylist()[0]
    assert all(np.isfinite(v) for v in values.values() if isinstance(v, float))
    assert values["charge_capacity_mah"] == pytest.approx(mah(120.0), rel=1e-3)


def test_incomplete_cycles_say_why():
    data = synthetic.paper_full_cell()
    steps = analyse_cycling(data.table, **data.analysis_kwargs()).steps
    discharge = np.flatnonzero(steps.direction < 0)
    # from the middle of cycle 3's discharge to the middle of cycle 5's
    start = int(steps.start_row[discharge[2]] + 10)
    stop = int(steps.start_row[discharge[4]] + 10)
    summary = analyse_cycling(data.table.slice(start, stop - start), **data.analysis_kwargs()).summary
    assert col(summary, "cycle_number") == [0, 1, 2]
    messages = [[f["message"] for f in flags] for flags in summary_flags(summary)]
    assert messages[0] == ["incomplete: cycle 0 holds the end of a discharge that began before "
                           "the file (the file starts mid-cycle); its ratios are not given"]
    assert messages[1] == []
    assert messages[2] == ["incomplete: the file ends during or right after its discharge; its "
                           "ratios are not given"]


def test_a_grown_file_with_counters_pulses_and_unlogged_rests_updates_as_a_full_recompute():
    from analysis.core import cycling

    targets = [CycleTarget(0.5, 120.0, 115.0, 3.1, 2.95, cv_charge_fraction=0.05)] * 8
    data = synthetic.generate(CELL, targets, cycler_counters=True, pulses_between_cycles=PULSES,
                              rests_logged_at_end_only=True)
    kwargs = data.analysis_kwargs()
    full = analyse_cycling(data.table, **kwargs).summary
    rows = data.table.num_rows
    for stop in np.linspace(rows // 10, rows, 12).astype(int):
        previous = analyse_cycling(data.table.slice(0, int(stop)), **kwargs).summary
        assert cycling.update_summary(previous, data.table, **kwargs).equals(full), f"{stop} rows"
