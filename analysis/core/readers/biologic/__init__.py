"""BioLogic EC-Lab / BT-Lab readers: the binary ``.mpr`` file and the ``.mpt`` text export.

Pure module (numpy + pyarrow, no Django). Written from the format as observed in the files and
in public descriptions of it; no code from GPL parsers (galvani, yadg) is used.

Mapping to the canonical table (both readers use the same rules, so the .mpr and the .mpt of
one run give the same table):

``test_time_s``
    ``time/s``. In an export with ``Time format : Absolute``, the wall-clock column becomes
    ``timestamp`` and ``test_time_s`` is counted from the acquisition start (or the first row).
``current_ma``
    ``I/mA`` if the file has it, else ``<I>/mA``, else derived as ``dq/mA.h * 3600 / Δt``
    (Δt from ``time/s``; 0 on the first row, like EC-Lab). EC-Lab's ``<I>/mA`` *is*
    ``dq/Δt``: for gcpl.issue_211 the derived .mpr current equals the .mpt ``<I>/mA`` to
    1e-17 mA. ``control/mA`` / ``control/V/mA`` is the set point, never used as the current.
    Sign: EC-Lab counts current positive when the working electrode is oxidised (anodic). For a
    cathode (or any positive-electrode) working electrode that is charge, which is also the
    canonical sign (positive = Ewe driven up); the value is therefore kept as written.
``voltage_v``
    In a three-electrode file (the counter-electrode potential recorded): EC-Lab's own cell
    voltage ``Ewe-Ece/V`` where the export has it (a third record, which the three-electrode
    analysis checks against the two potentials), else ``Ewe - Ece`` (the .mpr stores only the
    two). Otherwise ``Ecell/V`` (BT-Lab), else ``Ewe``. ``<Ewe>/V`` and ``<Ece>/V`` (EIS files)
    count as Ewe and Ece. ``ewe_v`` and ``ece_v`` carry the two potentials themselves.
``step_index``
    ``Ns`` (EC-Lab's sequence number within the technique).
``cycle_index``
    ``cycle number`` if present, else ``half cycle // 2`` (the .mpr of a GCPL run stores only
    ``half cycle``; EC-Lab's exported ``cycle number`` equals ``half cycle // 2``). Zero-based,
    as EC-Lab counts.
``charge_capacity_mah`` / ``discharge_capacity_mah``
    From EC-Lab's signed ``Q charge/discharge/mA.h``, which restarts at 0 at every half cycle and
    is positive while charging (oxidation), negative while discharging. charge = Q where Q > 0
    else 0; discharge = -Q where Q < 0 else 0. These are *per-half-cycle* counters (each resets
    when the current direction changes, the other one reads 0), identical to EC-Lab's own
    exported ``Q charge/mA.h`` / ``Q discharge/mA.h`` columns, which are used when the signed
    column is absent.
``charge_energy_mwh`` / ``discharge_energy_mwh``
    The cell's energy counters x 1000: ``Energy we-ce charge/W.h`` / ``Energy we-ce
    discharge/W.h`` where the export has them; in a two-electrode file (no Ece) ``Energy
    charge/W.h`` (``Energy we charge/W.h`` since EC-Lab 11.62), Ewe being the cell voltage.
    With a counter electrode recorded, ``Energy (we) charge`` is the working electrode's
    (∫|Ewe|·|I|dt) and goes to ``ewe_charge_energy_mwh`` / ``ewe_discharge_energy_mwh``,
    ``Energy ce charge`` to ``ece_charge_energy_mwh`` / ``ece_discharge_energy_mwh``; the cell's
    counters are then absent unless the file has them (an .mpr has none), and the analysis
    integrates (Ewe - Ece)·|I|.
``temperature_c``
    ``Temperature/°C`` (.mpt only; no .mpr column ID for it is known).

EIS files (PEIS/GEIS) read like any other: time, ``<I>/mA``, ``<Ewe>/V`` (and ``<Ece>/V``).
The spectrum itself goes to ``metadata["impedance"]`` (lists, for the points with freq > 0).

Metadata keys (when the file has them): ``technique`` (EC-Lab short name, e.g. ``GCPL``, or the
long name if unknown), ``technique_name``, ``device``, ``channel``, ``software``,
``software_version``, ``acquisition_start`` (ISO 8601, local time of the instrument PC, no zone),
``electrode_material``, ``initial_state``, ``electrolyte``, ``comments``, ``reference_electrode``,
``active_mass_mg``, ``battery_capacity_mah``, ``cycle_definition``, ``current_source``,
``voltage_source``, ``source_columns``; for the .mpt also ``header`` (every ``key : value``
line), ``technique_parameters``, ``decimal_separator``, ``encoding``, ``nb_header_lines``,
``loops``; for the .mpr ``modules``, ``data_module_version`` and ``technique_id``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from .. import ReaderError, canonical_table, with_interval_mean_current



MPR_MAGIC = b"BIO-LOGIC MODULAR FILE\x1a"
MPT_MAGICS = ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE")

# EC-Lab's short technique names and the long names its text export writes on line 4.
TECHNIQUE_NAMES = {
    "GCPL": "Galvanostatic Cycling with Potential Limitation",
    "PEIS": "Potentio Electrochemical Impedance Spectroscopy",
    "GEIS": "Galvano Electrochemical Impedance Spectroscopy",
    "OCV": "Open Circuit Voltage",
    "CV": "Cyclic Voltammetry",
    "CA": "Chronoamperometry / Chronocoulometry",
    "CP": "Chronopotentiometry",
    "MB": "Modulo Bat",
}
_TECHNIQUE_BY_NAME = {v.lower(): k for k, v in TECHNIQUE_NAMES.items()}
# First byte of the settings module (checked against the sample files only).
_MPR_TECHNIQUE_IDS = {4: "GCPL", 29: "PEIS"}


# --- shared mapping ---------------------------------------------------------------------------

# Alternative source names, first match wins. Names are EC-Lab's own (the .mpr reader names its
# columns the way the .mpt export does).
_TIME = ("time/s",)
_CURRENT = ("I/mA", "<I>/mA")
_DQ = ("dq/mA.h", "dQ/mA.h")
_EWE = ("Ewe/V", "<Ewe>/V")
_ECE = ("Ece/V", "<Ece>/V")
_ECELL = ("Ecell/V", "<Ecell>/V")
_EWE_MINUS_ECE = ("Ewe-Ece/V", "<Ewe-Ece>/V")
_Q_SIGNED = ("Q charge/discharge/mA.h",)
_Q_CHARGE = ("Q charge/mA.h",)
_Q_DISCHARGE = ("Q discharge/mA.h",)
# EC-Lab's energies: ``Energy charge`` (renamed ``Energy we charge`` in EC-Lab 11.62) is the
# working electrode's, ∫|Ewe|·|I|dt; ``Energy ce charge`` the counter electrode's; ``Energy
# we-ce charge`` (a derived column of the text export) the cell's.
_E_CELL_CHARGE = ("Energy we-ce charge/W.h",)
_E_CELL_DISCHARGE = ("Energy we-ce discharge/W.h",)
_E_WE_CHARGE = ("Energy charge/W.h", "Energy we charge/W.h")
_E_WE_DISCHARGE = ("Energy discharge/W.h", "Energy we discharge/W.h")
_E_CE_CHARGE = ("Energy ce charge/W.h",)
_E_CE_DISCHARGE = ("Energy ce discharge/W.h",)
_ENERGIES = (_E_CELL_CHARGE + _E_CELL_DISCHARGE + _E_WE_CHARGE + _E_WE_DISCHARGE + _E_CE_CHARGE
             + _E_CE_DISCHARGE)
_TEMPERATURE = ("Temperature/°C", "Temperature/C")
_IMPEDANCE = {
    "freq/Hz": "freq_hz",
    "Re(Z)/Ohm": "re_z_ohm",
    "-Im(Z)/Ohm": "minus_im_z_ohm",
    "|Z|/Ohm": "abs_z_ohm",
    "Phase(Z)/deg": "phase_z_deg",
}
# Every source column the mapping may read (the .mpt reader converts only these).
_USED_COLUMNS = (
    _TIME + _CURRENT + _DQ + _EWE + _ECE + _ECELL + _EWE_MINUS_ECE + ("Ns", "cycle number", "half cycle")
    + _Q_SIGNED + _Q_CHARGE + _Q_DISCHARGE + _ENERGIES + _TEMPERATURE
    + tuple(_IMPEDANCE)
)


def _first(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> tuple[str | None, np.ndarray | None]:
    for name in names:
        if name in columns:
            return name, columns[name]
    return None, None


def _int_array(values: np.ndarray, source: str, file: str, *, divisor: int = 1) -> pa.Array:
    """Whole numbers stored as float (mpt) or int (mpr) -> int64 (NaN -> null), // divisor."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return pa.array(values.astype(np.int64) // divisor)
    mask = ~np.isfinite(values)
    filled = np.where(mask, 0.0, values)
    wrong = (filled != np.round(filled)) | (np.abs(filled) > 2.0**53)
    if wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        raise ReaderError(f"should hold whole numbers but data row {bad + 1} has {values[bad]!r}",
                          file=file, column=source)
    return pa.array(filled.astype(np.int64) // divisor, mask=mask)


def _current_from_dq(dq_mah: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """EC-Lab's <I>: the charge passed since the previous point over the time since it (mA)."""
    current = np.zeros(len(time_s), dtype=np.float64)
    if len(time_s) > 1:
        dt = np.diff(time_s)
        dq = dq_mah[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = dq * 3600.0 / dt
        derived = np.where(dt > 0, derived, np.where(dq == 0, 0.0, np.nan))
        current[1:] = derived
    return current


def _canonical(columns: dict[str, np.ndarray], file: str, *,
               timestamp: np.ndarray | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Build the canonical table from EC-Lab-named float/int columns (see the module doc)."""
    meta: dict[str, Any] = {}
    out: dict[str, Any] = {}

    name, time_s = _first(columns, _TIME)
    if time_s is None:
        raise ReaderError("no time/s column", file=file)
    time_s = np.asarray(time_s, dtype=np.float64)
    out["test_time_s"] = time_s

    name, current = _first(columns, _CURRENT)
    if current is not None:
        meta["current_source"] = name
        out["current_ma"] = np.asarray(current, dtype=np.float64)
    else:
        name, dq = _first(columns, _DQ)
        if dq is None:
            raise ReaderError("no current data: neither I/mA, <I>/mA nor dq/mA.h is present", file=file)
        meta["current_source"] = f"{name} * 3600 / Δ(time/s)"
        out["current_ma"] = _current_from_dq(np.asarray(dq, dtype=np.float64), time_s)

    ewe_name, ewe = _first(columns, _EWE)
    ece_name, ece = _first(columns, _ECE)
    ecell_name, ecell = _first(columns, _ECELL)
    cell_name, cell_voltage = _first(columns, _EWE_MINUS_ECE)
    if ece is not None and cell_voltage is not None:
        meta["voltage_source"] = cell_name
        out["voltage_v"] = np.asarray(cell_voltage, np.float64)
    elif ewe is not None and ece is not None:
        meta["voltage_source"] = f"{ewe_name} - {ece_name}"
        out["voltage_v"] = np.asarray(ewe, np.float64) - np.asarray(ece, np.float64)
    elif ecell is not None:
        meta["voltage_source"] = ecell_name
        out["voltage_v"] = np.asarray(ecell, np.float64)
    elif ewe is not None:
        meta["voltage_source"] = ewe_name
        out["voltage_v"] = np.asarray(ewe, np.float64)
    else:
        raise ReaderError("no voltage data: neither Ewe/V, <Ewe>/V nor Ecell/V is present", file=file)
    if ewe is not None:
        out["ewe_v"] = np.asarray(ewe, np.float64)
    if ece is not None:
        out["ece_v"] = np.asarray(ece, np.float64)

    if "Ns" in columns:
        out["step_index"] = _int_array(columns["Ns"], "Ns", file)
    if "cycle number" in columns:
        out["cycle_index"] = _int_array(columns["cycle number"], "cycle number", file)
        meta["cycle_source"] = "cycle number"
    elif "half cycle" in columns:
        out["cycle_index"] = _int_array(columns["half cycle"], "half cycle", file, divisor=2)
        meta["cycle_source"] = "half cycle // 2"

    _, q = _first(columns, _Q_SIGNED)
    if q is not None:
        q = np.asarray(q, np.float64)
        # np.where keeps NaN as NaN in both counters (NaN > 0 is False, so guard explicitly).
        out["charge_capacity_mah"] = np.where(np.isnan(q), np.nan, np.where(q > 0, q, 0.0))
        out["discharge_capacity_mah"] = np.where(np.isnan(q), np.nan, np.where(q < 0, -q, 0.0))
    else:
        _, qc = _first(columns, _Q_CHARGE)
        _, qd = _first(columns, _Q_DISCHARGE)
        if qc is not None:
            out["charge_capacity_mah"] = np.asarray(qc, np.float64)
        if qd is not None:
            out["discharge_capacity_mah"] = np.asarray(qd, np.float64)
    # The canonical energy counters are the cell's (Ewe - Ece); with a counter electrode
    # recorded, EC-Lab's plain energies are the working electrode's and keep names of their own.
    three_electrode = ece is not None
    energies = {
        "charge_energy_mwh": _E_CELL_CHARGE if three_electrode else _E_CELL_CHARGE + _E_WE_CHARGE,
        "discharge_energy_mwh": (_E_CELL_DISCHARGE if three_electrode
                                 else _E_CELL_DISCHARGE + _E_WE_DISCHARGE),
    }
    if three_electrode:
        energies.update(ewe_charge_energy_mwh=_E_WE_CHARGE, ewe_discharge_energy_mwh=_E_WE_DISCHARGE,
                        ece_charge_energy_mwh=_E_CE_CHARGE, ece_discharge_energy_mwh=_E_CE_DISCHARGE)
    current_flows = bool(np.nanmax(np.abs(out["current_ma"]), initial=0.0) > 0.0)
    for canonical, sources in energies.items():
        # EC-Lab's text export can carry a derived energy column it never filled in
        found = {name: np.asarray(columns[name], np.float64) for name in sources if name in columns}
        for name, values in list(found.items()):
            if current_flows and not np.any(np.nan_to_num(values) != 0.0):
                meta.setdefault("ignored_columns", {})[name] = "zero throughout while current flows"
                del found[name]
        if found:
            source = next(iter(found))
            out[canonical] = found[source] * 1000.0
            meta.setdefault("energy_sources", {})[canonical] = source
    _, temperature = _first(columns, _TEMPERATURE)
    if temperature is not None:
        out["temperature_c"] = np.asarray(temperature, np.float64)
    if timestamp is not None:
        out["timestamp"] = timestamp

    if "freq/Hz" in columns:
        freq = np.asarray(columns["freq/Hz"], np.float64)
        keep = np.isfinite(freq) & (freq > 0)
        if keep.any():
            meta["impedance"] = {
                key: [None if not math.isfinite(v) else float(v)
                      for v in np.asarray(columns[src], np.float64)[keep]]
                for src, key in _IMPEDANCE.items() if src in columns
            }
            if "cycle number" in columns:  # one sweep per cycle of the technique
                meta["impedance"]["sweep"] = [
                    int(v) if math.isfinite(v) else None
                    for v in np.asarray(columns["cycle number"], np.float64)[keep]]
    table = canonical_table(out, file=file)
    if meta["current_source"] != "I/mA":
        # <I> (and dq / Δt) is the mean current since the previous point
        table = with_interval_mean_current(table)
    return table, meta


def _technique_fields(short: str | None, long_name: str | None) -> dict[str, Any]:
    if short is None and long_name:
        short = _TECHNIQUE_BY_NAME.get(long_name.strip().lower())
    if long_name is None and short:
        long_name = TECHNIQUE_NAMES.get(short)
    meta: dict[str, Any] = {}
    if short or long_name:
        meta["technique"] = short or long_name
    if long_name:
        meta["technique_name"] = long_name
    return meta


_MASS_TO_MG = {"kg": 1e6, "g": 1e3, "mg": 1.0, "µg": 1e-3, "ug": 1e-3}


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def _round_f32(value: float) -> float:
    """A float32 from the binary file, rounded to the 7 significant digits it carries."""
    return float(f"{value:.7g}")


from .mpr import MPR_READER  # noqa: E402 - the readers build on the helpers above
from .mpt import MPT_READER  # noqa: E402

READERS = [MPR_READER, MPT_READER]
__all__ = ["MPR_MAGIC", "MPR_READER", "MPT_READER", "READERS"]
