"""Watching a running test: the rules a lab sets per project, evaluated on a cycle table.

Pure module (numpy only). The cycle table is the per-cycle summary of
:func:`analysis.core.cycling.summarise_cycles` (an Arrow table, a mapping of columns or a list
of row dicts as read back from the database), the running cycle included. Each rule gives the
cycles where something *starts* to go wrong (an episode: the cycle before it was fine), so a
cell that stays below a threshold is one finding, not one per cycle. Every finding carries the
rule's definition, its parameters and the numbers behind it.

The rules and their defaults (:class:`WatchRules`):

* **low efficiency**: coulombic efficiency (out ÷ in, the summary's ``coulombic_efficiency``)
  of a complete cycle below ``efficiency_floor`` (0.98), the first ``formation_cycles`` (2)
  not watched: the paper's cells start at 95.2 % (NaCrO2), 84.3 % (Sn) or 72.2 % (full cell)
  before they settle.
* **voltage collapse** (looks like a short): the lowest voltage of a cycle, the running one
  included, more than ``collapse_drop_v`` (0.5 V) below the median of the lowest voltages of
  the ``collapse_baseline_cycles`` (5) complete cycles before it (a discharge that falls
  through its cut-off, or a charge whose voltage falls away); or a complete cycle whose charge
  ended more than ``collapse_drop_v`` below the median charge-end voltage of those cycles (a
  charge that never reached its cut-off). Needs one complete cycle before it to compare with.
* **retention below 80 %**: the discharge capacity (sodiation for a Sn half cell) of a complete
  cycle ÷ that of the first complete cycle at the same nominal C-rate
  (:func:`analysis.core.metrics.snap_c_rates`) falls below ``retention_floor`` (0.80), the cycle
  before it at that rate at or above it.
* **no new data**: a running test whose last data arrived more than ``silence_h`` (6 h) ago
  (:func:`check_silence`, evaluated by a periodic task, not on a cycle table).

A rule whose threshold is None is switched off.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from analysis.core.metrics import C_RATE_TOLERANCE, NOMINAL_C_RATES, snap_c_rates

VERSION = "1.0.0"

LOW_EFFICIENCY = "low_efficiency"
VOLTAGE_COLLAPSE = "voltage_collapse"
RETENTION = "retention"
NO_NEW_DATA = "no_new_data"
RULES = (LOW_EFFICIENCY, VOLTAGE_COLLAPSE, RETENTION, NO_NEW_DATA)

# The columns of the cycle table the rules read.
COLUMNS = ("cycle_number", "complete", "coulombic_efficiency", "discharge_capacity_mah", "discharge_c_rate",
           "min_voltage_v", "charge_end_voltage_v")


@dataclasses.dataclass(frozen=True)
class WatchRules:
    """A project's rules; None switches a rule off. Fractions are fractions (0.98, not 98)."""

    efficiency_floor: float | None = 0.98
    formation_cycles: int = 2
    collapse_drop_v: float | None = 0.5
    collapse_baseline_cycles: int = 5
    retention_floor: float | None = 0.80
    silence_h: float | None = 6.0

    def __post_init__(self):
        for name in ("efficiency_floor", "retention_floor"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0 < value <= 1):
                raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")
        for name in ("collapse_drop_v", "silence_h"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not (isinstance(self.formation_cycles, int) and self.formation_cycles >= 0):
            raise ValueError(f"formation_cycles must be a whole number >= 0, got {self.formation_cycles!r}")
        if not (isinstance(self.collapse_baseline_cycles, int) and self.collapse_baseline_cycles >= 1):
            raise ValueError(f"collapse_baseline_cycles must be a whole number >= 1, "
                             f"got {self.collapse_baseline_cycles!r}")


@dataclasses.dataclass(frozen=True)
class Finding:
    """Something a rule saw: where (cycle, None for a silence), the value against its threshold,
    a sentence for a person, the rule's definition and parameters, and the numbers behind it."""

    rule: str
    cycle: int | None
    value: float
    threshold: float
    unit: str
    message: str
    definition: str
    params: dict
    details: dict = dataclasses.field(default_factory=dict)
    version: str = VERSION

    def to_dict(self) -> dict:
        return _json_safe(dataclasses.asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


class _Cycles:
    """The cycles numbered ≥ 1 of a cycle table, in order, as float arrays (NaN for missing)."""

    def __init__(self, cycles: Any):
        if hasattr(cycles, "column_names"):  # an Arrow table
            columns = {name: cycles.column(name).to_pylist() for name in cycles.column_names}
        elif isinstance(cycles, (list, tuple)):
            columns = {name: [row.get(name) for row in cycles] for name in COLUMNS}
        else:
            columns = {name: list(cycles[name]) for name in cycles.keys()}
        if "cycle_number" not in columns:
            raise ValueError("cycles must have a cycle_number column")
        number = np.asarray([-1 if v is None else v for v in columns["cycle_number"]], dtype=np.int64)
        keep = number >= 1
        order = np.argsort(number[keep], kind="stable")
        self.cycle = number[keep][order]

        def floats(name):
            values = columns.get(name, [None] * len(number))
            array = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
            return array[keep][order]

        complete = columns.get("complete", [True] * len(number))
        self.complete = np.asarray([bool(v) for v in complete], dtype=bool)[keep][order]
        self.values = {name: floats(name) for name in COLUMNS[2:]}

    def __len__(self):
        return self.cycle.size


def _episodes(hit: np.ndarray, watched: np.ndarray) -> list[int]:
    """Rows where ``hit`` starts: hit there, and not hit at the watched row before it."""
    rows, before = [], False
    for row in np.flatnonzero(watched):
        if hit[row] and not before:
            rows.append(int(row))
        before = bool(hit[row])
    return rows


def low_efficiency(cycles: Any, rules: WatchRules = WatchRules()) -> list[Finding]:
    """Coulombic efficiency (out ÷ in) of a complete cycle after the formation cycles below the
    floor, the complete cycle before it at or above it (or none before it)."""
    if rules.efficiency_floor is None:
        return []
    c = cycles if isinstance(cycles, _Cycles) else _Cycles(cycles)
    ce = c.values["coulombic_efficiency"]
    watched = c.complete & (c.cycle > rules.formation_cycles) & np.isfinite(ce)
    floor = rules.efficiency_floor
    params = {"efficiency_floor": floor, "formation_cycles": rules.formation_cycles}
    findings = []
    for row in _episodes(ce < floor, watched):
        n = int(c.cycle[row])
        findings.append(Finding(
            LOW_EFFICIENCY, n, float(ce[row]), floor, "fraction",
            f"Coulombic efficiency fell to {_pct(ce[row])} in cycle {n}, below {_pct(floor)}.",
            low_efficiency.__doc__, params, {"coulombic_efficiency": float(ce[row])}))
    return findings


def voltage_collapse(cycles: Any, rules: WatchRules = WatchRules()) -> list[Finding]:
    """A voltage collapse, as a short gives: the cycle's lowest voltage (the running cycle
    included) more than ``collapse_drop_v`` below the median lowest voltage of the
    ``collapse_baseline_cycles`` complete cycles before it, or a complete cycle's charge ending
    more than ``collapse_drop_v`` below their median charge-end voltage."""
    if rules.collapse_drop_v is None:
        return []
    c = cycles if isinstance(cycles, _Cycles) else _Cycles(cycles)
    drop = rules.collapse_drop_v
    lowest, charge_end = c.values["min_voltage_v"], c.values["charge_end_voltage_v"]
    params = {"collapse_drop_v": drop, "collapse_baseline_cycles": rules.collapse_baseline_cycles}
    hit = np.zeros(len(c), dtype=bool)
    evidence: dict[int, dict] = {}
    for row in range(len(c)):
        before = np.flatnonzero(c.complete[:row])[-rules.collapse_baseline_cycles:]
        if before.size == 0:
            continue
        baseline_cycles = [int(c.cycle[before[0]]), int(c.cycle[before[-1]])]
        base_low = np.nanmedian(lowest[before]) if np.isfinite(lowest[before]).any() else np.nan
        if np.isfinite(lowest[row]) and np.isfinite(base_low) and lowest[row] < base_low - drop:
            hit[row] = True
            evidence[row] = {"measure": "lowest voltage", "voltage_v": float(lowest[row]),
                             "baseline_v": float(base_low), "drop_v": float(base_low - lowest[row]),
                             "baseline_cycles": baseline_cycles}
            continue
        base_end = np.nanmedian(charge_end[before]) if np.isfinite(charge_end[before]).any() else np.nan
        if (c.complete[row] and np.isfinite(charge_end[row]) and np.isfinite(base_end)
                and charge_end[row] < base_end - drop):
            hit[row] = True
            evidence[row] = {"measure": "charge-end voltage", "voltage_v": float(charge_end[row]),
                             "baseline_v": float(base_end), "drop_v": float(base_end - charge_end[row]),
                             "baseline_cycles": baseline_cycles}
    findings = []
    for row in _episodes(hit, np.ones(len(c), dtype=bool)):
        n, e = int(c.cycle[row]), evidence[row]
        first, last = e["baseline_cycles"]
        span = f"cycle {first}" if first == last else f"cycles {first}–{last}"
        what = "lowest voltage was" if e["measure"] == "lowest voltage" else "charge ended at"
        running = "" if c.complete[row] else " (still running)"
        findings.append(Finding(
            VOLTAGE_COLLAPSE, n, e["voltage_v"], e["baseline_v"] - drop, "V",
            f"The voltage collapsed in cycle {n}{running}: its {what} {e['voltage_v']:.2f} V, "
            f"{e['drop_v']:.2f} V below the {e['baseline_v']:.2f} V of {span}; this looks like a short.",
            voltage_collapse.__doc__, params, e))
    return findings


def retention_below(cycles: Any, rules: WatchRules = WatchRules(), *,
                    nominal_rates=NOMINAL_C_RATES, tolerance: float = C_RATE_TOLERANCE) -> list[Finding]:
    """Retention R_n = Q_dis,n ÷ Q_dis,ref of a complete cycle (ref: the first complete cycle at
    n's nominal C-rate; the discharge is the sodiation of a Sn half cell) below the floor, the
    cycle before it at that rate at or above it."""
    if rules.retention_floor is None:
        return []
    c = cycles if isinstance(cycles, _Cycles) else _Cycles(cycles)
    capacity = c.values["discharge_capacity_mah"]
    rates = snap_c_rates(c.values["discharge_c_rate"], nominal_rates, tolerance)
    floor = rules.retention_floor
    params = {"retention_floor": floor, "reference": "first_at_rate", "column": "discharge_capacity_mah",
              "nominal_rates": list(nominal_rates), "tolerance": tolerance}
    findings = []
    usable = c.complete & np.isfinite(capacity) & (capacity > 0)
    for rate in np.unique(rates[usable & np.isfinite(rates)]):
        rows = np.flatnonzero(usable & (rates == rate))
        reference = rows[0]
        retention = capacity / capacity[reference]
        at_rate = np.zeros(len(c), dtype=bool)
        at_rate[rows] = True
        for row in _episodes(retention < floor, at_rate):
            n, ref = int(c.cycle[row]), int(c.cycle[reference])
            findings.append(Finding(
                RETENTION, n, float(retention[row]), floor, "fraction",
                f"Retention fell below {_pct(floor)} in cycle {n}: {_pct(retention[row])} of the discharge "
                f"capacity of cycle {ref}, the first at {rate:g}C.",
                retention_below.__doc__, params,
                {"ref_cycle": ref, "c_rate": float(rate), "capacity_mah": float(capacity[row]),
                 "reference_capacity_mah": float(capacity[reference]), "retention": float(retention[row])}))
    return sorted(findings, key=lambda f: f.cycle)


def check_cycles(cycles: Any, rules: WatchRules = WatchRules()) -> list[Finding]:
    """Every finding of the cycle rules (efficiency, voltage collapse, retention), by cycle."""
    c = _Cycles(cycles)
    findings = low_efficiency(c, rules) + voltage_collapse(c, rules) + retention_below(c, rules)
    return sorted(findings, key=lambda f: (f.cycle, RULES.index(f.rule)))


def check_silence(hours_since_last_data: float, rules: WatchRules = WatchRules()) -> Finding | None:
    """No new data from a running test for longer than ``silence_h`` hours."""
    if rules.silence_h is None:
        return None
    hours = float(hours_since_last_data)
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours_since_last_data must be a finite number >= 0, got {hours_since_last_data!r}")
    if hours <= rules.silence_h:
        return None
    return Finding(NO_NEW_DATA, None, hours, rules.silence_h, "h",
                   f"No new data for {hours:.1f} h, more than the {rules.silence_h:g} h allowed.",
                   check_silence.__doc__, {"silence_h": rules.silence_h}, {"hours_since_last_data": hours})
