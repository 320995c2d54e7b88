"""The diagnosis of a three-electrode run: one sentence a researcher reads, and the numbers
behind each of its statements, from :func:`~analysis.core.electrodes.cycles.electrode_cycle_table`
and :func:`~analysis.core.electrodes.dma.degradation_modes`.

Statements and how each is decided (every threshold is a parameter, stored with the result):

* **limiting electrode** at the end of charge and of discharge: in each complete cycle, the
  electrode whose terminating share is above ½; reported for the last cycle, with how many
  cycles each electrode ended and since which cycle the last one does;
* **dominant mode**: the largest of the loss of sodium inventory and the two losses of active
  material at the last fitted cycle (the total against the reference cycle), with its size
  per cycle (total ÷ cycles since the reference) and the series per cycle; modes below
  ``mode_threshold`` (1 %) count as no significant degradation;
* **where the sodium goes**: the electrode whose side-reaction capacity on charge is the larger
  share of the charge (median over the cycles), when it is above ``side_reaction_threshold``
  (0.1 % of the charge): "anode-driven" (Sn) or "cathode-driven" (NaCrO2) sodium loss;
* **overpotential build-up**, per electrode: the least-squares trend over the cycles, times
  the cycles since the reference, of the electrode's overpotential, taken as the first of
  (1) half its reference-corrected polarisation (the fits' η(desodiation) − η(sodiation),
  free of hysteresis and window), (2) its mean |ΔE| 10 s into the rests after charge and
  discharge, (3) half its raw polarisation (which also moves with the electrode's window
  through its hysteresis); it grew when that rise exceeds ``overpotential_threshold_v``
  (10 mV);
* **profile change** of each electrode's branches at the last cycle (dQ/dE against the
  reference cycle), named in the sentence when above ``profile_change_threshold`` (0.10).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pyarrow as pa

from .cycles import CHARGE_BRANCH
from .dma import ELECTRODE_NAMES, DegradationModes
from .three_electrode import (CHARGE, DISCHARGE, ELECTRODES, NEGATIVE, POSITIVE,
                              ConsistencyCheck, json_safe, table_metadata)

VERSION = "1.0.0"
DIAGNOSIS_DEFAULTS = {"overpotential_threshold_v": 0.010, "mode_threshold": 0.01,
                      "side_reaction_threshold": 0.001, "profile_change_threshold": 0.10,
                      "fit_rmse_warning_v": 0.010}
MODE_NAMES = {"loss_of_sodium_inventory": "loss of sodium inventory",
              "loss_of_positive_active_material": "loss of NaCrO2 active material",
              "loss_of_negative_active_material": "loss of Sn active material"}
_ROLE_WORD = {POSITIVE: "cathode", NEGATIVE: "anode"}


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    sentence: str
    limiting: dict
    modes: dict
    sodium_loss: dict
    overpotential: dict
    profile_change: dict
    consistency: dict | None
    warnings: tuple[str, ...]
    params: dict
    version: str = VERSION

    def to_dict(self) -> dict:
        return json_safe(dataclasses.asdict(self))


def _rows(table: pa.Table) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _label(role: str) -> str:
    return f"the {role} ({ELECTRODE_NAMES[role]})"


def _limiting(columns: dict[str, np.ndarray], direction: str) -> dict:
    complete = columns["complete"].astype(bool)
    cycles = columns["cycle_number"]
    per_cycle = []
    for cycle in np.unique(cycles[complete]):
        rows = (cycles == cycle) & complete
        shares = dict(zip(columns["electrode"][rows], columns[f"{direction}_terminating_share"][rows]))
        positive = float(shares.get(POSITIVE, math.nan))
        if not math.isfinite(positive):
            continue
        per_cycle.append((int(cycle), POSITIVE if positive > 0.5 else NEGATIVE,
                          positive if positive > 0.5 else 1.0 - positive))
    if not per_cycle:
        return {"electrode": None, "cycles": [], "reason": "no complete cycle with both potentials"}
    electrode, share = per_cycle[-1][1], per_cycle[-1][2]
    since = per_cycle[-1][0]
    for cycle, who, _ in reversed(per_cycle):
        if who != electrode:
            break
        since = cycle
    counts = {role: sum(1 for _c, who, _s in per_cycle if who == role) for role in ELECTRODES}
    return {"electrode": electrode, "share_last_cycle": share, "last_cycle": per_cycle[-1][0],
            "since_cycle": since, "first_cycle": per_cycle[0][0], "counts": counts,
            "per_cycle": [{"cycle": c, "electrode": who, "share": s} for c, who, s in per_cycle]}


def _trend(cycles: np.ndarray, values: np.ndarray) -> tuple[float, float] | None:
    """(rise over the span, slope per cycle) of a least-squares line; None with < 2 points."""
    ok = np.isfinite(values)
    if ok.sum() < 2 or np.ptp(cycles[ok]) == 0:
        return None
    slope, _ = np.polyfit(cycles[ok].astype(float), values[ok], 1)
    return float(slope * np.ptp(cycles[ok])), float(slope)


def diagnose(electrode_table: pa.Table, modes: DegradationModes | None = None, *,
             check: ConsistencyCheck | None = None, **thresholds: Any) -> Diagnosis:
    """The diagnosis (see the module docstring) from the per-electrode cycle table, the
    degradation modes (None, or without reference curves: the sentence says they were not
    computed) and the consistency check of the data."""
    unknown = set(thresholds) - set(DIAGNOSIS_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
    params = {**DIAGNOSIS_DEFAULTS, **thresholds}
    columns = _rows(electrode_table)
    warnings: list[str] = []
    limiting = {d: _limiting(columns, d) for d in (CHARGE, DISCHARGE)}

    # --- degradation modes
    mode_info: dict[str, Any] = {"status": "not_computed"}
    sodium: dict[str, Any] = {"electrode": None}
    fitted_overpotential: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if modes is not None:
        mode_info = {"status": modes.status, "messages": list(modes.messages),
                     "reference_cycle": modes.reference_cycle,
                     "half_cycle": modes.params.get("mode_half_cycle")}
        m = _rows(modes.modes)
        cycles = m["cycle_number"]
        totals = {}
        for name in MODE_NAMES:
            values = m[name].astype(float)
            ok = np.isfinite(values)
            if ok.any():
                last = int(np.flatnonzero(ok)[-1])
                span = int(cycles[last] - (modes.reference_cycle or cycles[0]))
                totals[name] = {"total": float(values[last]), "last_cycle": int(cycles[last]),
                                "per_cycle": float(values[last]) / span if span > 0 else math.nan,
                                "series": [{"cycle": int(c), "value": float(v)}
                                           for c, v in zip(cycles[ok], values[ok])]}
        mode_info["modes"] = totals
        if totals:
            dominant = max(totals, key=lambda n: abs(totals[n]["total"]))
            significant = abs(totals[dominant]["total"]) >= params["mode_threshold"]
            mode_info["dominant"] = dominant if significant else None
            if modes.status != "computed":
                mode_info["dominant_among"] = sorted(totals)
        rmse = m["largest_rmse_v"].astype(float)
        if np.isfinite(rmse).any() and np.nanmax(rmse) > params["fit_rmse_warning_v"]:
            worst = int(cycles[np.nanargmax(rmse)])
            warnings.append(f"the reference-curve fits leave up to {np.nanmax(rmse) * 1000:.0f} mV "
                            f"RMS (cycle {worst}): the modes may be off")
        # where the sodium goes
        charge_q = {int(c): float(q) for c, q in zip(columns["cycle_number"], columns["charge_capacity_mah"])}
        fractions = {}
        for role in ELECTRODES:
            side = m[f"{role}_side_reaction_capacity_mah"].astype(float)
            q = np.array([charge_q.get(int(c), math.nan) for c in cycles])
            share = side / q
            if np.isfinite(share).any():
                fractions[role] = float(np.nanmedian(share))
        sodium = {"fractions_of_charge": fractions, "electrode": None,
                  "threshold": params["side_reaction_threshold"]}
        if fractions:
            where = max(fractions, key=fractions.get)
            if fractions[where] > params["side_reaction_threshold"]:
                sodium["electrode"] = where
        for role in ELECTRODES:
            values = m[f"{role}_fitted_polarisation_v"].astype(float)
            if np.isfinite(values).sum() >= 2:
                fitted_overpotential[role] = (cycles, values / 2.0)

    # --- overpotential build-up per electrode
    over: dict[str, Any] = {"threshold_v": params["overpotential_threshold_v"]}
    complete = columns["complete"].astype(bool)
    for role in ELECTRODES:
        rows = (columns["electrode"] == role) & complete
        cycles = columns["cycle_number"][rows]
        both = np.abs(np.vstack([columns["charge_interruption_10s_v"][rows].astype(float),
                                 columns["discharge_interruption_10s_v"][rows].astype(float)]))
        counted = np.isfinite(both).sum(axis=0)
        rests = np.where(counted > 0, np.nansum(both, axis=0) / np.maximum(counted, 1), np.nan)
        candidates = []
        if role in fitted_overpotential:
            candidates.append(("reference-corrected polarisation ÷ 2", *fitted_overpotential[role]))
        candidates.append(("|ΔE| 10 s into the rests", cycles, rests))
        candidates.append(("raw polarisation ÷ 2 (includes hysteresis over a changing window)",
                           cycles, columns["polarisation_v"][rows].astype(float) / 2.0))
        chosen = None
        for measure, c, values in candidates:
            trend = _trend(np.asarray(c), np.asarray(values, dtype=float))
            if trend is not None:
                chosen = (measure, c, values, trend)
                break
        if chosen is None:
            over[role] = {"measure": None, "grew": None, "reason": "fewer than two cycles"}
            continue
        measure, c, values, (rise, slope) = chosen
        ok = np.isfinite(values)
        over[role] = {"measure": measure, "rise_v": rise, "slope_v_per_cycle": slope,
                      "first_v": float(np.asarray(values)[ok][0]),
                      "last_v": float(np.asarray(values)[ok][-1]),
                      "first_cycle": int(np.asarray(c)[ok][0]), "last_cycle": int(np.asarray(c)[ok][-1]),
                      "grew": bool(rise > params["overpotential_threshold_v"])}
        r10 = {d: columns[f"{d}_interruption_10s_ohm"][rows].astype(float) for d in (CHARGE, DISCHARGE)}
        if any(np.isfinite(v).any() for v in r10.values()):
            over[role]["interruption_10s_ohm"] = {
                d: {"first": float(v[np.isfinite(v)][0]), "last": float(v[np.isfinite(v)][-1])}
                for d, v in r10.items() if np.isfinite(v).any()}

    # --- profile change at the last complete cycle
    profile: dict[str, Any] = {"threshold": params["profile_change_threshold"],
                               "reference_cycle": table_metadata(electrode_table).get(
                                   "params", {}).get("reference_cycle")}
    for role in ELECTRODES:
        rows = np.flatnonzero((columns["electrode"] == role) & complete)
        if rows.size:
            last = rows[-1]
            profile[role] = {"cycle": int(columns["cycle_number"][last]),
                             CHARGE: float(columns["charge_profile_change"][last]),
                             DISCHARGE: float(columns["discharge_profile_change"][last])}

    if check is not None and check.status == "failed":
        warnings.append(f"the consistency check failed ({check.message})")
    sentence = _sentence(limiting, mode_info, sodium, over, profile, params, warnings)
    return Diagnosis(sentence, limiting, mode_info, sodium, over, profile,
                     check.to_dict() if check is not None else None, tuple(warnings), params)


def _pct(value: float) -> str:
    return f"{round(100.0 * value, 1) + 0.0:.1f} %"  # + 0.0: no "-0.0"


def _mv(value: float) -> str:
    return f"{round(1000.0 * value, 1) + 0.0:+.1f} mV"


def _sentence(limiting, mode_info, sodium, over, profile, params, warnings) -> str:
    parts = []
    totals = mode_info.get("modes", {})
    dominant = mode_info.get("dominant")
    where = sodium.get("electrode")
    if mode_info["status"] in ("not_computed", "no_reference") or not totals:
        reason = "; ".join(mode_info.get("messages", [])) or "no reference curves were given"
        parts.append(f"Degradation modes not computed ({reason})")
    elif dominant is None:
        biggest = max(abs(t["total"]) for t in totals.values())
        parts.append(f"No significant degradation mode (all below {_pct(params['mode_threshold'])}; "
                     f"largest {_pct(biggest)})")
    else:
        info = totals[dominant]
        others = ", ".join(f"{MODE_NAMES[n]} {_pct(t['total'])}"
                           for n, t in totals.items() if n != dominant)
        lead = MODE_NAMES[dominant][0].upper() + MODE_NAMES[dominant][1:]
        if dominant == "loss_of_sodium_inventory" and where is not None:
            lead = (f"{_ROLE_WORD[where].capitalize()}-driven sodium loss (at the "
                    f"{ELECTRODE_NAMES[where]}, {_pct(sodium['fractions_of_charge'][where])} of "
                    f"each charge)")
        parts.append(f"{lead} drives the fade: {MODE_NAMES[dominant]} {_pct(info['total'])} by "
                     f"cycle {info['last_cycle']} ({100 * info['per_cycle']:.2f} % per cycle)"
                     + (f"; {others}" if others else ""))
    if totals and mode_info["status"] == "partial":  # what is missing is said, whatever was found
        parts[-1] += " (partial: " + "; ".join(mode_info.get("messages", [])) + ")"
    ends = []
    for direction in (CHARGE, DISCHARGE):
        info = limiting[direction]
        if info["electrode"] is None:
            ends.append(f"{direction} end not determined")
            continue
        since = (f" since cycle {info['since_cycle']}" if info["since_cycle"] != info["first_cycle"]
                 else "")
        ends.append(f"{direction} ends at {_label(info['electrode'])}{since} "
                    f"({100 * info['share_last_cycle']:.0f} % of |dE/dQ|)")
    parts.append(" and ".join(ends))
    grew = [r for r in ELECTRODES if isinstance(over.get(r), dict) and over[r].get("grew")]
    numbers = ", ".join(f"{ELECTRODE_NAMES[r]} {_mv(over[r]['rise_v'])}"
                        for r in ELECTRODES if isinstance(over.get(r), dict)
                        and over[r].get("measure"))
    threshold = f"threshold {params['overpotential_threshold_v'] * 1000:g} mV"
    if grew:
        parts.append("overpotential grew at " + " and ".join(_label(r) for r in grew)
                     + f" ({numbers}; {threshold})")
    elif numbers:
        parts.append(f"no overpotential build-up ({numbers}; {threshold})")
    changed = [(r, d, profile[r][d]) for r in ELECTRODES if r in profile
               for d in (CHARGE, DISCHARGE)
               if math.isfinite(profile[r][d]) and profile[r][d] > params["profile_change_threshold"]]
    if changed:
        described = ", ".join(
            f"{ELECTRODE_NAMES[r]} {CHARGE_BRANCH[r] if d == CHARGE else _other(CHARGE_BRANCH[r])} "
            f"{_pct(v)}" for r, d, v in changed)
        parts.append(f"dQ/dE profiles changed against cycle {profile['reference_cycle']} "
                     f"({described})")
    sentence = "; ".join(parts) + "."
    if warnings:
        sentence += " Caution: " + "; ".join(warnings) + "."
    return sentence


def _other(branch: str) -> str:
    return "desodiation" if branch == "sodiation" else "sodiation"
