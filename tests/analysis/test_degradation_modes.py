"""Degradation modes and the diagnosis (analysis.core.electrodes.dma, .diagnosis) on synthetic
three-electrode cells with known, injected degradation: each run is written as an EC-Lab export,
read back with the project's reader and cut into half cycles by the cycling segmentation, the
way a cycler's file goes; the electrodes' references come from synthetic half-cell exports."""
import numpy as np
import pytest

from analysis.core import synthetic_three_electrode as s3
from analysis.core.electrodes.cycles import electrode_cycle_table
from analysis.core.electrodes.diagnosis import diagnose
from analysis.core.electrodes.dma import (FIT_COLUMNS, MODE_COLUMNS, ReferenceCurve,
                                          degradation_modes, fit_branch,
                                          reference_from_half_cell)
from analysis.core.electrodes.three_electrode import table_metadata
from tests.analysis.electrode_cells import (column, half_cycles, limiting_truth, read_run,
                                            references, write)

MODES = ("loss_of_sodium_inventory", "loss_of_positive_active_material",
         "loss_of_negative_active_material")
D = s3.Degradation
SCENARIOS = {
    "sodium_loss": D(sodium_loss_fraction=0.01),
    "positive_loss": D(positive_loss_per_cycle=0.006),
    "negative_loss": D(negative_loss_per_cycle=0.012),
    "together": D(sodium_loss_fraction=0.01, positive_loss_per_cycle=0.006,
                  negative_loss_per_cycle=0.012),
    # so much Sn lost that it fills up on charge: the charge ends at the Sn from some cycle on
    "negative_fills_up": D(negative_loss_per_cycle=0.03),
    "resistive_negative": D(negative_resistance_growth_per_cycle=0.15),
    "sodium_loss_resistive_positive": D(sodium_loss_fraction=0.01,
                                        positive_resistance_growth_per_cycle=0.10),
}
N_CYCLES = 12
NOISE_V = 0.001  # 1 mV σ on each electrode's recorded potential


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("three_electrode")


@pytest.fixture(scope="module")
def refs(folder):
    return references(folder)


@pytest.fixture(scope="module")
def analysed(folder, refs):
    """scenario → (simulation, data, half cycles, electrode table, modes, diagnosis)."""
    cache = {}

    def get(name):
        if name not in cache:
            sim = s3.simulate(degradation=SCENARIOS[name], n_cycles=N_CYCLES,
                              potential_noise_v=NOISE_V, seed=7)
            data, halves, _ = read_run(write(folder, f"{name}.mpt", sim.to_mpt()))
            table = electrode_cycle_table(data, halves)
            modes = degradation_modes(data, halves, positive_reference=refs["positive"],
                                      negative_reference=refs["negative"])
            cache[name] = (sim, data, halves, table, modes, diagnose(table, modes, check=data.check))
        return cache[name]
    return get


def mode_errors_pp(sim, modes):
    """Largest |fitted − injected| over the cycles, in percentage points, per mode."""
    return {name: 100 * float(np.max(np.abs(column(modes.modes, name) - column(sim.truth, name))))
            for name in MODES}


@pytest.mark.parametrize("scenario", ["sodium_loss", "positive_loss", "negative_loss", "together",
                                      "negative_fills_up"])
def test_injected_modes_come_back_within_one_point(analysed, scenario):
    sim, _data, _halves, _table, modes, _diagnosis = analysed(scenario)
    assert modes.status == "computed" and modes.messages == ()
    assert modes.modes.num_rows == N_CYCLES and modes.reference_cycle == 1
    errors = mode_errors_pp(sim, modes)
    assert max(errors.values()) < 1.0, errors
    # the fits follow the curves to the noise
    assert (column(modes.fits, "status") == "fitted").all()
    assert np.nanmax(column(modes.modes, "largest_rmse_v")) < 2 * NOISE_V


@pytest.mark.parametrize("scenario, dominant, total", [
    ("sodium_loss", "loss_of_sodium_inventory", 0.100),
    ("positive_loss", "loss_of_positive_active_material", 0.066),
    ("negative_loss", "loss_of_negative_active_material", 0.132),
    ("together", "loss_of_negative_active_material", 0.132),
])
def test_the_diagnosis_names_the_dominant_mode_with_its_size(analysed, scenario, dominant, total):
    sim, _data, _halves, _table, _modes, diagnosis = analysed(scenario)
    assert diagnosis.modes["dominant"] == dominant
    info = diagnosis.modes["modes"][dominant]
    assert info["total"] == pytest.approx(column(sim.truth, dominant)[-1], abs=0.01)
    assert info["total"] == pytest.approx(total, abs=0.01)
    assert info["per_cycle"] == pytest.approx(info["total"] / (N_CYCLES - 1))
    assert len(info["series"]) == N_CYCLES
    assert f"{100 * info['total']:.1f} % by cycle {N_CYCLES}" in diagnosis.sentence


def test_sodium_loss_at_the_anode_is_the_papers_diagnosis(analysed):
    """Sodium lost at the Sn on every charge, no resistance growth: 'anode-driven sodium loss',
    NaCrO2 cycling in a narrower sodium range, no overpotential build-up."""
    sim, _data, _halves, _table, modes, diagnosis = analysed("sodium_loss")
    assert diagnosis.sodium_loss["electrode"] == "negative"
    assert diagnosis.sodium_loss["fractions_of_charge"]["negative"] == pytest.approx(0.01, abs=0.002)
    assert abs(diagnosis.sodium_loss["fractions_of_charge"]["positive"]) < 0.002
    assert diagnosis.sentence.startswith("Anode-driven sodium loss (at the Sn, 1.0 % of each charge) "
                                         "drives the fade: loss of sodium inventory 10.")
    assert "no overpotential build-up" in diagnosis.sentence
    assert "charge ends at the positive (NaCrO2)" in diagnosis.sentence
    assert "discharge ends at the negative (Sn)" in diagnosis.sentence
    # the NaCrO2 window narrows at its sodiated end while its capacity holds
    fill = column(modes.modes, "positive_fill_end_of_discharge")
    np.testing.assert_allclose(fill, column(sim.truth, "positive_fill_end_of_discharge"), atol=0.005)
    assert fill[0] - fill[-1] > 0.08
    assert abs(column(modes.modes, "loss_of_positive_active_material")[-1]) < 0.005


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_limiting_electrode_is_the_models(analysed, scenario):
    sim, _data, _halves, table, _modes, diagnosis = analysed(scenario)
    positive = column(table, "electrode") == "positive"
    for direction in ("charge", "discharge"):
        truth = [limiting_truth(s) for s in column(sim.truth, f"{direction}_positive_share")]
        found = ["positive" if t else "negative"
                 for t in column(table, f"{direction}_terminating")[positive]]
        decided = [(t, f) for t, f in zip(truth, found) if t is not None]
        assert decided and all(t == f for t, f in decided), (direction, truth, found)
        last = diagnosis.limiting[direction]
        if truth[-1] is not None:
            assert last["electrode"] == truth[-1]


def test_a_filling_negative_takes_over_the_end_of_charge(analysed):
    sim, _data, _halves, _table, _modes, diagnosis = analysed("negative_fills_up")
    truth = [limiting_truth(s) for s in column(sim.truth, "charge_positive_share")]
    assert truth[0] == "positive" and truth[-1] == "negative"
    since = diagnosis.limiting["charge"]["since_cycle"]
    assert 1 < since <= N_CYCLES and truth[since - 1] in ("negative", None)
    assert f"charge ends at the negative (Sn) since cycle {since}" in diagnosis.sentence


@pytest.mark.parametrize("scenario, electrode", [("resistive_negative", "negative"),
                                                 ("sodium_loss_resistive_positive", "positive")])
def test_resistance_growth_is_reported(analysed, scenario, electrode):
    sim, _data, _halves, _table, _modes, diagnosis = analysed(scenario)
    other = "positive" if electrode == "negative" else "negative"
    kinetics = getattr(sim.cell, f"{electrode}_kinetics")
    growth = getattr(sim.degradation, f"{electrode}_resistance_growth_per_cycle")
    current = column(sim.truth, "current_ma")[0]
    # the injected overpotential rise: I·(R + Rct)·g·(N − 1)
    injected_v = current * (kinetics.ohmic_resistance_ohm + kinetics.charge_transfer_resistance_ohm) \
        * growth * (N_CYCLES - 1) / 1000.0
    over = diagnosis.overpotential
    assert over[electrode]["grew"] is True and over[other]["grew"] is False
    assert over[electrode]["measure"] == "reference-corrected polarisation ÷ 2"
    assert over[electrode]["rise_v"] == pytest.approx(injected_v, rel=0.05)
    assert abs(over[other]["rise_v"]) < 0.002
    assert f"overpotential grew at the {electrode}" in diagnosis.sentence
    assert "threshold 10 mV" in diagnosis.sentence
    # the interruption shows it too: R(10 s) = (R + Rct·(1 − e^(−10 s/τ)))·(1 + g·(n − 1)),
    # within the noise (1 mV σ on each potential: ~20 Ω on a 0.076 mA interruption)
    r10 = over[electrode]["interruption_10s_ohm"]["charge"]
    first = kinetics.interruption_resistance_ohm(10.0)
    assert r10["first"] == pytest.approx(first, abs=40.0)
    assert r10["last"] == pytest.approx(first * (1 + growth * (N_CYCLES - 1)), abs=40.0)


@pytest.mark.parametrize("scenario", ["sodium_loss", "positive_loss", "negative_loss", "together",
                                      "negative_fills_up"])
def test_without_resistance_growth_no_overpotential_trend_is_reported(analysed, scenario):
    _sim, _data, _halves, _table, _modes, diagnosis = analysed(scenario)
    for electrode in ("positive", "negative"):
        info = diagnosis.overpotential[electrode]
        assert info["grew"] is False and abs(info["rise_v"]) < 0.002, (electrode, info)
    assert "no overpotential build-up" in diagnosis.sentence
    assert diagnosis.overpotential["threshold_v"] == 0.010


def test_without_references_the_rests_still_tell_the_overpotential(analysed):
    _sim, data, halves, table, _modes, _diagnosis = analysed("resistive_negative")
    diagnosis = diagnose(table, None)
    assert diagnosis.overpotential["negative"]["measure"] == "|ΔE| 10 s into the rests"
    assert diagnosis.overpotential["negative"]["grew"] is True
    assert diagnosis.overpotential["positive"]["grew"] is False
    assert diagnosis.sentence.startswith("Degradation modes not computed (no reference curves were given)")


def test_one_missing_reference_gives_a_partial_result_that_says_so(analysed, refs):
    sim, data, halves, table, _modes, _diagnosis = analysed("positive_loss")
    modes = degradation_modes(data, halves, positive_reference=refs["positive"],
                              negative_reference=None)
    assert modes.status == "partial"
    assert modes.messages == ("no reference curve for the negative electrode (Sn): its loss of "
                              "active material, the sodium inventory and the slippage are not "
                              "computed",)
    lam = column(modes.modes, "loss_of_positive_active_material")
    np.testing.assert_allclose(lam, column(sim.truth, "loss_of_positive_active_material"), atol=0.01)
    assert np.isnan(column(modes.modes, "loss_of_sodium_inventory")).all()
    assert np.isnan(column(modes.modes, "slippage_mah")).all()
    negative_fits = column(modes.fits, "electrode") == "negative"
    assert set(column(modes.fits, "status")[negative_fits]) == {"no_reference"}
    diagnosis = diagnose(table, modes)
    assert "(partial: no reference curve for the negative electrode (Sn)" in diagnosis.sentence


def test_tables_carry_their_columns_and_parameters(analysed):
    _sim, _data, _halves, _table, modes, diagnosis = analysed("together")
    assert modes.fits.column_names == list(FIT_COLUMNS)
    assert modes.modes.column_names == list(MODE_COLUMNS)
    meta = table_metadata(modes.modes)
    assert meta["method"] == "degradation_modes" and meta["params"]["mode_half_cycle"] == "discharge"
    assert meta["params"]["fit"] == {"n_points": 200, "exclude_start_fraction": 0.01,
                                     "grid_step": 0.02}
    assert meta["params"]["references"] == {"positive": "half cell, cycle 2",
                                            "negative": "half cell, cycle 2"}
    # one fit per cycle, electrode and half cycle; the Sn's branches follow its own direction
    assert modes.fits.num_rows == 4 * N_CYCLES
    fits = {(e, h): b for e, h, b in zip(column(modes.fits, "electrode"),
                                         column(modes.fits, "half_cycle"),
                                         column(modes.fits, "branch"))}
    assert fits == {("positive", "charge"): "desodiation", ("negative", "charge"): "sodiation",
                    ("positive", "discharge"): "sodiation", ("negative", "discharge"): "desodiation"}
    # slippage s = C₊ − Q_Na, its change against cycle 1
    s = column(modes.modes, "slippage_mah")
    np.testing.assert_allclose(s, column(modes.modes, "positive_capacity_mah")
                               - column(modes.modes, "sodium_inventory_mah"))
    np.testing.assert_allclose(column(modes.modes, "slippage_change_mah"), s - s[0])
    assert diagnosis.to_dict()["params"]["overpotential_threshold_v"] == 0.010


def test_the_sn_hysteresis_needs_the_matching_branch(analysed, refs):
    """Fitted with the sodiation branch, the Sn's desodiation misses by tens of mV; with its own
    branch it fits to the noise."""
    _sim, data, halves, _table, _modes, _diagnosis = analysed("sodium_loss")
    k = halves.index(3, "discharge")
    s, e = int(halves.start_row[k]), int(halves.end_row[k])
    from analysis.core.electrodes.cycles import cumulative_capacity_mah
    q = cumulative_capacity_mah(data.time_s[s:e + 1], data.current_ma[s:e + 1])
    potential = data.negative_potential_v[s:e + 1]
    matching = fit_branch(q, potential, refs["negative"].desodiation)
    wrong_branch = ReferenceCurve(**{**refs["negative"].sodiation.__dict__, "branch": "desodiation"})
    wrong = fit_branch(q, potential, wrong_branch)
    assert matching.rmse_v < 2 * NOISE_V
    assert wrong.rmse_v > 0.02


def test_the_reference_defaults_to_the_slowest_cycle_after_formation(folder):
    half = s3.half_cell_reference("negative")
    table = half.table
    halves = half_cycles(table, "discharge")
    reference = reference_from_half_cell(table, halves, electrode="negative")
    assert reference.source == "half cell, cycle 2" and reference.cycle_number == 2
    assert reference.sodiation.capacity_mah == pytest.approx(1.0, rel=1e-6)
    assert reference.sodiation.fill[0] == 0.0 and reference.sodiation.fill[-1] == 1.0
    # the Sn's sodiation branch lies below its desodiation branch at every fill
    f = np.linspace(0.05, 0.95, 19)
    assert (reference.desodiation.potential_at(f) - reference.sodiation.potential_at(f) > 0.05).all()
    with pytest.raises(ValueError, match="cycle_number 5 is not a complete cycle"):
        reference_from_half_cell(table, halves, electrode="negative", cycle_number=5)
