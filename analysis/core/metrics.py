"""Cell metrics from a per-cycle summary (:func:`analysis.core.cycling.summarise_cycles`).

The summary may be the Arrow table, a mapping of columns, a pandas DataFrame or a list of
row dicts (as read back from the database). Pure numpy / pyarrow. Every function returns a
:class:`MetricResult` holding the value, its unit, the definition it was computed by, the
parameters (reference cycle, rates, tolerances, mass basis...) and the details a person needs
to check it; ``to_dict()`` is JSON-safe.

Conventions:

* Only **complete** cycles numbered ≥ 1 are used (cycle 0, a leading partial half cycle, and
  the partial last cycle of a running test are left out).
* Fractions are fractions (0.952, not 95.2); fade rates are in %/cycle.
* **Capacity basis**: retention, fade, cycle life, rate capability, the initial capacity and
  the loading check are on the **discharge** capacity by default (``half="discharge"``), as
  the lab defines them (DOMAIN.md): for a cathode half cell or a full cell the discharge is
  the out half cycle; for a Sn half cell the discharge is the sodiation (cell voltage going
  down), its in half cycle. ``half`` may also be "charge", "in" or "out".
  :mod:`analysis.core.definitions` names the bases per kind of cell, and :func:`cell_metrics`
  stores the other basis beside, named.
* **Flagged cycles**: where a metric uses cycles that carry quality flags (``n_warnings`` /
  ``flags`` columns of the summary), its ``warnings`` list them with their flags.
  The direction is read from the summary's Arrow metadata (``first_half_cycle``); every
  function also takes ``first_half_cycle=`` for summaries without it (rows read back from the
  database as a mapping of columns or a DataFrame), else "charge" is assumed.
* **C-rate groups**: each cycle's measured C-rate of its out half cycle, snapped to the nearest
  nominal rate (nearest on a log scale) when within ``tolerance`` (relative), else unassigned.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from analysis.core.cycling import summary_metadata
from analysis.core.definitions import LoadingReference, for_kind

VERSION = "2.0.0"
NOMINAL_C_RATES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
C_RATE_TOLERANCE = 0.15
HALVES = ("out", "in", "charge", "discharge")


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """A metric: value (float, str, list of rows or None when it cannot be computed), unit,
    definition, parameters and details (reference cycle, intermediate numbers, reason)."""

    name: str
    value: Any
    unit: str
    definition: str
    params: dict = dataclasses.field(default_factory=dict)
    details: dict = dataclasses.field(default_factory=dict)
    version: str = VERSION
    warnings: list = dataclasses.field(default_factory=list)

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


# --------------------------------------------------------------------------------------------
# reading the summary
# --------------------------------------------------------------------------------------------

def _column(values: Any, name: str) -> np.ndarray:
    """A column as an array; the flags (a list per cycle) as an array of objects."""
    if name != "flags":
        return np.asarray(values)
    values = list(values)
    out = np.empty(len(values), dtype=object)
    for k, value in enumerate(values):
        out[k] = value
    return out


class _Summary:
    """The complete cycles (number ≥ 1) of a summary as numpy arrays, in cycle order."""

    def __init__(self, summary: Any, first_half_cycle: str | None = None):
        if isinstance(summary, pa.Table):
            meta = summary_metadata(summary)
            columns = {name: _column(summary.column(name).to_numpy(zero_copy_only=False), name)
                       for name in summary.column_names}
        elif isinstance(summary, (list, tuple)):  # rows, e.g. database rows as dicts
            meta = {}
            names = list(summary[0].keys()) if summary else ["cycle_number", "complete"]
            columns = {name: _column([row.get(name) for row in summary], name) for name in names}
        else:  # a mapping of columns or a pandas DataFrame
            meta = {}
            columns = {name: _column(summary[name], name) for name in list(summary.keys())}
        self.meta = meta
        self.first_half_cycle = first_half_cycle or meta.get("first_half_cycle") or "charge"
        if self.first_half_cycle not in ("charge", "discharge"):
            raise ValueError("first_half_cycle must be 'charge' or 'discharge'")
        number = np.asarray(columns["cycle_number"], dtype=np.int64)
        complete = (np.asarray(columns["complete"], dtype=bool) if "complete" in columns
                    else np.ones(number.size, dtype=bool))
        keep = complete & (number >= 1)
        order = np.argsort(number[keep], kind="stable")
        self.columns = {name: values[keep][order] for name, values in columns.items()}
        self.cycle = self.columns["cycle_number"].astype(np.int64)
        # the quality flags of each complete cycle: cycle -> flag codes
        self.flagged: dict[int, list[str]] = {}
        flags = self.columns.get("flags")
        counts = self.columns.get("n_warnings")
        for k, cycle in enumerate(self.cycle):
            listed = flags[k] if flags is not None else None
            if isinstance(listed, str):
                listed = json.loads(listed) if listed else []
            codes = [f.get("code", "") if isinstance(f, dict) else str(f) for f in listed or []]
            if not codes and counts is not None and counts[k]:
                codes = ["flagged"] * int(counts[k])
            if codes:
                self.flagged[int(cycle)] = codes

    def warnings_for(self, cycles) -> list[dict]:
        """The quality flags of the cycles a metric used."""
        return [{"cycle": int(c), "flags": sorted(set(self.flagged[int(c)]))}
                for c in sorted(set(int(c) for c in cycles)) if int(c) in self.flagged]

    def column_for(self, half: str, quantity: str) -> str:
        """Column name of ``quantity`` ("specific_capacity_mah_g", "capacity_mah", "c_rate",
        ...) for a half cycle given as out / in / charge / discharge."""
        if half not in HALVES:
            raise ValueError(f"half must be one of {HALVES}, not {half!r}")
        if half in ("out", "in"):
            charge_first = self.first_half_cycle == "charge"
            half = ("discharge" if charge_first else "charge") if half == "out" else \
                   ("charge" if charge_first else "discharge")
        return f"{half}_{quantity}"

    def get(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"the summary has no {name!r} column")
        return np.asarray(self.columns[name], dtype=np.float64)

    def row(self, cycle: int) -> int | None:
        hits = np.flatnonzero(self.cycle == cycle)
        return int(hits[0]) if hits.size else None


def _missing(name: str, unit: str, definition: str, params: dict, reason: str) -> MetricResult:
    return MetricResult(name, None, unit, definition, params, {"reason": reason})


def _flagged(result: MetricResult, s: "_Summary", cycles) -> MetricResult:
    """The result, saying which of the cycles it was computed from carry quality flags."""
    warnings = s.warnings_for(cycles)
    if not warnings:
        return result
    text = ", ".join(f"{w['cycle']} ({', '.join(w['flags'])})" for w in warnings)
    return dataclasses.replace(result, warnings=warnings,
                               details={**result.details,
                                        "warning": f"computed from flagged cycles: {text}"})


# --------------------------------------------------------------------------------------------
# single-cycle metrics
# --------------------------------------------------------------------------------------------

def coulombic_efficiency(summary: Any, cycle: int, *,
                         first_half_cycle: str | None = None) -> MetricResult:
    """CE_n = out ÷ in capacity of cycle n: discharge ÷ charge when cycles start with charge,
    desodiation ÷ sodiation (charge ÷ discharge) for a Sn half cell. Fraction."""
    s = _Summary(summary, first_half_cycle)
    definition = coulombic_efficiency.__doc__.split("\n")[0]
    params = {"cycle": cycle, "first_half_cycle": s.first_half_cycle}
    row = s.row(cycle)
    if row is None:
        return _missing("coulombic_efficiency", "fraction", definition, params,
                        f"no complete cycle {cycle}")
    q_in = s.get(s.column_for("in", "capacity_mah"))[row]
    q_out = s.get(s.column_for("out", "capacity_mah"))[row]
    return _flagged(MetricResult("coulombic_efficiency", float(q_out / q_in), "fraction",
                                 definition, params,
                                 {"in_capacity_mah": float(q_in), "out_capacity_mah": float(q_out)}),
                    s, [cycle])


def first_cycle_efficiency(summary: Any, *, cycle: int = 1,
                           first_half_cycle: str | None = None) -> MetricResult:
    """First-cycle (initial) coulombic efficiency: CE of cycle 1 = out ÷ in (fraction)."""
    result = coulombic_efficiency(summary, cycle, first_half_cycle=first_half_cycle)
    return dataclasses.replace(result, name="first_cycle_efficiency",
                               definition=first_cycle_efficiency.__doc__)


def energy_efficiency(summary: Any, cycle: int) -> MetricResult:
    """EE_n = discharge energy ÷ charge energy of cycle n (∫V|I|dt; fraction)."""
    s = _Summary(summary)
    params = {"cycle": cycle}
    row = s.row(cycle)
    if row is None:
        return _missing("energy_efficiency", "fraction", energy_efficiency.__doc__, params,
                        f"no complete cycle {cycle}")
    e_ch, e_dis = s.get("charge_energy_mwh")[row], s.get("discharge_energy_mwh")[row]
    return _flagged(MetricResult("energy_efficiency", float(e_dis / e_ch), "fraction",
                                 energy_efficiency.__doc__, params,
                                 {"charge_energy_mwh": float(e_ch),
                                  "discharge_energy_mwh": float(e_dis)}), s, [cycle])


def initial_specific_discharge_capacity(summary: Any, *, cycle: int = 1, half: str = "discharge",
                                        first_half_cycle: str | None = None) -> MetricResult:
    """Specific capacity (mAh/g of active material) of the discharge of cycle 1: for a Sn half
    cell its sodiation (``half`` chooses another: "charge", "in", "out")."""
    s = _Summary(summary, first_half_cycle)
    column = s.column_for(half, "specific_capacity_mah_g")
    params = {"cycle": cycle, "half": half, "column": column}
    row = s.row(cycle)
    if row is None:
        return _missing("initial_specific_discharge_capacity", "mAh/g",
                        initial_specific_discharge_capacity.__doc__, params,
                        f"no complete cycle {cycle}")
    return _flagged(MetricResult("initial_specific_discharge_capacity", float(s.get(column)[row]),
                                 "mAh/g", initial_specific_discharge_capacity.__doc__, params),
                    s, [cycle])


def specific_energy(summary: Any, mass_mg: float, *, basis: str, cycle: int = 1) -> MetricResult:
    """Discharge energy of cycle n ÷ the mass of the stated basis, in Wh/kg
    (mWh ÷ mg × 1000). Bases used here: "cathode_active_material" (the paper's 282 Wh/kg_NCO)
    and "both_electrode_composites" (positive + negative coatings with binder and carbon, no
    electrolyte, no current collectors: the paper's 222 Wh/kg)."""
    s = _Summary(summary)
    params = {"cycle": cycle, "basis": basis, "mass_mg": mass_mg}
    row = s.row(cycle)
    if row is None or not mass_mg or mass_mg <= 0:
        return _missing("specific_energy", "Wh/kg", specific_energy.__doc__, params,
                        f"no complete cycle {cycle}" if row is None else "no mass given")
    energy = s.get("discharge_energy_mwh")[row]
    return _flagged(MetricResult("specific_energy", float(energy / mass_mg * 1000.0), "Wh/kg",
                                 specific_energy.__doc__, params,
                                 {"discharge_energy_mwh": float(energy)}), s, [cycle])


def specific_energies(summary: Any, *, cathode_active_mass_mg: float,
                      positive_composite_mass_mg: float | None = None,
                      negative_composite_mass_mg: float | None = None,
                      cycle: int = 1) -> dict[str, MetricResult]:
    """:func:`specific_energy` on the cathode-active-material basis and, when both composite
    masses are given, on the both-electrode-composites basis. Keys are the basis names."""
    results = {"cathode_active_material": specific_energy(
        summary, cathode_active_mass_mg, basis="cathode_active_material", cycle=cycle)}
    if positive_composite_mass_mg and negative_composite_mass_mg:
        total = positive_composite_mass_mg + negative_composite_mass_mg
        result = specific_energy(summary, total, basis="both_electrode_composites", cycle=cycle)
        results["both_electrode_composites"] = dataclasses.replace(
            result, params={**result.params,
                            "positive_composite_mass_mg": positive_composite_mass_mg,
                            "negative_composite_mass_mg": negative_composite_mass_mg})
    return results


def loading_check(summary: Any, reference_capacity_mah_g: float | None, *,
                  tolerance: float = 0.05, cycle: int = 1, half: str = "discharge",
                  first_half_cycle: str | None = None,
                  reference_source: str | None = None) -> MetricResult:
    """Mass-loading sanity: deviation = (initial specific capacity − reference) ÷ reference,
    with the initial capacity that of the discharge of cycle 1. |deviation| ≤ tolerance
    (±5 %) → "ok", else "suspect": the weighed active mass is probably wrong and the cell is
    left out of comparisons unless a person decides otherwise. "unknown" when there is no
    complete first cycle; "not checked" when no reference applies to the cell
    (``reference_capacity_mah_g`` None; ``reference_source`` says why)."""
    params = {"reference_capacity_mah_g": reference_capacity_mah_g, "tolerance": tolerance,
              "cycle": cycle, "half": half, "reference_source": reference_source}
    if not reference_capacity_mah_g:
        return MetricResult("loading_check", "not checked", "", loading_check.__doc__, params,
                            {"verdict": "not checked",
                             "reason": f"not checked: {reference_source or 'no reference'}"})
    initial = initial_specific_discharge_capacity(summary, cycle=cycle, half=half,
                                                  first_half_cycle=first_half_cycle)
    if initial.value is None:
        return MetricResult("loading_check", "unknown", "", loading_check.__doc__, params,
                            {"verdict": "unknown", **initial.details})
    deviation = (initial.value - reference_capacity_mah_g) / reference_capacity_mah_g
    status = "ok" if abs(deviation) <= tolerance + 1e-12 else "suspect"
    against = reference_source or f"the reference {reference_capacity_mah_g:g} mAh/g"
    reason = (f"initial {half} capacity {initial.value:.1f} mAh/g is {100 * deviation:+.1f} % "
              f"from {reference_capacity_mah_g:g} mAh/g ({against}); tolerance "
              f"±{100 * tolerance:g} %")
    return dataclasses.replace(initial, name="loading_check", value=status, unit="",
                               definition=loading_check.__doc__, params=params,
                               details={**initial.details, "verdict": status,
                                        "initial_specific_capacity_mah_g": initial.value,
                                        "deviation": deviation, "reason": reason})


# --------------------------------------------------------------------------------------------
# rates
# --------------------------------------------------------------------------------------------

def snap_c_rates(c_rates: Any, nominal_rates: Sequence[float] = NOMINAL_C_RATES,
                 tolerance: float = C_RATE_TOLERANCE) -> np.ndarray:
    """Each measured C-rate snapped to the nearest nominal rate (nearest on a log scale) if
    within ``tolerance`` relative (|ln(c/nominal)| ≤ ln(1 + tolerance)); NaN otherwise."""
    c = np.asarray(c_rates, dtype=np.float64)
    nominal = np.asarray(sorted(nominal_rates), dtype=np.float64)
    out = np.full(c.shape, np.nan)
    ok = np.isfinite(c) & (c > 0)
    if not ok.any() or nominal.size == 0:
        return out
    distance = np.abs(np.log(c[ok])[:, None] - np.log(nominal)[None, :])
    nearest = np.argmin(distance, axis=1)
    within = distance[np.arange(nearest.size), nearest] <= math.log1p(tolerance)
    out[np.flatnonzero(ok)[within]] = nominal[nearest[within]]
    return out


def _groups(s: _Summary, half: str, nominal_rates, tolerance) -> tuple[np.ndarray, np.ndarray]:
    """Nominal rate per complete cycle and the block (run of one rate) id per cycle."""
    rates = snap_c_rates(s.get(s.column_for(half, "c_rate")), nominal_rates, tolerance)
    key = np.where(np.isnan(rates), -1.0, rates)
    block = np.cumsum(np.r_[True, key[1:] != key[:-1]]) - 1 if key.size else np.zeros(0, int)
    return rates, block


def c_rate_groups(summary: Any, *, nominal_rates: Sequence[float] = NOMINAL_C_RATES,
                  tolerance: float = C_RATE_TOLERANCE, half: str = "discharge",
                  first_half_cycle: str | None = None) -> MetricResult:
    """The protocol's rate blocks: complete cycles grouped by their out half cycle's C-rate
    snapped to the nominal rates (:func:`snap_c_rates`); one row per run of one rate with its
    first and last cycle. ``details["per_cycle"]`` maps cycle → nominal rate (None if none)."""
    s = _Summary(summary, first_half_cycle)
    rates, block = _groups(s, half, nominal_rates, tolerance)
    rows = []
    for b in np.unique(block):
        members = np.flatnonzero(block == b)
        rate = rates[members[0]]
        rows.append({"c_rate": None if np.isnan(rate) else float(rate),
                     "first_cycle": int(s.cycle[members[0]]),
                     "last_cycle": int(s.cycle[members[-1]]), "n_cycles": int(members.size)})
    params = {"nominal_rates": list(nominal_rates), "tolerance": tolerance, "half": half,
              "column": s.column_for(half, "c_rate")}
    per_cycle = {int(c): (None if np.isnan(r) else float(r))
                 for c, r in zip(s.cycle, rates, strict=True)}
    return MetricResult("c_rate_groups", rows, "1/h", c_rate_groups.__doc__, params,
                        {"per_cycle": per_cycle})


def rate_capability(summary: Any, *, nominal_rates: Sequence[float] = NOMINAL_C_RATES,
                    tolerance: float = C_RATE_TOLERANCE, reference_rate: float = 0.1,
                    skip_first_after_change: bool = False, half: str = "discharge",
                    first_half_cycle: str | None = None) -> MetricResult:
    """Rate capability RC(C) = mean discharge specific capacity of the complete cycles
    at rate C ÷ the same mean at ``reference_rate`` (0.1C). Cycles are grouped by
    :func:`snap_c_rates`; all cycles at a rate count, in every block of that rate. With
    ``skip_first_after_change`` the first cycle of each block (the first cycle after a rate
    change, and the test's first cycle) is left out. One row per rate, ascending."""
    s = _Summary(summary, first_half_cycle)
    rates, block = _groups(s, half, nominal_rates, tolerance)
    capacity = s.get(s.column_for(half, "specific_capacity_mah_g"))
    use = ~np.isnan(rates)
    if skip_first_after_change and block.size:
        use &= ~np.r_[True, block[1:] != block[:-1]]
    params = {"nominal_rates": list(nominal_rates), "tolerance": tolerance,
              "reference_rate": reference_rate, "skip_first_after_change":
              skip_first_after_change, "half": half,
              "column": s.column_for(half, "specific_capacity_mah_g")}
    means = {}
    for rate in np.unique(rates[use]):
        members = use & (rates == rate)
        means[float(rate)] = (float(capacity[members].mean()), s.cycle[members].tolist())
    ref = means.get(float(reference_rate))
    rows = [{"c_rate": rate, "n_cycles": len(cycles), "cycles": cycles,
             "mean_specific_capacity_mah_g": mean,
             "relative_to_reference": (mean / ref[0]) if ref else None}
            for rate, (mean, cycles) in sorted(means.items())]
    details = {} if ref else {"reason": f"no complete cycle at the reference rate "
                                        f"{reference_rate}C"}
    used = [c for _mean, cycles in means.values() for c in cycles]
    return _flagged(MetricResult("rate_capability", rows, "fraction", rate_capability.__doc__,
                                 params, details), s, used)


# --------------------------------------------------------------------------------------------
# retention and fade
# --------------------------------------------------------------------------------------------

REFERENCE_MODES = ("first_at_rate", "block", "first")


def _reference(s: _Summary, cycle: int | None, ref_cycle: int | None, reference: str,
               half: str, nominal_rates, tolerance) -> dict:
    """Resolve N (default: last complete cycle) and the reference cycle; the cycles at the
    reference's rate from the reference on, with their out capacities."""
    if reference not in REFERENCE_MODES:
        raise ValueError(f"reference must be one of {REFERENCE_MODES}")
    if s.cycle.size == 0:
        raise LookupError("no complete cycle")
    rates, block = _groups(s, half, nominal_rates, tolerance)
    n_row = s.cycle.size - 1 if cycle is None else s.row(cycle)
    if n_row is None:
        raise LookupError(f"no complete cycle {cycle}")
    if ref_cycle is not None:
        ref_row = s.row(ref_cycle)
        if ref_row is None:
            raise LookupError(f"no complete reference cycle {ref_cycle}")
    elif reference == "first":
        ref_row = 0
    elif reference == "block":
        ref_row = int(np.flatnonzero(block == block[n_row])[0])
    else:
        same = np.isnan(rates) if np.isnan(rates[n_row]) else rates == rates[n_row]
        ref_row = int(np.flatnonzero(same)[0])
    capacity = s.get(s.column_for(half, "capacity_mah"))
    ref_rate = rates[ref_row]
    same_rate = (np.isnan(rates) if np.isnan(ref_rate) else rates == ref_rate)
    curve = np.flatnonzero(same_rate & (np.arange(s.cycle.size) >= ref_row))
    if ref_cycle is not None:  # an explicit reference: every later cycle counts
        curve = np.arange(ref_row, s.cycle.size)
    return {
        "n_row": n_row, "ref_row": ref_row, "curve": curve,
        "capacity": capacity, "retention": capacity / capacity[ref_row],
        "ref_rate": None if np.isnan(ref_rate) else float(ref_rate),
        "column": s.column_for(half, "capacity_mah"),
    }


def retention(summary: Any, cycle: int | None = None, *, ref_cycle: int | None = None,
              reference: str = "first_at_rate", half: str = "discharge",
              nominal_rates: Sequence[float] = NOMINAL_C_RATES,
              tolerance: float = C_RATE_TOLERANCE,
              first_half_cycle: str | None = None) -> MetricResult:
    """Capacity retention R_N = Q_N ÷ Q_ref of the discharge (fraction; ``half`` chooses another
    basis). N defaults to the last complete
    cycle. The reference cycle, stored in the result, is ``ref_cycle`` if given, else by
    ``reference``: "first_at_rate" = the first complete cycle at N's nominal C-rate (after
    formation cycles at another rate: the paper's 95.6 % after 100 cycles at 0.5C is cycle
    102 against cycle 3), "block" = the first cycle of N's run of one rate, "first" = cycle 1."""
    s = _Summary(summary, first_half_cycle)
    params = {"cycle": cycle, "ref_cycle": ref_cycle, "reference": reference, "half": half,
              "nominal_rates": list(nominal_rates), "tolerance": tolerance}
    try:
        r = _reference(s, cycle, ref_cycle, reference, half, nominal_rates, tolerance)
    except LookupError as exc:
        return _missing("retention", "fraction", retention.__doc__, params, str(exc))
    n, ref = int(s.cycle[r["n_row"]]), int(s.cycle[r["ref_row"]])
    return _flagged(MetricResult("retention", float(r["retention"][r["n_row"]]), "fraction",
                                 retention.__doc__, {**params, "cycle": n, "ref_cycle": ref},
                                 {"reference_c_rate": r["ref_rate"], "column": r["column"],
                                  "capacity_mah": float(r["capacity"][r["n_row"]]),
                                  "reference_capacity_mah": float(r["capacity"][r["ref_row"]]),
                                  "cycles_after_reference": n - ref}), s, [n, ref])


def fade_rate(summary: Any, cycle: int | None = None, *, ref_cycle: int | None = None,
              reference: str = "first_at_rate", half: str = "discharge",
              nominal_rates: Sequence[float] = NOMINAL_C_RATES,
              tolerance: float = C_RATE_TOLERANCE,
              first_half_cycle: str | None = None) -> MetricResult:
    """Capacity fade per cycle between the reference cycle n_ref and N (see :func:`retention`):
    value = (1 − R_N) ÷ (N − n_ref) × 100 in %/cycle. Details: ``ols_pct_per_cycle`` = −100 ×
    the least-squares slope of R_n against n over the cycles at the reference's rate from
    n_ref to N; ``geometric_pct_per_cycle`` = (1 − R_N^(1/(N − n_ref))) × 100."""
    s = _Summary(summary, first_half_cycle)
    params = {"cycle": cycle, "ref_cycle": ref_cycle, "reference": reference, "half": half,
              "nominal_rates": list(nominal_rates), "tolerance": tolerance}
    try:
        r = _reference(s, cycle, ref_cycle, reference, half, nominal_rates, tolerance)
    except LookupError as exc:
        return _missing("fade_rate", "%/cycle", fade_rate.__doc__, params, str(exc))
    n, ref = int(s.cycle[r["n_row"]]), int(s.cycle[r["ref_row"]])
    params.update(cycle=n, ref_cycle=ref)
    if n <= ref:
        return _missing("fade_rate", "%/cycle", fade_rate.__doc__, params,
                        "N must come after the reference cycle")
    r_n = float(r["retention"][r["n_row"]])
    points = r["curve"][s.cycle[r["curve"]] <= n]
    details: dict[str, Any] = {"retention": r_n, "n_points": int(points.size),
                               "reference_c_rate": r["ref_rate"]}
    if points.size >= 2:
        slope = np.polyfit(s.cycle[points].astype(float), r["retention"][points], 1)[0]
        details["ols_pct_per_cycle"] = float(-100.0 * slope)
    else:
        details["ols_pct_per_cycle"] = None
    details["geometric_pct_per_cycle"] = (float((1.0 - r_n ** (1.0 / (n - ref))) * 100.0)
                                          if r_n > 0 else None)
    return _flagged(MetricResult("fade_rate", (1.0 - r_n) / (n - ref) * 100.0, "%/cycle",
                                 fade_rate.__doc__, params, details), s,
                    s.cycle[points].tolist() + [n, ref])


def cycles_to_threshold(summary: Any, threshold: float = 0.8, *, ref_cycle: int | None = None,
                        reference: str = "first_at_rate", half: str = "discharge",
                        nominal_rates: Sequence[float] = NOMINAL_C_RATES,
                        tolerance: float = C_RATE_TOLERANCE,
                        first_half_cycle: str | None = None) -> MetricResult:
    """Cycle life: the first cycle n with R_n < ``threshold`` (0.8), linearly interpolated
    between it and the previous cycle counted: n* = n₀ + (R₀ − thr) ÷ (R₀ − R₁) × (n₁ − n₀).
    Cycles counted: those at the reference cycle's rate from the reference on (reference as
    in :func:`retention` for N = the last complete cycle; with an explicit ``ref_cycle``,
    every later cycle). The value is the (fractional) cycle number, or None = "not reached";
    ``details["cycles_after_reference"]`` = n* − n_ref."""
    s = _Summary(summary, first_half_cycle)
    params = {"threshold": threshold, "ref_cycle": ref_cycle, "reference": reference,
              "half": half, "nominal_rates": list(nominal_rates), "tolerance": tolerance}
    try:
        r = _reference(s, None, ref_cycle, reference, half, nominal_rates, tolerance)
    except LookupError as exc:
        return _missing("cycles_to_threshold", "cycle", cycles_to_threshold.__doc__, params,
                        str(exc))
    ref = int(s.cycle[r["ref_row"]])
    params["ref_cycle"] = ref
    points = r["curve"]
    values = r["retention"][points]
    numbers = s.cycle[points].astype(float)
    below = np.flatnonzero(values < threshold)
    if below.size == 0:
        return MetricResult("cycles_to_threshold", None, "cycle", cycles_to_threshold.__doc__,
                            params, {"status": "not reached",
                                     "last_cycle": int(numbers[-1]) if numbers.size else None,
                                     "last_retention": float(values[-1]) if values.size else None})
    k = int(below[0])
    if k == 0:
        crossing = numbers[0]
    else:
        r0, r1, n0, n1 = values[k - 1], values[k], numbers[k - 1], numbers[k]
        crossing = n0 + (r0 - threshold) / (r0 - r1) * (n1 - n0)
    return _flagged(MetricResult("cycles_to_threshold", float(crossing), "cycle",
                                 cycles_to_threshold.__doc__, params,
                                 {"status": "reached", "cycles_after_reference": float(crossing - ref),
                                  "first_cycle_below": int(numbers[k])}), s,
                    numbers[:k + 1].astype(int).tolist())


# --------------------------------------------------------------------------------------------
# everything for one cell
# --------------------------------------------------------------------------------------------

def _on_basis(result: MetricResult, basis_name: str) -> MetricResult:
    return dataclasses.replace(result, params={**result.params, "basis": basis_name})


def cell_metrics(summary: Any, *, reference_capacity_mah_g: float | None = None,
                 cathode_active_mass_mg: float | None = None,
                 positive_composite_mass_mg: float | None = None,
                 negative_composite_mass_mg: float | None = None,
                 nominal_rates: Sequence[float] = NOMINAL_C_RATES,
                 tolerance: float = C_RATE_TOLERANCE, retention_cycle: int | None = None,
                 threshold: float = 0.8, reference_rate: float = 0.1,
                 skip_first_after_change: bool = False, loading_tolerance: float = 0.05,
                 energy_cycle: int = 1, first_half_cycle: str | None = None,
                 cell_kind: str | None = None,
                 loading_reference: LoadingReference | None = None) -> dict[str, MetricResult]:
    """All the cell's metrics, keyed by name.

    ``cell_kind`` applies the lab's definitions for that kind (:mod:`analysis.core.definitions`):
    the direction cycles start with, the capacity basis of retention, fade, cycle life and rate
    capability (the discharge; for a Sn half cell the sodiation) named in each result's
    ``params["basis"]``, and the other basis stored beside as ``retention_on_<name>`` and
    ``rate_capability_on_<name>`` (``retention_on_desodiation`` for a Sn half cell).
    ``loading_reference`` (from :func:`analysis.core.definitions.loading_reference`) decides the
    loading check, which reads "not checked" with its reason where no reference fits the kind.
    Without them ``reference_capacity_mah_g`` (default: the one the summary was made with) is
    the loading reference and ``first_half_cycle`` the direction (pass it when the summary
    comes from the database). Specific energies need ``cathode_active_mass_mg`` (and both
    composite masses for the composite basis)."""
    definition = for_kind(cell_kind) if cell_kind else None
    if definition and first_half_cycle is None:
        first_half_cycle = definition.first_half_cycle
    basis = definition.basis if definition else "discharge"
    basis_name = definition.basis_name if definition else "discharge"
    direction = dict(first_half_cycle=first_half_cycle)
    rates = dict(nominal_rates=nominal_rates, tolerance=tolerance, **direction)
    results = {
        "first_cycle_efficiency": first_cycle_efficiency(summary, **direction),
        "second_cycle_efficiency": dataclasses.replace(
            coulombic_efficiency(summary, 2, **direction), name="second_cycle_efficiency"),
        "initial_specific_discharge_capacity": _on_basis(initial_specific_discharge_capacity(
            summary, half=basis, **direction), basis_name),
        "c_rate_groups": c_rate_groups(summary, half=basis, **rates),
        "retention": _on_basis(retention(summary, retention_cycle, half=basis, **rates),
                               basis_name),
        "fade_rate": _on_basis(fade_rate(summary, retention_cycle, half=basis, **rates),
                               basis_name),
        "cycles_to_threshold": _on_basis(cycles_to_threshold(summary, threshold, half=basis,
                                                             **rates), basis_name),
        "rate_capability": _on_basis(rate_capability(
            summary, reference_rate=reference_rate,
            skip_first_after_change=skip_first_after_change, half=basis, **rates), basis_name),
    }
    if definition:
        other = definition.other_name
        results[f"retention_on_{other}"] = dataclasses.replace(_on_basis(
            retention(summary, retention_cycle, half=definition.other, **rates), other),
            name=f"retention_on_{other}")
        results[f"rate_capability_on_{other}"] = dataclasses.replace(_on_basis(rate_capability(
            summary, reference_rate=reference_rate,
            skip_first_after_change=skip_first_after_change, half=definition.other, **rates),
            other), name=f"rate_capability_on_{other}")
    if loading_reference is not None:
        results["loading_check"] = loading_check(
            summary, loading_reference.specific_capacity_mah_g,
            tolerance=loading_reference.tolerance, half=basis,
            reference_source=loading_reference.source, **direction)
    else:
        if reference_capacity_mah_g is None and isinstance(summary, pa.Table):
            reference_capacity_mah_g = summary_metadata(summary).get("params", {}).get(
                "reference_capacity_mah_g")
        if reference_capacity_mah_g:
            results["loading_check"] = loading_check(summary, reference_capacity_mah_g,
                                                     tolerance=loading_tolerance, half=basis,
                                                     **direction)
    if cathode_active_mass_mg:
        for energy_basis, result in specific_energies(
                summary, cathode_active_mass_mg=cathode_active_mass_mg,
                positive_composite_mass_mg=positive_composite_mass_mg,
                negative_composite_mass_mg=negative_composite_mass_mg,
                cycle=energy_cycle).items():
            results[f"specific_energy_{energy_basis}"] = result
    return results
