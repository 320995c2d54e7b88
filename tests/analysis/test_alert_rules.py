"""The rules that watch a running test (analysis.core.alerts), on hand-worked cycle tables and on
synthetic cells read through the cycling pipeline."""
import math

import pytest

from analysis.core import alerts, cycling, synthetic
from analysis.core.alerts import WatchRules


def table(**columns):
    """A cycle table: cycles 1..n, complete unless said otherwise."""
    n = len(next(iter(columns.values())))
    return {"cycle_number": list(range(1, n + 1)), "complete": columns.pop("complete", [True] * n), **columns}


# -- coulombic efficiency -----------------------------------------------------------------------

def test_efficiency_below_the_floor_is_found_where_each_episode_starts():
    # Cycles 1-2 are formation (95.2 %, 99.0 %) and not watched. Below 98 %: cycles 5, 6 (one
    # episode, from 5) and 8 (a second one: cycle 7 was back at 98.5 %). Cycle 9 is running.
    ce = [0.952, 0.990, 0.995, 0.990, 0.975, 0.970, 0.985, 0.979, None]
    findings = alerts.low_efficiency(table(coulombic_efficiency=ce, complete=[True] * 8 + [False]))
    assert [(f.cycle, f.value) for f in findings] == [(5, 0.975), (8, 0.979)]
    first = findings[0]
    assert first.rule == "low_efficiency" and first.threshold == 0.98 and first.unit == "fraction"
    assert first.message == "Coulombic efficiency fell to 97.5 % in cycle 5, below 98.0 %."
    assert first.params == {"efficiency_floor": 0.98, "formation_cycles": 2}
    assert first.definition.startswith("Coulombic efficiency (out ÷ in)")


def test_formation_cycles_and_the_floor_are_the_projects_to_set():
    ce = [0.952, 0.990, 0.995, 0.990, 0.975]
    assert [f.cycle for f in alerts.low_efficiency(table(coulombic_efficiency=ce), WatchRules(formation_cycles=0))] \
        == [1, 5]
    assert alerts.low_efficiency(table(coulombic_efficiency=ce), WatchRules(efficiency_floor=0.97)) == []
    assert alerts.low_efficiency(table(coulombic_efficiency=ce), WatchRules(efficiency_floor=None)) == []


# -- voltage collapse ---------------------------------------------------------------------------

def test_a_running_cycle_whose_voltage_falls_through_the_cut_off_looks_like_a_short():
    # A NaCrO2 half cell (2.10-3.35 V): the lowest voltage of cycles 2-6 has a median of 2.10 V;
    # the running cycle 7 fell to 0.03 V, 2.07 V below it (more than 0.5 V).
    lowest = [2.10, 2.10, 2.11, 2.10, 2.09, 2.10, 0.03]
    ends = [3.35] * 6 + [0.03]
    findings = alerts.voltage_collapse(table(min_voltage_v=lowest, charge_end_voltage_v=ends,
                                             complete=[True] * 6 + [False]))
    assert len(findings) == 1
    found = findings[0]
    assert (found.rule, found.cycle, found.value) == ("voltage_collapse", 7, 0.03)
    assert found.threshold == pytest.approx(2.10 - 0.5)
    assert found.details["baseline_cycles"] == [2, 6] and found.details["drop_v"] == pytest.approx(2.07)
    assert found.message == ("The voltage collapsed in cycle 7 (still running): its lowest voltage was 0.03 V, "
                             "2.07 V below the 2.10 V of cycles 2–6; this looks like a short.")


def test_a_sn_half_cells_charge_that_ends_far_below_the_others_is_a_collapse():
    # A Sn half cell (0.01-2.00 V) bottoms out at its cut-off whatever happens, so its lowest
    # voltage cannot fall 0.5 V; its charge (desodiation) ending at 0.61 V instead of 2.00 V can.
    lowest = [0.01, 0.01, 0.01, 0.01, 0.01]
    ends = [2.00, 2.00, 2.00, 0.61, 0.58]
    findings = alerts.voltage_collapse(table(min_voltage_v=lowest, charge_end_voltage_v=ends))
    assert [(f.cycle, f.value, f.details["measure"]) for f in findings] == [(4, 0.61, "charge-end voltage")]
    assert findings[0].details["drop_v"] == pytest.approx(1.39)
    # cycle 5 continues the same collapse: one episode, one finding
    assert "its charge ended at 0.61 V, 1.39 V below the 2.00 V of cycles 1–3" in findings[0].message


def test_a_charge_still_under_way_a_lower_cut_off_and_the_first_cycle_are_not_collapses():
    lowest = [2.10, 2.10, 2.10, 2.10]
    # cycle 3's protocol lowered the upper cut-off to 3.15 V (0.2 V): not a collapse; cycle 4 is
    # a charge under way at 2.9 V (incomplete): not judged on its charge end.
    ends = [3.35, 3.35, 3.15, 2.90]
    assert alerts.voltage_collapse(table(min_voltage_v=lowest, charge_end_voltage_v=ends,
                                         complete=[True, True, True, False])) == []
    # nothing to compare the first cycle with
    assert alerts.voltage_collapse(table(min_voltage_v=[0.02], charge_end_voltage_v=[0.02])) == []
    assert alerts.voltage_collapse(table(min_voltage_v=[2.1, 1.7], charge_end_voltage_v=[3.35, 3.35])) == []
    assert [f.cycle for f in alerts.voltage_collapse(table(min_voltage_v=[2.1, 1.7], charge_end_voltage_v=[3.35, 3.35]),
                                                     WatchRules(collapse_drop_v=0.3))] == [2]


# -- retention ----------------------------------------------------------------------------------

def test_retention_below_80_percent_is_against_the_first_cycle_at_the_same_rate():
    # 2 cycles at 0.1C, then 0.5C from cycle 3 (110 mAh, the reference): R = 1, .909, .818, .800,
    # .795, .782, .818, .773. Cycle 6 at exactly 80 % is not below; 7 is (87.5 / 110 = 79.5 %);
    # cycle 9 is back above (90 / 110), and 10 falls again (85 / 110 = 77.3 %).
    discharge = [118.0, 117.6, 110.0, 100.0, 90.0, 88.0, 87.5, 86.0, 90.0, 85.0]
    rates = [0.1, 0.1] + [0.5] * 8
    findings = alerts.retention_below(table(discharge_capacity_mah=discharge, discharge_c_rate=rates))
    assert [(f.cycle, round(f.value, 5)) for f in findings] == [(7, round(87.5 / 110, 5)), (10, round(85 / 110, 5))]
    assert findings[0].details == {"ref_cycle": 3, "c_rate": 0.5, "capacity_mah": 87.5,
                                   "reference_capacity_mah": 110.0, "retention": 87.5 / 110}
    assert findings[0].message == ("Retention fell below 80.0 % in cycle 7: 79.5 % of the discharge capacity "
                                   "of cycle 3, the first at 0.5C.")


def test_a_rate_test_is_not_a_loss_of_retention():
    # The paper's 95:2:3 rate test keeps 57.5 % at 5C: each rate is against its own first cycle.
    data = synthetic.paper_nacro2_rate_test("95:2:3")
    summary = cycling.analyse_cycling(data.table, **data.analysis_kwargs()).summary
    assert alerts.retention_below(summary) == []


def test_the_full_cells_fade_crosses_80_percent_where_the_table_says():
    data = synthetic.paper_full_cell()
    summary = cycling.analyse_cycling(data.table, **data.analysis_kwargs()).summary
    findings = alerts.retention_below(summary)
    assert len(findings) == 1
    rows = {row["cycle_number"]: row for row in summary.to_pylist()}
    crossed = findings[0].cycle
    reference = rows[3]["discharge_capacity_mah"]
    assert rows[crossed]["discharge_capacity_mah"] / reference < 0.8 <= rows[crossed - 1]["discharge_capacity_mah"] / reference


# -- no new data --------------------------------------------------------------------------------

def test_silence_longer_than_the_limit():
    found = alerts.check_silence(7.5)
    assert (found.rule, found.cycle, found.value, found.threshold, found.unit) == ("no_new_data", None, 7.5, 6.0, "h")
    assert found.message == "No new data for 7.5 h, more than the 6 h allowed."
    assert alerts.check_silence(6.0) is None
    assert alerts.check_silence(30.0, WatchRules(silence_h=None)) is None
    with pytest.raises(ValueError, match="hours_since_last_data"):
        alerts.check_silence(-1.0)


def test_rules_name_the_setting_that_cannot_be():
    with pytest.raises(ValueError, match="efficiency_floor must be a fraction"):
        WatchRules(efficiency_floor=98)
    with pytest.raises(ValueError, match="collapse_drop_v must be > 0"):
        WatchRules(collapse_drop_v=0)
    with pytest.raises(ValueError, match="formation_cycles"):
        WatchRules(formation_cycles=-1)
    with pytest.raises(ValueError, match="silence_h"):
        WatchRules(silence_h=math.nan)


# -- synthetic cells through the pipeline --------------------------------------------------------

def test_a_cell_whose_efficiency_drops_is_found_at_the_cycle_it_drops():
    data = synthetic.nacro2_efficiency_drop(cycles_at_05c=20, drop_from_cycle=15, efficiency_after=0.965)
    summary = cycling.analyse_cycling(data.table, **data.analysis_kwargs()).summary
    findings = alerts.check_cycles(summary)
    assert [(f.rule, f.cycle) for f in findings] == [("low_efficiency", 15)]
    assert findings[0].value == pytest.approx(0.965, abs=1e-6)


def test_a_cell_that_shorts_is_found_in_its_running_cycle():
    data = synthetic.nacro2_short(cycles_at_05c=6, shorted_v=0.05)
    summary = cycling.analyse_cycling(data.table, **data.analysis_kwargs()).summary
    findings = alerts.check_cycles(summary)
    assert [(f.rule, f.cycle) for f in findings] == [("voltage_collapse", 9)]
    assert findings[0].value == pytest.approx(0.05) and "(still running)" in findings[0].message


def test_the_papers_healthy_cells_raise_nothing():
    for make in (lambda: synthetic.paper_nacro2_long_term(70.0), lambda: synthetic.paper_nacro2_long_term(3.0),
                 synthetic.paper_sn_half_cell, lambda: synthetic.paper_nacro2_rate_test("97:1:2")):
        data = make()
        summary = cycling.analyse_cycling(data.table, **data.analysis_kwargs()).summary
        assert alerts.check_cycles(summary) == [], data.cell.name


def test_findings_are_json_safe_with_their_definition():
    found = alerts.check_silence(7.5).to_dict()
    assert found["definition"].startswith("No new data") and found["version"] == alerts.VERSION
    assert found["params"] == {"silence_h": 6.0}
