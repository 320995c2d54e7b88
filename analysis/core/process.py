"""Process calculations of the lab: electrode composition, porosity, infiltration, loading,
currents, balancing, conductivity and precursor masses.

Pure module: stdlib + numpy only. Every quantity carries its unit in its name
(mg, cm2, um, g_cm3, mah_g, ma, s_cm, ...). Impossible inputs raise ValueError naming the
offending argument. Fractions are fractions (0..1), never percentages; see
``mass_fractions_from_percent`` for the conversion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FARADAY_C_MOL = 96485.33212  # CODATA 2018, exact
BOLTZMANN_EV_K = 8.617333262e-5  # CODATA 2018, exact
ZERO_CELSIUS_K = 273.15
SUM_TOLERANCE = 1e-6

# Standard atomic masses (g/mol) used for the closo-borate precursors.
_NA_G_MOL, _B_G_MOL, _H_G_MOL = 22.98977, 10.811, 1.00794
NA2B12H12_MOLAR_MASS_G_MOL = 2 * _NA_G_MOL + 12 * (_B_G_MOL + _H_G_MOL)  # 187.807
NA2B10H10_MOLAR_MASS_G_MOL = 2 * _NA_G_MOL + 10 * (_B_G_MOL + _H_G_MOL)  # 164.169


# --- argument checks -------------------------------------------------------------------


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    value = _finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _non_negative(name: str, value: float) -> float:
    value = _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _fraction(name: str, value: float, *, allow_zero: bool = True) -> float:
    value = _finite(name, value)
    if not (0 <= value <= 1) or (value == 0 and not allow_zero):
        bounds = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be a fraction in {bounds}, got {value!r}")
    return value


def _porosity(name: str, value: float) -> float:
    value = _finite(name, value)
    if not (0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1) (a fraction, not a percentage), got {value!r}")
    return value


def _array_1d(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers, got {arr.tolist()}")
    return arr


# --- composition and density -------------------------------------------------------------


def mass_fractions_from_percent(percentages: Sequence[float]) -> tuple[float, ...]:
    """Mass percentages (e.g. 95:2:3) → fractions. The percentages must sum to 100 ± 1e-6."""
    pct = _array_1d("percentages", percentages)
    if np.any(pct < 0):
        raise ValueError(f"percentages must all be >= 0, got {pct.tolist()}")
    total = float(pct.sum())
    if abs(total - 100.0) > 100.0 * SUM_TOLERANCE:
        raise ValueError(f"percentages must sum to 100 (within 1e-6), got sum {total!r}")
    return tuple(float(p) / 100.0 for p in pct)


def composite_density_g_cm3(
    mass_fractions: Sequence[float], densities_g_cm3: Sequence[float]
) -> float:
    """Theoretical (pore-free) density of a mixture: ρ = 1 / Σ(wᵢ/ρᵢ).

    A harmonic mean by mass fraction (volumes add, not densities; Σwᵢρᵢ is wrong).
    ``mass_fractions`` are fractions summing to 1 ± 1e-6 (not percentages).
    """
    w = _array_1d("mass_fractions", mass_fractions)
    rho = _array_1d("densities_g_cm3", densities_g_cm3)
    if w.size != rho.size:
        raise ValueError(
            f"mass_fractions ({w.size} values) and densities_g_cm3 ({rho.size} values) "
            "must have the same length"
        )
    if abs(float(w.sum()) - 1.0) > SUM_TOLERANCE:
        raise ValueError(
            f"mass_fractions must sum to 1 (within 1e-6), got sum {float(w.sum())!r}; "
            "use mass_fractions_from_percent for percentages"
        )
    if np.any(w < 0) or np.any(w > 1):
        raise ValueError(f"mass_fractions must each be in [0, 1], got {w.tolist()}")
    if np.any(rho <= 0):
        raise ValueError(f"densities_g_cm3 must all be > 0, got {rho.tolist()}")
    return float(1.0 / np.sum(w / rho))


def coating_electrolyte_density_g_cm3(
    coating_mass_mg: float,
    electrolyte_mass_mg: float,
    coating_density_g_cm3: float,
    electrolyte_density_g_cm3: float,
) -> float:
    """Pore-free density of an infiltrated coating (coating + electrolyte):
    ρ_mix = 1 / (w_c/ρ_c + w_e/ρ_e), with w_e = m_e/(m_c + m_e), w_c = 1 − w_e.
    """
    m_c = _positive("coating_mass_mg", coating_mass_mg)
    m_e = _non_negative("electrolyte_mass_mg", electrolyte_mass_mg)
    rho_c = _positive("coating_density_g_cm3", coating_density_g_cm3)
    rho_e = _positive("electrolyte_density_g_cm3", electrolyte_density_g_cm3)
    w_e = m_e / (m_c + m_e)
    return 1.0 / ((1.0 - w_e) / rho_c + w_e / rho_e)


# --- porosity and infiltration -----------------------------------------------------------


def _porosity_from_bulk(mass_mg: float, area_cm2: float, thickness_um: float,
                        density_g_cm3: float, what: str) -> float:
    # bulk density g/cm3 = (mg/1000) / (cm2 · µm/1e4)
    bulk_g_cm3 = (mass_mg / 1000.0) / (area_cm2 * thickness_um * 1e-4)
    porosity = 1.0 - bulk_g_cm3 / density_g_cm3
    if porosity < 0:
        # Denser than pore-free material: a mass, thickness, area or density is wrong.
        raise ValueError(
            f"{what}: bulk density {bulk_g_cm3:.4g} g/cm3 exceeds the pore-free density "
            f"{density_g_cm3:.4g} g/cm3 (negative porosity); check the mass, area_cm2, "
            "thickness and density arguments"
        )
    return porosity


def casting_porosity(
    coating_mass_mg: float,
    area_cm2: float,
    coating_thickness_um: float,
    composite_density_g_cm3: float,
) -> float:
    """Porosity of a cast, dried coating: ε = 1 − (m / (A·t)) / ρ_composite.

    m: coating mass (without current collector), A: area, t: coating thickness (without
    current collector), ρ_composite from ``composite_density_g_cm3``. Returns a fraction.
    """
    return _porosity_from_bulk(
        _positive("coating_mass_mg", coating_mass_mg),
        _positive("area_cm2", area_cm2),
        _positive("coating_thickness_um", coating_thickness_um),
        _positive("composite_density_g_cm3", composite_density_g_cm3),
        "casting_porosity",
    )


def expected_electrolyte_uptake_fraction(
    porosity: float, solution_concentration_mg_ml: float, composite_density_g_cm3: float
) -> float:
    """Salt left by one fill of the pores with solution, relative to the dry coating mass:
    w = ε·c / ((1 − ε)·ρ_composite), with c in g/cm3 = c_mg_ml / 1000.

    Per cm3 of coating the pores hold ε cm3 of solution (ε·c of salt) and the solid weighs
    (1 − ε)·ρ. Uptake measured above this means salt also coats the surface.
    """
    eps = _porosity("porosity", porosity)
    c_g_cm3 = _non_negative("solution_concentration_mg_ml", solution_concentration_mg_ml) / 1000.0
    rho = _positive("composite_density_g_cm3", composite_density_g_cm3)
    return eps * c_g_cm3 / ((1.0 - eps) * rho)


def measured_electrolyte_uptake_fraction(
    mass_before_mg: float, mass_after_mg: float, coating_mass_before_mg: float
) -> float:
    """Measured uptake relative to the dry coating: (m_after − m_before) / m_coating,before.

    m_before/m_after: the electrode (may include the current collector) before and after
    infiltration; m_coating,before: its coating alone before infiltration.
    """
    before = _positive("mass_before_mg", mass_before_mg)
    after = _positive("mass_after_mg", mass_after_mg)
    coating = _positive("coating_mass_before_mg", coating_mass_before_mg)
    if coating > before:
        raise ValueError(
            f"coating_mass_before_mg ({coating}) cannot exceed mass_before_mg ({before})"
        )
    if after < before:
        raise ValueError(
            f"mass_after_mg ({after}) is below mass_before_mg ({before}): an infiltration "
            "cannot lose mass; check the weighings"
        )
    return (after - before) / coating


def pressed_porosity(
    coating_mass_mg: float,
    electrolyte_mass_mg: float,
    area_cm2: float,
    pressed_thickness_um: float,
    mixture_density_g_cm3: float,
) -> float:
    """Remaining porosity of an infiltrated coating after pressing:
    ε = 1 − ((m_coating + m_electrolyte) / (A·t_pressed)) / ρ_mixture,
    with ρ_mixture from ``coating_electrolyte_density_g_cm3``.
    """
    m_total = _positive("coating_mass_mg", coating_mass_mg) + _non_negative(
        "electrolyte_mass_mg", electrolyte_mass_mg
    )
    return _porosity_from_bulk(
        m_total,
        _positive("area_cm2", area_cm2),
        _positive("pressed_thickness_um", pressed_thickness_um),
        _positive("mixture_density_g_cm3", mixture_density_g_cm3),
        "pressed_porosity",
    )


# --- geometry, loading, active mass ------------------------------------------------------


def disc_area_cm2(diameter_mm: float) -> float:
    """Area of a punched disc: A = π·(d/2)², d in mm → cm2 (÷100)."""
    d_cm = _positive("diameter_mm", diameter_mm) / 10.0
    return math.pi * d_cm**2 / 4.0


@dataclass(frozen=True)
class ArealLoading:
    """Areal loading over punched discs. ``std_mg_cm2`` is the sample standard deviation
    (ddof = 1); None for a single disc."""

    mean_mg_cm2: float
    std_mg_cm2: float | None
    n_discs: int


def areal_loading_mg_cm2(
    disc_masses_mg: Sequence[float],
    diameter_mm: float,
    current_collector_mass_mg: float = 0.0,
) -> ArealLoading:
    """Coating areal loading from punched discs: Lᵢ = (mᵢ − m_cc) / A_disc; mean and sample
    standard deviation over the discs (the lab punches four 12 mm discs).

    ``current_collector_mass_mg`` is the mass of a bare current-collector disc of the same
    diameter (0 if the masses are already coating-only). The result is the composite
    (coating) loading; multiply by the active fraction for the active-material loading.
    """
    masses = _array_1d("disc_masses_mg", disc_masses_mg)
    area = disc_area_cm2(diameter_mm)
    cc = _non_negative("current_collector_mass_mg", current_collector_mass_mg)
    coating = masses - cc
    if np.any(coating <= 0):
        raise ValueError(
            f"disc_masses_mg must all exceed current_collector_mass_mg ({cc}), "
            f"got {masses.tolist()}"
        )
    loading = coating / area
    std = float(np.std(loading, ddof=1)) if loading.size > 1 else None
    return ArealLoading(float(np.mean(loading)), std, int(loading.size))


def active_mass_mg(composite_mass_mg: float, active_fraction: float) -> float:
    """Active-material mass: m_active = m_composite · w_active (w as a fraction, e.g. 0.95)."""
    return _non_negative("composite_mass_mg", composite_mass_mg) * _fraction(
        "active_fraction", active_fraction, allow_zero=False
    )


# --- capacity, currents, balancing, energy -------------------------------------------------


def theoretical_specific_capacity_mah_g(
    electrons_per_formula_unit: float, molar_mass_g_mol: float
) -> float:
    """q_th = n·F / (3.6·M) in mAh/g (1 mAh = 3.6 C).

    NaCrO2 → Na0.5CrO2: n = 0.5, M = 106.98 → 125.3; Sn → Na15Sn4: n = 3.75, M = 118.71 → 846.6.
    """
    n = _positive("electrons_per_formula_unit", electrons_per_formula_unit)
    molar_mass = _positive("molar_mass_g_mol", molar_mass_g_mol)
    return n * FARADAY_C_MOL / (3.6 * molar_mass)


def one_c_current_ma(active_mass_mg: float, specific_capacity_mah_g: float) -> float:
    """1C current: I = m_active · q_ref; mg · mAh/g = 1e-3 mAh, so I_mA = m_mg · q / 1000.

    q_ref is the reference specific capacity the C-rate is defined on (e.g. 120 mAh/g
    practical for NaCrO2, not 125 theoretical): store it with the rate.
    """
    m = _positive("active_mass_mg", active_mass_mg)
    q = _positive("specific_capacity_mah_g", specific_capacity_mah_g)
    return m * q / 1000.0


def current_for_c_rate_ma(
    c_rate: float, active_mass_mg: float, specific_capacity_mah_g: float
) -> float:
    """Current at a C-rate: I = C-rate · I_1C (C-rate in 1/h, e.g. 0.1 for C/10)."""
    return _positive("c_rate", c_rate) * one_c_current_ma(active_mass_mg, specific_capacity_mah_g)


def current_density_ma_cm2(current_ma: float, area_cm2: float) -> float:
    """Areal current density: j = I / A (sign of I kept)."""
    return _finite("current_ma", current_ma) / _positive("area_cm2", area_cm2)


def np_ratio(
    negative_areal_loading_mg_cm2: float,
    negative_specific_capacity_mah_g: float,
    positive_areal_loading_mg_cm2: float,
    positive_specific_capacity_mah_g: float,
    negative_active_fraction: float = 1.0,
    positive_active_fraction: float = 1.0,
) -> float:
    """N/P ratio = negative areal capacity ÷ positive areal capacity,
    (L_n·w_n·q_n) / (L_p·w_p·q_p).

    Loadings are active-material loadings by default (fractions 1.0); pass the active
    fractions if the loadings are composite loadings. The number depends on the capacity
    basis: the paper's 1.20 uses the half cells' measured reversible capacities (Sn 634,
    NaCrO2 113 mAh/g); the same cell on theoretical/practical values (847, 120) is 1.51.
    Always store the basis (which capacities) together with the ratio.
    """
    neg = (
        _positive("negative_areal_loading_mg_cm2", negative_areal_loading_mg_cm2)
        * _fraction("negative_active_fraction", negative_active_fraction, allow_zero=False)
        * _positive("negative_specific_capacity_mah_g", negative_specific_capacity_mah_g)
    )
    pos = (
        _positive("positive_areal_loading_mg_cm2", positive_areal_loading_mg_cm2)
        * _fraction("positive_active_fraction", positive_active_fraction, allow_zero=False)
        * _positive("positive_specific_capacity_mah_g", positive_specific_capacity_mah_g)
    )
    return neg / pos


def specific_energy_wh_kg(discharge_energy_mwh: float, mass_mg: float) -> float:
    """Specific energy: E / m; 1 mWh/mg = 1 Wh/g = 1000 Wh/kg.

    The mass is the basis (cathode active mass, or positive + negative composite masses
    with binder and carbon): store it with the number.
    """
    energy = _non_negative("discharge_energy_mwh", discharge_energy_mwh)
    return 1000.0 * energy / _positive("mass_mg", mass_mg)


# --- ionic conductivity --------------------------------------------------------------------


def ionic_conductivity_s_cm(thickness_um: float, resistance_ohm: float, area_cm2: float) -> float:
    """σ = t / (R·A), t in cm (= µm / 1e4), R the electrolyte resistance from impedance."""
    t_cm = _positive("thickness_um", thickness_um) * 1e-4
    r = _positive("resistance_ohm", resistance_ohm)
    return t_cm / (r * _positive("area_cm2", area_cm2))


@dataclass(frozen=True)
class ArrheniusFit:
    """σ·T = A·exp(−Ea / (k_B·T)); prefactor A in S·K/cm; R² of the ln(σ·T) vs 1/T line."""

    activation_energy_ev: float
    prefactor_s_k_cm: float
    r_squared: float


def arrhenius_activation_energy_ev(
    temperatures_c: Sequence[float], conductivities_s_cm: Sequence[float]
) -> ArrheniusFit:
    """Least-squares fit of ln(σ·T) = ln A − (Ea/k_B)·(1/T), T in K (= °C + 273.15).

    Ea = −slope·k_B (eV), A = exp(intercept). Needs ≥ 2 distinct temperatures.
    """
    t_c = _array_1d("temperatures_c", temperatures_c)
    sigma = _array_1d("conductivities_s_cm", conductivities_s_cm)
    if t_c.size != sigma.size:
        raise ValueError(
            f"temperatures_c ({t_c.size} values) and conductivities_s_cm ({sigma.size} values) "
            "must have the same length"
        )
    t_k = t_c + ZERO_CELSIUS_K
    if np.any(t_k <= 0):
        raise ValueError(f"temperatures_c must all be above -273.15 °C, got {t_c.tolist()}")
    if np.any(sigma <= 0):
        raise ValueError(f"conductivities_s_cm must all be > 0, got {sigma.tolist()}")
    if np.unique(t_k).size < 2:
        raise ValueError("temperatures_c must contain at least 2 distinct temperatures")
    x = 1.0 / t_k
    y = np.log(sigma * t_k)
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0  # flat data fitted exactly by Ea = 0
    return ArrheniusFit(float(-slope * BOLTZMANN_EV_K), float(math.exp(intercept)), r2)


# --- electrolyte batch -----------------------------------------------------------------------


@dataclass(frozen=True)
class PrecursorMasses:
    na2b12h12_mg: float
    na2b10h10_mg: float


def equimolar_precursor_masses_mg(
    total_mass_mg: float,
    na2b12h12_molar_mass_g_mol: float = NA2B12H12_MOLAR_MASS_G_MOL,
    na2b10h10_molar_mass_g_mol: float = NA2B10H10_MOLAR_MASS_G_MOL,
) -> PrecursorMasses:
    """Masses of Na2B12H12 and Na2B10H10 for an equimolar batch of Na4(B12H12)(B10H10):
    n = m_total / (M12 + M10); m12 = n·M12, m10 = n·M10 (the product is their 1:1 sum).

    1 g batch → 533.6 mg Na2B12H12 + 466.4 mg Na2B10H10.
    """
    total = _positive("total_mass_mg", total_mass_mg)
    m12 = _positive("na2b12h12_molar_mass_g_mol", na2b12h12_molar_mass_g_mol)
    m10 = _positive("na2b10h10_molar_mass_g_mol", na2b10h10_molar_mass_g_mol)
    n_mmol = total / (m12 + m10)
    return PrecursorMasses(n_mmol * m12, n_mmol * m10)
