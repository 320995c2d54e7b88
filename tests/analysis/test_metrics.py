"""Cell metrics (analysis.core.metrics): hand-worked summaries, and the paper's numbers from the
synthetic paper cells through the whole pipeline (generate → detect_steps → assign_cycles →
summarise_cycles → metrics)."""
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis.core import cycling, metrics, synthetic


def pct(value):
    return round(100.0 * value, 1)


def hand_summary(discharge, *, charge=None, c_rate=None, first_half_cycle="charge",
                 complete=None, cycles=None, energy=None):
    """A minimal summary table (1 g of active material, so mAh/g = mAh)."""
    n = len(discharge)
    charge = charge or [d / 0.99 for d in discharge]
    c_rate = c_rate or [0.5] * n
    columns = {
        "cycle_number": cycles or list(range(1, n + 1)),
        "complete": complete or [True] * n,
        "charge_capacity_mah": charge, "discharge_capacity_mah": discharge,
        "charge_specific_capacity_mah_g": charge, "discharge_specific_capacity_mah_g": discharge,
        "charge_c_rate": c_rate, "discharge_c_rate": c_rate,
        "charge_energy_mwh": [3.0 * q for q in charge],
        "discharge_energy_mwh": energy or [2.9 * q for q in discharge],
    }
    meta = {"first_half_cycle": first_half_cycle, "params": {"reference_capacity_mah_g": 120.0}}
    return pa.table(columns).replace_schema_metadata(
        {cycling.METADATA_KEY: json.dumps(meta).encode()})


# --------------------------------------------------------------------------------------------
# hand-worked
# --------------------------------------------------------------------------------------------

def test_cycles_to_80_percent_is_interpolated_by_hand():
    # R = 1.00 0.95 0.90 0.85 0.78 0.70: first below 0.8 is cycle 5;
    # n* = 4 + (0.85 − 0.80) / (0.85 − 0.78) × (5 − 4) = 4.714285...
    result = metrics.cycles_to_threshold(hand_summary([100, 95, 90, 85, 78, 70]))
    assert result.value == pytest.approx(4 + 0.05 / 0.07)
    assert result.details["first_cycle_below"] == 5
    assert result.details["cycles_after_reference"] == pytest.approx(3 + 0.05 / 0.07)
    assert result.params["ref_cycle"] == 1
    assert metrics.cycles_to_threshold(hand_summary([100, 95, 90, 85, 78, 70]),
                                       0.9).value == pytest.approx(3.0)


def test_cycles_to_80_percent_not_reached():
    result = metrics.cycles_to_threshold(hand_summary([100, 95, 90, 85, 81]))
    assert result.value is None
    assert result.details["status"] == "not reached"
    assert result.details["last_retention"] == pytest.approx(0.81)


def test_cycles_to_80_percent_counts_only_cycles_at_the_reference_rate():
    # two formation cycles at 0.1C, 0.5C cycling with a 0.1C check-up at cycle 7
    discharge = [120, 119, 100, 92, 86, 82, 95, 78]
    rates = [0.1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.1, 0.5]
    result = metrics.cycles_to_threshold(hand_summary(discharge, c_rate=rates))
    assert result.params["ref_cycle"] == 3
    # between cycle 6 (R 0.82) and cycle 8 (R 0.78): 6 + 0.02 / 0.04 × 2 = 7.0
    assert result.value == pytest.approx(7.0)


def test_retention_is_against_the_first_cycle_at_the_same_rate():
    summary = hand_summary([118.0, 117.6, 110.0, 108.0, 105.16], c_rate=[0.1, 0.1, 0.5, 0.5, 0.5])
    result = metrics.retention(summary)
    assert result.params["cycle"] == 5 and result.params["ref_cycle"] == 3
    assert result.value == pytest.approx(105.16 / 110.0)
    assert pct(result.value) == 95.6
    assert result.details["cycles_after_reference"] == 2
    assert metrics.retention(summary, 4).value == pytest.approx(108.0 / 110.0)
    assert metrics.retention(summary, reference="first").value == pytest.approx(105.16 / 118.0)
    assert metrics.retention(summary, ref_cycle=4).value == pytest.approx(105.16 / 108.0)
    missing = metrics.retention(summary, 9)
    assert missing.value is None and "9" in missing.details["reason"]


def test_fade_rate_by_hand():
    summary = hand_summary([120, 119, 100, 99, 98, 97, 96], c_rate=[0.1, 0.1] + [0.5] * 5)
    result = metrics.fade_rate(summary)
    # (1 − 0.96) / (7 − 3) × 100 = 1 %/cycle; linear data: the OLS slope agrees
    assert result.value == pytest.approx(1.0)
    assert result.unit == "%/cycle"
    assert result.params["ref_cycle"] == 3 and result.params["cycle"] == 7
    assert result.details["ols_pct_per_cycle"] == pytest.approx(1.0)
    assert result.details["geometric_pct_per_cycle"] == pytest.approx(
        (1 - 0.96 ** 0.25) * 100)
    assert result.details["n_points"] == 5


def test_loading_check_both_ways():
    def check(capacity):
        return metrics.loading_check(hand_summary([capacity, capacity]), 120.0)

    ok = check(118.0)
    assert ok.value == "ok" and ok.details["deviation"] == pytest.approx(-2 / 120)
    assert ok.details["verdict"] == "ok"
    low = check(112.0)
    assert low.value == "suspect" and low.details["deviation"] == pytest.approx(-8 / 120)
    high = check(126.5)
    assert high.value == "suspect" and high.details["deviation"] == pytest.approx(6.5 / 120)
    assert check(125.9).value == "ok"
    assert check(114.1).value == "ok"
    assert metrics.loading_check(hand_summary([118.0], complete=[False]), 120.0).value == \
        "unknown"


def test_loading_check_of_a_sn_half_cell_is_on_its_sodiation_and_only_against_the_labs_reference():
    from analysis.core.definitions import loading_reference

    summary = hand_summary([752.0], charge=[634.0], first_half_cycle="discharge")
    assert metrics.loading_check(summary, 752.0).value == "ok"  # the discharge: sodiation
    assert metrics.loading_check(summary, 634.0).value == "suspect"
    assert metrics.loading_check(summary, 634.0, half="charge").value == "ok"
    assert metrics.first_cycle_efficiency(summary).value == pytest.approx(634.0 / 752.0)
    # the lab's rule: no reference for Sn half cells unless the lab sets one; Sn's 847 mAh/g is
    # the theoretical capacity, not a practical reference
    none = loading_reference("anode_half", material_reference_mah_g=847.0, material="Sn")
    check = metrics.cell_metrics(summary, cell_kind="anode_half", loading_reference=none)
    assert check["loading_check"].value == "not checked"
    assert check["loading_check"].details["reason"] == (
        "not checked: no loading reference is set for Sn half cells (a lab manager can set one "
        "per kind of cell)")
    lab = loading_reference("anode_half", material_reference_mah_g=847.0,
                            lab_reference_mah_g=740.0)
    checked = metrics.cell_metrics(summary, cell_kind="anode_half", loading_reference=lab)
    assert checked["loading_check"].value == "ok"
    assert "the lab's reference for Sn half cells" in checked["loading_check"].details["reason"]
    # a cathode half cell is checked against its material's practical reference
    nco = loading_reference("cathode_half", material_reference_mah_g=120.0, material="NaCrO2")
    cathode = metrics.cell_metrics(hand_summary([118.0]), cell_kind="cathode_half",
                                   loading_reference=nco)["loading_check"]
    assert cathode.value == "ok"
    assert cathode.details["reason"] == ("initial discharge capacity 118.0 mAh/g is -1.7 % from "
                                         "120 mAh/g (the practical reference capacity of "
                                         "NaCrO2); tolerance ±5 %")


def test_c_rates_snap_to_the_nearest_nominal_rate_within_the_tolerance():
    snapped = metrics.snap_c_rates([0.098, 0.21, 0.47, 1.1, 4.6, 0.3, 0.0, math.nan],
                                   nominal_rates=(0.1, 0.2, 0.5, 1, 2, 5))
    np.testing.assert_array_equal(snapped[:5], [0.1, 0.2, 0.5, 1.0, 5.0])
    assert np.isnan(snapped[5:]).all()


def test_c_rate_groups_give_the_protocol_blocks():
    summary = hand_summary([1] * 7, c_rate=[0.1, 0.1, 0.52, 0.49, 0.5, 0.1, 0.1])
    result = metrics.c_rate_groups(summary)
    assert result.value == [
        {"c_rate": 0.1, "first_cycle": 1, "last_cycle": 2, "n_cycles": 2},
        {"c_rate": 0.5, "first_cycle": 3, "last_cycle": 5, "n_cycles": 3},
        {"c_rate": 0.1, "first_cycle": 6, "last_cycle": 7, "n_cycles": 2},
    ]
    assert result.details["per_cycle"][4] == 0.5


def test_rate_capability_by_hand_with_and_without_the_first_cycle_after_a_rate_change():
    summary = hand_summary([120, 118, 118, 100, 95, 95, 70, 60, 60],
                           c_rate=[0.1] * 3 + [1.0] * 3 + [5.0] * 3)
    table = {row["c_rate"]: row for row in metrics.rate_capability(summary).value}
    assert table[0.1]["mean_specific_capacity_mah_g"] == pytest.approx(356 / 3)
    assert table[1.0]["relative_to_reference"] == pytest.approx((290 / 3) / (356 / 3))
    assert table[5.0]["relative_to_reference"] == pytest.approx(190 / 356)
    skipped = {row["c_rate"]: row for row in metrics.rate_capability(
        summary, skip_first_after_change=True).value}
    assert skipped[5.0]["relative_to_reference"] == pytest.approx(60 / 118)
    assert skipped[5.0]["cycles"] == [8, 9]
    assert table[1.0]["n_cycles"] == 3 and skipped[1.0]["n_cycles"] == 2


def test_specific_energy_on_both_bases_by_hand():
    summary = hand_summary([1.0, 1.0], energy=[2.0, 1.8])
    results = metrics.specific_energies(summary, cathode_active_mass_mg=7.0,
                                        positive_composite_mass_mg=7.2,
                                        negative_composite_mass_mg=1.8)
    cathode = results["cathode_active_material"]
    assert cathode.value == pytest.approx(2.0 / 7.0 * 1000)  # mWh/mg × 1000 = Wh/kg
    assert cathode.params["basis"] == "cathode_active_material"
    both = results["both_electrode_composites"]
    assert both.value == pytest.approx(2.0 / 9.0 * 1000)
    assert both.params["mass_mg"] == pytest.approx(9.0)
    assert metrics.specific_energy(summary, 7.0, basis="x", cycle=2).value == \
        pytest.approx(1.8 / 7.0 * 1000)


def test_incomplete_cycles_and_cycle_0_are_left_out():
    summary = hand_summary([50.0, 100.0, 99.0, 40.0], charge=[0.0, 105.0, 100.0, 101.0],
                           cycles=[0, 1, 2, 3], complete=[False, True, True, False])
    assert metrics.first_cycle_efficiency(summary).value == pytest.approx(100.0 / 105.0)
    assert metrics.retention(summary).params["cycle"] == 2
    assert metrics.coulombic_efficiency(summary, 3).value is None


def test_results_record_their_method_and_are_json_safe():
    summary = hand_summary([100, 95, 90, 85, 81])
    everything = metrics.cell_metrics(summary, cathode_active_mass_mg=7.0)
    text = json.dumps({name: result.to_dict() for name, result in everything.items()},
                      allow_nan=False)
    loaded = json.loads(text)
    assert loaded["cycles_to_threshold"]["value"] is None
    assert loaded["retention"]["params"]["ref_cycle"] == 1
    assert loaded["loading_check"]["params"]["reference_capacity_mah_g"] == 120.0
    assert "R_N" in loaded["retention"]["definition"]
    assert loaded["retention"]["version"] == metrics.VERSION
    odd = metrics.MetricResult("x", math.nan, "", "", {"a": np.float64(math.inf)},
                               {"b": [math.nan]})
    assert json.loads(json.dumps(odd.to_dict(), allow_nan=False))["details"] == {"b": [None]}


# --------------------------------------------------------------------------------------------
# the paper's numbers, from the synthetic cells through the whole pipeline
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper():
    out = {}
    for name, make in synthetic.PAPER_DATASETS.items():
        data = make()
        t, i, v = (data.table.column(c).to_numpy() for c in ("test_time_s", "current_ma",
                                                               "voltage_v"))
        steps = cycling.detect_steps(t, i, v)
        cycles = cycling.assign_cycles(steps, data.cell.first_half_cycle)
        summary = cycling.summarise_cycles(
            data.table, steps, cycles, active_mass_mg=data.cell.active_mass_mg,
            electrode_area_cm2=data.cell.electrode_area_cm2,
            reference_capacity_mah_g=data.cell.reference_capacity_mah_g,
            first_half_cycle=data.cell.first_half_cycle)
        out[name] = (data, summary)
    return out


def test_nacro2_first_cycle_efficiency_and_loading(paper):
    _data, summary = paper["nacro2_long_term_70mpa"]
    assert pct(metrics.first_cycle_efficiency(summary).value) == 95.2
    assert pct(metrics.coulombic_efficiency(summary, 2).value) == 99.0
    initial = metrics.initial_specific_discharge_capacity(summary).value
    assert round(initial) == 118
    check = metrics.loading_check(summary, synthetic.NACRO2_REFERENCE_MAH_G)
    assert check.value == "ok" and pct(check.details["deviation"]) == -1.7


def test_nacro2_retention_after_100_cycles_at_half_c_against_the_first_half_c_cycle(paper):
    _data, summary = paper["nacro2_long_term_70mpa"]
    result = metrics.retention(summary)
    assert result.params["cycle"] == 102 and result.params["ref_cycle"] == 3
    assert result.details["reference_c_rate"] == 0.5
    assert pct(result.value) == 95.6
    assert pct(metrics.retention(summary, 102).value) == 95.6
    # against cycle 1 (0.1C) it would be another number
    assert pct(metrics.retention(summary, reference="first").value) != 95.6
    fade = metrics.fade_rate(summary)
    assert fade.value == pytest.approx((1 - 0.956) / 99 * 100, rel=1e-9)
    assert metrics.cycles_to_threshold(summary).details["status"] == "not reached"
    _data, low_pressure = paper["nacro2_long_term_3mpa"]
    assert pct(metrics.retention(low_pressure).value) == 85.9


@pytest.mark.parametrize("name, at_5c", [("nacro2_rate_95_2_3", 57.5),
                                         ("nacro2_rate_97_1_2", 67.4)])
def test_nacro2_rate_capability_at_5c(paper, name, at_5c):
    _data, summary = paper[name]
    groups = metrics.c_rate_groups(summary).value
    assert [g["c_rate"] for g in groups] == [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 0.1]
    for skip in (False, True):
        rows = {row["c_rate"]: row for row in metrics.rate_capability(
            summary, skip_first_after_change=skip).value}
        assert pct(rows[5.0]["relative_to_reference"]) == at_5c
        assert rows[0.1]["relative_to_reference"] == 1.0
    # 5C at 7.7 mg/cm² is the paper's ~4.5 mA/cm²
    if name == "nacro2_rate_97_1_2":
        density = summary.column("discharge_current_density_ma_cm2").to_pylist()[-4]
        assert round(density, 1) == 4.6


def test_full_cell_energy_efficiency_and_specific_energies(paper):
    data, summary = paper["full_cell"]
    assert pct(metrics.first_cycle_efficiency(summary).value) == 72.2
    assert pct(metrics.coulombic_efficiency(summary, 2).value) == 95.8
    assert pct(metrics.energy_efficiency(summary, 2).value) == 84.9
    energies = metrics.specific_energies(
        summary, cathode_active_mass_mg=data.cell.active_mass_mg,
        positive_composite_mass_mg=data.cell.positive_composite_mass_mg,
        negative_composite_mass_mg=data.cell.negative_composite_mass_mg)
    assert round(energies["cathode_active_material"].value) == 282
    assert round(energies["both_electrode_composites"].value) == 222
    assert energies["both_electrode_composites"].params["basis"] == "both_electrode_composites"
    assert round(metrics.initial_specific_discharge_capacity(summary).value) == 110
    retention = metrics.retention(summary)
    assert (retention.params["cycle"], retention.params["ref_cycle"]) == (52, 3)
    assert pct(retention.value) == 47.4


def test_sn_half_cell_efficiency_is_desodiation_over_sodiation(paper):
    _data, summary = paper["sn_half_cell"]
    first = metrics.first_cycle_efficiency(summary)
    assert pct(first.value) == 84.3
    assert first.details["in_capacity_mah"] == pytest.approx(
        summary.column("discharge_capacity_mah")[0].as_py())  # sodiation is the "in"
    assert pct(metrics.coulombic_efficiency(summary, 2).value) == 97.0
    retention = metrics.retention(summary)
    assert retention.details["column"] == "discharge_capacity_mah"  # sodiation
    assert pct(retention.value) == 92.1


def test_sn_half_cell_retention_is_on_sodiation_with_desodiation_beside_it(paper):
    _data, summary = paper["sn_half_cell"]
    everything = metrics.cell_metrics(summary, cell_kind="anode_half")
    assert pct(everything["retention"].value) == 92.1
    assert everything["retention"].params["basis"] == "sodiation"
    assert everything["retention"].details["column"] == "discharge_capacity_mah"
    other = everything["retention_on_desodiation"]
    assert pct(other.value) == 93.2 and other.params["basis"] == "desodiation"
    assert other.details["column"] == "charge_capacity_mah"
    assert everything["rate_capability"].params["basis"] == "sodiation"
    assert everything["rate_capability_on_desodiation"].params["half"] == "charge"
    assert round(everything["initial_specific_discharge_capacity"].value) == 745  # sodiation


def test_metrics_from_database_rows_need_the_direction_of_the_cycles(paper):
    _data, summary = paper["sn_half_cell"]
    rows = summary.to_pylist()  # what comes back from PostgreSQL: no Arrow metadata
    from_rows = metrics.first_cycle_efficiency(rows, first_half_cycle="discharge")
    assert from_rows.value == metrics.first_cycle_efficiency(summary).value
    assert pct(from_rows.value) == 84.3
    # without the direction the rows are read as a charge-first cell
    assert pct(metrics.first_cycle_efficiency(rows).value) != 84.3
    everything = metrics.cell_metrics(rows, first_half_cycle="discharge",
                                      reference_capacity_mah_g=750.0)
    assert pct(everything["retention"].value) == 92.1
    # sodiation of cycle 1: 745.0 mAh/g, −0.7 % from a 750 mAh/g reference
    assert everything["loading_check"].value == "ok"
    assert pct(everything["loading_check"].details["deviation"]) == -0.7
    frame = pd.DataFrame(rows)
    assert metrics.retention(frame, first_half_cycle="discharge").value == pytest.approx(
        everything["retention"].value)
    columns = {name: [row[name] for row in rows] for name in rows[0]}  # None for nulls
    assert metrics.cell_metrics(columns, first_half_cycle="discharge")[
        "second_cycle_efficiency"].value == pytest.approx(0.970)


def test_cell_metrics_for_the_full_cell(paper):
    data, summary = paper["full_cell"]
    everything = metrics.cell_metrics(
        summary, cathode_active_mass_mg=data.cell.active_mass_mg,
        positive_composite_mass_mg=data.cell.positive_composite_mass_mg,
        negative_composite_mass_mg=data.cell.negative_composite_mass_mg)
    assert pct(everything["first_cycle_efficiency"].value) == 72.2
    assert pct(everything["second_cycle_efficiency"].value) == 95.8
    assert round(everything["specific_energy_cathode_active_material"].value) == 282
    assert round(everything["specific_energy_both_electrode_composites"].value) == 222
    assert everything["loading_check"].value == "suspect"  # 110 vs 120 mAh/g: −8.3 %
    # 80 % of the first 0.2C cycle is crossed during the fast early fade
    assert 3 < everything["cycles_to_threshold"].value < 20
    json.dumps({name: result.to_dict() for name, result in everything.items()}, allow_nan=False)
