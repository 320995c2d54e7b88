"""Per electrode and cycle: what each electrode did in each half cycle of a three-electrode run.

:func:`electrode_cycle_table` gives one row per cycle and electrode role (positive, negative)
with the columns of :data:`ELECTRODE_CYCLE_COLUMNS`; :func:`potential_range_table` one row
per cycle, electrode and characteristic potential range (:data:`POTENTIAL_RANGE_COLUMNS`);
:func:`electrode_differential_curves` the dQ/dE or dE/dQ curves of chosen cycles. Each table
stores its method, version and parameters in its schema metadata (:func:`table_metadata`).

The half cycles are given (:class:`HalfCycles`: row ranges with their direction), so how they
were found does not matter here. "Charge" and "discharge" are the full cell's: on charge the
positive (NaCrO2) is desodiated and the negative (Sn) sodiated.

Definitions, within one half cycle (rows start…end):

* **capacity** Q(row) = ∫|I|dt from the half cycle's first row (trapezoid), mAh;
* **mean potential** Ē = ∫E|I|dt ÷ ∫|I|dt (capacity weighted, trapezoid);
  **polarisation** = Ē(desodiation) − Ē(sodiation): Ē_charge − Ē_discharge for the positive,
  Ē_discharge − Ē_charge for the negative (it includes the electrode's own hysteresis; judge
  its change over cycles, not its size);
* **interruption** after Δt ∈ :data:`INTERRUPTION_TIMES_S` (1 s and 10 s): where a rest follows
  the half cycle (rows with |I| ≤ ``rest_current_fraction`` × the half cycle's mean |I|),
  ΔE(Δt) = E(t₀ + Δt) − E(t₀⁻), with t₀⁻ the last row with current and E(t₀ + Δt)
  interpolated linearly between rest rows (none outside the rest's recorded span: null when
  the rest's first point comes later than Δt or the rest is shorter); R(Δt) = |ΔE| ÷ |I|,
  |I| the median of the half cycle's last three rows, in Ω;
* **terminating share** of each electrode: |ΔE| over the last ``terminal_fraction`` (2 %) of
  the half cycle's capacity ÷ the sum of both electrodes' |ΔE| there (their mean |dE/dQ| over
  that window; E at the window's start interpolated in Q). The electrode whose share is above
  ½ terminated the half cycle: its potential moved fastest at the cut-off;
* **dQ/dE** of each electrode's branch (:func:`analysis.core.electrodes.differential.incremental_capacity`):
  the potential of its largest peak, and the **profile change** against the reference cycle
  (½∫|g − g_ref|dE of the unit-area curves: 0 same shape, 1 nothing in common);
* **capacity in a potential range** [low, high): the capacity passed while the electrode's
  potential was in it, the potential linear in Q between samples.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from .differential import (DE_DQ_DEFAULTS, DQ_DE_DEFAULTS, binned_capacity_mah,
                           differential_voltage, incremental_capacity, profile_change)
from .three_electrode import (CHARGE, DISCHARGE, ELECTRODES, NEGATIVE, POSITIVE, HalfCycles,
                              ThreeElectrodeData, arrow_table, as_float_array)

VERSION = "1.0.0"
#: the fixed times after the current stops at which the interruption is read, s
INTERRUPTION_TIMES_S = (1.0, 10.0)
TERMINAL_FRACTION = 0.02
REST_CURRENT_FRACTION = 0.01
#: the lab's characteristic potential ranges, V vs Na⁺/Na, [low, high), per electrode role
DEFAULT_POTENTIAL_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    POSITIVE: {"first_plateau": (2.80, 3.05), "upper_region": (3.05, 3.60)},
    NEGATIVE: {"low": (0.00, 0.12), "middle": (0.12, 0.35), "high": (0.35, 0.80)},
}
#: which way each electrode goes on full-cell charge
CHARGE_BRANCH = {POSITIVE: "desodiation", NEGATIVE: "sodiation"}


# --------------------------------------------------------------------------------------------
# the small functions (each checked on worked numbers)
# --------------------------------------------------------------------------------------------

def cumulative_capacity_mah(time_s: Any, current_ma: Any) -> np.ndarray:
    """Q(row) = ∫|I|dt from the first row, by the trapezoid rule, mAh."""
    t = as_float_array(time_s, "time_s")
    i = np.abs(np.nan_to_num(as_float_array(current_ma, "current_ma")))
    if t.size != i.size:
        raise ValueError(f"time_s has {t.size} values, current_ma has {i.size}")
    if t.size == 0:
        return np.zeros(0)
    dt = np.clip(np.diff(t), 0.0, None)
    return np.concatenate(([0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * dt))) / 3600.0


def mean_potential_v(time_s: Any, current_ma: Any, potential_v: Any) -> float:
    """Capacity-weighted mean potential ∫E|I|dt ÷ ∫|I|dt (trapezoid), V; NaN without charge."""
    t = as_float_array(time_s, "time_s")
    i = np.abs(np.nan_to_num(as_float_array(current_ma, "current_ma")))
    e = as_float_array(potential_v, "potential_v")
    if not (t.size == i.size == e.size):
        raise ValueError("time_s, current_ma and potential_v must have the same length")
    if t.size < 2:
        return math.nan
    dt = np.clip(np.diff(t), 0.0, None)
    charge = float(np.sum(0.5 * (i[1:] + i[:-1]) * dt))
    if charge <= 0:
        return math.nan
    return float(np.sum(0.5 * (e[1:] * i[1:] + e[:-1] * i[:-1]) * dt)) / charge


def interruption_resistance(rest_time_s: Any, rest_potential_v: Any, *, end_time_s: float,
                            end_potential_v: float, current_ma: float,
                            after_s: float) -> tuple[float, float]:
    """(ΔE in V, R in Ω) ``after_s`` after the current ``current_ma`` stopped at ``end_time_s``
    with the potential at ``end_potential_v``: ΔE = E(t₀ + Δt) − E(t₀⁻), E interpolated
    linearly between the rest's rows, R = |ΔE| ÷ |I|. (NaN, NaN) when Δt falls outside the
    rest's recorded span or the current is zero."""
    t = as_float_array(rest_time_s, "rest_time_s") - end_time_s
    e = as_float_array(rest_potential_v, "rest_potential_v")
    if t.size != e.size:
        raise ValueError(f"rest_time_s has {t.size} values, rest_potential_v has {e.size}")
    tolerance = 1e-9 * max(1.0, after_s)
    if t.size == 0 or t[0] > after_s + tolerance or t[-1] < after_s - tolerance or current_ma == 0:
        return math.nan, math.nan
    delta = float(np.interp(after_s, t, e)) - end_potential_v
    return delta, abs(delta) / abs(current_ma) * 1000.0


def terminating_shares(capacity_mah: Any, positive_potential_v: Any, negative_potential_v: Any,
                       *, terminal_fraction: float = TERMINAL_FRACTION) -> tuple[float, float]:
    """Each electrode's share of |ΔE| over the last ``terminal_fraction`` of the half cycle's
    capacity (E at the window's start interpolated in Q): (positive, negative), summing to 1;
    (NaN, NaN) when neither potential moved."""
    q = as_float_array(capacity_mah, "capacity_mah")
    ep = as_float_array(positive_potential_v, "positive_potential_v")
    en = as_float_array(negative_potential_v, "negative_potential_v")
    if not (q.size == ep.size == en.size):
        raise ValueError("capacity_mah and both potentials must have the same length")
    if not 0 < terminal_fraction < 1:
        raise ValueError(f"terminal_fraction must be between 0 and 1, not {terminal_fraction!r}")
    if q.size < 2 or q[-1] <= 0:
        return math.nan, math.nan
    q_start = q[-1] * (1.0 - terminal_fraction)
    last = np.r_[np.diff(q) > 0, True]  # repeated Q (a time stamp written twice): last row
    dp = abs(ep[-1] - float(np.interp(q_start, q[last], ep[last])))
    dn = abs(en[-1] - float(np.interp(q_start, q[last], en[last])))
    if dp + dn <= 0:
        return math.nan, math.nan
    return dp / (dp + dn), dn / (dp + dn)


def capacity_in_range_mah(capacity_mah: Any, potential_v: Any, low_v: float, high_v: float) -> float:
    """Capacity passed while the potential was in [low_v, high_v), linear in Q between samples."""
    if not high_v > low_v:
        raise ValueError(f"high_v ({high_v}) must be above low_v ({low_v})")
    return float(binned_capacity_mah(capacity_mah, potential_v, [low_v, high_v])[0])


# --------------------------------------------------------------------------------------------
# the per-electrode cycle table
# --------------------------------------------------------------------------------------------

def _half_columns(direction: str) -> dict[str, tuple[pa.DataType, str]]:
    d = direction
    cols = {
        f"{d}_start_row": (pa.int64(), f"first row of the {d} in the table"),
        f"{d}_end_row": (pa.int64(), f"last row of the {d} in the table (inclusive)"),
        f"{d}_start_potential_v": (pa.float64(), f"potential at the {d}'s first row, V"),
        f"{d}_end_potential_v": (pa.float64(), f"potential at the end of {d} (last row with "
                                               f"current), V"),
        f"{d}_end_relaxed_potential_v": (pa.float64(), f"potential at the end of the rest after "
                                                       f"the {d}; null without a rest, V"),
        f"mean_{d}_potential_v": (pa.float64(), f"∫E|I|dt ÷ ∫|I|dt over the {d}, V"),
        f"{d}_end_current_ma": (pa.float64(), f"|I| interrupted at the end of the {d} (median of "
                                              f"its last three rows), mA"),
    }
    for after in INTERRUPTION_TIMES_S:
        tag = f"{after:g}s"
        cols[f"{d}_interruption_{tag}_v"] = (
            pa.float64(), f"E({after:g} s after the {d} stops) − E(at the stop), V; null without "
                          f"a rest recorded at that time")
        cols[f"{d}_interruption_{tag}_ohm"] = (
            pa.float64(), f"|ΔE({after:g} s)| ÷ |I| after the {d}, Ω")
    cols.update({
        f"{d}_terminating_share": (pa.float64(), f"this electrode's |ΔE| ÷ both electrodes' over "
                                                 f"the last terminal_fraction of the {d}'s capacity"),
        f"{d}_terminating": (pa.bool_(), f"this electrode terminated the {d} (share > ½)"),
        f"{d}_dq_de_peak_potential_v": (pa.float64(), f"potential of the largest dQ/dE peak of "
                                                      f"the {d}, V"),
        f"{d}_dq_de_peak_mah_v": (pa.float64(), "height of that peak, mAh/V"),
        f"{d}_profile_change": (pa.float64(), f"½∫|g − g_ref|dE of the unit-area dQ/dE of the "
                                              f"{d} against the reference cycle (0 = same shape)"),
    })
    return cols


#: name → (Arrow type, unit and meaning): the columns of :func:`electrode_cycle_table`
ELECTRODE_CYCLE_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number (as the half cycles were given)"),
    "electrode": (pa.string(), "electrode role: positive (NaCrO2) or negative (Sn)"),
    "complete": (pa.bool_(), "the cycle has both a charge and a discharge"),
    "charge_branch": (pa.string(), "what the electrode does on full-cell charge: desodiation "
                                   "(positive) or sodiation (negative)"),
    "charge_capacity_mah": (pa.float64(), "∫|I|dt over the charge (the same for both "
                                          "electrodes), mAh"),
    "discharge_capacity_mah": (pa.float64(), "∫|I|dt over the discharge, mAh"),
    **_half_columns(CHARGE),
    **_half_columns(DISCHARGE),
    "mean_potential_difference_v": (pa.float64(), "mean charge − mean discharge potential, V"),
    "polarisation_v": (pa.float64(), "mean desodiation − mean sodiation potential (> 0 for both "
                                     "electrodes), V"),
}

POTENTIAL_RANGE_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number"),
    "electrode": (pa.string(), "electrode role: positive or negative"),
    "range_name": (pa.string(), "name of the potential range (e.g. first_plateau)"),
    "low_v": (pa.float64(), "lower bound of the range (included), V vs the reference"),
    "high_v": (pa.float64(), "upper bound of the range (excluded), V vs the reference"),
    "charge_capacity_mah": (pa.float64(), "capacity passed in the range during the charge, mAh"),
    "discharge_capacity_mah": (pa.float64(), "capacity passed in the range during the "
                                             "discharge, mAh"),
    "charge_fraction": (pa.float64(), "that ÷ the charge's capacity"),
    "discharge_fraction": (pa.float64(), "that ÷ the discharge's capacity"),
}


class _HalfCycle:
    """Arrays of one half cycle, computed once for both electrodes."""

    def __init__(self, data: ThreeElectrodeData, half_cycles: HalfCycles, k: int,
                 rest_current_fraction: float, terminal_fraction: float):
        self.k = k
        self.start, self.end = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
        if self.end >= len(data):
            raise ValueError(f"half cycle {k} ends at row {self.end}, beyond the data's "
                             f"{len(data)} rows")
        rows = slice(self.start, self.end + 1)
        self.t = data.time_s[rows]
        self.i = data.current_ma[rows]
        self.q = cumulative_capacity_mah(self.t, self.i)
        duration = float(self.t[-1] - self.t[0])
        self.capacity = float(self.q[-1])
        self.mean_current = self.capacity * 3600.0 / duration if duration > 0 else math.nan
        self.end_current = float(np.median(np.abs(self.i[-3:])))
        threshold = rest_current_fraction * (self.mean_current if math.isfinite(self.mean_current)
                                             else self.end_current)
        self.rest = half_cycles.rest_after(k, data.current_ma, threshold)
        self.potentials = {e: data.potential_v(e)[rows] for e in ELECTRODES}
        self.shares = dict(zip(ELECTRODES, terminating_shares(
            self.q, self.potentials[POSITIVE], self.potentials[NEGATIVE],
            terminal_fraction=terminal_fraction)))


def _default_reference_cycle(half_cycles: HalfCycles) -> int | None:
    for cycle in half_cycles.cycles():
        if (half_cycles.index(int(cycle), CHARGE) is not None
                and half_cycles.index(int(cycle), DISCHARGE) is not None):
            return int(cycle)
    return None


def electrode_cycle_table(data: ThreeElectrodeData, half_cycles: HalfCycles, *,
                          reference_cycle: int | None = None,
                          terminal_fraction: float = TERMINAL_FRACTION,
                          rest_current_fraction: float = REST_CURRENT_FRACTION,
                          bin_width_v: float = DQ_DE_DEFAULTS["bin_width_v"],
                          fwhm_v: float = DQ_DE_DEFAULTS["fwhm_v"]) -> pa.Table:
    """One row per cycle and electrode role (positive first), the columns of
    :data:`ELECTRODE_CYCLE_COLUMNS` (definitions in the module docstring).

    ``reference_cycle`` (default: the first cycle with both half cycles) is what the dQ/dE
    profile change is measured against. The half cycles' rows refer to ``data``'s rows.
    """
    if not isinstance(data, ThreeElectrodeData):
        raise TypeError("data must be a ThreeElectrodeData (see three_electrode_data)")
    if not isinstance(half_cycles, HalfCycles):
        raise TypeError("half_cycles must be a HalfCycles (see HalfCycles.from_rows)")
    if reference_cycle is None:
        reference_cycle = _default_reference_cycle(half_cycles)
    elif reference_cycle not in set(half_cycles.cycle_number.tolist()):
        raise ValueError(f"reference_cycle {reference_cycle} is not among the half cycles' cycles")
    halves: dict[tuple[int, str], _HalfCycle] = {}
    curves = {}
    for k in range(len(half_cycles)):
        cycle = int(half_cycles.cycle_number[k])
        direction = CHARGE if half_cycles.direction[k] > 0 else DISCHARGE
        half = _HalfCycle(data, half_cycles, k, rest_current_fraction, terminal_fraction)
        halves[(cycle, direction)] = half
        for electrode in ELECTRODES:
            curves[(cycle, direction, electrode)] = incremental_capacity(
                half.q, half.potentials[electrode], bin_width_v=bin_width_v, fwhm_v=fwhm_v)

    columns: dict[str, list] = {name: [] for name in ELECTRODE_CYCLE_COLUMNS}
    for cycle in half_cycles.cycles().tolist():
        present = {d: halves.get((cycle, d)) for d in (CHARGE, DISCHARGE)}
        for electrode in ELECTRODES:
            row: dict[str, Any] = {
                "cycle_number": cycle, "electrode": electrode,
                "complete": all(h is not None for h in present.values()),
                "charge_branch": CHARGE_BRANCH[electrode],
            }
            means = {}
            for direction, half in present.items():
                row.update(_half_row(data, half, direction, electrode, cycle, reference_cycle,
                                     curves))
                means[direction] = row[f"mean_{direction}_potential_v"]
            difference = means[CHARGE] - means[DISCHARGE]
            row["mean_potential_difference_v"] = difference
            row["polarisation_v"] = difference if electrode == POSITIVE else -difference
            for name in columns:
                columns[name].append(row[name])
    params = {"reference_cycle": reference_cycle, "terminal_fraction": terminal_fraction,
              "rest_current_fraction": rest_current_fraction,
              "interruption_times_s": list(INTERRUPTION_TIMES_S),
              "dq_de": {"method": "potential_bins_gauss", "bin_width_v": bin_width_v,
                        "fwhm_v": fwhm_v}}
    return arrow_table(columns, ELECTRODE_CYCLE_COLUMNS,
                       {"method": "electrode_cycle_table", "version": VERSION, "params": params,
                        "sources": data.sources, "check": data.check.to_dict()})


def _half_row(data: ThreeElectrodeData, half: _HalfCycle | None, direction: str, electrode: str,
              cycle: int, reference_cycle: int | None, curves: dict) -> dict[str, Any]:
    names = _half_columns(direction)
    if half is None:
        row = {name: (None if not pa.types.is_floating(dtype) else math.nan)
               for name, (dtype, _m) in names.items()}
        row[f"{direction}_capacity_mah"] = math.nan
        return row
    d = direction
    e = half.potentials[electrode]
    row: dict[str, Any] = {
        f"{d}_capacity_mah": half.capacity,
        f"{d}_start_row": half.start, f"{d}_end_row": half.end,
        f"{d}_start_potential_v": float(e[0]), f"{d}_end_potential_v": float(e[-1]),
        f"mean_{d}_potential_v": mean_potential_v(half.t, half.i, e),
        f"{d}_end_current_ma": half.end_current,
    }
    full = data.potential_v(electrode)
    if half.rest is not None:
        first, last = half.rest
        row[f"{d}_end_relaxed_potential_v"] = float(full[last])
        rest_t = data.time_s[first:last + 1]
        rest_e = full[first:last + 1]
    else:
        row[f"{d}_end_relaxed_potential_v"] = math.nan
        rest_t = rest_e = np.zeros(0)
    for after in INTERRUPTION_TIMES_S:
        delta, resistance = interruption_resistance(
            rest_t, rest_e, end_time_s=float(half.t[-1]), end_potential_v=float(e[-1]),
            current_ma=half.end_current, after_s=after)
        row[f"{d}_interruption_{after:g}s_v"] = delta
        row[f"{d}_interruption_{after:g}s_ohm"] = resistance
    share = half.shares[electrode]
    row[f"{d}_terminating_share"] = share
    row[f"{d}_terminating"] = bool(share > 0.5) if math.isfinite(share) else None
    curve = curves[(cycle, direction, electrode)]
    row[f"{d}_dq_de_peak_potential_v"], row[f"{d}_dq_de_peak_mah_v"] = curve.peak()
    reference = curves.get((reference_cycle, direction, electrode))
    row[f"{d}_profile_change"] = (profile_change(curve, reference) if reference is not None
                                  else math.nan)
    return row


def potential_range_table(data: ThreeElectrodeData, half_cycles: HalfCycles, *,
                          potential_ranges: dict[str, dict[str, Sequence[float]]] | None = None
                          ) -> pa.Table:
    """One row per cycle, electrode and potential range: the capacity passed in the range in
    the charge and in the discharge (:data:`POTENTIAL_RANGE_COLUMNS`). ``potential_ranges``:
    {electrode role: {name: (low_v, high_v)}}, default :data:`DEFAULT_POTENTIAL_RANGES`; a role
    left out gets no rows."""
    ranges = DEFAULT_POTENTIAL_RANGES if potential_ranges is None else potential_ranges
    for electrode, named in ranges.items():
        if electrode not in ELECTRODES:
            raise ValueError(f"potential_ranges: {electrode!r} is not an electrode role "
                             f"({POSITIVE!r} or {NEGATIVE!r})")
        for name, bounds in named.items():
            if len(bounds) != 2 or not float(bounds[1]) > float(bounds[0]):
                raise ValueError(f"potential_ranges[{electrode!r}][{name!r}] must be (low_v, "
                                 f"high_v) with high_v above low_v, not {bounds!r}")
    columns: dict[str, list] = {name: [] for name in POTENTIAL_RANGE_COLUMNS}
    for cycle in half_cycles.cycles().tolist():
        arrays = {}
        for direction in (CHARGE, DISCHARGE):
            k = half_cycles.index(cycle, direction)
            if k is not None:
                s, e = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
                q = cumulative_capacity_mah(data.time_s[s:e + 1], data.current_ma[s:e + 1])
                arrays[direction] = (q, s, e)
        for electrode in ELECTRODES:
            for name, (low, high) in ranges.get(electrode, {}).items():
                row = {"cycle_number": cycle, "electrode": electrode, "range_name": name,
                       "low_v": float(low), "high_v": float(high)}
                for direction in (CHARGE, DISCHARGE):
                    if direction in arrays:
                        q, s, e = arrays[direction]
                        passed = capacity_in_range_mah(q, data.potential_v(electrode)[s:e + 1],
                                                       float(low), float(high))
                        row[f"{direction}_capacity_mah"] = passed
                        row[f"{direction}_fraction"] = passed / q[-1] if q[-1] > 0 else math.nan
                    else:
                        row[f"{direction}_capacity_mah"] = row[f"{direction}_fraction"] = math.nan
                for column in columns:
                    columns[column].append(row[column])
    return arrow_table(columns, POTENTIAL_RANGE_COLUMNS,
                       {"method": "potential_range_table", "version": VERSION,
                        "params": {"potential_ranges": {k: {n: list(b) for n, b in v.items()}
                                                        for k, v in ranges.items()}}})


def electrode_differential_curves(data: ThreeElectrodeData, half_cycles: HalfCycles, *,
                                  kind: str = "dq_de", cycles: Sequence[int] | None = None,
                                  electrodes: Sequence[str] = ELECTRODES,
                                  **params: Any) -> pa.Table:
    """dQ/dE (``kind="dq_de"``) or dE/dQ (``"de_dq"``) of the chosen cycles and electrodes, one
    row per point: cycle_number, electrode, half_cycle, then ``potential_v`` and
    ``dq_de_mah_v``, or ``capacity_mah`` and ``de_dq_v_mah``. ``params`` go to
    :func:`incremental_capacity` or :func:`differential_voltage`; they and the method are
    stored in the schema metadata."""
    if kind not in ("dq_de", "de_dq"):
        raise ValueError(f"kind must be 'dq_de' or 'de_dq', not {kind!r}")
    for electrode in electrodes:
        if electrode not in ELECTRODES:
            raise ValueError(f"electrodes: {electrode!r} is not an electrode role")
    compute = incremental_capacity if kind == "dq_de" else differential_voltage
    defaults = DQ_DE_DEFAULTS if kind == "dq_de" else DE_DQ_DEFAULTS
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {kind}: {', '.join(sorted(unknown))}")
    wanted = set(half_cycles.cycles().tolist()) if cycles is None else set(cycles)
    x_name = "potential_v" if kind == "dq_de" else "capacity_mah"
    y_name = "dq_de_mah_v" if kind == "dq_de" else "de_dq_v_mah"
    parts: dict[str, list] = {"cycle_number": [], "electrode": [], "half_cycle": [], x_name: [],
                              y_name: []}
    used = {**defaults, **params}
    for k in range(len(half_cycles)):
        cycle = int(half_cycles.cycle_number[k])
        if cycle not in wanted:
            continue
        direction = CHARGE if half_cycles.direction[k] > 0 else DISCHARGE
        s, e = int(half_cycles.start_row[k]), int(half_cycles.end_row[k])
        q = cumulative_capacity_mah(data.time_s[s:e + 1], data.current_ma[s:e + 1])
        for electrode in electrodes:
            curve = compute(q, data.potential_v(electrode)[s:e + 1], **used)
            n = curve.x.size
            parts["cycle_number"].append(np.full(n, cycle, np.int64))
            parts["electrode"].extend([electrode] * n)
            parts["half_cycle"].extend([direction] * n)
            parts[x_name].append(curve.x)
            parts[y_name].append(curve.y)
    spec = {"cycle_number": (pa.int64(), "cycle number"),
            "electrode": (pa.string(), "electrode role"),
            "half_cycle": (pa.string(), "charge or discharge (full cell)"),
            x_name: (pa.float64(), "potential vs the reference, V" if kind == "dq_de"
                     else "capacity since the half cycle's start, mAh"),
            y_name: (pa.float64(), "dQ/dE, mAh/V" if kind == "dq_de" else "dE/dQ, V/mAh")}
    columns = {name: (np.concatenate(v) if v and isinstance(v[0], np.ndarray) else v)
               for name, v in parts.items()}
    method = "potential_bins_gauss" if kind == "dq_de" else "uniform_capacity_savgol"
    return arrow_table(columns, spec, {"method": method, "version": VERSION, "params": used})
