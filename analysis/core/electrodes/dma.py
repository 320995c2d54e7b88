"""Degradation modes of a three-electrode cell against a reference cycle.

Each electrode's measured potential over a half cycle is fitted with that electrode's own
reference curve, a slow half-cell branch of the same direction (Bloom 2005, Dahn 2012, Dubarry
2012, Birkl 2017; the three-electrode form of ANALYSIS_METHODS.md §1.2):

    E(Q) = U_ref(f₀ ± Q/C) + η

with f the electrode's sodium fill on the reference's scale (0 → 1 over the reference branch,
the fill rising on sodiation), Q the capacity since the half cycle's start, and three
unknowns: the fill at the start f₀, the electrode's capacity C (mAh per unit of fill) and a
constant overpotential η (the electrode's I·R at this current, plus any offset between the
reference's and the cell's reference electrodes). η is solved in closed form for every (f₀, C);
(f₀, C) by a grid search over the fills at both ends of the branch followed by a least-squares
refinement (scipy ``least_squares``). The residual (RMS and largest) is stored with each fit.

Which reference branch: the electrode's direction, not the cell's. On full-cell charge the
positive (NaCrO2) is desodiated and the negative (Sn) sodiated; on discharge the reverse. So the
Sn's large hysteresis is handled by fitting its sodiation with the reference's sodiation and its
desodiation with the reference's desodiation.

Modes (PyProBE ``calculate_dma_parameters`` in sodium terms), per cycle, from the fits of one
half cycle (``mode_half_cycle``, default the discharge: a side reaction takes charge on charge,
which a fit reads as extra capacity, and none is assumed on discharge):

* sodium inventory Q_Na = C₊·f₊ + C₋·f₋ (the cyclable sodium in both electrodes, the same at
  every point of the half cycle), mAh;
* loss of sodium inventory LNaI = 1 − Q_Na ÷ Q_Na,ref;
* loss of active material LAM₊ = 1 − C₊ ÷ C₊,ref, LAM₋ = 1 − C₋ ÷ C₋,ref;
* slippage s = C₊ − Q_Na (the offset between "positive full" and "negative empty"), its change
  against the reference cycle;
* the electrode fills at the end of charge and of discharge (each from its own half cycle's fit);
* the side-reaction capacity at each electrode on charge, Q_charge·(1 − C_discharge ÷ C_charge):
  the charge that went through the electrode without changing its sodium content (where the
  sodium is lost);
* the fitted polarisation η(desodiation) − η(sodiation): the electrode's overpotential with its
  thermodynamic hysteresis and its window removed.

Ratios are fractions, relative to ``reference_cycle`` (default: the first cycle fitted). Where
an electrode has no reference curve (or lacks the branch a half cycle needs), nothing is guessed:
its fits have status "no_reference", the modes that need it are null, and ``messages`` says so.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
from scipy.optimize import least_squares

from .cycles import cumulative_capacity_mah
from .three_electrode import (CHARGE, DISCHARGE, ELECTRODES, NEGATIVE, POSITIVE, HalfCycles,
                              ThreeElectrodeData, arrow_table, as_float_array, json_safe,
                              table_column)

VERSION = "1.0.0"
SODIATION, DESODIATION = "sodiation", "desodiation"
#: the electrode's direction in each full-cell half cycle
BRANCH_OF = {(POSITIVE, CHARGE): DESODIATION, (POSITIVE, DISCHARGE): SODIATION,
             (NEGATIVE, CHARGE): SODIATION, (NEGATIVE, DISCHARGE): DESODIATION}
ELECTRODE_NAMES = {POSITIVE: "NaCrO2", NEGATIVE: "Sn"}
FIT_DEFAULTS = {"n_points": 200, "exclude_start_fraction": 0.01, "grid_step": 0.02}
_EDGE_FILL = 0.01  # the end slope used to extend a reference curve is taken over this fill


# --------------------------------------------------------------------------------------------
# reference curves
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReferenceCurve:
    """One branch of an electrode's reference: potential vs sodium fill (strictly increasing,
    0 → 1 over the branch), the branch's capacity and where it came from."""

    electrode: str
    branch: str
    fill: np.ndarray
    potential_v: np.ndarray
    capacity_mah: float
    source: str = ""

    def __post_init__(self):
        if self.electrode not in ELECTRODES:
            raise ValueError(f"electrode must be {POSITIVE!r} or {NEGATIVE!r}, not {self.electrode!r}")
        if self.branch not in (SODIATION, DESODIATION):
            raise ValueError(f"branch must be {SODIATION!r} or {DESODIATION!r}, not {self.branch!r}")
        if self.fill.size < 10 or self.fill.size != self.potential_v.size:
            raise ValueError("a reference curve needs at least 10 points, as many fills as potentials")
        if np.any(np.diff(self.fill) <= 0):
            raise ValueError("the reference curve's fill must increase strictly")

    @classmethod
    def from_branch(cls, capacity_mah: Any, potential_v: Any, *, electrode: str, branch: str,
                    source: str = "") -> "ReferenceCurve":
        """From a measured branch (capacity since its start, potential): fill = Q ÷ Q_total on
        sodiation, 1 − Q ÷ Q_total on desodiation. Rows repeating a capacity keep the last."""
        q = as_float_array(capacity_mah, "capacity_mah")
        e = as_float_array(potential_v, "potential_v")
        if q.size != e.size:
            raise ValueError(f"capacity_mah has {q.size} values, potential_v has {e.size}")
        keep = np.isfinite(q) & np.isfinite(e)
        q, e = q[keep], e[keep]
        if q.size < 10 or q[-1] - q[0] <= 0:
            raise ValueError("a reference branch needs at least 10 points and some capacity")
        last = np.r_[np.diff(q) > 0, True]
        q, e = q[last] - q[0], e[last]
        total = float(q[-1])
        fill = q / total
        if branch == DESODIATION:
            fill, e = (1.0 - fill)[::-1], e[::-1]
        return cls(electrode, branch, np.ascontiguousarray(fill), np.ascontiguousarray(e), total,
                   source)

    def potential_at(self, fill: Any) -> np.ndarray:
        """U(fill), linear between points, extended past 0 and 1 with the end slopes (taken
        over the outer 1 % of fill)."""
        f = np.asarray(fill, dtype=np.float64)
        u = np.interp(f, self.fill, self.potential_v)
        lo, hi = self.fill[0], self.fill[-1]
        below, above = f < lo, f > hi
        if below.any():
            j = max(int(np.searchsorted(self.fill, lo + _EDGE_FILL)), 1)
            slope = (self.potential_v[j] - self.potential_v[0]) / (self.fill[j] - lo)
            u = np.where(below, self.potential_v[0] + slope * (f - lo), u)
        if above.any():
            j = min(int(np.searchsorted(self.fill, hi - _EDGE_FILL)) - 1, self.fill.size - 2)
            slope = (self.potential_v[-1] - self.potential_v[j]) / (hi - self.fill[j])
            u = np.where(above, self.potential_v[-1] + slope * (f - hi), u)
        return u


@dataclasses.dataclass(frozen=True)
class ElectrodeReference:
    """An electrode's reference: its sodiation and desodiation branches (either may be None),
    where they came from and the half cell's cycle they were taken from."""

    electrode: str
    sodiation: ReferenceCurve | None = None
    desodiation: ReferenceCurve | None = None
    source: str = ""
    cycle_number: int | None = None

    def branch(self, name: str) -> ReferenceCurve | None:
        return self.sodiation if name == SODIATION else self.desodiation


def reference_from_half_cell(table: Any, half_cycles: HalfCycles, *, electrode: str,
                             cycle_number: int | None = None, potential_column: str = "voltage_v",
                             source: str = "") -> ElectrodeReference:
    """An electrode's reference from one cycle of its half cell (the electrode is the working
    electrode: a positive current desodiates it).

    ``cycle_number`` defaults to the slowest cycle with both half cycles (lowest mean |I|; of
    cycles within 5 % of that rate the last, since the first cycle of a fresh electrode carries
    its formation). ``potential_column`` is the table's column with the electrode's potential
    (``voltage_v``, or ``ewe_v`` for a half cell with a reference electrode). ``source`` names
    the half cell's data; the cycle is added to it.
    """
    if electrode not in ELECTRODES:
        raise ValueError(f"electrode must be {POSITIVE!r} or {NEGATIVE!r}, not {electrode!r}")
    t = table_column(table, "test_time_s")
    i = table_column(table, "current_ma")
    e = table_column(table, potential_column)
    rates = {}
    for cycle in half_cycles.cycles().tolist():
        ks = [half_cycles.index(cycle, d) for d in (CHARGE, DISCHARGE)]
        if None in ks:
            continue
        charge = duration = 0.0
        for k in ks:
            s, f = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
            charge += cumulative_capacity_mah(t[s:f + 1], i[s:f + 1])[-1]
            duration += t[f] - t[s]
        rates[cycle] = charge / duration if duration > 0 else math.inf
    if not rates:
        raise ValueError("the half cell has no cycle with both half cycles")
    if cycle_number is None:
        slowest = min(rates.values())
        cycle_number = max(c for c, r in rates.items() if r <= 1.05 * slowest)
    elif cycle_number not in rates:
        raise ValueError(f"cycle_number {cycle_number} is not a complete cycle of the half cell "
                         f"(complete cycles: {sorted(rates)})")
    label = f"{source or 'half cell'}, cycle {cycle_number}"
    curves = {}
    for direction in (CHARGE, DISCHARGE):
        k = half_cycles.index(cycle_number, direction)
        s, f = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
        branch = DESODIATION if direction == CHARGE else SODIATION
        q = cumulative_capacity_mah(t[s:f + 1], i[s:f + 1])
        curves[branch] = ReferenceCurve.from_branch(q, e[s:f + 1], electrode=electrode,
                                                    branch=branch, source=label)
    return ElectrodeReference(electrode, curves[SODIATION], curves[DESODIATION], label, int(cycle_number))


# --------------------------------------------------------------------------------------------
# fitting one branch
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BranchFit:
    """E(Q) = U_ref(f₀ + (f₁ − f₀)·Q/Q_end) + η fitted on one branch (see the module docstring)."""

    status: str
    fill_start: float = math.nan
    fill_end: float = math.nan
    capacity_mah: float = math.nan
    overpotential_v: float = math.nan
    rmse_v: float = math.nan
    max_abs_residual_v: float = math.nan
    n_points: int = 0
    outside_reference_fraction: float = math.nan
    message: str = ""

    @property
    def sodium_at_start_mah(self) -> float:
        return self.capacity_mah * self.fill_start

    def to_dict(self) -> dict:
        return json_safe(dataclasses.asdict(self))


def fit_branch(capacity_mah: Any, potential_v: Any, reference: ReferenceCurve, *,
               n_points: int = FIT_DEFAULTS["n_points"],
               exclude_start_fraction: float = FIT_DEFAULTS["exclude_start_fraction"],
               grid_step: float = FIT_DEFAULTS["grid_step"]) -> BranchFit:
    """Fit one measured branch (capacity since its start in mAh, potential in V) with the
    reference branch of the same direction.

    The branch is resampled on ``n_points`` evenly spaced in Q (so dense recording on steep
    parts does not weigh more), leaving out the first ``exclude_start_fraction`` of its capacity
    (the potential's transient after the current starts). The fill rises along a sodiation
    branch and falls along a desodiation one; start and end fills are searched on a grid of
    ``grid_step`` over [−0.1, 1.1] and refined by least squares within [−0.3, 1.3]; the
    fraction of points that fall outside the reference's fill range is reported."""
    q = as_float_array(capacity_mah, "capacity_mah")
    e = as_float_array(potential_v, "potential_v")
    if q.size != e.size:
        raise ValueError(f"capacity_mah has {q.size} values, potential_v has {e.size}")
    keep = np.isfinite(q) & np.isfinite(e)
    q, e = q[keep], e[keep]
    if q.size < 10 or q[-1] - q[0] <= 0:
        return BranchFit("failed", message="the branch has fewer than 10 points or no capacity")
    last = np.r_[np.diff(q) > 0, True]
    q, e = q[last] - q[0], e[last]
    q_end = float(q[-1])
    u = np.linspace(exclude_start_fraction, 1.0, int(n_points))
    measured = np.interp(u * q_end, q, e)
    rising = reference.branch == SODIATION

    def residual(f0, f1):
        fills = f0[..., None] + (f1 - f0)[..., None] * u
        r = measured - reference.potential_at(fills)
        return r - r.mean(axis=-1, keepdims=True)

    grid = np.arange(-0.1, 1.1 + 1e-9, grid_step)
    f0, f1 = np.meshgrid(grid, grid, indexing="ij")
    span = (f1 - f0) if rising else (f0 - f1)
    ok = span >= 0.05
    f0, f1 = f0[ok], f1[ok]
    cost = np.sum(residual(f0, f1) ** 2, axis=-1)
    best = int(np.argmin(cost))
    start = np.array([f0[best], f1[best]])

    def fun(p):
        return residual(np.asarray(p[0]), np.asarray(p[1]))

    solution = least_squares(fun, start, bounds=([-0.3, -0.3], [1.3, 1.3]), x_scale=0.01,
                             xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    fs, fe = (float(v) for v in solution.x)
    if not solution.success or (fe - fs if rising else fs - fe) <= 1e-6:
        return BranchFit("failed", message=f"the fit did not converge: {solution.message}")
    fills = fs + (fe - fs) * u
    raw = measured - reference.potential_at(fills)
    eta = float(raw.mean())
    res = raw - eta
    outside = float(np.mean((fills < -1e-6) | (fills > 1.0 + 1e-6)))
    return BranchFit("fitted", fs, fe, q_end / abs(fe - fs), eta, float(np.sqrt(np.mean(res ** 2))),
                     float(np.max(np.abs(res))), int(u.size), outside, "")


# --------------------------------------------------------------------------------------------
# modes over a run
# --------------------------------------------------------------------------------------------

FIT_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number"),
    "electrode": (pa.string(), "electrode role: positive or negative"),
    "half_cycle": (pa.string(), "full-cell half cycle: charge or discharge"),
    "branch": (pa.string(), "the electrode's direction: sodiation or desodiation"),
    "status": (pa.string(), "fitted, failed or no_reference"),
    "fill_start": (pa.float64(), "sodium fill at the half cycle's start, on the reference's 0–1 scale"),
    "fill_end": (pa.float64(), "sodium fill at the half cycle's end"),
    "capacity_mah": (pa.float64(), "electrode capacity C (mAh per unit of fill)"),
    "sodium_at_start_mah": (pa.float64(), "C × fill at the start: the sodium in the electrode, mAh"),
    "overpotential_v": (pa.float64(), "constant η of the fit (measured − reference), V"),
    "rmse_v": (pa.float64(), "RMS residual of the fit, V"),
    "max_abs_residual_v": (pa.float64(), "largest |residual|, V"),
    "n_points": (pa.int64(), "points fitted (evenly spaced in capacity)"),
    "outside_reference_fraction": (pa.float64(), "fraction of the points whose fill lies outside "
                                                 "the reference's 0–1"),
    "reference_source": (pa.string(), "where the reference branch came from"),
    "message": (pa.string(), "why a fit failed or is missing"),
}

MODE_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number"),
    "half_cycle": (pa.string(), "the half cycle whose fits give the capacities and inventory"),
    "positive_capacity_mah": (pa.float64(), "C₊, mAh per unit of NaCrO2 fill"),
    "negative_capacity_mah": (pa.float64(), "C₋, mAh per unit of Sn fill"),
    "sodium_inventory_mah": (pa.float64(), "Q_Na = C₊·f₊ + C₋·f₋, mAh"),
    "loss_of_sodium_inventory": (pa.float64(), "LNaI = 1 − Q_Na ÷ Q_Na of the reference cycle"),
    "loss_of_positive_active_material": (pa.float64(), "LAM₊ = 1 − C₊ ÷ C₊ of the reference cycle"),
    "loss_of_negative_active_material": (pa.float64(), "LAM₋ = 1 − C₋ ÷ C₋ of the reference cycle"),
    "slippage_mah": (pa.float64(), "s = C₊ − Q_Na, mAh"),
    "slippage_change_mah": (pa.float64(), "s − s of the reference cycle, mAh"),
    "state_of_health": (pa.float64(), "the half cycle's capacity ÷ the reference cycle's"),
    "positive_fill_end_of_charge": (pa.float64(), "NaCrO2 fill at the end of charge"),
    "positive_fill_end_of_discharge": (pa.float64(), "NaCrO2 fill at the end of discharge"),
    "negative_fill_end_of_charge": (pa.float64(), "Sn fill at the end of charge"),
    "negative_fill_end_of_discharge": (pa.float64(), "Sn fill at the end of discharge"),
    "positive_side_reaction_capacity_mah": (pa.float64(), "Q_charge·(1 − C₊,discharge ÷ "
                                                          "C₊,charge): charge through NaCrO2 "
                                                          "beyond its change of sodium, mAh"),
    "negative_side_reaction_capacity_mah": (pa.float64(), "the same at the Sn, mAh"),
    "positive_fitted_polarisation_v": (pa.float64(), "η(desodiation) − η(sodiation) of NaCrO2, V"),
    "negative_fitted_polarisation_v": (pa.float64(), "η(desodiation) − η(sodiation) of Sn, V"),
    "largest_rmse_v": (pa.float64(), "largest RMS residual among the cycle's fits, V"),
}


@dataclasses.dataclass(frozen=True)
class DegradationModes:
    """The fits (one row per cycle, electrode and half cycle), the modes (one row per cycle),
    the status ("computed", "partial": one electrode or branch without reference, or
    "no_reference") and the messages saying what could not be computed and why."""

    status: str
    messages: tuple[str, ...]
    fits: pa.Table
    modes: pa.Table
    reference_cycle: int | None
    params: dict

    def to_dict(self) -> dict:
        return json_safe({"status": self.status, "messages": list(self.messages),
                          "reference_cycle": self.reference_cycle, "params": self.params})


def _nan_row(spec):
    return {name: (math.nan if pa.types.is_floating(t) else None) for name, (t, _m) in spec.items()}


def degradation_modes(data: ThreeElectrodeData, half_cycles: HalfCycles, *,
                      positive_reference: ElectrodeReference | None,
                      negative_reference: ElectrodeReference | None,
                      reference_cycle: int | None = None, mode_half_cycle: str = DISCHARGE,
                      cycles: Sequence[int] | None = None, **fit_params: Any) -> DegradationModes:
    """Fit every half cycle of every electrode that has a reference branch, and the modes per
    cycle from the ``mode_half_cycle`` fits (see the module docstring). ``fit_params`` go to
    :func:`fit_branch` (n_points, exclude_start_fraction, grid_step)."""
    if mode_half_cycle not in (CHARGE, DISCHARGE):
        raise ValueError(f"mode_half_cycle must be 'charge' or 'discharge', not {mode_half_cycle!r}")
    unknown = set(fit_params) - set(FIT_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown fit parameter(s): {', '.join(sorted(unknown))}")
    references = {POSITIVE: positive_reference, NEGATIVE: negative_reference}
    for role, ref in references.items():
        if ref is not None and ref.electrode != role:
            raise ValueError(f"{role}_reference is a reference of the {ref.electrode} electrode")
    fit_settings = {**FIT_DEFAULTS, **fit_params}
    messages = []
    for role, ref in references.items():
        name = ELECTRODE_NAMES[role]
        if ref is None:
            messages.append(f"no reference curve for the {role} electrode ({name}): its loss of "
                            f"active material, the sodium inventory and the slippage are not "
                            f"computed")
            continue
        for direction in (CHARGE, DISCHARGE):
            branch = BRANCH_OF[(role, direction)]
            if ref.branch(branch) is None:
                messages.append(f"the {role} electrode's reference has no {branch} branch: its "
                                f"{direction} half cycles are not fitted")
    wanted = set(half_cycles.cycles().tolist()) if cycles is None else set(cycles)

    fits: dict[tuple[int, str, str], BranchFit] = {}
    capacities: dict[tuple[int, str], float] = {}
    fit_rows = {name: [] for name in FIT_COLUMNS}
    for k in range(len(half_cycles)):
        cycle = int(half_cycles.cycle_number[k])
        if cycle not in wanted:
            continue
        direction = CHARGE if half_cycles.direction[k] > 0 else DISCHARGE
        s, f = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
        q = cumulative_capacity_mah(data.time_s[s:f + 1], data.current_ma[s:f + 1])
        capacities[(cycle, direction)] = float(q[-1])
        for role in ELECTRODES:
            branch = BRANCH_OF[(role, direction)]
            ref = references[role]
            curve = ref.branch(branch) if ref is not None else None
            if curve is None:
                fit = BranchFit("no_reference", message=f"no {branch} reference for the {role} "
                                                        f"electrode ({ELECTRODE_NAMES[role]})")
            else:
                fit = fit_branch(q, data.potential_v(role)[s:f + 1], curve, **fit_settings)
            fits[(cycle, role, direction)] = fit
            row = {"cycle_number": cycle, "electrode": role, "half_cycle": direction,
                   "branch": branch, "reference_source": curve.source if curve is not None else None,
                   "sodium_at_start_mah": fit.sodium_at_start_mah,
                   **{name: getattr(fit, name) for name in
                      ("status", "fill_start", "fill_end", "capacity_mah", "overpotential_v",
                       "rmse_v", "max_abs_residual_v", "n_points", "outside_reference_fraction",
                       "message")}}
            for name in fit_rows:
                fit_rows[name].append(row[name])

    def fitted(cycle, role, direction):
        fit = fits.get((cycle, role, direction))
        return fit if fit is not None and fit.status == "fitted" else None

    available = [role for role in ELECTRODES if references[role] is not None
                 and references[role].branch(BRANCH_OF[(role, mode_half_cycle)]) is not None]
    cycle_list = [c for c in half_cycles.cycles().tolist() if c in wanted]
    if reference_cycle is None:
        reference_cycle = next((c for c in cycle_list if available
                                and all(fitted(c, r, mode_half_cycle) for r in available)), None)
    elif reference_cycle not in cycle_list:
        raise ValueError(f"reference_cycle {reference_cycle} is not among the cycles analysed")
    elif available and not all(fitted(reference_cycle, r, mode_half_cycle) for r in available):
        raise ValueError(f"the reference cycle {reference_cycle} has no fitted {mode_half_cycle} "
                         f"for every electrode with a reference")

    mode_rows = {name: [] for name in MODE_COLUMNS}
    ref_values = {}
    for cycle in cycle_list:
        row = _nan_row(MODE_COLUMNS)
        row["cycle_number"], row["half_cycle"] = cycle, mode_half_cycle
        main = {role: fitted(cycle, role, mode_half_cycle) for role in ELECTRODES}
        if main[POSITIVE]:
            row["positive_capacity_mah"] = main[POSITIVE].capacity_mah
        if main[NEGATIVE]:
            row["negative_capacity_mah"] = main[NEGATIVE].capacity_mah
        if main[POSITIVE] and main[NEGATIVE]:
            inventory = main[POSITIVE].sodium_at_start_mah + main[NEGATIVE].sodium_at_start_mah
            row["sodium_inventory_mah"] = inventory
            row["slippage_mah"] = main[POSITIVE].capacity_mah - inventory
        row["state_of_health"] = capacities.get((cycle, mode_half_cycle), math.nan)
        for role in ELECTRODES:
            for direction in (CHARGE, DISCHARGE):
                fit = fitted(cycle, role, direction)
                row[f"{role}_fill_end_of_{direction}"] = fit.fill_end if fit else math.nan
            charge_fit, discharge_fit = fitted(cycle, role, CHARGE), fitted(cycle, role, DISCHARGE)
            if charge_fit and discharge_fit:
                q_charge = capacities[(cycle, CHARGE)]
                row[f"{role}_side_reaction_capacity_mah"] = q_charge * (
                    1.0 - discharge_fit.capacity_mah / charge_fit.capacity_mah)
                eta = {CHARGE: charge_fit.overpotential_v, DISCHARGE: discharge_fit.overpotential_v}
                desodiation = CHARGE if role == POSITIVE else DISCHARGE
                sodiation = DISCHARGE if role == POSITIVE else CHARGE
                row[f"{role}_fitted_polarisation_v"] = eta[desodiation] - eta[sodiation]
        rmses = [fits[key].rmse_v for key in fits if key[0] == cycle and fits[key].status == "fitted"]
        row["largest_rmse_v"] = max(rmses) if rmses else math.nan
        if cycle == reference_cycle:
            ref_values = dict(row)
        for name in mode_rows:
            mode_rows[name].append(row[name])
    # ratios against the reference cycle
    n = len(cycle_list)

    def column(name):
        return np.asarray(mode_rows[name], dtype=np.float64)

    def against(name):
        ref = ref_values.get(name, math.nan) if ref_values else math.nan
        return column(name) / ref if ref and math.isfinite(ref) else np.full(n, math.nan)

    mode_rows["loss_of_sodium_inventory"] = list(1.0 - against("sodium_inventory_mah"))
    mode_rows["loss_of_positive_active_material"] = list(1.0 - against("positive_capacity_mah"))
    mode_rows["loss_of_negative_active_material"] = list(1.0 - against("negative_capacity_mah"))
    mode_rows["state_of_health"] = list(against("state_of_health"))
    s_ref = ref_values.get("slippage_mah", math.nan) if ref_values else math.nan
    mode_rows["slippage_change_mah"] = list(column("slippage_mah") - s_ref)

    if not available and all(references[r] is None for r in ELECTRODES):
        status = "no_reference"
    elif messages:
        status = "partial"
    else:
        status = "computed"
    params = {"mode_half_cycle": mode_half_cycle, "reference_cycle": reference_cycle,
              "fit": fit_settings, "references": {
                  role: (references[role].source if references[role] is not None else None)
                  for role in ELECTRODES}}
    meta = {"method": "degradation_modes", "version": VERSION, "params": params,
            "status": status, "messages": messages}
    return DegradationModes(status, tuple(messages),
                            arrow_table(fit_rows, FIT_COLUMNS, {**meta, "table": "fits"}),
                            arrow_table(mode_rows, MODE_COLUMNS, {**meta, "table": "modes"}),
                            reference_cycle, params)
