"""Battery Data Format (Battery Data Alliance, LF Energy) CSV.

Columns are recognised by their machine-readable names (``test_time_second``,
``voltage_volt``, ``current_ampere``, ...) or by their preferred labels, ``Quantity / unit``
(``Test Time / s``, ``Current / A``; cellpy's files use ``Test Time / h``). Units in a label are
honoured (s, min, h; V, mV; A, mA; Ah, mAh; Wh, mWh). The format's sign convention is ours:
positive current = charge. ``Unix Time / s`` becomes the timestamp (naive UTC).

The delimiter is taken from the header line (comma by the specification; ';' and tab are
accepted), and a decimal comma is recognised when the delimiter is not a comma.
"""
from __future__ import annotations

import pathlib
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import ReaderError, ReadResult, canonical_table
from .mapped_csv import (
    check_time_order,
    guess_decimal,
    guess_delimiter,
    head_lines,
    integer_column,
    looks_binary,
    read_delimited,
    read_header_row,
    scaled,
    split_fields,
)

# machine-readable name -> (canonical column, scale to the canonical unit)
MACHINE_NAMES: dict[str, tuple[str, float]] = {
    "test_time_second": ("test_time_s", 1.0),
    "test_time_hour": ("test_time_s", 3600.0),
    "voltage_volt": ("voltage_v", 1.0),
    "current_ampere": ("current_ma", 1000.0),
    "unix_time_second": ("timestamp", 1.0),
    "cycle_count": ("cycle_index", 1.0),
    "step_index": ("step_index", 1.0),
    "charging_capacity_ah": ("charge_capacity_mah", 1000.0),
    "discharging_capacity_ah": ("discharge_capacity_mah", 1000.0),
    "charging_energy_wh": ("charge_energy_mwh", 1000.0),
    "discharging_energy_wh": ("discharge_energy_mwh", 1000.0),
    "temperature_t1_celsius": ("temperature_c", 1.0),
    "ambient_temperature_celsius": ("temperature_c", 1.0),
}
# preferred-label quantity (lower case) -> canonical column
LABEL_QUANTITIES: dict[str, str] = {
    "test time": "test_time_s",
    "voltage": "voltage_v",
    "current": "current_ma",
    "unix time": "timestamp",
    "cycle count": "cycle_index",
    "cycle index": "cycle_index",
    "step index": "step_index",
    "charging capacity": "charge_capacity_mah",
    "charge capacity": "charge_capacity_mah",
    "discharging capacity": "discharge_capacity_mah",
    "discharge capacity": "discharge_capacity_mah",
    "charging energy": "charge_energy_mwh",
    "charge energy": "charge_energy_mwh",
    "discharging energy": "discharge_energy_mwh",
    "discharge energy": "discharge_energy_mwh",
    "surface temperature t1": "temperature_c",
    "ambient temperature": "temperature_c",
}
# canonical column -> {unit in the label: scale to the canonical unit}
LABEL_UNITS: dict[str, dict[str, float]] = {
    "test_time_s": {"s": 1.0, "min": 60.0, "h": 3600.0, "ms": 0.001},
    "voltage_v": {"v": 1.0, "mv": 0.001},
    "current_ma": {"a": 1000.0, "ma": 1.0},
    "timestamp": {"s": 1.0},
    "cycle_index": {"1": 1.0, "": 1.0},
    "step_index": {"1": 1.0, "": 1.0},
    "charge_capacity_mah": {"ah": 1000.0, "mah": 1.0},
    "discharge_capacity_mah": {"ah": 1000.0, "mah": 1.0},
    "charge_energy_mwh": {"wh": 1000.0, "mwh": 1.0},
    "discharge_energy_mwh": {"wh": 1000.0, "mwh": 1.0},
    "temperature_c": {"degc": 1.0, "°c": 1.0, "c": 1.0},
}
# when a file has both, the cell's own sensor beats the chamber
_TEMPERATURE_PREFERENCE = ("temperature_t1_celsius", "surface temperature t1")


def _label_parts(name: str) -> tuple[str, str] | None:
    match = re.fullmatch(r"\s*(.+?)\s+/\s+(\S*)\s*", name)
    return (match.group(1).lower(), match.group(2).lower()) if match else None


def resolve_columns(names: list[str]) -> dict[str, tuple[str, float]]:
    """canonical column -> (source column, scale) for the BDF names and labels present."""
    found: dict[str, tuple[str, float, bool]] = {}
    for name in names:
        key = name.strip()
        canonical = scale = None
        preferred = False
        if key.lower() in MACHINE_NAMES:
            canonical, scale = MACHINE_NAMES[key.lower()]
            preferred = key.lower() in _TEMPERATURE_PREFERENCE
        else:
            parts = _label_parts(key)
            if parts and parts[0] in LABEL_QUANTITIES:
                canonical = LABEL_QUANTITIES[parts[0]]
                scale = LABEL_UNITS[canonical].get(parts[1])
                preferred = parts[0] in _TEMPERATURE_PREFERENCE
                if scale is None:
                    raise ReaderError(f"unknown unit {parts[1]!r} for {parts[0]}", column=key)
        if canonical is None:
            continue
        if canonical in found and not (preferred and not found[canonical][2]):
            continue
        found[canonical] = (key, scale, preferred)
    return {canonical: (source, scale) for canonical, (source, scale, _p) in found.items()}


def _score_header(line: str) -> float:
    delimiter = guess_delimiter(line)
    names = [n.strip() for n in split_fields(line, delimiter)]
    lowered = {n.lower() for n in names}
    if {"test_time_second", "voltage_volt", "current_ampere"} <= lowered:
        return 0.95
    try:
        resolved = resolve_columns(names)
    except ReaderError:
        return 0.0
    if {"test_time_s", "voltage_v", "current_ma"} <= set(resolved):
        # all three as 'Quantity / unit' labels
        return 0.9
    return 0.0


# the columns the format requires, by its machine names and preferred labels
REQUIRED = (("test_time_s", "test time", "test_time_second (or 'Test Time / s')"),
            ("current_ma", "current", "current_ampere (or 'Current / A')"),
            ("voltage_v", "voltage", "voltage_volt (or 'Voltage / V')"))


def missing_columns(names: list[str]) -> str | None:
    """For a header that is a Battery Data Format one but for a required column: which
    columns are missing, in the format's words. None for any other header."""
    try:
        resolved = resolve_columns(names)
    except ReaderError:
        return None
    if not {canonical for canonical, _q, _w in REQUIRED} & set(resolved):
        return None
    missing = [(quantity, words) for canonical, quantity, words in REQUIRED if canonical not in resolved]
    if not missing:
        return None
    return (f"no {' and no '.join(q for q, _w in missing)} column: a Battery Data Format CSV needs "
            f"{', '.join(w for _q, w in missing)}")


class BdfCsvReader:
    name = "bdf-csv"
    version = "1.0"
    extensions = (".bdf.csv", ".bdf", ".csv")
    missing_columns = staticmethod(missing_columns)

    def sniff(self, head: bytes, filename: str) -> float:
        if not head or looks_binary(head):
            return 0.0
        lines = head_lines(head, 1)
        if not lines:
            return 0.0
        score = _score_header(lines[0])
        if score and re.search(r"\.bdf(\.|$)", filename.lower()):
            score = min(1.0, score + 0.04)
        return score

    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        label, lines, delimiter, names = read_header_row(path)
        try:
            resolved = resolve_columns(names)
        except ReaderError as exc:
            raise ReaderError(exc.reason, file=label, line=1, column=exc.column) from None
        for required, label_name in (("test_time_s", "test_time_second"), ("voltage_v", "voltage_volt"),
                                     ("current_ma", "current_ampere")):
            if required not in resolved:
                raise ReaderError(f"no {label_name} column (required by the Battery Data Format)",
                                  file=label, line=1, column=label_name)
        decimal = guess_decimal(lines[1:50], delimiter)
        raw, info = read_delimited(path, columns={source: pa.float64() for source, _ in resolved.values()},
                                   header_line=0, delimiter=delimiter, decimal=decimal)
        out: dict[str, Any] = {}
        metadata: dict[str, Any] = {"columns": {c: s for c, (s, _f) in resolved.items()}, **info}
        for canonical, (source, scale) in resolved.items():
            values = raw[source]
            if canonical == "timestamp":
                micros = pc.round(pc.multiply(values.cast(pa.float64()), 1e6))
                out[canonical] = micros.cast(pa.int64()).cast(pa.timestamp("us"))
                metadata["timestamp_timezone"] = "UTC"
            elif canonical in ("step_index", "cycle_index"):
                out[canonical] = integer_column(values, file=label, column=source, first_line=2)
            else:
                out[canonical] = scaled(values, scale)
        if "temperature_c" in out:
            temps = out["temperature_c"]
            if temps.null_count < len(temps) and pc.all(pc.equal(pc.drop_null(temps), 0.0)).as_py():
                # the reference Landt conversion writes 0 for a chamber at 25 degC: a placeholder
                del out["temperature_c"]
                metadata["dropped"] = {resolved["temperature_c"][0]: "every value is 0 (placeholder)"}
        check_time_order(out["test_time_s"], file=label, first_line=2)
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)


READERS = [BdfCsvReader()]
