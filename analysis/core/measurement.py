"""What kind of measurement a cycler file holds, and an impedance file's spectrum.

Pure module (numpy, pyarrow). A file is one of :data:`KINDS`; only ``cycling`` files get a
cycling summary and feed a cell's cycling metrics. The kind comes from the file's technique
header where it has one (EC-Lab's technique, a Maccor procedure's FRA steps), else from its
columns and its current:

* a spectrum (frequencies above zero) → ``impedance``;
* no current beyond the rest threshold → ``open_circuit``;
* only short bursts of current (at most ``max_pulse_s`` each) with the cell resting at least
  ten times longer than it is driven, and resting at the end → ``pulse``;
* anything else → ``cycling``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from analysis.core.cycling import (
    MAX_PULSE_S,
    current_noise_ma,
    detect_steps_in_table,
    table_columns,
    typical_current_ma,
)

VERSION = "1.0.0"
KINDS = ("cycling", "impedance", "voltammetry", "open_circuit", "pulse")
KIND_LABELS = {
    "cycling": "cycling (charge and discharge)",
    "impedance": "impedance spectroscopy",
    "voltammetry": "cyclic or linear-sweep voltammetry",
    "open_circuit": "open-circuit voltage",
    "pulse": "current or potential pulses",
}

# EC-Lab's short technique names (and the long ones its export writes), by kind.
_BIOLOGIC_TECHNIQUES = {
    "impedance": ("PEIS", "GEIS", "SPEIS", "SGEIS", "MPEIS", "ZIR",
                  "potentio electrochemical impedance spectroscopy",
                  "galvano electrochemical impedance spectroscopy",
                  "staircase potentio electrochemical impedance spectroscopy",
                  "staircase galvano electrochemical impedance spectroscopy"),
    "voltammetry": ("CV", "CVA", "LSV", "DPV", "SWV", "NPV", "RNPV", "DNPV", "CASP",
                    "cyclic voltammetry", "cyclic voltammetry advanced",
                    "linear sweep voltammetry"),
    "open_circuit": ("OCV", "open circuit voltage"),
    "pulse": ("GITT", "PITT", "CSTEP", "VSTEP", "DCIR", "HPPC"),
    "cycling": ("GCPL", "GCPL2", "GCPL3", "GCPL4", "GCPL5", "GCPL6", "GCPL7", "MB", "BCD",
                "PCGA", "CLD", "CPW", "galvanostatic cycling with potential limitation",
                "modulo bat", "battery capacity determination",
                "potentiodynamic cycling with galvanostatic acceleration"),
}
_BY_TECHNIQUE = {name.lower(): kind for kind, names in _BIOLOGIC_TECHNIQUES.items()
                 for name in names}


@dataclasses.dataclass(frozen=True)
class MeasurementKind:
    """The kind, what it was read from (``"technique"``, ``"states"``, ``"columns"`` or
    ``"signal"``) and the reason in words."""

    kind: str
    source: str
    reason: str
    version: str = VERSION

    @property
    def is_cycling(self) -> bool:
        return self.kind == "cycling"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _from_header(metadata: dict) -> MeasurementKind | None:
    techniques = [metadata.get("technique"), metadata.get("technique_name")]
    techniques += list(metadata.get("techniques") or [])
    for technique in techniques:
        if not technique:
            continue
        kind = _BY_TECHNIQUE.get(str(technique).strip().lower())
        if kind:
            return MeasurementKind(kind, "technique", f"the file's technique is {technique}")
    states = metadata.get("states") or {}
    if states:
        total = sum(states.values()) or 1
        fra = states.get("FRA", 0)
        if fra and fra >= 0.5 * total:
            return MeasurementKind("impedance", "states",
                                   f"{fra} of its {total} rows are in the cycler's FRA "
                                   "(impedance) state")
    return None


def measurement_kind(table: Any, metadata: dict | None = None, *,
                     max_pulse_s: float = MAX_PULSE_S) -> MeasurementKind:
    """The kind of measurement (see the module docstring) of a canonical table and the
    metadata its reader gave."""
    metadata = metadata or {}
    spectrum = metadata.get("impedance") or {}
    if any(f and f > 0 for f in spectrum.get("freq_hz") or []):
        return MeasurementKind("impedance", "columns",
                               f"it holds an impedance spectrum "
                               f"({len(spectrum['freq_hz'])} frequencies)")
    header = _from_header(metadata)
    if header:
        return header  # a cycling technique that has not driven the cell yet is still cycling
    # a cheap look first: where the current flows for longer than a pulse, it is cycling
    columns = table_columns(table)
    time_s = columns["test_time_s"]
    current = np.nan_to_num(columns["current_ma"], posinf=0.0, neginf=0.0)
    typical = typical_current_ma(current)
    threshold = min(max(0.01 * typical, 5.0 * current_noise_ma(current, typical)), 0.25 * typical)
    flowing = np.abs(current) > threshold
    if not flowing.any():
        return MeasurementKind("open_circuit", "signal", "no current flows: the cell only rests")
    edges = np.flatnonzero(np.diff(np.r_[0, flowing.astype(np.int8), 0]))
    longest = float(np.max(time_s[np.minimum(edges[1::2], time_s.size - 1)] - time_s[edges[::2]]))
    if longest > 2.0 * max_pulse_s:
        return MeasurementKind("cycling", "signal", "the current charges and discharges the cell")
    steps = detect_steps_in_table(table)
    active = steps.direction != 0
    # bursts between rests
    key = np.cumsum(np.r_[True, steps.direction[1:] != steps.direction[:-1]])
    burst_time = np.bincount(key, weights=np.where(active, steps.duration_s, 0.0))
    bursts = burst_time[np.bincount(key, weights=active.astype(float)) > 0]
    resting = float(steps.duration_s[~active].sum())
    driven = float(steps.duration_s[active].sum())
    still_going = bool(active[-1])  # the file ends driving the cell: a half cycle may have begun
    if (bursts.size and not still_going and bursts.max() <= max_pulse_s
            and resting >= 10.0 * driven):
        return MeasurementKind("pulse", "signal",
                               f"{bursts.size} bursts of current of at most {bursts.max():.3g} s, "
                               f"the cell resting {resting / max(driven, 1e-12):.0f} times longer")
    return MeasurementKind("cycling", "signal", "the current charges and discharges the cell")


def impedance_spectrum(metadata: dict) -> list[dict]:
    """The impedance spectrum a reader found, one entry per sweep: ``sweep`` (the cycler's
    number, or 1, 2, ... where a new sweep starts at a frequency above the one before),
    ``freq_hz``, ``re_z_ohm``, ``minus_im_z_ohm``, ``abs_z_ohm``, ``phase_z_deg`` (|Z| and the
    phase computed from Re Z and −Im Z where the file lacks them: phase = atan2(Im Z, Re Z)).
    Empty when the file has none."""
    spectrum = (metadata or {}).get("impedance") or {}
    freq = np.asarray([np.nan if f is None else f for f in spectrum.get("freq_hz") or []],
                      dtype=float)
    if freq.size == 0:
        return []

    def column(name: str) -> np.ndarray:
        values = spectrum.get(name)
        if values is None:
            return np.full(freq.size, np.nan)
        return np.asarray([np.nan if v is None else v for v in values], dtype=float)

    re_z, minus_im_z = column("re_z_ohm"), column("minus_im_z_ohm")
    abs_z, phase = column("abs_z_ohm"), column("phase_z_deg")
    abs_z = np.where(np.isnan(abs_z), np.hypot(re_z, minus_im_z), abs_z)
    phase = np.where(np.isnan(phase), np.degrees(np.arctan2(-minus_im_z, re_z)), phase)
    if spectrum.get("sweep") is not None:
        sweep = np.asarray([-1 if s is None else s for s in spectrum["sweep"]], dtype=np.int64)
    else:
        sweep = np.cumsum(np.r_[True, np.diff(freq) > 0])
    out = []
    starts = np.flatnonzero(np.r_[True, sweep[1:] != sweep[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], freq.size]):
        out.append({"sweep": int(sweep[a]), "n_points": int(b - a),
                    **{name: [None if not math.isfinite(v) else float(v) for v in values[a:b]]
                       for name, values in (("freq_hz", freq), ("re_z_ohm", re_z),
                                            ("minus_im_z_ohm", minus_im_z),
                                            ("abs_z_ohm", abs_z), ("phase_z_deg", phase))}})
    return out
