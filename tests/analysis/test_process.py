"""Process calculations against the worked numbers of DOMAIN.md, ANALYSIS_METHODS.md §3 and
the paper (Duchêne, Kim et al., Energy Storage Materials 2020)."""

import math

import numpy as np
import pytest

from analysis.core import process as p

# Densities (g/cm3) from DOMAIN.md / ANALYSIS_METHODS.md §3.
RHO_NACRO2_CALC, RHO_NACRO2_XRD, RHO_SN = 4.36, 4.4, 7.29
RHO_PVDF, RHO_SUPER_P, RHO_NBH = 1.78, 1.9, 1.17

# 95:2:3 = NaCrO2 : PVDF : Super P (active : binder : carbon, as in the paper).
# ρ = 1/(0.95/4.4 + 0.02/1.78 + 0.03/1.9) = 1/(0.215909 + 0.011236 + 0.015789) = 4.1163
RHO_95_2_3 = p.composite_density_g_cm3([0.95, 0.02, 0.03], [RHO_NACRO2_XRD, RHO_PVDF, RHO_SUPER_P])
DISC_12MM_CM2 = math.pi * 0.6**2  # 1.130973 cm2


# --- composition and density ---------------------------------------------------------------


def test_composite_density_worked_examples():
    # ANALYSIS_METHODS §3: NaCrO2:C:PVDF 90:5:5 → 3.83; Sn:C:PVDF 80:10:10 → 4.58.
    nco = p.composite_density_g_cm3([0.90, 0.05, 0.05], [RHO_NACRO2_CALC, RHO_SUPER_P, RHO_PVDF])
    sn = p.composite_density_g_cm3([0.80, 0.10, 0.10], [RHO_SN, RHO_SUPER_P, RHO_PVDF])
    assert nco == pytest.approx(3.83, abs=0.01)
    assert sn == pytest.approx(4.58, abs=0.01)
    assert RHO_95_2_3 == pytest.approx(4.1163, abs=1e-4)


def test_composite_density_is_harmonic_not_arithmetic():
    # 50:50 by mass of ρ 1 and 3: 1/(0.5/1 + 0.5/3) = 1.5 (the wrong Σwρ would give 2.0).
    assert p.composite_density_g_cm3([0.5, 0.5], [1.0, 3.0]) == pytest.approx(1.5)


def test_mass_fractions_from_percent():
    assert p.mass_fractions_from_percent([95, 2, 3]) == pytest.approx((0.95, 0.02, 0.03))
    with pytest.raises(ValueError, match=r"percentages must sum to 100"):
        p.mass_fractions_from_percent([95, 2, 2])


def test_composite_density_errors():
    with pytest.raises(ValueError, match=r"mass_fractions must sum to 1"):
        p.composite_density_g_cm3([95, 2, 3], [4.4, 1.78, 1.9])  # percentages, not fractions
    with pytest.raises(ValueError, match=r"mass_fractions must sum to 1"):
        p.composite_density_g_cm3([0.95, 0.02, 0.0301], [4.4, 1.78, 1.9])  # off by 1e-4
    with pytest.raises(ValueError, match=r"densities_g_cm3 must all be > 0"):
        p.composite_density_g_cm3([0.5, 0.5], [4.4, 0.0])
    with pytest.raises(ValueError, match=r"same length"):
        p.composite_density_g_cm3([0.5, 0.5], [4.4])
    with pytest.raises(ValueError, match=r"mass_fractions must each be in \[0, 1\]"):
        p.composite_density_g_cm3([1.5, -0.5], [4.4, 1.9])


def test_coating_electrolyte_density():
    # 8.00 mg coating (ρ 4.1163) + 1.28 mg NBH (ρ 1.17): w_e = 1.28/9.28 = 0.137931
    # ρ_mix = 1/(0.862069/4.1163 + 0.137931/1.17) = 1/(0.209428 + 0.117890) = 3.0551
    rho = p.coating_electrolyte_density_g_cm3(8.0, 1.28, RHO_95_2_3, RHO_NBH)
    assert rho == pytest.approx(3.0551, abs=1e-4)
    assert p.coating_electrolyte_density_g_cm3(8.0, 0.0, RHO_95_2_3, RHO_NBH) == pytest.approx(
        RHO_95_2_3
    )
    with pytest.raises(ValueError, match=r"electrolyte_mass_mg must be >= 0"):
        p.coating_electrolyte_density_g_cm3(8.0, -1.0, RHO_95_2_3, RHO_NBH)


# --- porosity and infiltration -----------------------------------------------------------


def test_casting_porosity_by_hand():
    # 12 mm disc (A = 1.130973 cm2), 8.00 mg coating, 85 µm thick, 95:2:3 (ρ 4.1163):
    # bulk = 8.00e-3 g / (1.130973 cm2 · 85e-4 cm) = 8.00e-3 / 9.61327e-3 = 0.83218 g/cm3
    # ε = 1 − 0.83218/4.1163 = 1 − 0.20217 = 0.7978  (the paper's "near 80 %")
    eps = p.casting_porosity(8.0, p.disc_area_cm2(12), 85.0, RHO_95_2_3)
    assert eps == pytest.approx(0.7978, abs=1e-4)


def test_casting_porosity_errors():
    with pytest.raises(ValueError, match=r"coating_mass_mg must be > 0"):
        p.casting_porosity(-8.0, 1.13, 85.0, 4.1)
    with pytest.raises(ValueError, match=r"area_cm2 must be > 0"):
        p.casting_porosity(8.0, 0.0, 85.0, 4.1)
    with pytest.raises(ValueError, match=r"coating_thickness_um must be > 0"):
        p.casting_porosity(8.0, 1.13, 0.0, 4.1)
    with pytest.raises(ValueError, match=r"composite_density_g_cm3 must be > 0"):
        p.casting_porosity(8.0, 1.13, 85.0, 0.0)
    with pytest.raises(ValueError, match=r"composite_density_g_cm3 must be a finite number"):
        p.casting_porosity(8.0, 1.13, 85.0, float("nan"))
    # 8 mg in 1.13 cm2 × 10 µm is 7.1 g/cm3, denser than the solid: negative porosity.
    with pytest.raises(ValueError, match=r"negative porosity"):
        p.casting_porosity(8.0, 1.13, 10.0, 4.1)


def test_expected_uptake_paper_8_wt_percent():
    # Paper: ε near 0.77–0.78, 100 mg/mL (= 0.1 g/cm3), 95:2:3 → about 8 wt %.
    # ε = 0.775: w = 0.775·0.1 / (0.225·4.1163) = 0.0775/0.92618 = 0.0837
    # ε = 0.770: w = 0.077 / (0.23·4.1163) = 0.077/0.94676 = 0.0813
    w_775 = p.expected_electrolyte_uptake_fraction(0.775, 100.0, RHO_95_2_3)
    w_770 = p.expected_electrolyte_uptake_fraction(0.770, 100.0, RHO_95_2_3)
    assert w_775 == pytest.approx(0.0837, abs=1e-4)
    assert w_770 == pytest.approx(0.0813, abs=1e-4)
    assert 0.075 < w_770 < w_775 < 0.085
    # Note: ε = 0.78 gives 0.078/(0.22·4.1163) = 0.0861, just above 8.5 %.
    assert p.expected_electrolyte_uptake_fraction(0.78, 100.0, RHO_95_2_3) == pytest.approx(
        0.0861, abs=1e-4
    )


def test_expected_uptake_errors():
    with pytest.raises(ValueError, match=r"porosity must be in \[0, 1\)"):
        p.expected_electrolyte_uptake_fraction(1.0, 100.0, 4.1)
    with pytest.raises(ValueError, match=r"porosity must be in \[0, 1\)"):
        p.expected_electrolyte_uptake_fraction(78.0, 100.0, 4.1)  # percent by mistake
    with pytest.raises(ValueError, match=r"solution_concentration_mg_ml must be >= 0"):
        p.expected_electrolyte_uptake_fraction(0.78, -1.0, 4.1)


def test_measured_uptake_paper_range():
    # Electrode 24.50 mg (of which 8.00 mg coating) → 25.78 mg: 1.28/8.00 = 0.160 (paper 15–17 %).
    w = p.measured_electrolyte_uptake_fraction(24.50, 25.78, 8.00)
    assert w == pytest.approx(0.160, abs=1e-9)
    assert 0.15 <= w <= 0.17


def test_measured_uptake_errors():
    with pytest.raises(ValueError, match=r"mass_after_mg .* is below mass_before_mg"):
        p.measured_electrolyte_uptake_fraction(24.5, 24.0, 8.0)
    with pytest.raises(ValueError, match=r"coating_mass_before_mg .* cannot exceed"):
        p.measured_electrolyte_uptake_fraction(8.0, 9.0, 24.5)
    with pytest.raises(ValueError, match=r"coating_mass_before_mg must be > 0"):
        p.measured_electrolyte_uptake_fraction(24.5, 25.8, 0.0)


def test_pressed_porosity_by_hand():
    # 8.00 mg coating + 1.28 mg NBH on a 12 mm disc pressed to 41 µm, ρ_mix 3.0551:
    # bulk = 9.28e-3 / (1.130973 · 41e-4) = 9.28e-3 / 4.63699e-3 = 2.00130 g/cm3
    # ε = 1 − 2.00130/3.0551 = 0.3449  (paper: 30–38 %)
    rho_mix = p.coating_electrolyte_density_g_cm3(8.0, 1.28, RHO_95_2_3, RHO_NBH)
    eps = p.pressed_porosity(8.0, 1.28, DISC_12MM_CM2, 41.0, rho_mix)
    assert eps == pytest.approx(0.3449, abs=1e-4)
    assert 0.30 <= eps <= 0.38
    with pytest.raises(ValueError, match=r"pressed_thickness_um must be > 0"):
        p.pressed_porosity(8.0, 1.28, DISC_12MM_CM2, -41.0, rho_mix)


# --- geometry, loading, active mass ------------------------------------------------------


def test_disc_area():
    assert p.disc_area_cm2(12) == pytest.approx(1.130973, abs=1e-6)
    with pytest.raises(ValueError, match=r"diameter_mm must be > 0"):
        p.disc_area_cm2(0)


def test_areal_loading_mean_and_sample_std():
    # Four 12 mm discs, bare Al disc 4.00 mg: coatings 8.0, 8.2, 7.8, 8.4 mg
    # loadings /1.130973 = 7.0735, 7.2503, 6.8966, 7.4272 → mean 7.1619
    # sample std of coatings (ddof=1): sqrt((0.01+0.01+0.09+0.09)/3) = 0.25820 mg → /A = 0.22830
    res = p.areal_loading_mg_cm2([12.0, 12.2, 11.8, 12.4], 12, current_collector_mass_mg=4.0)
    assert res.n_discs == 4
    assert res.mean_mg_cm2 == pytest.approx(8.1 / 1.130973, rel=1e-6)
    assert res.mean_mg_cm2 == pytest.approx(7.1619, abs=1e-4)
    assert res.std_mg_cm2 == pytest.approx(0.22830, abs=1e-5)
    single = p.areal_loading_mg_cm2([8.0], 12)
    assert single.std_mg_cm2 is None and single.mean_mg_cm2 == pytest.approx(7.0735, abs=1e-4)
    with pytest.raises(ValueError, match=r"disc_masses_mg must all exceed current_collector"):
        p.areal_loading_mg_cm2([12.0, 3.0], 12, current_collector_mass_mg=4.0)
    with pytest.raises(ValueError, match=r"disc_masses_mg must be a non-empty"):
        p.areal_loading_mg_cm2([], 12)


def test_active_mass():
    assert p.active_mass_mg(8.0, 0.95) == pytest.approx(7.6)
    with pytest.raises(ValueError, match=r"active_fraction must be a fraction"):
        p.active_mass_mg(8.0, 95)
    with pytest.raises(ValueError, match=r"composite_mass_mg must be >= 0"):
        p.active_mass_mg(-8.0, 0.95)


# --- capacity, currents, balancing, energy -------------------------------------------------


def test_theoretical_specific_capacity():
    # n·F/(3.6·M): 0.5·96485.33/(3.6·106.98) = 125.26; 3.75·96485.33/(3.6·118.71) = 846.6
    assert p.theoretical_specific_capacity_mah_g(0.5, 106.98) == pytest.approx(125.26, abs=0.01)
    assert p.theoretical_specific_capacity_mah_g(3.75, 118.71) == pytest.approx(846.6, abs=0.1)
    with pytest.raises(ValueError, match=r"molar_mass_g_mol must be > 0"):
        p.theoretical_specific_capacity_mah_g(0.5, 0)


def test_c_rate_currents_paper():
    # 7.0 mg/cm2 × 120 mAh/g = 0.84 mAh/cm2 → 0.1C = 0.084 mA/cm2 (paper, Fig. 3a)
    area = DISC_12MM_CM2
    i_01c = p.current_for_c_rate_ma(0.1, 7.0 * area, 120.0)
    assert p.current_density_ma_cm2(i_01c, area) == pytest.approx(0.084, abs=1e-12)
    # 7.7 mg/cm2 × 0.120 × 5 = 4.62 mA/cm2 (paper rounds to "4.5")
    i_5c = p.current_for_c_rate_ma(5, 7.7 * area, 120.0)
    assert p.current_density_ma_cm2(i_5c, area) == pytest.approx(4.62, abs=1e-12)
    assert p.one_c_current_ma(7.0, 120.0) == pytest.approx(0.84)
    with pytest.raises(ValueError, match=r"c_rate must be > 0"):
        p.current_for_c_rate_ma(0, 7.0, 120.0)
    with pytest.raises(ValueError, match=r"active_mass_mg must be > 0"):
        p.one_c_current_ma(-7.0, 120.0)
    with pytest.raises(ValueError, match=r"area_cm2 must be > 0"):
        p.current_density_ma_cm2(1.0, 0.0)


def test_np_ratio_paper_and_basis():
    # measured basis: 1.2·634 / (5.6·113) = 760.8/632.8 = 1.2023 → 1.20 (paper)
    assert round(p.np_ratio(1.2, 634, 5.6, 113), 2) == 1.20
    # theoretical basis: 1.2·847 / (5.6·120) = 1016.4/672 = 1.5125 → 1.51
    assert round(p.np_ratio(1.2, 847, 5.6, 120), 2) == 1.51
    # composite loadings with active fractions give the same as active loadings
    assert p.np_ratio(1.2 / 0.9, 634, 5.6 / 0.97, 113, 0.9, 0.97) == pytest.approx(
        p.np_ratio(1.2, 634, 5.6, 113)
    )
    with pytest.raises(ValueError, match=r"positive_areal_loading_mg_cm2 must be > 0"):
        p.np_ratio(1.2, 634, 0, 113)


def test_specific_energy_paper():
    # Paper full cell: 282 Wh/kg of NCO at 5.6 mg/cm2 NCO (97:1:2) with 1.2 mg/cm2 Sn (90:5:5).
    # Per cm2: E = 282 Wh/kg · 5.6 mg = 1.5792 mWh; composites 5.6/0.97 + 1.2/0.9 = 7.1065 mg
    # → 1.5792/7.1065 · 1000 = 222.2 Wh/kg (paper: 222)
    energy_mwh = 0.282 * 5.6
    assert p.specific_energy_wh_kg(energy_mwh, 5.6) == pytest.approx(282.0)
    total = p.specific_energy_wh_kg(energy_mwh, 5.6 / 0.97 + 1.2 / 0.9)
    assert round(total) == 222
    with pytest.raises(ValueError, match=r"mass_mg must be > 0"):
        p.specific_energy_wh_kg(1.0, 0.0)


# --- ionic conductivity --------------------------------------------------------------------


def test_ionic_conductivity():
    # 500 µm pellet, 1.0 cm2, 50 Ω: 0.05 cm / (50 Ω · 1 cm2) = 1.0e-3 S/cm (= 1 mS/cm)
    assert p.ionic_conductivity_s_cm(500.0, 50.0, 1.0) == pytest.approx(1.0e-3, rel=1e-12)
    with pytest.raises(ValueError, match=r"resistance_ohm must be > 0"):
        p.ionic_conductivity_s_cm(500.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"thickness_um must be > 0"):
        p.ionic_conductivity_s_cm(-500.0, 50.0, 1.0)


def test_arrhenius_recovers_known_activation_energy():
    # Synthetic σ·T = A·exp(−Ea/(k_B·T)) with Ea = 0.40 eV, A = 1e5 S·K/cm.
    ea, a = 0.40, 1.0e5
    t_c = np.array([25.0, 40.0, 60.0, 80.0, 100.0])
    t_k = t_c + 273.15
    sigma = a * np.exp(-ea / (p.BOLTZMANN_EV_K * t_k)) / t_k
    fit = p.arrhenius_activation_energy_ev(t_c, sigma)
    assert fit.activation_energy_ev == pytest.approx(ea, abs=1e-6)
    assert fit.prefactor_s_k_cm == pytest.approx(a, rel=1e-6)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)


def test_arrhenius_r_squared_drops_with_noise():
    t_c = np.array([25.0, 40.0, 60.0, 80.0])
    t_k = t_c + 273.15
    sigma = 1e5 * np.exp(-0.4 / (p.BOLTZMANN_EV_K * t_k)) / t_k * np.array([1.3, 0.8, 1.2, 0.9])
    fit = p.arrhenius_activation_energy_ev(t_c, sigma)
    assert 0.5 < fit.r_squared < 0.999
    assert fit.activation_energy_ev != pytest.approx(0.4, abs=1e-3)


def test_arrhenius_errors():
    with pytest.raises(ValueError, match=r"temperatures_c must contain at least 2 distinct"):
        p.arrhenius_activation_energy_ev([25.0, 25.0], [1e-3, 1.1e-3])
    with pytest.raises(ValueError, match=r"temperatures_c must be a non-empty"):
        p.arrhenius_activation_energy_ev([], [])
    with pytest.raises(ValueError, match=r"conductivities_s_cm must all be > 0"):
        p.arrhenius_activation_energy_ev([25.0, 50.0], [1e-3, 0.0])
    with pytest.raises(ValueError, match=r"same length"):
        p.arrhenius_activation_energy_ev([25.0, 50.0], [1e-3])
    with pytest.raises(ValueError, match=r"temperatures_c must all be above -273.15"):
        p.arrhenius_activation_energy_ev([-300.0, 50.0], [1e-3, 2e-3])


# --- electrolyte batch -----------------------------------------------------------------------


def test_equimolar_precursor_masses_paper_1g_batch():
    # M(Na2B12H12) = 187.807, M(Na2B10H10) = 164.169; n = 1000/351.976 = 2.84111 mmol
    # → 533.58 mg + 466.42 mg (paper: 533.6 + 466.4)
    masses = p.equimolar_precursor_masses_mg(1000.0)
    assert masses.na2b12h12_mg == pytest.approx(533.6, abs=0.5)
    assert masses.na2b10h10_mg == pytest.approx(466.4, abs=0.5)
    assert masses.na2b12h12_mg + masses.na2b10h10_mg == pytest.approx(1000.0)
    # equimolar: same mmol of each
    assert masses.na2b12h12_mg / p.NA2B12H12_MOLAR_MASS_G_MOL == pytest.approx(
        masses.na2b10h10_mg / p.NA2B10H10_MOLAR_MASS_G_MOL
    )
    with pytest.raises(ValueError, match=r"total_mass_mg must be > 0"):
        p.equimolar_precursor_masses_mg(0.0)


def test_module_is_pure():
    # The pure core must not pull in Django or Celery.
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(p.__file__).read_text())
    imported = {
        (n.module if isinstance(n, ast.ImportFrom) else alias.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for alias in n.names
    }
    assert imported <= {"__future__", "math", "collections", "dataclasses", "numpy"}

