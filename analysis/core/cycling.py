"""Steps, cycles and per-cycle summaries from a canonical cycler table.

Pure numpy / pyarrow: no Django, no Celery. Units are in the names (mA, mAh, mWh, V, s, mg, cm²).
The input is the canonical table of :mod:`analysis.core.readers` (``test_time_s``, ``current_ma``
positive = charge, ``voltage_v``, and where the file has them ``step_index``, ``cycle_index`` and
the cycler's capacity and energy counters).

Pipeline::

    steps   = detect_steps(t, i, v, step_index=..., counters=...)   # StepTable
    cycles  = assign_cycles(steps, first_half_cycle)                 # CycleAssignment
    summary = summarise_cycles(table, steps, cycles, active_mass_mg=..., ...)   # pa.Table
    # or all three at once, and incrementally while a test is still running:
    analysis = analyse_cycling(table, ...)                 # CyclingAnalysis
    analysis = update_analysis(previous_summary, grown_table, ...)  # recomputes the tail only

Conventions
-----------
* **Steps** are cut from the current alone, never from the cell's mass: rest where |I| is below
  a threshold set by the run's typical current and its noise, charge / discharge by sign, a new
  step where the current jumps to another set point and holds there (a 2-s pulse straight
  after a CC step is a step of its own), and constant-voltage parts where the current decays
  at a steady voltage.
* **Counting charge the way the cycler does.** A cycler's counter tells what flowed *since the
  previous record*. Where the file carries counters (EC-Lab ``Q charge/discharge``, Maccor
  ``Amp-hr``/``Watt-hr``, Arbin and Neware capacity and energy columns), each row's increment
  (the counter's rise since the row before; the new value itself where the counter restarted)
  belongs to the step of that row, and the step's capacity and energy are the sum of its
  increments. An increment of the charge (discharge) counter on the first row of a rest that
  follows a charge (discharge) step is what the cycler counted between that step's last row
  and its end, and goes to that step.
* **The integral of the logged rows** is kept beside the counter for every step and half
  cycle. Inside a step it is the trapezoid rule; the interval between two steps belongs to
  the step of the row after it (sample and hold, the interval "since the previous record"), at
  that row's current. So a rest that is logged only at its end, or a first rest row written
  minutes after the last discharge row, adds nothing to the discharge. Where a step's first
  row comes more than ``boundary_factor`` (2) sampling intervals of that step after the row
  before, only that much time is credited to the step (the cycler did not say when it started)
  and the cycle is flagged.
* **Time** normally rises; an interval where it goes backwards counts as zero and flags the
  cycle. Missing currents are held at the previous value (and flag the cycle), missing voltages
  likewise.
* **Half cycles and cycles.** A half cycle is a run of steps of one direction; rests do not
  interrupt it (a CC-CV charge, a charge interrupted by a rest, a GITT charge are one half
  cycle). A burst of steps of one direction between rests that lasts at most ``max_pulse_s``
  (30 s) and less than ``pulse_fraction`` (a tenth) of the longest burst of the file is a
  **pulse**: its own half cycle, which neither starts nor ends a cycle and whose charge is not
  part of the cycle's capacities. Cycles are in→out pairs of half cycles starting with the half
  cycle the protocol starts with: ``"charge"`` (desodiation of NaCrO2; cathode half cell, full
  cell) or ``"discharge"`` (sodiation of Sn, cell voltage going down; Sn half cell). Coulombic
  efficiency is out ÷ in. The cycler's own cycle number is kept beside the lab's.
* **Quality flags** per cycle, each with its reason and size (see :data:`FLAG_CODES`).
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from analysis.core.readers import current_is_interval_mean as _interval_mean_current

VERSION = "2.0.0"
METADATA_KEY = b"eln.analysis"

KIND_NAMES = ("rest", "charge", "discharge", "cv_charge", "cv_discharge")
REST, CHARGE, DISCHARGE, CV_CHARGE, CV_DISCHARGE = range(5)
_KIND_ARRAY = np.array(KIND_NAMES)
#: direction of each kind code: +1 charge, -1 discharge, 0 rest
KIND_DIRECTION = np.array([0, 1, -1, 1, -1], dtype=np.int8)
HALF_CYCLES = ("charge", "discharge")

#: the cycler's counter columns of the canonical table
COUNTER_COLUMNS = ("charge_capacity_mah", "discharge_capacity_mah", "charge_energy_mwh",
                   "discharge_energy_mwh")

# Stated defaults of the quality checks (each flag carries the limit it was checked against).
COUNTER_TOLERANCE = 0.005       # counter vs integral, relative
MAX_GAP_S = 600.0               # longest interval between two rows inside a charge/discharge step,
GAP_FACTOR = 10.0               # ... or this many times the step's usual interval, if longer
BOUNDARY_FACTOR = 2.0           # credited time before a step's first row, in its sampling intervals
MAX_PULSE_S = 30.0              # a burst at most this long ...
PULSE_FRACTION = 0.1            # ... and shorter than this share of the longest burst is a pulse
CUTOFF_TOLERANCE_V = 0.01       # a half cycle ending this close to its cut-off ended at it

#: flag code -> what it says
FLAG_CODES = {
    "counter_integral_mismatch": "the cycler's counter and the integral of the logged rows "
                                 "differ by more than the tolerance",
    "time_gap": "no row for longer than the limit (600 s, or ten of the step's usual intervals if "
                "longer) inside a charge or discharge step, or before its first row",
    "time_backwards": "test time goes backwards",
    "unexpected_end": "a half cycle ended neither at its cut-off voltage nor at a step change "
                      "of the cycler's protocol",
    "incomplete": "the cycle is incomplete",
    "missing_values": "rows whose current or voltage is missing or not a finite number",
}


# --------------------------------------------------------------------------------------------
# input helpers
# --------------------------------------------------------------------------------------------

def _as_float_array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_numpy(zero_copy_only=False)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return array


def _has_column(table: Any, name: str) -> bool:
    if isinstance(table, pa.Table):
        return name in table.column_names
    try:
        return name in table
    except TypeError:
        return False


def _table_column(table: Any, name: str) -> np.ndarray:
    """One column of a pa.Table, a mapping of arrays or a pandas DataFrame, as float64."""
    if isinstance(table, pa.Table):
        if name not in table.column_names:
            raise KeyError(f"the table has no {name!r} column")
        return _as_float_array(table.column(name), name)
    try:
        column = table[name]
    except (KeyError, IndexError, TypeError) as exc:
        raise KeyError(f"the table has no {name!r} column") from exc
    return _as_float_array(getattr(column, "to_numpy", lambda: column)(), name)


_OPTIONAL_COLUMNS = ("step_index", "cycle_index") + COUNTER_COLUMNS


def table_columns(table: Any) -> dict[str, np.ndarray]:
    """The columns the analysis reads, as float64 arrays (optional ones only where present)."""
    columns = {name: _table_column(table, name)
               for name in ("test_time_s", "current_ma", "voltage_v")}
    for name in _OPTIONAL_COLUMNS:
        if _has_column(table, name):
            columns[name] = _table_column(table, name)
    return columns


def _slice_columns(columns: dict[str, np.ndarray], start: int) -> dict[str, np.ndarray]:
    return {name: values[start:] for name, values in columns.items()}


def _fill_forward(values: np.ndarray, leading: float | None = None) -> np.ndarray:
    """Missing values carried forward from the previous row; a leading gap takes ``leading``,
    or the first value present when ``leading`` is None."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    if missing.all():
        return np.zeros_like(values)
    index = np.where(missing, 0, np.arange(values.size))
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    first = int(np.argmax(~missing))
    filled[:first] = values[first] if leading is None else leading
    return filled


def _fill_voltage(voltage_v: np.ndarray) -> np.ndarray:
    """Missing or non-finite voltages hold the previous row's value."""
    return _fill_forward(np.where(np.isfinite(voltage_v), voltage_v, np.nan))


def _run_starts(key: np.ndarray) -> np.ndarray:
    """Indices where a run of equal values in ``key`` starts (always includes 0)."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1)).astype(np.int64)


def counter_increments(values: Any) -> np.ndarray:
    """What a cycler counter counted since the previous row, per row (first row: 0).

    The counter's rise since the row before; where it fell, it restarted (a new step, half
    cycle or cycle, as each cycler does) and the new value is what it counted since. Missing
    values hold the previous one. Never negative."""
    v = _fill_forward(_as_float_array(values, "values"), leading=0.0)
    if v.size == 0:
        return v
    rise = np.diff(v)
    increment = np.where(rise >= 0.0, rise, v[1:])
    return np.concatenate(([0.0], np.maximum(increment, 0.0)))


# --------------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StepTable:
    """One entry per step, all arrays of the same length (rows are table row indices).

    ``kind_code`` indexes :data:`KIND_NAMES`; ``kind`` gives the names. ``capacity_mah`` and
    ``energy_mwh`` are the step's numbers: from the cycler's counters where the file has them
    (``counter_capacity_mah``, ``counter_energy_mwh``; NaN where it has none), else the integral
    of the logged rows (``integral_capacity_mah`` = ∫|I|dt, ``integral_energy_mwh`` = ∫V|I|dt,
    see the module docstring). ``duration_s`` is the time credited to the step,
    ``mean_current_ma`` the signed time-weighted mean current. ``cycler_step`` is the cycler's
    step number at the step's first row (-1 if the file has none), ``ends_at_cycler_step_change``
    whether the cycler's step number changes right after the step's last row. Quality inputs:
    ``largest_gap_s`` and ``largest_gap_start_s`` (the longest interval between two of its rows),
    ``boundary_gap_s`` (the interval before its first row) and ``uncredited_s`` (the part of
    it not credited), ``backwards_s`` (total time going backwards), ``missing_rows``,
    ``median_interval_s`` (its usual interval between rows); ``starts_at_setpoint``: the step
    begins where the current jumped to a new set point.
    ``params`` records the thresholds used (``rest_current_ma`` among them).
    """

    kind_code: np.ndarray
    start_row: np.ndarray
    end_row: np.ndarray
    start_time_s: np.ndarray
    end_time_s: np.ndarray
    duration_s: np.ndarray
    capacity_mah: np.ndarray
    energy_mwh: np.ndarray
    mean_current_ma: np.ndarray
    start_voltage_v: np.ndarray
    end_voltage_v: np.ndarray
    integral_capacity_mah: np.ndarray
    integral_energy_mwh: np.ndarray
    counter_capacity_mah: np.ndarray
    counter_energy_mwh: np.ndarray
    cycler_step: np.ndarray
    ends_at_cycler_step_change: np.ndarray
    largest_gap_s: np.ndarray
    largest_gap_start_s: np.ndarray
    boundary_gap_s: np.ndarray
    uncredited_s: np.ndarray
    backwards_s: np.ndarray
    missing_rows: np.ndarray
    starts_at_setpoint: np.ndarray
    median_interval_s: np.ndarray
    params: dict = dataclasses.field(default_factory=dict)

    _ARRAYS = ("kind_code", "start_row", "end_row", "start_time_s", "end_time_s", "duration_s",
               "capacity_mah", "energy_mwh", "mean_current_ma", "start_voltage_v",
               "end_voltage_v", "integral_capacity_mah", "integral_energy_mwh",
               "counter_capacity_mah", "counter_energy_mwh", "cycler_step",
               "ends_at_cycler_step_change", "largest_gap_s", "largest_gap_start_s",
               "boundary_gap_s", "uncredited_s", "backwards_s", "missing_rows",
               "starts_at_setpoint", "median_interval_s")

    def __len__(self) -> int:
        return int(self.kind_code.size)

    @property
    def kind(self) -> np.ndarray:
        return _KIND_ARRAY[self.kind_code]

    @property
    def direction(self) -> np.ndarray:
        """+1 charge (CC or CV), -1 discharge, 0 rest."""
        return KIND_DIRECTION[self.kind_code]

    @property
    def n_rows(self) -> np.ndarray:
        return self.end_row - self.start_row + 1

    @property
    def mean_voltage_v(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.capacity_mah > 0, self.energy_mwh / self.capacity_mah, np.nan)

    @property
    def has_counters(self) -> bool:
        return bool(np.isfinite(self.counter_capacity_mah).any())

    def take(self, index: Any, *, row_offset: int = 0) -> "StepTable":
        """A sub-table (index: slice, mask or integer array); row numbers shifted by row_offset."""
        arrays = {name: getattr(self, name)[index] for name in self._ARRAYS}
        arrays["start_row"] = arrays["start_row"] + row_offset
        arrays["end_row"] = arrays["end_row"] + row_offset
        return StepTable(**arrays, params=dict(self.params))

    def to_arrow(self) -> pa.Table:
        columns = {"step_number": pa.array(np.arange(len(self), dtype=np.int64)),
                   "kind": pa.array(self.kind.tolist(), pa.string())}
        for name in self._ARRAYS:
            if name != "kind_code":
                columns[name] = pa.array(getattr(self, name), from_pandas=True)
        return pa.table(columns).replace_schema_metadata(
            {METADATA_KEY: json.dumps(self.params).encode()})


def typical_current_ma(current_ma: Any) -> float:
    """The run's typical |I|: median |I| of the rows carrying more than 2 % of the 99th
    percentile of |I| (so rest rows and their noise are left out). 0 for an all-rest run."""
    abs_i = np.abs(np.nan_to_num(_as_float_array(current_ma, "current_ma"), posinf=0.0,
                                 neginf=0.0))
    if abs_i.size == 0:
        return 0.0
    high = float(np.percentile(abs_i, 99.0)) or float(abs_i.max())
    if high <= 0.0:
        return 0.0
    return float(np.median(abs_i[abs_i > 0.02 * high]))


def current_noise_ma(current_ma: Any, typical_ma: float | None = None) -> float:
    """Robust estimate of the current's sample noise σ from consecutive differences:
    1.4826 × median(|ΔI|) / √2 over the differences smaller than 10 % of the typical |I|
    (step changes left out); 0 for clean data or fewer than 10 such differences."""
    i = np.nan_to_num(_as_float_array(current_ma, "current_ma"), posinf=0.0, neginf=0.0)
    if typical_ma is None:
        typical_ma = typical_current_ma(i)
    diffs = np.abs(np.diff(i))
    diffs = diffs[diffs < 0.1 * typical_ma]
    if diffs.size < 10:
        return 0.0
    return float(1.4826 * np.median(diffs) / math.sqrt(2.0))


def _group_stats(group: np.ndarray, values: np.ndarray, n_groups: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: lower median and maximum of ``values`` and the position of the maximum
    (NaN / -1 for empty groups)."""
    median = np.full(n_groups, np.nan)
    largest = np.full(n_groups, np.nan)
    where = np.full(n_groups, -1, dtype=np.int64)
    if group.size == 0:
        return median, largest, where
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    starts = _run_starts(g)
    counts = np.diff(np.r_[starts, g.size])
    median[g[starts]] = v[starts + (counts - 1) // 2]
    last = starts + counts - 1
    largest[g[starts]] = v[last]
    where[g[starts]] = order[last]
    return median, largest, where


def detect_steps(time_s: Any, current_ma: Any, voltage_v: Any, *, step_index: Any = None,
                 counters: dict[str, Any] | None = None,
                 rest_current_ma: float | None = None, rest_fraction: float = 0.01,
                 noise_ma: float | None = None, noise_sigmas: float = 5.0,
                 setpoint_change: float = 0.2, setpoint_hold: float = 0.02,
                 cv_voltage_band_v: float = 0.01, cv_current_drop: float = 0.05,
                 min_cv_points: int = 3, boundary_factor: float = BOUNDARY_FACTOR,
                 current_is_interval_mean: bool = False) -> StepTable:
    """Cut a run into steps from its current and voltage, and count each step's charge.

    Definitions:

    * **rest**: |I| ≤ ``rest_current_ma``. By default that threshold is the larger of
      ``rest_fraction`` (1 %) of the run's typical |I| (:func:`typical_current_ma`) and
      ``noise_sigmas`` (5) × the current's noise σ (:func:`current_noise_ma`), capped at 25 %
      of the typical |I|: it scales with the cell and the file's unit, never with the cell's
      mass, stays above the instrument's noise and far below any current worth the name.
    * **charge** / **discharge**: I above / below ± the threshold, consecutive rows of one
      sign; a **new set point** starts a new step of the same sign where the current jumps by
      more than ``setpoint_change`` (20 %) of |I| and 10 σ from a level it held for two rows
      to one it holds again (the next row within ``setpoint_hold``, 2 %, or 5 σ): a pulse at
      another current, a change of rate without a rest. A decaying CV current never holds,
      so it is never cut this way.
    * **cv_charge** / **cv_discharge**: within a run of one set point, a run of at least
      ``min_cv_points`` rows whose |I| is below (1 − ``cv_current_drop``) × the set current
      (median |I| of its first 5 rows) less 3 σ of noise, whose voltage stays within
      ``cv_voltage_band_v`` and whose |I| falls by at least ``cv_current_drop`` from its first
      to its last row. A CC-CV charge is a ``charge`` then a ``cv_charge`` step.

    ``step_index`` (the cycler's step numbers) and ``counters`` (a mapping with any of
    :data:`COUNTER_COLUMNS`) are optional; with counters each step's capacity and energy come
    from them (see the module docstring). ``rest_current_ma`` and ``noise_ma`` override the
    estimates from the data (the incremental update passes the ones a first analysis found, so
    that a growing file is cut the same way). ``current_is_interval_mean``: each row's current
    is the mean since the previous row (EC-Lab's ``<I>``), so it is held over that whole
    interval everywhere, not only across step changes. Vectorised.
    """
    t = _as_float_array(time_s, "time_s")
    i_raw = _as_float_array(current_ma, "current_ma")
    v_raw = _as_float_array(voltage_v, "voltage_v")
    n = t.size
    if not (i_raw.size == n and v_raw.size == n):
        raise ValueError("time_s, current_ma and voltage_v must have the same length")
    if np.isnan(t).any():
        raise ValueError("time_s has missing values")
    missing = ~np.isfinite(i_raw) | ~np.isfinite(v_raw)
    i = _fill_forward(np.where(np.isfinite(i_raw), i_raw, np.nan), leading=0.0)
    v = _fill_voltage(v_raw)
    steps_of_cycler = None
    if step_index is not None:
        steps_of_cycler = _fill_forward(_as_float_array(step_index, "step_index"), leading=-1.0)
        if steps_of_cycler.size != n:
            raise ValueError("step_index must have the length of time_s")
    counters = {name: _as_float_array(values, name)
                for name, values in (counters or {}).items() if values is not None}
    for name, values in counters.items():
        if name not in COUNTER_COLUMNS:
            raise ValueError(f"counters: {name!r} is not one of {COUNTER_COLUMNS}")
        if values.size != n:
            raise ValueError(f"counters: {name} must have the length of time_s")

    typical = typical_current_ma(i)
    noise = float(noise_ma) if noise_ma is not None else current_noise_ma(i, typical)
    threshold = (float(rest_current_ma) if rest_current_ma is not None
                 else min(max(rest_fraction * typical, noise_sigmas * noise), 0.25 * typical))
    params = {
        "method": "detect_steps", "version": VERSION, "rest_current_ma": threshold,
        "typical_current_ma": typical, "current_noise_ma": noise,
        "rest_fraction": rest_fraction, "noise_sigmas": noise_sigmas,
        "rest_current_given": rest_current_ma is not None,
        "setpoint_change": setpoint_change, "setpoint_hold": setpoint_hold,
        "cv_voltage_band_v": cv_voltage_band_v, "cv_current_drop": cv_current_drop,
        "min_cv_points": min_cv_points, "boundary_factor": boundary_factor,
        "counters": sorted(counters),
        "current_is_interval_mean": bool(current_is_interval_mean),
        "integration": ("sample and hold: each row's current over the interval since the "
                        "previous row" if current_is_interval_mean else
                        "trapezoid inside a step; sample and hold (the row's current over the "
                        "interval since the previous row) across step changes"),
    }
    if n == 0:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return StepTable(np.zeros(0, np.int8), empty_i, empty_i.copy(), *([empty_f] * 12),
                         empty_i.copy(), np.zeros(0, bool), *([empty_f] * 5),
                         empty_i.copy(), np.zeros(0, bool), empty_f, params=params)

    abs_i = np.abs(i)
    sign = (i > threshold).astype(np.int8) - (i < -threshold).astype(np.int8)
    code = np.where(sign > 0, CHARGE, np.where(sign < 0, DISCHARGE, REST)).astype(np.int8)

    # --- set points: a jump within one sign to a current that then holds
    split = np.zeros(n, dtype=bool)
    if n > 2:
        same = (sign[1:] == sign[:-1]) & (sign[1:] != 0)
        step_change = np.abs(np.diff(i))
        bigger = np.maximum(abs_i[1:], abs_i[:-1])
        jump = same & (step_change > np.maximum(10.0 * noise, setpoint_change * bigger))
        holds = np.zeros(n, dtype=bool)  # row k: the next row stays at its current
        holds[:-1] = same & (step_change <= np.maximum(noise_sigmas * noise,
                                                       setpoint_hold * abs_i[:-1]))
        # the level before the jump held too (two rows), so a step's ramping first sample
        # is not a set point of its own
        held_before = np.zeros(n - 1, dtype=bool)
        held_before[1:] = holds[:-2]
        split[1:] = jump & holds[1:] & held_before

    # --- constant-voltage parts inside runs of one set point
    seg_flag = np.zeros(n, dtype=bool)
    seg_flag[_run_starts(sign)] = True
    seg_flag |= split
    seg_start = np.flatnonzero(seg_flag)
    seg_id = np.cumsum(seg_flag) - 1
    seg_end = np.concatenate((seg_start[1:] - 1, [n - 1]))
    head = np.minimum(seg_start[:, None] + np.arange(5)[None, :], seg_end[:, None])
    seg_set = np.median(abs_i[head], axis=1)
    decayed = (sign != 0) & (abs_i < (1.0 - cv_current_drop) * seg_set[seg_id] - 3.0 * noise)
    if decayed.any():
        run_flag = seg_flag.copy()
        run_flag[1:] |= decayed[1:] != decayed[:-1]
        run_start = np.flatnonzero(run_flag)
        run_end = np.concatenate((run_start[1:] - 1, [n - 1]))
        run_len = run_end - run_start + 1
        v_range = np.maximum.reduceat(v, run_start) - np.minimum.reduceat(v, run_start)
        cv_run = (decayed[run_start] & (run_len >= min_cv_points)
                  & (v_range <= cv_voltage_band_v)
                  & (abs_i[run_end] <= (1.0 - cv_current_drop) * abs_i[run_start]))
        if cv_run.any():
            cv_row = cv_run[np.cumsum(run_flag) - 1]
            code[cv_row] += 2  # CHARGE -> CV_CHARGE, DISCHARGE -> CV_DISCHARGE

    # --- steps = runs of one kind (and of one set point)
    start_flag = np.zeros(n, dtype=bool)
    start_flag[_run_starts(code)] = True
    start_flag |= split
    start = np.flatnonzero(start_flag)
    end = np.concatenate((start[1:] - 1, [n - 1]))
    n_steps = start.size
    step_of_row = np.cumsum(start_flag) - 1
    direction = KIND_DIRECTION[code]
    step_direction = direction[start]

    # --- the intervals between rows: which step owns each, and how
    dt_raw = np.diff(t)
    backwards = np.where(dt_raw < 0.0, -dt_raw, 0.0)
    dt = np.maximum(dt_raw, 0.0)
    new_step = start_flag[1:]
    cycler_change = np.zeros(n - 1, dtype=bool)
    if steps_of_cycler is not None:
        cycler_change = steps_of_cycler[1:] != steps_of_cycler[:-1]
    # CC into CV (or back) is one continuous current: the trapezoid, even across the cycler's
    # step change; every other step change is held
    is_cv = code >= CV_CHARGE
    gradual = (direction[1:] == direction[:-1]) & (direction[1:] != 0) & (is_cv[1:] | is_cv[:-1])
    hold = ((new_step | cycler_change) & ~gradual) | bool(current_is_interval_mean)
    owner = step_of_row[1:]  # the interval before row k+1 belongs to row k+1's step

    internal = ~new_step & (dt > 0)
    internal_at = np.flatnonzero(internal)
    median_dt, largest_gap, largest_at = _group_stats(owner[internal_at], dt[internal_at],
                                                      n_steps)
    largest_gap_start = np.full(n_steps, np.nan)
    has_gap = largest_at >= 0
    largest_gap_start[has_gap] = t[internal_at[largest_at[has_gap]]]
    # before a step's first row: no more than boundary_factor of its own sampling intervals
    first_interval = start[1:] - 1 if n_steps > 1 else np.zeros(0, np.int64)
    boundary_gap = np.zeros(n_steps)
    boundary_gap[1:] = dt[first_interval]
    credited = dt.copy()
    capped = np.zeros(n_steps)
    if first_interval.size:
        later = np.arange(1, n_steps)
        cap = boundary_factor * median_dt[later]
        limit = np.isfinite(cap) & (step_direction[later] != 0) & hold[first_interval]
        over = limit & (dt[first_interval] > cap)
        credited[first_interval[over]] = cap[over]
        capped[later[over]] = dt[first_interval[over]] - cap[over]

    i_prev, i_next = abs_i[:-1], abs_i[1:]
    q_interval = np.where(hold, i_next, 0.5 * (i_prev + i_next)) * credited
    e_interval = np.where(hold, v[1:] * i_next, 0.5 * (v[:-1] * i_prev + v[1:] * i_next)) * credited
    signed_interval = np.where(hold, i[1:], 0.5 * (i[:-1] + i[1:])) * credited

    def per_step(values: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=values, minlength=n_steps)

    duration = per_step(credited)
    integral_q = per_step(q_interval) / 3600.0
    integral_e = per_step(e_interval) / 3600.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_current = np.where(duration > 0, per_step(signed_interval) / duration, i[start])

    # --- the cycler's counters
    def counted(names: tuple[str, str]) -> np.ndarray:
        total = np.full(n_steps, np.nan)
        present = [name in counters for name in names]
        if not any(present):
            return total
        sums = []
        for name, sign_of, ok in zip(names, (1, -1), present, strict=True):
            if not ok:
                sums.append(None)
                continue
            increment = counter_increments(counters[name])[1:]
            # the first row of a rest after a step of this direction: counted before it ended
            first_rest = new_step & (code[1:] == REST) & (direction[:-1] == sign_of)
            who = np.where(first_rest, step_of_row[:-1], owner)
            sums.append(np.bincount(who, weights=increment, minlength=n_steps))
        charge_sum, discharge_sum = sums
        if charge_sum is not None:
            total = np.where(step_direction > 0, charge_sum, total)
        if discharge_sum is not None:
            total = np.where(step_direction < 0, discharge_sum, total)
        if charge_sum is not None and discharge_sum is not None:
            total = np.where(step_direction == 0, charge_sum + discharge_sum, total)
        return total

    counter_q = counted(("charge_capacity_mah", "discharge_capacity_mah"))
    counter_e = counted(("charge_energy_mwh", "discharge_energy_mwh"))
    # a counter that stayed at zero while current flowed did not count: the integral stands in
    capacity = np.where(np.isfinite(counter_q) & ((counter_q > 0) | (integral_q <= 0)),
                        counter_q, integral_q)
    energy = np.where(np.isfinite(counter_e) & ((counter_e > 0) | (integral_e <= 0)),
                      counter_e, integral_e)

    if steps_of_cycler is not None:
        cycler_step = np.where(steps_of_cycler[start] >= 0, steps_of_cycler[start], -1)
        ends_at_change = np.zeros(n_steps, dtype=bool)
        inner = end < n - 1
        ends_at_change[inner] = steps_of_cycler[end[inner]] != steps_of_cycler[end[inner] + 1]
    else:
        cycler_step = np.full(n_steps, -1.0)
        ends_at_change = np.zeros(n_steps, dtype=bool)

    return StepTable(
        kind_code=code[start].astype(np.int8),
        start_row=start.astype(np.int64), end_row=end.astype(np.int64),
        start_time_s=t[start], end_time_s=t[end], duration_s=duration,
        capacity_mah=capacity, energy_mwh=energy,
        mean_current_ma=mean_current, start_voltage_v=v[start], end_voltage_v=v[end],
        integral_capacity_mah=integral_q, integral_energy_mwh=integral_e,
        counter_capacity_mah=counter_q, counter_energy_mwh=counter_e,
        cycler_step=cycler_step.astype(np.int64), ends_at_cycler_step_change=ends_at_change,
        starts_at_setpoint=split[start], median_interval_s=median_dt,
        largest_gap_s=largest_gap, largest_gap_start_s=largest_gap_start,
        boundary_gap_s=boundary_gap, uncredited_s=capped,
        backwards_s=np.bincount(owner, weights=backwards, minlength=n_steps),
        missing_rows=np.bincount(step_of_row, weights=missing, minlength=n_steps).astype(np.int64),
        params=params,
    )


def detect_steps_in_table(table: Any, **kwargs: Any) -> StepTable:
    """:func:`detect_steps` on a canonical table (pa.Table, mapping of arrays or DataFrame):
    the cycler's step numbers and counters are used where the table has them, and a current
    the reader marked as the mean since the previous row is held over that interval."""
    if "current_is_interval_mean" not in kwargs and isinstance(table, pa.Table):
        kwargs["current_is_interval_mean"] = _interval_mean_current(table)
    columns = table_columns(table)
    counters = {name: columns[name] for name in COUNTER_COLUMNS if name in columns}
    return detect_steps(columns["test_time_s"], columns["current_ma"], columns["voltage_v"],
                        step_index=columns.get("step_index"), counters=counters or None,
                        **kwargs)


# --------------------------------------------------------------------------------------------
# cycles
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CycleAssignment:
    """Cycle number of every step, and how it got there.

    ``cycle[k]``: cycle of step k. ``half_cycle[k]``: index of the half cycle step k belongs to
    (-1 for rests). ``half_cycle_direction[h]``: +1 charge / -1 discharge;
    ``half_cycle_is_pulse[h]``: the half cycle is a pulse. ``step_direction[k]``: the step's own
    direction. ``role[k]``: "in", "out", "pulse" or "rest".
    """

    cycle: np.ndarray
    half_cycle: np.ndarray
    half_cycle_direction: np.ndarray
    step_direction: np.ndarray
    first_half_cycle: str
    params: dict = dataclasses.field(default_factory=dict)
    half_cycle_is_pulse: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.cycle.size)

    @property
    def in_direction(self) -> int:
        return 1 if self.first_half_cycle == "charge" else -1

    @property
    def is_pulse(self) -> np.ndarray:
        """Per step: part of a pulse."""
        flags = (self.half_cycle_is_pulse if self.half_cycle_is_pulse is not None
                 else np.zeros(self.half_cycle_direction.size, dtype=bool))
        out = np.zeros(self.cycle.size, dtype=bool)
        has = self.half_cycle >= 0
        out[has] = flags[self.half_cycle[has]]
        return out

    @property
    def is_major(self) -> np.ndarray:
        """Per step: part of a half cycle that counts (not a rest, not a pulse)."""
        return (self.half_cycle >= 0) & ~self.is_pulse

    @property
    def role(self) -> np.ndarray:
        role = np.full(self.cycle.size, "rest", dtype=object)
        major = self.is_major
        role[major] = np.where(self.step_direction[major] == self.in_direction, "in", "out")
        role[self.is_pulse] = "pulse"
        return role


def _check_first_half_cycle(first_half_cycle: str) -> str:
    if first_half_cycle not in HALF_CYCLES:
        raise ValueError(f"first_half_cycle must be 'charge' or 'discharge', "
                         f"not {first_half_cycle!r}")
    return first_half_cycle


def assign_cycles(steps: StepTable, first_half_cycle: str = "charge", *,
                  max_pulse_s: float = MAX_PULSE_S, pulse_fraction: float = PULSE_FRACTION,
                  reference_burst_s: float | None = None) -> CycleAssignment:
    """Number the cycles: a cycle is an in→out pair of half cycles. Nothing here depends on
    the cell's mass.

    * A **burst** is a run of consecutive non-rest steps of one direction and one set point
      (a rest or a jump of the current ends it; a CC step and its CV hold are one burst).
      A burst lasting at most ``max_pulse_s`` (30 s) and less than ``pulse_fraction`` (10 %)
      of the longest burst (or of ``reference_burst_s`` if that is longer: the incremental
      update passes the longest burst seen so far) is a **pulse**, unless it is still going at
      the end of the table (it may be a half cycle that has just started). Each pulse is a half
      cycle of its own that neither starts nor ends a cycle.
    * A **half cycle** is a maximal sequence of non-pulse bursts of one direction; rests and
      pulses between them do not interrupt it. So a CC-CV charge, a charge interrupted by a
      rest or the pulses of a GITT are one half cycle.
    * ``first_half_cycle`` = "charge" (cathode half cell, full cell) or "discharge" (Sn half
      cell): each half cycle of that direction starts a new cycle (1, 2, ...); the other
      direction closes it.
    * **Cycle 0**: a file starting with a half cycle of the *other* direction (e.g. a discharge
      when cycles start with charge, a test restarted mid-cycle) puts that leading partial half
      cycle, and the rests around it, into cycle 0, which :func:`summarise_cycles` marks
      incomplete.
    * **Rests** and pulses belong to the cycle of the half cycle before them; those at the very
      start of the file belong to the cycle of the first half cycle.
    """
    _check_first_half_cycle(first_half_cycle)
    in_direction = 1 if first_half_cycle == "charge" else -1
    n = len(steps)
    direction = steps.direction.astype(np.int64)
    params = {"method": "assign_cycles", "version": VERSION,
              "first_half_cycle": first_half_cycle, "max_pulse_s": max_pulse_s,
              "pulse_fraction": pulse_fraction}
    cycle = np.zeros(n, dtype=np.int64)
    half_cycle = np.full(n, -1, dtype=np.int64)

    # bursts: runs of one direction among consecutive steps (a rest ends a burst)
    burst_flag = steps.starts_at_setpoint.copy()  # a new set point starts a new burst
    if n:
        burst_flag[_run_starts(direction)] = True
    burst_of_step = np.cumsum(burst_flag) - 1
    burst_start = np.flatnonzero(burst_flag)
    burst_direction = direction[burst_start] if n else np.zeros(0, np.int64)
    burst_duration = (np.bincount(burst_of_step, weights=steps.duration_s,
                                  minlength=burst_start.size) if n else np.zeros(0))
    active_burst = burst_direction != 0
    longest = float(burst_duration[active_burst].max()) if active_burst.any() else 0.0
    reference = max(longest, float(reference_burst_s or 0.0))
    params["longest_burst_s"] = reference
    pulse_burst = (active_burst & (burst_duration <= max_pulse_s)
                   & (burst_duration < pulse_fraction * reference))
    if n and direction[-1] != 0:
        pulse_burst[-1] = False  # still going: it may be a half cycle that has just begun

    def result(hc_direction, hc_pulse):
        return CycleAssignment(cycle, half_cycle, np.asarray(hc_direction, np.int8),
                               direction.astype(np.int8), first_half_cycle, params,
                               np.asarray(hc_pulse, bool))

    if not active_burst.any():
        return result([], [])  # rests only (an OCV or impedance file)

    # half cycles: pulses each on their own; major bursts merged by direction across rests
    # and pulses
    active = np.flatnonzero(active_burst)
    is_pulse = pulse_burst[active]
    major_bursts = active[~is_pulse]
    major_direction = burst_direction[major_bursts]
    major_new = np.ones(major_bursts.size, dtype=bool)
    major_new[1:] = major_direction[1:] != major_direction[:-1]
    # a half-cycle key per active burst, in time order: every pulse and every new major run
    # starts a new half cycle
    starts_new = np.ones(active.size, dtype=bool)
    starts_new[~is_pulse] = major_new
    # a major burst continuing its run after pulses: it joins the half cycle of the previous
    # major burst, not the pulse before it
    key = np.cumsum(starts_new) - 1
    last_major_key = np.where(~is_pulse, key, -1)
    np.maximum.accumulate(last_major_key, out=last_major_key)
    continuing = ~is_pulse & ~starts_new
    previous_major_key = np.r_[-1, last_major_key[:-1]]
    key = np.where(continuing, previous_major_key, key)
    # renumber the half cycles 0, 1, ... in order of first appearance
    used, hc_of_active = np.unique(key, return_inverse=True)
    hc_direction = np.zeros(used.size, dtype=np.int8)
    hc_pulse = np.zeros(used.size, dtype=bool)
    hc_direction[hc_of_active] = burst_direction[active]
    hc_pulse[hc_of_active] = is_pulse
    hc_of_burst = np.full(burst_start.size, -1, dtype=np.int64)
    hc_of_burst[active] = hc_of_active
    half_cycle[:] = hc_of_burst[burst_of_step]

    if not (~hc_pulse).any():
        params["no_half_cycle"] = True
        return result(hc_direction, hc_pulse)  # only pulses: no cycles

    hc_cycle = np.cumsum((hc_direction == in_direction) & ~hc_pulse)
    major_step = (half_cycle >= 0) & ~hc_pulse[np.maximum(half_cycle, 0)]
    # every step takes the cycle of the last major step at or before it
    last_major = np.where(major_step, np.arange(n), -1)
    np.maximum.accumulate(last_major, out=last_major)
    last_major[last_major < 0] = int(np.flatnonzero(major_step)[0])
    cycle[:] = hc_cycle[half_cycle[last_major]]
    return result(hc_direction, hc_pulse)


# --------------------------------------------------------------------------------------------
# per-cycle summary
# --------------------------------------------------------------------------------------------

#: name -> (arrow type, unit and meaning); the order of the summary's columns.
SUMMARY_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number; 0 = leading partial half cycle of the other kind"),
    "cycler_cycle_index": (pa.int64(), "the cycler's own cycle number at the start of the "
                                       "cycle's first half cycle (null if the file has none)"),
    "complete": (pa.bool_(), "both half cycles present and ended (False: partial, ratios null)"),
    "charge_capacity_mah": (pa.float64(), "charge passed in the charge half cycle (CC + CV), "
                                          "from the cycler's counter where the file has one, "
                                          "else the integral, mAh"),
    "discharge_capacity_mah": (pa.float64(), "the same for the discharge half cycle, mAh"),
    "charge_specific_capacity_mah_g": (pa.float64(), "charge capacity ÷ active mass, mAh/g"),
    "discharge_specific_capacity_mah_g": (pa.float64(), "discharge capacity ÷ active mass, mAh/g"),
    "charge_cv_capacity_mah": (pa.float64(), "part of the charge capacity passed in CV, mAh"),
    "discharge_cv_capacity_mah": (pa.float64(), "part of the discharge capacity passed in CV, mAh"),
    "coulombic_efficiency": (pa.float64(), "out ÷ in capacity (fraction): discharge ÷ charge "
                                           "for charge-first cells, charge ÷ discharge "
                                           "(desodiation ÷ sodiation) for a Sn half cell"),
    "charge_energy_mwh": (pa.float64(), "energy of the charge half cycle, from the cycler's "
                                        "counter where the file has one, else ∫V|I|dt, mWh"),
    "discharge_energy_mwh": (pa.float64(), "the same for the discharge half cycle, mWh"),
    "charge_specific_energy_wh_kg": (pa.float64(), "charge energy ÷ active mass, Wh/kg"),
    "discharge_specific_energy_wh_kg": (pa.float64(), "discharge energy ÷ active mass, Wh/kg"),
    "energy_efficiency": (pa.float64(), "discharge energy ÷ charge energy (fraction), whichever "
                                        "half cycle comes first"),
    "mean_charge_voltage_v": (pa.float64(), "charge energy ÷ charge capacity, V"),
    "mean_discharge_voltage_v": (pa.float64(), "discharge energy ÷ discharge capacity, V"),
    "mean_voltage_difference_v": (pa.float64(), "mean charge − mean discharge voltage, V"),
    "charge_end_voltage_v": (pa.float64(), "voltage at the end of the last charge step, V"),
    "discharge_end_voltage_v": (pa.float64(), "voltage at the end of the last discharge step, V"),
    "max_voltage_v": (pa.float64(), "highest voltage in the cycle, V"),
    "min_voltage_v": (pa.float64(), "lowest voltage in the cycle, V"),
    "charge_mean_current_ma": (pa.float64(), "|mean current| of the CC charge steps, mA"),
    "discharge_mean_current_ma": (pa.float64(), "|mean current| of the CC discharge steps, mA"),
    "charge_c_rate": (pa.float64(), "charge CC current ÷ 1C current (active mass × reference "
                                    "specific capacity), 1/h"),
    "discharge_c_rate": (pa.float64(), "discharge CC current ÷ 1C current, 1/h"),
    "charge_current_density_ma_cm2": (pa.float64(), "charge CC current ÷ electrode area"),
    "discharge_current_density_ma_cm2": (pa.float64(), "discharge CC current ÷ electrode area"),
    "irreversible_capacity_mah": (pa.float64(), "in − out capacity of the cycle, mAh"),
    "cumulative_irreversible_capacity_mah": (pa.float64(), "sum of irreversible capacity over "
                                                           "complete cycles up to this one, mAh"),
    "cumulative_irreversible_capacity_mah_g": (pa.float64(), "the same ÷ active mass, mAh/g"),
    "charge_capacity_counter_mah": (pa.float64(), "the cycler's counter over the charge half "
                                                  "cycle, mAh (null: the file has none)"),
    "discharge_capacity_counter_mah": (pa.float64(), "the cycler's counter over the discharge "
                                                     "half cycle, mAh"),
    "charge_capacity_integral_mah": (pa.float64(), "∫|I|dt of the logged rows of the charge "
                                                   "half cycle, mAh"),
    "discharge_capacity_integral_mah": (pa.float64(), "∫|I|dt of the logged rows of the "
                                                      "discharge half cycle, mAh"),
    "charge_energy_counter_mwh": (pa.float64(), "the cycler's energy counter over the charge "
                                                "half cycle, mWh"),
    "discharge_energy_counter_mwh": (pa.float64(), "the cycler's energy counter over the "
                                                   "discharge half cycle, mWh"),
    "charge_energy_integral_mwh": (pa.float64(), "∫V|I|dt of the logged rows of the charge "
                                                 "half cycle, mWh"),
    "discharge_energy_integral_mwh": (pa.float64(), "∫V|I|dt of the logged rows of the "
                                                    "discharge half cycle, mWh"),
    "capacity_source": (pa.string(), "where the capacities come from: counter, integral or "
                                     "mixed"),
    "energy_source": (pa.string(), "where the energies come from: counter, integral or mixed"),
    "n_pulses": (pa.int64(), "pulses (short bursts, not part of the capacities) in the cycle"),
    "duration_s": (pa.float64(), "time the cycle's steps own, s"),
    "start_time_s": (pa.float64(), "test time of the cycle's first row, s"),
    "end_time_s": (pa.float64(), "test time of the cycle's last row, s"),
    "start_row": (pa.int64(), "first row of the cycle in the canonical table"),
    "end_row": (pa.int64(), "last row of the cycle in the canonical table (inclusive)"),
    "n_steps": (pa.int64(), "number of steps in the cycle"),
    "n_warnings": (pa.int64(), "number of quality flags of the cycle"),
    "flags": (pa.string(), "the quality flags as a JSON list: code, half, quantity, value, "
                           "limit, unit, message"),
}

_RATIO_COLUMNS = ("coulombic_efficiency", "energy_efficiency", "irreversible_capacity_mah",
                  "cumulative_irreversible_capacity_mah",
                  "cumulative_irreversible_capacity_mah_g")


def summary_metadata(summary: pa.Table) -> dict:
    """The method, version and parameters stored with a summary table (empty if none)."""
    raw = (summary.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def summary_flags(summary: pa.Table) -> list[list[dict]]:
    """The quality flags of every row of a summary, parsed."""
    if "flags" not in summary.column_names:
        return [[] for _ in range(summary.num_rows)]
    return [json.loads(text) if text else [] for text in summary.column("flags").to_pylist()]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


@dataclasses.dataclass(frozen=True)
class QualityLimits:
    """What the quality flags are checked against (stated in every flag)."""

    counter_tolerance: float = COUNTER_TOLERANCE
    max_gap_s: float = MAX_GAP_S
    gap_factor: float = GAP_FACTOR
    lower_cutoff_v: float | None = None
    upper_cutoff_v: float | None = None
    cutoff_tolerance_v: float = CUTOFF_TOLERANCE_V

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _flag(code: str, message: str, *, half: str | None = None, quantity: str | None = None,
          value: float | None = None, limit: float | None = None, unit: str | None = None,
          **details: Any) -> dict:
    flag = {"code": code, "half": half, "quantity": quantity,
            "value": None if value is None or not math.isfinite(value) else float(value),
            "limit": None if limit is None else float(limit), "unit": unit, "message": message}
    flag.update(details)
    return flag


def _fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def _summarise(table: Any, steps: StepTable, cycles: CycleAssignment, *, active_mass_mg: float,
               electrode_area_cm2: float, reference_capacity_mah_g: float,
               finished: bool, limits: QualityLimits = QualityLimits(),
               cumulative_start_mah: float = 0.0) -> dict[str, Any]:
    n_steps = len(steps)
    if len(cycles) != n_steps:
        raise ValueError("cycles must give one cycle number per step")
    cycle_of_step = cycles.cycle
    if n_steps and np.any(np.diff(cycle_of_step) < 0):
        raise ValueError("cycle numbers must not decrease along the steps")
    numbers, first_step = np.unique(cycle_of_step, return_index=True)
    n_cycles = numbers.size
    idx = np.searchsorted(numbers, cycle_of_step)
    last_step = np.concatenate((first_step[1:] - 1, [n_steps - 1])) if n_cycles else first_step

    direction = steps.direction
    kind = steps.kind_code
    major = cycles.is_major
    in_direction = cycles.in_direction

    def per_cycle(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=np.where(mask, weights, 0.0), minlength=n_cycles)

    def per_cycle_or_null(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Sum over the masked steps; NaN where a masked step has none (counters absent)."""
        total = per_cycle(np.nan_to_num(weights), mask)
        unknown = np.bincount(idx, weights=(mask & ~np.isfinite(weights)).astype(float),
                              minlength=n_cycles) > 0
        return np.where(unknown, np.nan, total)

    is_charge, is_discharge = major & (direction > 0), major & (direction < 0)
    q_ch, q_dis = per_cycle(steps.capacity_mah, is_charge), per_cycle(steps.capacity_mah,
                                                                      is_discharge)
    e_ch, e_dis = per_cycle(steps.energy_mwh, is_charge), per_cycle(steps.energy_mwh,
                                                                   is_discharge)
    qi_ch = per_cycle(steps.integral_capacity_mah, is_charge)
    qi_dis = per_cycle(steps.integral_capacity_mah, is_discharge)
    ei_ch = per_cycle(steps.integral_energy_mwh, is_charge)
    ei_dis = per_cycle(steps.integral_energy_mwh, is_discharge)
    def counter_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if not np.isfinite(values).any():
            return np.full(n_cycles, np.nan)  # the file has no such counter
        return per_cycle_or_null(values, mask)

    qc_ch = counter_sum(steps.counter_capacity_mah, is_charge)
    qc_dis = counter_sum(steps.counter_capacity_mah, is_discharge)
    ec_ch = counter_sum(steps.counter_energy_mwh, is_charge)
    ec_dis = counter_sum(steps.counter_energy_mwh, is_discharge)
    has_half = per_cycle(np.ones(n_steps), major) > 0

    def source(counter_values: np.ndarray, used: np.ndarray) -> list[str]:
        from_counter = np.isfinite(counter_values) & (used == counter_values)
        with_counter = per_cycle(from_counter.astype(float), major)
        total = per_cycle(np.ones(n_steps), major)
        return ["counter" if w == t and t > 0 else "integral" if w == 0 else "mixed"
                for w, t in zip(with_counter, total, strict=True)]

    q_cv_ch = per_cycle(steps.capacity_mah, major & (kind == CV_CHARGE))
    q_cv_dis = per_cycle(steps.capacity_mah, major & (kind == CV_DISCHARGE))
    cc_ch, cc_dis = major & (kind == CHARGE), major & (kind == DISCHARGE)
    i_cc_ch = _ratio(per_cycle(steps.integral_capacity_mah, cc_ch) * 3600.0,
                     per_cycle(steps.duration_s, cc_ch))
    i_cc_dis = _ratio(per_cycle(steps.integral_capacity_mah, cc_dis) * 3600.0,
                      per_cycle(steps.duration_s, cc_dis))

    def last_of(mask: np.ndarray) -> np.ndarray:
        last = np.full(n_cycles, -1, dtype=np.int64)
        np.maximum.at(last, idx[mask], np.flatnonzero(mask))
        return last

    def first_of(mask: np.ndarray) -> np.ndarray:
        first = np.full(n_cycles, n_steps, dtype=np.int64)
        np.minimum.at(first, idx[mask], np.flatnonzero(mask))
        return np.where(first < n_steps, first, -1)

    def last_voltage(mask: np.ndarray) -> np.ndarray:
        last = last_of(mask)
        return np.where(last >= 0, steps.end_voltage_v[np.maximum(last, 0)], np.nan)

    # completeness: in and out half cycles present, the out one followed by something, and the
    # in one not begun before the file's first row
    major_in = major & (direction == in_direction)
    major_out = major & (direction == -in_direction)
    has_in = np.bincount(idx[major_in], minlength=n_cycles) > 0
    has_out = np.bincount(idx[major_out], minlength=n_cycles) > 0
    last_out = last_of(major_out)
    followed = last_step > last_out
    followed[:-1] = True
    begun_before = np.zeros(n_cycles, dtype=bool)
    if n_steps and steps.start_row[0] == 0 and direction[0] != 0 and major[0]:
        # the cycler's counter had already counted something, or (without counters) the
        # test clock had already run for a while: the half cycle began before the file
        counter0 = _first_row_counter(table, int(direction[0]))
        if (counter0 > 0.0) if counter0 is not None else (steps.start_time_s[0] > 60.0):
            begun_before[idx[0]] = True
    complete = (numbers >= 1) & has_in & has_out & (followed | finished) & ~begun_before

    mass_g = active_mass_mg / 1000.0
    one_c_ma = active_mass_mg / 1000.0 * reference_capacity_mah_g
    charge_first = in_direction > 0
    q_in, q_out = (q_ch, q_dis) if charge_first else (q_dis, q_ch)
    ce = np.where(complete, _ratio(q_out, q_in), np.nan)
    ee = np.where(complete, _ratio(e_dis, e_ch), np.nan)
    irreversible = np.where(complete, q_in - q_out, np.nan)
    cumulative = np.cumsum(np.concatenate(([cumulative_start_mah],
                                           np.where(complete, irreversible, 0.0))))[1:]
    cumulative = np.where(complete, cumulative, np.nan)
    v_ch, v_dis = _ratio(e_ch, q_ch), _ratio(e_dis, q_dis)

    columns = table_columns(table)
    t, v = columns["test_time_s"], _fill_voltage(columns["voltage_v"])
    start_row = steps.start_row[first_step] if n_cycles else np.zeros(0, np.int64)
    end_row = steps.end_row[last_step] if n_cycles else np.zeros(0, np.int64)
    if n_cycles and end_row[-1] >= t.size:
        raise ValueError("the steps refer to rows beyond the end of the table")
    cycler_cycle = np.full(n_cycles, np.nan)
    if "cycle_index" in columns and n_cycles:
        first_in = first_of(major_in)
        row = np.where(first_in >= 0, steps.start_row[np.maximum(first_in, 0)], start_row)
        cycler_cycle = columns["cycle_index"][row]

    flags = _cycle_flags(steps, cycles, idx, numbers, complete, has_in, has_out, followed,
                         begun_before, finished, limits,
                         counters=((qc_ch, qi_ch, ec_ch, ei_ch), (qc_dis, qi_dis, ec_dis, ei_dis)))
    return {
        "cycle_number": numbers,
        "cycler_cycle_index": cycler_cycle,
        "complete": complete,
        "charge_capacity_mah": q_ch, "discharge_capacity_mah": q_dis,
        "charge_specific_capacity_mah_g": q_ch / mass_g,
        "discharge_specific_capacity_mah_g": q_dis / mass_g,
        "charge_cv_capacity_mah": q_cv_ch, "discharge_cv_capacity_mah": q_cv_dis,
        "coulombic_efficiency": ce,
        "charge_energy_mwh": e_ch, "discharge_energy_mwh": e_dis,
        "charge_specific_energy_wh_kg": e_ch / mass_g,
        "discharge_specific_energy_wh_kg": e_dis / mass_g,
        "energy_efficiency": ee,
        "mean_charge_voltage_v": v_ch, "mean_discharge_voltage_v": v_dis,
        "mean_voltage_difference_v": v_ch - v_dis,
        "charge_end_voltage_v": last_voltage(is_charge),
        "discharge_end_voltage_v": last_voltage(is_discharge),
        "max_voltage_v": np.maximum.reduceat(v, start_row) if n_cycles else np.zeros(0),
        "min_voltage_v": np.minimum.reduceat(v, start_row) if n_cycles else np.zeros(0),
        "charge_mean_current_ma": i_cc_ch, "discharge_mean_current_ma": i_cc_dis,
        "charge_c_rate": i_cc_ch / one_c_ma, "discharge_c_rate": i_cc_dis / one_c_ma,
        "charge_current_density_ma_cm2": i_cc_ch / electrode_area_cm2,
        "discharge_current_density_ma_cm2": i_cc_dis / electrode_area_cm2,
        "irreversible_capacity_mah": irreversible,
        "cumulative_irreversible_capacity_mah": cumulative,
        "cumulative_irreversible_capacity_mah_g": cumulative / mass_g,
        "charge_capacity_counter_mah": qc_ch, "discharge_capacity_counter_mah": qc_dis,
        "charge_capacity_integral_mah": qi_ch, "discharge_capacity_integral_mah": qi_dis,
        "charge_energy_counter_mwh": ec_ch, "discharge_energy_counter_mwh": ec_dis,
        "charge_energy_integral_mwh": ei_ch, "discharge_energy_integral_mwh": ei_dis,
        "capacity_source": np.where(has_half, source(steps.counter_capacity_mah,
                                                     steps.capacity_mah), None),
        "energy_source": np.where(has_half, source(steps.counter_energy_mwh, steps.energy_mwh),
                                  None),
        "n_pulses": _count_pulses(cycles, idx, n_cycles),
        "duration_s": np.bincount(idx, weights=steps.duration_s, minlength=n_cycles),
        "start_time_s": steps.start_time_s[first_step] if n_cycles else np.zeros(0),
        "end_time_s": steps.end_time_s[last_step] if n_cycles else np.zeros(0),
        "start_row": start_row, "end_row": end_row,
        "n_steps": np.bincount(idx, minlength=n_cycles),
        "n_warnings": np.array([len(f) for f in flags], dtype=np.int64),
        "flags": [json.dumps(f) for f in flags],
    }


def _first_row_counter(table: Any, direction: int) -> float | None:
    """The counter of this direction at the table's first row (None: no such counter)."""
    name = "charge_capacity_mah" if direction > 0 else "discharge_capacity_mah"
    if not _has_column(table, name):
        return None
    value = _table_column(table, name)[:1]
    return float(value[0]) if value.size and np.isfinite(value[0]) else None


def _count_pulses(cycles: CycleAssignment, idx: np.ndarray, n_cycles: int) -> np.ndarray:
    pulse = cycles.is_pulse
    counts = np.zeros(n_cycles, dtype=np.int64)
    if not pulse.any():
        return counts
    # one count per pulse half cycle, in the cycle of its first step
    hc = cycles.half_cycle
    first = np.flatnonzero(pulse & np.r_[True, hc[1:] != hc[:-1]])
    np.add.at(counts, idx[first], 1)
    return counts


def _cycle_flags(steps: StepTable, cycles: CycleAssignment, idx: np.ndarray,
                 numbers: np.ndarray, complete: np.ndarray, has_in: np.ndarray,
                 has_out: np.ndarray, followed: np.ndarray, begun_before: np.ndarray,
                 finished: bool, limits: QualityLimits, counters) -> list[list[dict]]:
    """The quality flags of every cycle (see FLAG_CODES), each with its reason and size."""
    n_cycles = numbers.size
    flags: list[list[dict]] = [[] for _ in range(n_cycles)]
    major = cycles.is_major
    direction = steps.direction
    names = {1: "charge", -1: "discharge"}
    in_name, out_name = names[cycles.in_direction], names[-cycles.in_direction]

    # incomplete cycles
    for c in range(n_cycles):
        if complete[c]:
            continue
        if not has_in[c] and not has_out[c]:
            why = "it holds no half cycle (rests or pulses only)"
        elif numbers[c] == 0:
            why = (f"cycle 0 holds the end of a {out_name} that began before the file "
                   "(the file starts mid-cycle)")
        elif begun_before[c]:
            why = f"its {in_name} began before the first row of the file"
        elif not has_in[c]:
            why = f"it has no {in_name}"
        elif not has_out[c]:
            why = f"the file ends before its {out_name}" if c == n_cycles - 1 else \
                f"it has no {out_name}"
        else:
            why = f"the file ends during or right after its {out_name}"
        flags[c].append(_flag("incomplete", f"incomplete: {why}; its ratios are not given"))

    # counter against the integral of the logged rows, per half cycle
    for half_index, half in ((0, "charge"), (1, "discharge")):
        q_counter, q_integral, e_counter, e_integral = counters[half_index]
        for quantity, counter, integral, unit in (("capacity", q_counter, q_integral, "mAh"),
                                                  ("energy", e_counter, e_integral, "mWh")):
            for c in range(n_cycles):
                a, b = counter[c], integral[c]
                if not (np.isfinite(a) and np.isfinite(b)):
                    continue
                if a <= 0.0:
                    if b > 0.0:
                        flags[c].append(_flag(
                            "counter_integral_mismatch",
                            f"{half} {quantity}: the cycler's counter stays at 0 while the "
                            f"integral of the logged rows gives {_fmt(b, 6)} {unit}; the "
                            "integral is used", half=half, quantity=quantity, value=-1.0,
                            limit=limits.counter_tolerance, unit="fraction",
                            counter=float(a), integral=float(b)))
                    continue
                relative = b / a - 1.0
                if abs(relative) > limits.counter_tolerance:
                    flags[c].append(_flag(
                        "counter_integral_mismatch",
                        f"{half} {quantity}: the cycler's counter gives {_fmt(a, 6)} {unit}, "
                        f"the integral of the logged rows {_fmt(b, 6)} {unit} "
                        f"({100 * relative:+.2f} %, tolerance ±{100 * limits.counter_tolerance:g} %)",
                        half=half, quantity=quantity, value=relative,
                        limit=limits.counter_tolerance, unit="fraction",
                        counter=float(a), integral=float(b)))

    # gaps, time going backwards, missing values: per step, gathered per cycle
    for k in range(len(steps)):
        c = int(idx[k])
        half = names.get(int(direction[k]))
        usual = float(steps.median_interval_s[k])
        gap_limit = max(limits.max_gap_s, limits.gap_factor * usual if np.isfinite(usual) else 0.0)
        if direction[k] != 0 and np.isfinite(steps.largest_gap_s[k]) \
                and steps.largest_gap_s[k] > gap_limit:
            gap, at = float(steps.largest_gap_s[k]), float(steps.largest_gap_start_s[k])
            flags[c].append(_flag(
                "time_gap", f"{half}: no row for {_fmt(gap)} s from t = {_fmt(at, 8)} s "
                            f"(limit {_fmt(gap_limit)} s)",
                half=half, value=gap, limit=gap_limit, unit="s", at_time_s=at))
        if steps.uncredited_s[k] > 0.0:
            gap = float(steps.boundary_gap_s[k])
            credited = gap - float(steps.uncredited_s[k])
            flags[c].append(_flag(
                "time_gap", f"{half}: its first row comes {_fmt(gap)} s after the row before; "
                            f"the start of the step was not logged, {_fmt(credited)} s "
                            f"(two of its sampling intervals) are counted at its current",
                half=half, value=gap, limit=credited, unit="s",
                at_time_s=float(steps.start_time_s[k])))
        if steps.backwards_s[k] > 0.0:
            back = float(steps.backwards_s[k])
            flags[c].append(_flag(
                "time_backwards", f"test time goes back by {_fmt(back)} s in a {KIND_NAMES[int(steps.kind_code[k])]} "
                                  f"step starting at row {int(steps.start_row[k])}; "
                                  "those intervals count as zero",
                half=half, value=back, limit=0.0, unit="s"))
        if steps.missing_rows[k] > 0:
            count = int(steps.missing_rows[k])
            flags[c].append(_flag(
                "missing_values", f"{count} row(s) with a missing or non-finite current or "
                                  f"voltage in the step starting at row {int(steps.start_row[k])}; "
                                  "each holds the previous row's value",
                half=half, value=count, limit=0, unit="rows"))

    # how each half cycle ended
    hc = cycles.half_cycle
    for h in np.unique(hc[major]) if major.any() else []:
        members = np.flatnonzero(hc == h)
        last = int(members[-1])
        c = int(idx[last])
        if last == len(steps) - 1 and not finished:
            continue  # still going
        d = int(direction[last])
        if steps.kind_code[last] in (CV_CHARGE, CV_DISCHARGE):
            continue  # a CV hold ends at its current cut-off
        if steps.ends_at_cycler_step_change[last]:
            continue  # the protocol's step ended it
        cutoff = limits.upper_cutoff_v if d > 0 else limits.lower_cutoff_v
        if cutoff is None:
            continue  # nothing to judge by
        end_v = float(steps.end_voltage_v[last])
        distance = (cutoff - end_v) if d > 0 else (end_v - cutoff)
        if distance > limits.cutoff_tolerance_v:
            flags[c].append(_flag(
                "unexpected_end",
                f"{names[d]} ended at {end_v:.4g} V, {distance * 1000:.0f} mV short of its "
                f"{cutoff:g} V cut-off, and not at a step change of the cycler's protocol",
                half=names[d], value=distance, limit=limits.cutoff_tolerance_v, unit="V"))
    return flags


def _to_arrow(columns: dict[str, Any], metadata: dict) -> pa.Table:
    arrays = [pa.array(columns[name], type=dtype, from_pandas=True)
              for name, (dtype, _meaning) in SUMMARY_COLUMNS.items()]
    schema = pa.schema([pa.field(name, dtype) for name, (dtype, _m) in SUMMARY_COLUMNS.items()],
                       metadata={METADATA_KEY: json.dumps(metadata).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def _metadata(steps: StepTable, cycles: CycleAssignment, limits: QualityLimits,
              **params: Any) -> dict:
    return {
        "method": "summarise_cycles", "version": VERSION,
        "first_half_cycle": cycles.first_half_cycle,
        "params": {**params, "first_half_cycle": cycles.first_half_cycle},
        "limits": limits.to_dict(),
        "steps": steps.params, "cycles": cycles.params,
    }


def summarise_cycles(table: Any, steps: StepTable, cycles: CycleAssignment | np.ndarray, *,
                     active_mass_mg: float, electrode_area_cm2: float,
                     reference_capacity_mah_g: float, first_half_cycle: str | None = None,
                     finished: bool = False, limits: QualityLimits | None = None) -> pa.Table:
    """One row per cycle, as an Arrow table with the columns of :data:`SUMMARY_COLUMNS`.

    Definitions (per cycle, see SUMMARY_COLUMNS for every column):

    * capacities and energies of the cycle's half cycles by direction (CV included, pulses
      left out), from the cycler's counters where the file has them, else from the integral of
      the logged rows; both are kept, with their source; specific values ÷ active mass;
    * coulombic efficiency = out ÷ in: discharge ÷ charge when cycles start with charge,
      charge ÷ discharge (desodiation ÷ sodiation) for a Sn half cell;
    * energy efficiency = discharge energy ÷ charge energy; mean voltages = energy ÷ capacity;
    * C-rate = |mean current of the CC steps| ÷ 1C current, 1C = active mass × reference
      specific capacity; current density = the same current ÷ electrode area;
    * irreversible capacity = in − out; its cumulative sum over complete cycles;
    * quality flags (``flags``, ``n_warnings``) checked against ``limits``.

    ``complete`` is True when the cycle has both half cycles, its in half cycle did not begin
    before the file, and its out half cycle has ended: something follows it, or ``finished``
    says the test is over. Cycle 0 is never complete. The ratio columns are null for
    incomplete cycles; capacities, energies and times are given for every row.

    ``cycles`` is the :class:`CycleAssignment` of :func:`assign_cycles` or a plain array of
    cycle numbers per step (then every non-rest step counts as a half-cycle step and
    ``first_half_cycle`` must be given). The method, version and every parameter are stored in
    the schema metadata (read them with :func:`summary_metadata`).
    """
    if not isinstance(cycles, CycleAssignment):
        if first_half_cycle is None:
            raise ValueError("first_half_cycle is needed when cycles is a plain array")
        numbers = np.asarray(cycles, dtype=np.int64)
        half = np.where(steps.direction != 0, 0, -1).astype(np.int64)  # every non-rest step
        cycles = CycleAssignment(numbers, half, np.zeros(1, np.int8), steps.direction.copy(),
                                 first_half_cycle, {"method": "given"}, np.zeros(1, bool))
    elif first_half_cycle is not None and first_half_cycle != cycles.first_half_cycle:
        raise ValueError("first_half_cycle differs from the one the cycles were assigned with")
    limits = limits or QualityLimits()
    params = dict(active_mass_mg=active_mass_mg, electrode_area_cm2=electrode_area_cm2,
                  reference_capacity_mah_g=reference_capacity_mah_g, finished=finished)
    columns = _summarise(table, steps, cycles, active_mass_mg=active_mass_mg,
                         electrode_area_cm2=electrode_area_cm2,
                         reference_capacity_mah_g=reference_capacity_mah_g, finished=finished,
                         limits=limits)
    return _to_arrow(columns, _metadata(steps, cycles, limits, **params))


# --------------------------------------------------------------------------------------------
# whole pipeline, and the incremental update for running tests
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CyclingAnalysis:
    """Steps, their cycles and the per-cycle summary of a table.

    After :func:`update_analysis`, ``steps`` and ``cycles`` cover only the recomputed part: the
    steps of cycles ≥ ``first_recomputed_cycle`` (rows and cycle numbers are absolute, as in
    a full analysis; ``cycles.half_cycle`` indices count from that part's start), while
    ``summary`` has every cycle. A full analysis has ``first_recomputed_cycle`` = 0.
    """

    steps: StepTable
    cycles: CycleAssignment
    summary: pa.Table
    first_recomputed_cycle: int = 0

    @property
    def n_warnings(self) -> int:
        return int(np.sum(self.summary.column("n_warnings").to_numpy())) \
            if self.summary.num_rows else 0


_CYCLE_KEYS = ("max_pulse_s", "pulse_fraction")
_LIMIT_KEYS = ("counter_tolerance", "max_gap_s", "gap_factor", "lower_cutoff_v", "upper_cutoff_v",
               "cutoff_tolerance_v")


def _split_kwargs(kwargs: dict) -> tuple[dict, dict, QualityLimits]:
    cycle_kwargs = {key: kwargs.pop(key) for key in _CYCLE_KEYS if key in kwargs}
    limits = QualityLimits(**{key: kwargs.pop(key) for key in _LIMIT_KEYS if key in kwargs})
    return kwargs, cycle_kwargs, limits


def analyse_cycling(table: Any, *, active_mass_mg: float, electrode_area_cm2: float,
                    reference_capacity_mah_g: float, first_half_cycle: str,
                    finished: bool = False, rest_current_ma: float | None = None,
                    **kwargs: Any) -> CyclingAnalysis:
    """detect_steps → assign_cycles → summarise_cycles on a canonical table.

    Keyword arguments go to :func:`detect_steps` (thresholds), :func:`assign_cycles`
    (``max_pulse_s``, ``pulse_fraction``) and :class:`QualityLimits` (``counter_tolerance``,
    ``max_gap_s``, ``lower_cutoff_v``, ``upper_cutoff_v``, ``cutoff_tolerance_v``). The mass,
    area and reference capacity only scale the numbers; they never change how the run is cut.
    """
    _check_first_half_cycle(first_half_cycle)
    detect_kwargs, cycle_kwargs, limits = _split_kwargs(dict(kwargs))
    steps = detect_steps_in_table(table, rest_current_ma=rest_current_ma, **detect_kwargs)
    cycles = assign_cycles(steps, first_half_cycle, **cycle_kwargs)
    summary = summarise_cycles(table, steps, cycles, active_mass_mg=active_mass_mg,
                               electrode_area_cm2=electrode_area_cm2,
                               reference_capacity_mah_g=reference_capacity_mah_g,
                               finished=finished, limits=limits)
    return CyclingAnalysis(steps, cycles, summary)


_DETECT_KEYS = ("rest_fraction", "noise_sigmas", "setpoint_change", "setpoint_hold",
                "cv_voltage_band_v", "cv_current_drop", "min_cv_points", "boundary_factor")
#: detect_steps argument -> the name it is recorded under in the step parameters
_ESTIMATED_KEYS = {"rest_current_ma": "rest_current_ma", "noise_ma": "current_noise_ma"}


def update_summary(previous: pa.Table | None, table: Any, *, active_mass_mg: float,
                   electrode_area_cm2: float, reference_capacity_mah_g: float,
                   first_half_cycle: str, finished: bool = False,
                   **kwargs: Any) -> pa.Table:
    """The summary of :func:`update_analysis` (see there)."""
    return update_analysis(previous, table, active_mass_mg=active_mass_mg,
                           electrode_area_cm2=electrode_area_cm2,
                           reference_capacity_mah_g=reference_capacity_mah_g,
                           first_half_cycle=first_half_cycle, finished=finished,
                           **kwargs).summary


def update_analysis(previous: pa.Table | None, table: Any, *, active_mass_mg: float,
                    electrode_area_cm2: float, reference_capacity_mah_g: float,
                    first_half_cycle: str, finished: bool = False,
                    **kwargs: Any) -> CyclingAnalysis:
    """The analysis of a grown table, recomputing only from the last complete cycle onwards.

    ``previous`` is a summary made by :func:`analyse_cycling` / :func:`update_summary` of an
    earlier, shorter state of the same file (rows only appended). Its rows before the last
    complete cycle are kept as they are; from that cycle's first row on, the table is cut into
    steps again with the *same* thresholds (the rest current and the longest burst recorded in
    ``previous``), cycles are numbered on from there, and the cumulative columns continue from
    the kept rows. The result equals a full recompute made with those thresholds (a full
    recompute estimates the rest current and the noise from the whole file again; on clean
    data that changes nothing).

    A full recompute is done instead when there is no previous summary, when it has no
    complete cycle, when its parameters (masses, area, reference capacity, direction,
    detection settings, quality limits) differ from the ones given, or when the table is not
    the previous one grown (shorter, or another time at the kept cycle's first row).

    The result's ``first_recomputed_cycle`` says from which cycle on its steps, cycles and
    summary rows are new (0 after a full recompute): stored rows of earlier cycles stay valid,
    and the stored steps of earlier cycles keep their numbers.
    """
    _check_first_half_cycle(first_half_cycle)
    columns_all = table_columns(table)
    t_all = columns_all["test_time_s"]
    detect_kwargs, cycle_kwargs, limits = _split_kwargs(dict(kwargs))

    def full() -> CyclingAnalysis:
        return analyse_cycling(table, active_mass_mg=active_mass_mg,
                               electrode_area_cm2=electrode_area_cm2,
                               reference_capacity_mah_g=reference_capacity_mah_g,
                               first_half_cycle=first_half_cycle, finished=finished,
                               **kwargs)

    if previous is None or previous.num_rows == 0:
        return full()
    meta = summary_metadata(previous)
    old = meta.get("params", {})
    given = dict(active_mass_mg=active_mass_mg, electrode_area_cm2=electrode_area_cm2,
                 reference_capacity_mah_g=reference_capacity_mah_g,
                 first_half_cycle=first_half_cycle)
    step_params = meta.get("steps", {})
    cycle_params = meta.get("cycles", {})
    if (meta.get("version") != VERSION
            or any(old.get(key) != value for key, value in given.items())
            or meta.get("limits") != limits.to_dict()
            or any(cycle_params.get(key) != value for key, value in cycle_kwargs.items())
            or any(key in detect_kwargs and step_params.get(key) != detect_kwargs[key]
                   for key in _DETECT_KEYS)
            or any(key in detect_kwargs and detect_kwargs[key] != step_params.get(recorded)
                   for key, recorded in _ESTIMATED_KEYS.items())
            or sorted(name for name in COUNTER_COLUMNS if name in columns_all)
            != step_params.get("counters")
            or (isinstance(table, pa.Table) and _interval_mean_current(table)
                != bool(step_params.get("current_is_interval_mean")))):
        return full()
    complete = previous.column("complete").to_numpy(zero_copy_only=False)
    if not complete.any():
        return full()
    k_row = int(np.flatnonzero(complete)[-1])
    prev_numbers = previous.column("cycle_number").to_numpy()
    k_cycle = int(prev_numbers[k_row])
    start_row = int(previous.column("start_row")[k_row].as_py())
    if (start_row >= t_all.size
            or t_all[start_row] != previous.column("start_time_s")[k_row].as_py()):
        return full()  # not the same file grown: shorter, or other rows
    cumulative = previous.column("cumulative_irreversible_capacity_mah").to_numpy(
        zero_copy_only=False)
    before = cumulative[:k_row][~np.isnan(cumulative[:k_row])]
    cumulative_start = float(before[-1]) if before.size else 0.0

    # one row of context before the cut so that the first step's interval is counted
    context = 1 if start_row > 0 else 0
    part = _slice_columns(columns_all, start_row - context)
    detect = {key: step_params[key] for key in _DETECT_KEYS if key in step_params}
    detect.update(detect_kwargs)
    detect["rest_current_ma"] = step_params["rest_current_ma"]
    detect["noise_ma"] = step_params.get("current_noise_ma")
    detect["current_is_interval_mean"] = bool(step_params.get("current_is_interval_mean"))
    steps = detect_steps_in_table(part, **detect)
    if context:
        if len(steps) < 2 or steps.start_row[1] != 1:
            return full()  # the cut is not a step boundary: the file was not just appended to
        steps = steps.take(slice(1, None))
    steps = steps.take(slice(None), row_offset=start_row - context)
    cycles = assign_cycles(steps, first_half_cycle,
                           **{key: cycle_params[key] for key in _CYCLE_KEYS
                              if key in cycle_params},
                           reference_burst_s=cycle_params.get("longest_burst_s"))
    if len(cycles) and cycles.cycle[0] != 1:
        return full()
    cycles = dataclasses.replace(cycles, cycle=cycles.cycle + (k_cycle - 1))
    # _summarise reads rows by absolute index: hand it the whole table
    columns = _summarise(columns_all, steps, cycles, active_mass_mg=active_mass_mg,
                         electrode_area_cm2=electrode_area_cm2,
                         reference_capacity_mah_g=reference_capacity_mah_g, finished=finished,
                         limits=limits, cumulative_start_mah=cumulative_start)
    steps_meta = {**steps.params, "typical_current_ma": step_params.get("typical_current_ma"),
                  "rest_current_given": step_params.get("rest_current_given")}
    steps = dataclasses.replace(steps, params=steps_meta)
    new = _to_arrow(columns, _metadata(steps, cycles, limits, **given, finished=finished))
    kept = previous.slice(0, k_row).replace_schema_metadata(new.schema.metadata)
    return CyclingAnalysis(steps, cycles, pa.concat_tables([kept, new]),
                           first_recomputed_cycle=k_cycle)
