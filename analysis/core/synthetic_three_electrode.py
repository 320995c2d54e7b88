"""Synthetic three-electrode cells (NaCrO2 | Sn with a Na reference) with known degradation.

Used by the tests of :mod:`analysis.core.electrodes` (and later the demo lab). Deterministic and
vectorised. A cell is built from the two electrodes' open-circuit curves vs Na⁺/Na
(:data:`NACRO2_CURVE`, :data:`SN_CURVE`, the Sn one with a sodiation and a desodiation branch
~0.1–0.4 V apart), cycled galvanostatically between the full cell's cut-offs, and written as
the canonical table or as an EC-Lab text export with ``Ewe/V`` (NaCrO2 vs Na), ``Ece/V`` (Sn
vs Na) and ``Ewe-Ece/V`` (the cell voltage), the way EC-Lab writes a three-electrode GCPL run
with "Record Ece" on.

The model (fills: y = sodium fill of NaCrO2, 1 = NaCrO2, 0 = Na0.5CrO2; x = sodium fill of Sn,
1 = Na15Sn4; capacities C₊, C₋ in mAh over fill 0→1):

* charge (current I > 0): y = y₀ − Q/C₊, x = x₀ + (1 − f)·Q/C₋, where f is the fraction of the
  charge that side reactions at the Sn take (sodium lost: the **loss of sodium inventory**);
  E₊ = U₊(y) + I·(R₊ + Rct₊), E₋ = U₋,sodiation(x) − I·(R₋ + Rct₋), V = E₊ − E₋, until V
  reaches the upper cut-off;
* discharge: y rises, x falls by Q/C, E₊ = U₊(y) − I·(R + Rct), E₋ = U₋,desodiation(x) +
  I·(R + Rct), until V reaches the lower cut-off (no side reaction on discharge);
* rests: the ohmic part I·R vanishes at once, the charge-transfer part I·Rct relaxes as
  e^(−t/τ); so the interruption resistance after Δt is exactly R + Rct·(1 − e^(−Δt/τ));
* **loss of active material** (LAM) on either electrode is applied before a cycle's charge
  (the cell discharged): the capacity shrinks and the electrode's sodium stays cyclable
  (C·fill is kept), so each mode can be injected alone; **resistance growth** multiplies an
  electrode's R and Rct by 1 + g·(n − 1) in cycle n.

Points are recorded the way EC-Lab records: every ``sample_interval_s`` or whenever a potential
has moved by ``record_dE_v`` since the last point, at every step end, and in rests at 0, 0.1,
0.2, 0.5, 1, 2, 5, 10, 20, 30 and 60 s after the current stops, then every interval. Every
step change is written twice at the same time stamp (the last row of a step and the first of
the next), as BioLogic and Neware files do.

The truth of each cycle (capacities, sodium inventory at the start of the discharge, the three
modes relative to cycle 1, resistances, fills at the cut-offs and which electrode's potential
moved most over the last 2 % of each half cycle) is returned with the data
(:attr:`ThreeElectrodeSimulation.truth`). Half-cell reference files of both electrodes (a slow
cycle over the whole fill range, potentials vs Na) come from :func:`half_cell_reference`.
"""
from __future__ import annotations

import dataclasses
import io
import math
import re
from typing import Sequence

import numpy as np
import pyarrow as pa
from scipy.optimize import brentq
from scipy.special import expit

from analysis.core.readers import canonical_table
from analysis.core.synthetic import DISC_AREA_CM2, NACRO2_REFERENCE_MAH_G

VERSION = "1.0.0"
SODIATION, DESODIATION = "sodiation", "desodiation"
#: seconds after the current stops at which rests are always recorded
REST_RECORD_OFFSETS_S = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)


# --------------------------------------------------------------------------------------------
# open-circuit curves
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Staircase:
    """One branch of an electrode's open-circuit potential vs its sodium fill f (0..1):

    U(f) = L_last + Σₖ (Lₖ − Lₖ₊₁)·σ((cₖ − f)/w) − slope·(f − ½) + high_v·e^(−f/δ)
           − low_v·e^(−(1 − f)/δ)

    plateaus at the ``levels_v`` (from the empty to the full end) joined by logistic steps at
    the ``centres``, a slope, and steep ends: rising by ``high_v`` at f → 0 and falling by
    ``low_v`` at f → 1 (δ = ``end_width``). Strictly decreasing in f.
    """

    levels_v: tuple[float, ...]
    centres: tuple[float, ...]
    width: float
    slope_v: float
    high_v: float
    low_v: float
    end_width: float

    def __call__(self, fill) -> np.ndarray:
        f = np.asarray(fill, dtype=np.float64)
        levels = self.levels_v
        u = np.full(f.shape, levels[-1], dtype=np.float64)
        for k, centre in enumerate(self.centres):
            u += (levels[k] - levels[k + 1]) * expit((centre - f) / self.width)
        u -= self.slope_v * (f - 0.5)
        u += self.high_v * np.exp(-f / self.end_width)
        u -= self.low_v * np.exp(-(1.0 - f) / self.end_width)
        return u


@dataclasses.dataclass(frozen=True)
class ElectrodeCurve:
    """An electrode's open-circuit potential vs Na⁺/Na: one :class:`Staircase` per branch."""

    name: str
    sodiation: Staircase
    desodiation: Staircase

    def potential_v(self, fill, branch: str) -> np.ndarray:
        if branch == SODIATION:
            return self.sodiation(fill)
        if branch == DESODIATION:
            return self.desodiation(fill)
        raise ValueError(f"branch must be {SODIATION!r} or {DESODIATION!r}, not {branch!r}")


_NACRO2_DESODIATION = Staircase(levels_v=(3.17, 3.12, 3.00), centres=(0.45, 0.80), width=0.015,
                                slope_v=0.20, high_v=0.30, low_v=0.40, end_width=0.02)
#: NaCrO2 vs Na: first plateau near 2.95 V (y 0.82–1), an upper region 3.05–3.3 V with a step
#: at y = 0.45, steep ends (3.57 V at Na0.5CrO2, 2.50 V at NaCrO2); 10 mV of hysteresis.
NACRO2_CURVE = ElectrodeCurve(
    "NaCrO2",
    sodiation=dataclasses.replace(_NACRO2_DESODIATION,
                                  levels_v=tuple(v - 0.01 for v in _NACRO2_DESODIATION.levels_v)),
    desodiation=_NACRO2_DESODIATION,
)
#: Sn vs Na: sodiation plateaus at 0.40, 0.18, 0.09 and 0.04 V, desodiation plateaus at 0.15,
#: 0.28, 0.55 and 0.65 V (steps at x = 0.20, 0.42, 0.72); desodiated Sn rises to 2.0 V.
SN_CURVE = ElectrodeCurve(
    "Sn",
    sodiation=Staircase(levels_v=(0.40, 0.18, 0.09, 0.04), centres=(0.20, 0.42, 0.72),
                        width=0.015, slope_v=0.03, high_v=0.50, low_v=0.12, end_width=0.02),
    desodiation=Staircase(levels_v=(0.65, 0.55, 0.28, 0.15), centres=(0.20, 0.42, 0.72),
                          width=0.015, slope_v=0.03, high_v=1.35, low_v=0.10, end_width=0.015),
)


# --------------------------------------------------------------------------------------------
# the cell and what is injected
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ElectrodeKinetics:
    """Ohmic resistance (gone the instant the current stops), charge-transfer resistance and
    its relaxation time constant, of one electrode vs the reference."""

    ohmic_resistance_ohm: float
    charge_transfer_resistance_ohm: float
    relaxation_time_s: float

    def interruption_resistance_ohm(self, after_s: float) -> float:
        """R(Δt) = R + Rct·(1 − e^(−Δt/τ)): what an interruption measures after ``after_s``."""
        return (self.ohmic_resistance_ohm + self.charge_transfer_resistance_ohm
                * (1.0 - math.exp(-after_s / self.relaxation_time_s)))


@dataclasses.dataclass(frozen=True)
class ThreeElectrodeCell:
    """NaCrO2 | Na4(B12H12)(B10H10) | Sn with a Na reference (the paper's balanced full cell).

    ``positive_capacity_mah`` is the NaCrO2 capacity over its whole fill range (active mass ×
    120 mAh/g by default), the Sn capacity is N/P × that. ``sodium_inventory`` is the cyclable
    sodium at the start, as a fraction of the positive capacity (below 1: formation has cost
    some). The C-rate is on the positive capacity.
    """

    name: str = "NaCrO2 97:1:2 5.6 mg/cm2 | Sn 90:5:5 1.2 mg/cm2, Na reference"
    positive_active_mass_mg: float = 5.6 * DISC_AREA_CM2
    positive_specific_capacity_mah_g: float = NACRO2_REFERENCE_MAH_G
    np_ratio: float = 1.2
    sodium_inventory: float = 0.90
    electrode_area_cm2: float = DISC_AREA_CM2
    lower_cutoff_v: float = 1.5
    upper_cutoff_v: float = 3.3
    positive_curve: ElectrodeCurve = NACRO2_CURVE
    negative_curve: ElectrodeCurve = SN_CURVE
    positive_kinetics: ElectrodeKinetics = ElectrodeKinetics(150.0, 100.0, 5.0)
    negative_kinetics: ElectrodeKinetics = ElectrodeKinetics(100.0, 80.0, 3.0)

    @property
    def positive_capacity_mah(self) -> float:
        return self.positive_active_mass_mg / 1000.0 * self.positive_specific_capacity_mah_g

    @property
    def negative_capacity_mah(self) -> float:
        return self.np_ratio * self.positive_capacity_mah

    def analysis_kwargs(self) -> dict:
        """Keyword arguments for :func:`analysis.core.cycling.analyse_cycling`."""
        return {"active_mass_mg": self.positive_active_mass_mg,
                "electrode_area_cm2": self.electrode_area_cm2,
                "reference_capacity_mah_g": self.positive_specific_capacity_mah_g,
                "first_half_cycle": "charge"}


@dataclasses.dataclass(frozen=True)
class Degradation:
    """What is injected, per cycle (a number for every cycle alike, or one value per cycle).

    * ``sodium_loss_fraction``: fraction f of each charge taken by side reactions at the Sn
      (sodium lost from the inventory, f·Q_charge per cycle);
    * ``positive_loss_per_cycle`` / ``negative_loss_per_cycle``: active material lost before
      each cycle after the first, as a fraction of the first cycle's capacity (linear:
      C(n) = C(1)·(1 − p·(n − 1)) for a constant p);
    * ``positive_resistance_growth_per_cycle`` / ``negative_…``: R and Rct multiplied by
      1 + g·(n − 1) in cycle n.
    """

    sodium_loss_fraction: float | Sequence[float] = 0.0
    positive_loss_per_cycle: float | Sequence[float] = 0.0
    negative_loss_per_cycle: float | Sequence[float] = 0.0
    positive_resistance_growth_per_cycle: float = 0.0
    negative_resistance_growth_per_cycle: float = 0.0


def _per_cycle(value, n_cycles: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n_cycles, float(array))
    if array.shape != (n_cycles,):
        raise ValueError(f"{name} must be a number or one value per cycle ({n_cycles})")
    return array


#: name -> (type, meaning) of the truth table's columns
TRUTH_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number (1 = reference)"),
    "positive_capacity_mah": (pa.float64(), "NaCrO2 capacity over fill 0→1 in this cycle, mAh"),
    "negative_capacity_mah": (pa.float64(), "Sn capacity over fill 0→1 in this cycle, mAh"),
    "sodium_inventory_mah": (pa.float64(), "C₊·y + C₋·x during the discharge, mAh"),
    "loss_of_sodium_inventory": (pa.float64(), "1 − inventory ÷ cycle 1's (fraction)"),
    "loss_of_positive_active_material": (pa.float64(), "1 − C₊ ÷ cycle 1's (fraction)"),
    "loss_of_negative_active_material": (pa.float64(), "1 − C₋ ÷ cycle 1's (fraction)"),
    "sodium_loss_fraction": (pa.float64(), "fraction of the charge lost to side reactions at Sn"),
    "charge_capacity_mah": (pa.float64(), "charge passed on charge, mAh"),
    "discharge_capacity_mah": (pa.float64(), "charge passed on discharge, mAh"),
    "positive_fill_end_of_charge": (pa.float64(), "y at the end of charge"),
    "positive_fill_end_of_discharge": (pa.float64(), "y at the end of discharge"),
    "negative_fill_end_of_charge": (pa.float64(), "x at the end of charge"),
    "negative_fill_end_of_discharge": (pa.float64(), "x at the end of discharge"),
    "charge_positive_share": (pa.float64(), "|ΔE₊| ÷ (|ΔE₊| + |ΔE₋|) over the last 2 % of the "
                                            "charge (model, not sampled)"),
    "discharge_positive_share": (pa.float64(), "the same over the last 2 % of the discharge"),
    "positive_resistance_ohm": (pa.float64(), "NaCrO2 ohmic resistance in this cycle, Ω"),
    "positive_charge_transfer_resistance_ohm": (pa.float64(), "NaCrO2 Rct in this cycle, Ω"),
    "negative_resistance_ohm": (pa.float64(), "Sn ohmic resistance in this cycle, Ω"),
    "negative_charge_transfer_resistance_ohm": (pa.float64(), "Sn Rct in this cycle, Ω"),
    "current_ma": (pa.float64(), "|current| of both half cycles, mA"),
}


@dataclasses.dataclass(frozen=True)
class ThreeElectrodeSimulation:
    """The canonical table (with ``ewe_v`` = NaCrO2 vs Na, ``ece_v`` = Sn vs Na, ``voltage_v`` =
    their difference), the truth per cycle, and what it was built from."""

    table: pa.Table
    truth: pa.Table
    cell: ThreeElectrodeCell
    degradation: Degradation
    c_rate: float

    def to_mpt(self, *, cell_voltage_offset_v: float = 0.0) -> bytes:
        """The EC-Lab text export (see :func:`to_eclab_mpt`). ``cell_voltage_offset_v`` is added
        to the written ``Ewe-Ece/V`` only, to make a file whose consistency check fails."""
        return to_eclab_mpt(self.table, three_electrode=True, title=self.cell.name,
                            active_mass_mg=self.cell.positive_active_mass_mg,
                            battery_capacity_mah=self.cell.positive_capacity_mah,
                            electrode_area_cm2=self.cell.electrode_area_cm2,
                            c_rate=self.c_rate, cell_voltage_offset_v=cell_voltage_offset_v,
                            electrode_material="NaCrO2 (WE) | Sn (CE)",
                            reference_electrode="Na metal")


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------

def _record(t: np.ndarray, potentials: Sequence[np.ndarray], interval_s: float,
            record_de_v: float) -> np.ndarray:
    """Indices of a dense candidate grid that EC-Lab would record: a point whenever
    ``interval_s`` has passed or a potential has moved by ``record_de_v`` (cumulative), plus
    the first and the last point."""
    keep = np.zeros(t.size, dtype=bool)
    keep[[0, -1]] = True
    tick = np.floor((t - t[0]) / interval_s)
    keep[1:] |= tick[1:] != tick[:-1]
    if record_de_v > 0:
        for e in potentials:
            travel = np.concatenate(([0.0], np.cumsum(np.abs(np.diff(e)))))
            level = np.floor(travel / record_de_v)
            keep[1:] |= level[1:] != level[:-1]
    return np.flatnonzero(keep)


def _rest_offsets(duration_s: float, interval_s: float) -> np.ndarray:
    fixed = [o for o in REST_RECORD_OFFSETS_S if o < duration_s]
    start = fixed[-1] + interval_s if fixed else interval_s
    regular = np.arange(start, duration_s, interval_s)
    return np.unique(np.concatenate((fixed, regular, [duration_s])))


# --------------------------------------------------------------------------------------------
# the cycling simulation
# --------------------------------------------------------------------------------------------

class _Builder:
    def __init__(self):
        self.t, self.i, self.ewe, self.ece, self.ns, self.cycle = [], [], [], [], [], []
        self.now = 0.0

    def emit(self, offsets, current, ewe, ece, ns, cycle):
        n = offsets.size
        self.t.append(self.now + offsets)
        self.i.append(np.broadcast_to(np.asarray(current, np.float64), (n,)).copy())
        self.ewe.append(np.asarray(ewe, np.float64))
        self.ece.append(np.asarray(ece, np.float64))
        self.ns.append(np.full(n, ns, dtype=np.int64))
        self.cycle.append(np.full(n, cycle, dtype=np.int64))
        self.now += float(offsets[-1])

    def table(self) -> pa.Table:
        ewe, ece = np.concatenate(self.ewe), np.concatenate(self.ece)
        return canonical_table({
            "test_time_s": np.concatenate(self.t),
            "current_ma": np.concatenate(self.i),
            "voltage_v": ewe - ece,
            "step_index": np.concatenate(self.ns),
            "cycle_index": np.concatenate(self.cycle),
            "ewe_v": ewe,
            "ece_v": ece,
        })


def _solve_end(v_of_q, cutoff_v: float, q_max: float, what: str) -> float:
    f_hi = v_of_q(q_max) - cutoff_v
    f_lo = v_of_q(0.0) - cutoff_v
    if f_lo * f_hi > 0:
        raise ValueError(f"{what}: the cut-off {cutoff_v} V is not reached (the cell's potential "
                         f"runs from {f_lo + cutoff_v:.3f} to {f_hi + cutoff_v:.3f} V)")
    return float(brentq(lambda q: v_of_q(q) - cutoff_v, 0.0, q_max, xtol=1e-13, rtol=1e-13))


def simulate(cell: ThreeElectrodeCell = ThreeElectrodeCell(), degradation: Degradation = Degradation(),
             *, n_cycles: int = 20, c_rate: float = 0.1, rest_s: float = 1200.0,
             initial_rest_s: float = 600.0, sample_interval_s: float = 60.0,
             record_de_v: float = 0.005, terminal_fraction: float = 0.02,
             potential_noise_v: float = 0.0, seed: int = 0) -> ThreeElectrodeSimulation:
    """Cycle ``cell`` ``n_cycles`` times at ``c_rate`` (on the positive capacity) with the
    injected ``degradation``; each half cycle is followed by a rest of ``rest_s``.

    The file starts discharged at the lower cut-off (the state after formation, with the
    cell's sodium inventory), with ``initial_rest_s`` at open circuit. ``potential_noise_v``
    adds Gaussian noise of that σ to each electrode's recorded potential (seeded; the cell
    voltage stays their difference; cut-offs are solved without it). Raises ValueError when a
    cut-off cannot be reached or an injected loss of active material leaves an electrode no
    room for its sodium.
    """
    if n_cycles < 1:
        raise ValueError("n_cycles must be at least 1")
    lli = _per_cycle(degradation.sodium_loss_fraction, n_cycles, "sodium_loss_fraction")
    lam_pe = _per_cycle(degradation.positive_loss_per_cycle, n_cycles, "positive_loss_per_cycle")
    lam_ne = _per_cycle(degradation.negative_loss_per_cycle, n_cycles, "negative_loss_per_cycle")
    lam_pe[0] = lam_ne[0] = 0.0  # cycle 1 is the reference
    cp0, cn0 = cell.positive_capacity_mah, cell.negative_capacity_mah
    current = c_rate * cp0
    up, un = cell.positive_curve, cell.negative_curve
    kp, kn = cell.positive_kinetics, cell.negative_kinetics

    # the discharged state after formation: where a discharge at this current stops
    q_na = cell.sodium_inventory * cp0

    eta_p0 = current * (kp.ohmic_resistance_ohm + kp.charge_transfer_resistance_ohm) / 1000.0
    eta_n0 = current * (kn.ohmic_resistance_ohm + kn.charge_transfer_resistance_ohm) / 1000.0

    def v_discharged(xn):
        y = (q_na - cn0 * xn) / cp0
        return (up.potential_v(y, SODIATION) - eta_p0) - (un.potential_v(xn, DESODIATION) + eta_n0)

    x = float(brentq(lambda xn: v_discharged(xn) - cell.lower_cutoff_v, 1e-9,
                     min(q_na / cn0, 1.0) - 1e-9, xtol=1e-14))
    y = (q_na - cn0 * x) / cp0
    cp, cn = cp0, cn0
    builder = _Builder()
    branch_n = DESODIATION  # the Sn was last desodiated
    if initial_rest_s > 0:
        offsets = _rest_offsets(initial_rest_s, sample_interval_s)
        builder.emit(offsets, 0.0, np.full(offsets.size, float(up.potential_v(y, SODIATION))),
                     np.full(offsets.size, float(un.potential_v(x, branch_n))), 0, 0)
    truth_rows = []
    lost_pe = lost_ne = 0.0
    for k in range(n_cycles):
        number = k + 1
        # loss of active material before the cycle: the sodium in the electrode stays
        lost_pe += lam_pe[k]
        lost_ne += lam_ne[k]
        cp_new, cn_new = cp0 * (1.0 - lost_pe), cn0 * (1.0 - lost_ne)
        if cp_new <= 0 or cn_new <= 0:
            raise ValueError(f"cycle {number}: the injected loss of active material leaves no electrode")
        y, x = y * cp / cp_new, x * cn / cn_new
        cp, cn = cp_new, cn_new
        if y > 1.0 or x > 1.0:
            raise ValueError(f"cycle {number}: the injected loss of active material leaves the "
                             f"{'positive' if y > 1 else 'negative'} electrode no room for its sodium")
        gp = 1.0 + degradation.positive_resistance_growth_per_cycle * k
        gn = 1.0 + degradation.negative_resistance_growth_per_cycle * k
        rp, rctp = kp.ohmic_resistance_ohm * gp, kp.charge_transfer_resistance_ohm * gp
        rn, rctn = kn.ohmic_resistance_ohm * gn, kn.charge_transfer_resistance_ohm * gn
        eta_p = current * (rp + rctp) / 1000.0
        eta_n = current * (rn + rctn) / 1000.0
        f = float(lli[k])
        row = {"cycle_number": number, "positive_capacity_mah": cp, "negative_capacity_mah": cn,
               "sodium_loss_fraction": f, "positive_resistance_ohm": rp,
               "positive_charge_transfer_resistance_ohm": rctp, "negative_resistance_ohm": rn,
               "negative_charge_transfer_resistance_ohm": rctn, "current_ma": current}

        for direction in ("charge", "discharge"):
            charging = direction == "charge"
            s = 1.0 if charging else -1.0
            y0, x0 = y, x
            branch_p = DESODIATION if charging else SODIATION
            branch_n = SODIATION if charging else DESODIATION
            into_n = (1.0 - f) if charging else 1.0

            def fills(q, y0=y0, x0=x0, s=s, into_n=into_n):
                return y0 - s * q / cp, x0 + s * into_n * q / cn

            def potentials(q, branch_p=branch_p, branch_n=branch_n, s=s):
                yq, xq = fills(q)
                return (up.potential_v(yq, branch_p) + s * eta_p,
                        un.potential_v(xq, branch_n) - s * eta_n)

            def cell_v(q):
                ep, en = potentials(q)
                return float(ep - en)

            # the fills may run a little past 0 or 1 (the curves are defined there) so that
            # the cut-off can be bracketed
            room = ((y0 + 0.03) * cp if charging else (1.03 - y0) * cp,
                    (1.03 - x0) * cn / into_n if charging else (x0 + 0.03) * cn)
            cutoff = cell.upper_cutoff_v if charging else cell.lower_cutoff_v
            q_end = _solve_end(cell_v, cutoff, min(room), f"cycle {number} {direction}")
            duration = q_end / current * 3600.0
            dense = np.linspace(0.0, duration, max(int(duration / sample_interval_s * 20), 200) + 1)
            ep, en = potentials(dense / 3600.0 * current)
            keep = _record(dense, (ep, en), sample_interval_s, record_de_v)
            builder.emit(dense[keep], s * current, ep[keep], en[keep], 1 if charging else 3,
                         number)
            # the model's own share over the last terminal_fraction of the half cycle
            q_a = q_end * (1.0 - terminal_fraction)
            ep_a, en_a = potentials(q_a)
            ep_b, en_b = potentials(q_end)
            dp, dn = abs(float(ep_b - ep_a)), abs(float(en_b - en_a))
            row[f"{direction}_positive_share"] = dp / (dp + dn)
            y, x = fills(q_end)
            y, x = float(y), float(x)
            row[f"{direction}_capacity_mah"] = q_end
            row[f"positive_fill_end_of_{direction}"] = y
            row[f"negative_fill_end_of_{direction}"] = x
            if charging:
                row["sodium_inventory_mah"] = cp * y + cn * x  # conserved over the discharge
            # rest: the ohmic drop at once, the charge-transfer part relaxes
            if rest_s > 0:
                offsets = _rest_offsets(rest_s, sample_interval_s)
                ep_rest = (up.potential_v(y, branch_p)
                           + s * current * rctp / 1000.0 * np.exp(-offsets / kp.relaxation_time_s))
                en_rest = (un.potential_v(x, branch_n)
                           - s * current * rctn / 1000.0 * np.exp(-offsets / kn.relaxation_time_s))
                builder.emit(offsets, 0.0, ep_rest, en_rest, 2 if charging else 4, number)
        truth_rows.append(row)

    first = truth_rows[0]
    for row in truth_rows:
        for mode, of in (("loss_of_sodium_inventory", "sodium_inventory_mah"),
                         ("loss_of_positive_active_material", "positive_capacity_mah"),
                         ("loss_of_negative_active_material", "negative_capacity_mah")):
            row[mode] = 1.0 - row[of] / first[of]
    truth = pa.table({name: pa.array([row[name] for row in truth_rows], type=dtype)
                      for name, (dtype, _meaning) in TRUTH_COLUMNS.items()})
    if potential_noise_v:
        rng = np.random.default_rng(seed)
        builder.ewe = [e + rng.normal(0.0, potential_noise_v, e.size) for e in builder.ewe]
        builder.ece = [e + rng.normal(0.0, potential_noise_v, e.size) for e in builder.ece]
    return ThreeElectrodeSimulation(builder.table(), truth, cell, degradation, c_rate)


# --------------------------------------------------------------------------------------------
# half-cell references
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HalfCellReference:
    """A slow half-cell cycle of one electrode vs Na (working electrode = that electrode, so a
    positive current desodiates it), covering the electrode's whole fill range 0→1."""

    table: pa.Table
    electrode: str
    curve: ElectrodeCurve
    capacity_mah: float
    c_rate: float

    def to_mpt(self) -> bytes:
        return to_eclab_mpt(self.table, three_electrode=False,
                            title=f"{self.curve.name} half cell vs Na, C/{1 / self.c_rate:g}",
                            battery_capacity_mah=self.capacity_mah, c_rate=self.c_rate,
                            electrode_material=f"{self.curve.name} (WE)",
                            reference_electrode="Na metal")


def half_cell_reference(electrode: str, *, capacity_mah: float = 1.0, c_rate: float = 0.05,
                        n_cycles: int = 2, resistance_ohm: float = 100.0,
                        sample_interval_s: float = 120.0, record_de_v: float = 0.005,
                        rest_s: float = 600.0, lower_cutoff_v: float | None = None,
                        upper_cutoff_v: float | None = None) -> HalfCellReference:
    """A NaCrO2 (``electrode="positive"``) or Sn (``"negative"``) half cell cycled at
    ``c_rate`` over its whole fill range, with a resistance of ``resistance_ohm`` (the slow
    cycle's small overpotential I·R). NaCrO2 cycles start with desodiation (charge), Sn cycles
    with sodiation (discharge), as the lab runs them. With cut-offs, a sodiation stops where
    the potential falls to ``lower_cutoff_v`` and a desodiation where it rises to
    ``upper_cutoff_v`` (e.g. a Sn half cell between 0.01 and 2.00 V stops short of the curve's
    steep ends), and the next half cycle starts from that fill."""
    if electrode not in ("positive", "negative"):
        raise ValueError(f"electrode must be 'positive' or 'negative', not {electrode!r}")
    curve = NACRO2_CURVE if electrode == "positive" else SN_CURVE
    current = c_rate * capacity_mah
    eta = current * resistance_ohm / 1000.0
    order = (DESODIATION, SODIATION) if electrode == "positive" else (SODIATION, DESODIATION)
    builder = _Builder()
    fill = 1.0 if electrode == "positive" else 0.0
    offsets = _rest_offsets(rest_s, sample_interval_s)
    builder.emit(offsets, 0.0, np.full(offsets.size, float(curve.potential_v(fill, order[1]))),
                 np.zeros(offsets.size), 0, 0)
    full_duration = capacity_mah / current * 3600.0
    for number in range(1, n_cycles + 1):
        for branch in order:
            s = 1.0 if branch == DESODIATION else -1.0  # desodiation oxidises the electrode
            room = fill if branch == DESODIATION else 1.0 - fill
            duration = room * full_duration
            dense = np.linspace(0.0, duration, int(duration / sample_interval_s * 20) + 1)
            q_fill = dense / full_duration
            f = fill - q_fill if branch == DESODIATION else fill + q_fill
            e = curve.potential_v(f, branch) + s * eta
            cutoff = upper_cutoff_v if branch == DESODIATION else lower_cutoff_v
            if cutoff is not None:
                beyond = np.flatnonzero(e > cutoff if branch == DESODIATION else e < cutoff)
                if beyond.size:
                    if beyond[0] < 2:
                        raise ValueError(f"the {branch} starts beyond its cut-off {cutoff} V")
                    dense, f, e = dense[:beyond[0]], f[:beyond[0]], e[:beyond[0]]
            keep = _record(dense, (e,), sample_interval_s, record_de_v)
            builder.emit(dense[keep], s * current, e[keep], np.zeros(keep.size),
                         1 if branch == order[0] else 3, number)
            fill = float(f[-1])
            rest = _rest_offsets(rest_s, sample_interval_s)
            builder.emit(rest, 0.0, np.full(rest.size, float(curve.potential_v(fill, branch))),
                         np.zeros(rest.size), 2 if branch == order[0] else 4, number)
    built = builder.table()  # a two-electrode file: the cell voltage is Ewe, no Ece
    table = canonical_table({name: built.column(name).to_numpy() for name in
                             ("test_time_s", "current_ma", "step_index", "cycle_index", "ewe_v")}
                            | {"voltage_v": built.column("ewe_v").to_numpy()})
    return HalfCellReference(table, electrode, curve, capacity_mah, c_rate)


# --------------------------------------------------------------------------------------------
# EC-Lab text export
# --------------------------------------------------------------------------------------------

_THREE_DIGIT_EXPONENT = re.compile(r"E([+-])(\d\d)(?=\t|\n)")


def _f32(values: np.ndarray) -> np.ndarray:
    """What EC-Lab stores for a potential: a float32."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def to_eclab_mpt(table: pa.Table, *, three_electrode: bool, title: str = "",
                 active_mass_mg: float | None = None, battery_capacity_mah: float | None = None,
                 electrode_area_cm2: float | None = None, c_rate: float | None = None,
                 cell_voltage_offset_v: float = 0.0, electrode_material: str = "",
                 reference_electrode: str = "") -> bytes:
    """A canonical table (with ``ewe_v``, and ``ece_v`` for a three-electrode file) as an EC-Lab
    GCPL text export: Latin-1, tab-separated, decimal points, the header with its fixed-width
    parameter table, ``Record Ece`` and the ``Ece/V`` and ``Ewe-Ece/V`` columns when
    ``three_electrode``. Potentials are written as EC-Lab writes them (float32, 8 digits),
    ``Ewe-Ece/V`` from those float32 values (plus ``cell_voltage_offset_v``)."""
    t = table.column("test_time_s").to_numpy()
    current = table.column("current_ma").to_numpy()
    ewe = _f32(table.column("ewe_v").to_numpy())
    ece = _f32(table.column("ece_v").to_numpy()) if three_electrode else None
    ns = table.column("step_index").to_numpy().astype(np.int64)
    n = t.size
    # EC-Lab's counters: dq since the last point, Q-Qo, the signed charge of the current half
    # cycle (restarting at each change of direction, held through rests), half cycle number
    dq = np.zeros(n)
    dq[1:] = 0.5 * (current[1:] + current[:-1]) * np.diff(t) / 3600.0
    q_total = np.cumsum(dq)
    sign = np.sign(current)
    direction = np.zeros(n, dtype=np.int64)
    last = 0
    half = np.zeros(n, dtype=np.int64)
    count = -1
    q_half = np.zeros(n)
    running = 0.0
    for j in range(n):  # a few ten thousand rows: plain loop, written once per file
        if sign[j] != 0 and sign[j] != last:
            last = int(sign[j])
            count += 1
            running = 0.0
        elif j:
            running += dq[j]
        direction[j] = last
        half[j] = max(count, 0)
        q_half[j] = running
    ns_change = np.r_[1, (ns[1:] != ns[:-1]).astype(np.int64)]
    mode = np.where(current == 0, 3, 1)
    ox_red = (current > 0).astype(np.int64)
    control = np.where(current == 0, 0.0, current)
    cycle_number = (half // 2).astype(np.float64)
    columns = [
        ("mode", mode, "%d"), ("ox/red", ox_red, "%d"), ("error", np.zeros(n, np.int64), "%d"),
        ("control changes", ns_change, "%d"), ("Ns changes", ns_change, "%d"),
        ("counter inc.", np.zeros(n, np.int64), "%d"), ("Ns", ns, "%d"), ("time/s", t, "%.15E"),
        ("control/mA", control, "%.7E"), ("Ewe/V", ewe, "%.7E"),
    ]
    if three_electrode:
        columns.append(("Ece/V", ece, "%.7E"))
    columns += [
        ("I/mA", current, "%.15E"), ("dq/mA.h", dq, "%.15E"), ("(Q-Qo)/mA.h", q_total, "%.15E"),
        ("Q charge/discharge/mA.h", q_half, "%.15E"), ("half cycle", half, "%d"),
        ("cycle number", cycle_number, "%.15E"),
    ]
    if three_electrode:
        columns.append(("Ewe-Ece/V", _f32(ewe - ece + cell_voltage_offset_v), "%.7E"))

    def fixed(name, *values):
        return name.ljust(20) + "".join(str(v).ljust(20) for v in values)

    i_set = (c_rate or 0.0) * (battery_capacity_mah or 0.0)
    body = [
        "", "Galvanostatic Cycling with Potential Limitation", "",
        "Run on channel : 4 (SN 0858)", "User : ",
        "CE vs. WE compliance from -10 V to 10 V", "Electrode connection : standard",
        "Potential control : Ewe-Ece" if three_electrode else "Potential control : Ewe",
        "Ewe ctrl range : min = -10.00 V, max = 10.00 V", "Safety Limits :",
        "\tDo not start on E overload", "Acquisition started on : 01/15/2026 09:00:00.000",
        "Loaded Setting File :  NONE", "Saved on :", f"\tFile : {title}.mpr",
        "\tDirectory : C:\\data\\", "\tHost : 127.0.0.1", "Device : VMP3 (SN 0858)",
        "Address : 127.0.0.1", "EC-LAB for windows v11.61 (software)",
        "Internet server v11.61 (firmware)", "Command interpretor v11.61 (firmware)",
        f"Electrode material : {electrode_material}", "Initial state : discharged",
        "Electrolyte : Na4(B12H12)(B10H10)", f"Comments : {title}",
        f"Reference electrode : {reference_electrode}",
    ]
    if active_mass_mg is not None:
        body.append(f"Mass of active material : {active_mass_mg:.3f} mg")
    if battery_capacity_mah is not None:
        body.append(f"Battery capacity : {battery_capacity_mah:.3f} mA.h")
    if electrode_area_cm2 is not None:
        body.append(f"Electrode surface area : {electrode_area_cm2:.3f} cm\u00b2")
    if three_electrode:
        body.append("Record Ece")
    body += [
        "Cycle Definition : Charge/Discharge alternance",
        fixed("Ns", 0, 1, 2, 3, 4),
        fixed("Set I/C", "I", "I", "I", "I", "I"),
        fixed("Is", "0.000", f"{i_set:.3f}", "0.000", f"{-i_set:.3f}", "0.000"),
        fixed("unit Is", "mA", "mA", "mA", "mA", "mA"),
        fixed("EM (V)", "0.000", "3.300", "0.000", "1.500", "0.000"),
        fixed("goto Ns'", 0, 0, 0, 0, 1),
        "",
    ]
    names = "\t".join(name for name, _v, _f in columns) + "\t"
    n_header = 2 + len(body) + 1
    head = ["EC-Lab ASCII FILE", f"Nb header lines : {n_header}".ljust(46)] + body + [names]
    stacked = np.column_stack([np.asarray(v, dtype=np.float64) for _n, v, _f in columns])
    buffer = io.StringIO()
    np.savetxt(buffer, stacked, delimiter="\t", fmt=[f for _n, _v, f in columns], newline="\n")
    data = _THREE_DIGIT_EXPONENT.sub(r"E\g<1>0\g<2>", buffer.getvalue())  # EC-Lab: E+000
    return ("\n".join(head) + "\n" + data).encode("latin-1")
