"""Maccor text exports.

The raw export: line 1 ``Today's Date ... Date of Test: ... Filename: ... Procedure: ...
Comment/Barcode: ...``, line 2 the tab-separated column names, CRLF line ends, cp1252 text.
Variants handled:

* time as ``Test (Sec)`` / ``Test Time (sec)`` seconds, or ``TestTime`` durations
  ``0d 00:00:00.0000`` (older exports, e.g. the beep .041 file);
* ``Amps``/``Amp-hr``/``Watt-hr`` or the milli variants ``mAmps``/``mAmp-hr``/``mWatt-hr``, and
  ``Current [A]``/``Cap. [Ah]``/``Ener. [Wh]`` (KIT);
* the WMG export, whose ``Volts`` column is in mV: a header that names the unit (``mVolts``,
  ``Voltage [mV]``) is believed; a bare ``Volts`` column is taken as mV only if its largest
  magnitude exceeds 100 (no single cell reaches 100 V; a cell logged in mV exceeds 100 as soon
  as it is above 0.1 V). The choice is recorded in the metadata (``voltage_unit``);
* extra comment lines before the column-name row (WMG: 2, KIT: 12), decimal commas, and a
  comma delimiter (PyProBE-style CSV).

Sign: the beep files sign Amps (negative in D rows) but some exports give unsigned Amps, so the
sign comes from ``State``: C rows are made positive and D rows negative; other states (R, O,
P, FRA, ...) keep the file's value. ``Amp-hr``/``Watt-hr`` are one counter that restarts at each
step and counts whichever way the current flows: it becomes ``charge_*`` on C rows and
``discharge_*`` on D rows (0 for the other and on rows in other states). Without a State
column (some CSV variants) the file's own sign is used and the counter is split by it.
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
    decode_head,
    file_label,
    guess_decimal,
    guess_delimiter,
    integer_column,
    looks_binary,
    normalise_name,
    parse_durations,
    parse_timestamps,
    read_delimited,
    scaled,
    split_fields,
)

MV_THRESHOLD = 100.0
_HEADER_LABELS = ("Today's Date", "Date of Test:", "Filename:", "Procedure:", "Comment/Barcode:")
_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M",
                 "%d.%m.%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%m/%d/%Y %H:%M:%S.%f", "%d-%b-%y %H:%M:%S")

# normalised name -> (role, scale). Roles: canonical columns, or 'time_text' (may be durations),
# 'state', 'voltage_bare' (V or mV by magnitude), 'capacity', 'energy', 'record'.
COLUMN_NAMES: dict[str, tuple[str, float]] = {
    "testsec": ("time_text", 1.0), "testtimesec": ("time_text", 1.0), "testtime": ("time_text", 1.0),
    "testtimes": ("time_text", 1.0),
    "amps": ("current", 1000.0), "mamps": ("current", 1.0), "currenta": ("current", 1000.0),
    "currentma": ("current", 1.0), "current": ("current", 1000.0),
    "volts": ("voltage_bare", 1.0), "voltage": ("voltage_bare", 1.0),
    "voltagev": ("voltage", 1.0), "voltsv": ("voltage", 1.0),
    "mvolts": ("voltage", 0.001), "voltagemv": ("voltage", 0.001), "voltsmv": ("voltage", 0.001),
    "amphr": ("capacity", 1000.0), "mamphr": ("capacity", 1.0), "capah": ("capacity", 1000.0),
    "capacity": ("capacity", 1000.0), "capacityah": ("capacity", 1000.0),
    "capmah": ("capacity", 1.0),
    "watthr": ("energy", 1000.0), "mwatthr": ("energy", 1.0), "enerwh": ("energy", 1000.0),
    "energy": ("energy", 1000.0), "energywh": ("energy", 1000.0), "enermwh": ("energy", 1.0),
    "state": ("state", 1.0), "md": ("state", 1.0),
    "cyc": ("cycle_index", 1.0), "cyclep": ("cycle_index", 1.0), "cyclec": ("cycle_index", 1.0),
    "cycle": ("cycle_index", 1.0),
    "step": ("step_index", 1.0),
    "rec": ("record", 1.0),
    "dpttime": ("timestamp", 1.0),
    "temp1": ("temperature_c", 1.0), "temperature1": ("temperature_c", 1.0),
    "temp1c": ("temperature_c", 1.0),
}


def _resolve(names: list[str]) -> dict[str, tuple[str, float, str]]:
    """role -> (source column, scale, kind); the two voltage kinds share the role 'voltage_any'."""
    found: dict[str, tuple[str, float]] = {}
    for name in names:
        hit = COLUMN_NAMES.get(normalise_name(name))
        if hit is None:
            continue
        role = "voltage_any" if hit[0] in ("voltage", "voltage_bare") else hit[0]
        if role not in found:
            found[role] = (name, hit[1], hit[0])
    return {role: (source, scale, kind) for role, (source, scale, kind) in found.items()}


def _find_header(lines: list[str]) -> tuple[int, str] | None:
    """(0-based line, delimiter) of the column-name row within the first lines."""
    for i, line in enumerate(lines[:40]):
        delimiter = "\t" if "\t" in line else guess_delimiter(line)
        names = [n.strip() for n in split_fields(line, delimiter)]
        roles = _resolve(names)
        if ({"current", "voltage_any", "state"} <= set(roles)
                and ("time_text" in roles or "record" in roles)):
            return i, delimiter
    return None


def parse_title_line(line: str) -> dict[str, str]:
    """The 'Today's Date ... Comment/Barcode:' line as a dict."""
    positions = sorted((line.find(label), label) for label in _HEADER_LABELS if label in line)
    meta: dict[str, str] = {}
    keys = {"Today's Date": "export_date", "Date of Test:": "test_date", "Filename:": "maccor_filename",
            "Procedure:": "procedure", "Comment/Barcode:": "comment"}
    for k, (start, label) in enumerate(positions):
        end = positions[k + 1][0] if k + 1 < len(positions) else len(line)
        value = line[start + len(label):end].strip(" \t,")
        if value:
            meta[keys[label]] = value
    return meta


class MaccorTextReader:
    name = "maccor-txt"
    version = "1.0"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, filename: str) -> float:
        if not head or looks_binary(head):
            return 0.0
        lines = decode_head(head).splitlines()
        if not lines:
            return 0.0
        header = _find_header(lines)
        title = lines[0].lstrip().startswith("Today's Date")
        if title and header is not None:
            score = 0.97
        elif header is not None:
            score = 0.85
        elif title:
            score = 0.6
        else:
            return 0.0
        # Maccor names its files <test>.<NNN> (channel/sequence number)
        if re.search(r"\.\d{3}$", filename):
            score = min(1.0, score + 0.02)
        return score

    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        label = file_label(path)
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        lines = decode_head(head, "cp1252").splitlines()
        if not lines:
            raise ReaderError("the file is empty", file=label)
        found = _find_header(lines)
        if found is None and lines[0].lstrip().startswith("Today's Date") and len(lines) > 1:
            # the raw export: names are on line 2 even when one we need is missing
            found = 1, "\t" if "\t" in lines[1] else guess_delimiter(lines[1])
        if found is None:
            raise ReaderError("no Maccor column-name row (Rec#, Amps, Volts, State, ...) in the first "
                              "40 lines", file=label)
        header_line, delimiter = found
        names = [n.strip() for n in split_fields(lines[header_line], delimiter)]
        roles = _resolve(names)
        for role, words in (("current", "Amps"), ("voltage_any", "Volts")):
            if role not in roles:
                raise ReaderError(f"no {words} column (the header has: {', '.join(n for n in names if n)})",
                                  file=label, line=header_line + 1, column=words)
        metadata: dict[str, Any] = {}
        if lines[0].lstrip().startswith("Today's Date"):
            metadata.update(parse_title_line(lines[0]))
        elif header_line:
            metadata["preamble"] = [line.strip() for line in lines[:header_line] if line.strip()]
        if "time_text" not in roles:
            raise ReaderError("no test time column (Test (Sec) or TestTime)", file=label,
                              line=header_line + 1, column="Test (Sec)")
        decimal = guess_decimal(lines[header_line + 1:header_line + 40], delimiter)
        wanted: dict[str, pa.DataType] = {}
        for role, (source, _scale, _kind) in roles.items():
            text = role in ("time_text", "state", "timestamp")
            wanted[source] = pa.string() if text else pa.float64()
        raw, info = read_delimited(path, columns=wanted, header_line=header_line, delimiter=delimiter,
                                   decimal=decimal, encoding="cp1252")
        metadata.update(info)
        first_line = header_line + 2
        out: dict[str, Any] = {}

        # test time: seconds, or '0d 00:00:00.0000' durations
        source = roles["time_text"][0]
        time_text = pc.utf8_trim_whitespace(raw[source])
        time_text = pc.if_else(pc.equal(time_text, ""), None, time_text)
        sample = pc.drop_null(time_text).slice(0, 1).to_pylist()
        if sample and re.search(r"\d:\d", sample[0]):
            out["test_time_s"] = parse_durations(time_text, file=label, column=source, first_line=first_line)
        else:
            try:
                out["test_time_s"] = pc.replace_substring(time_text, ",", ".").cast(pa.float64())
            except pa.ArrowInvalid:
                raise ReaderError("test time is neither seconds nor a duration", file=label,
                                  column=source) from None

        # current, signed by State
        source, scale, _kind = roles["current"]
        amps = scaled(raw[source], scale)
        if "state" in roles:
            state = pc.utf8_upper(pc.utf8_trim_whitespace(raw[roles["state"][0]]))
            is_charge = pc.fill_null(pc.equal(state, "C"), False)
            is_discharge = pc.fill_null(pc.equal(state, "D"), False)
            magnitude = pc.abs(amps)
            out["current_ma"] = pc.if_else(is_charge, magnitude,
                                           pc.if_else(is_discharge, pc.negate(magnitude), amps))
            positive_in_d = pc.sum(pc.and_(is_discharge, pc.greater(amps, 0.0))).as_py() or 0
            metadata["current_sign"] = ("unsigned in the file; signed from State" if positive_in_d
                                        else "signed in the file (checked against State)")
            states = pc.value_counts(pc.drop_null(state)).to_pylist()
            metadata["states"] = {item["values"]: item["counts"] for item in states}
        else:
            # no State column (e.g. a PyProBE-style CSV): the file's sign is all there is
            is_charge = pc.fill_null(pc.greater(amps, 0.0), False)
            is_discharge = pc.fill_null(pc.less(amps, 0.0), False)
            out["current_ma"] = amps
            metadata["current_sign"] = "as in the file (no State column)"

        # voltage, V or mV
        source, scale, kind = roles["voltage_any"]
        volts = raw[source]
        if kind == "voltage_bare":
            peak = pc.max(pc.abs(volts)).as_py()
            if peak is not None and peak > MV_THRESHOLD:
                scale = 0.001
                metadata["voltage_unit"] = (f"mV (column {source!r} does not say; its values reach "
                                            f"{peak:g}, above {MV_THRESHOLD:g})")
            else:
                metadata["voltage_unit"] = "V"
        else:
            metadata["voltage_unit"] = "mV (from the column name)" if scale != 1 else "V"
        out["voltage_v"] = scaled(volts, scale)

        # Amp-hr / Watt-hr: one counter, per step, split by State
        for role, charge, discharge in (("capacity", "charge_capacity_mah", "discharge_capacity_mah"),
                                        ("energy", "charge_energy_mwh", "discharge_energy_mwh")):
            if role in roles:
                source, scale, _kind = roles[role]
                counter = pc.abs(scaled(raw[source], scale))
                out[charge] = pc.if_else(is_charge, counter, 0.0)
                out[discharge] = pc.if_else(is_discharge, counter, 0.0)
        metadata["capacity_counters_reset"] = "each step"

        for role in ("cycle_index", "step_index"):
            if role in roles:
                source = roles[role][0]
                out[role] = integer_column(raw[source], file=label, column=source, first_line=first_line)
        if "temperature_c" in roles:
            out["temperature_c"] = scaled(raw[roles["temperature_c"][0]], 1.0)
        if "timestamp" in roles:
            source = roles["timestamp"][0]
            stamps = parse_timestamps(raw[source], _DATE_FORMATS)
            if stamps is None:
                metadata["timestamp_unparsed"] = f"{source!r}: no known date format"
            else:
                out["timestamp"] = stamps
                metadata["timestamp_timezone"] = "local (cycler PC), no zone in the file"
        check_time_order(out["test_time_s"], file=label, first_line=first_line)
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)


READERS = [MaccorTextReader()]
