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
    ``Ewe - Ece`` when the counter-electrode potential was recorded (three-electrode file), else
    ``Ecell/V`` (BT-Lab), else ``Ewe``. ``<Ewe>/V`` and ``<Ece>/V`` (EIS files) count as Ewe
    and Ece. ``ewe_v`` and ``ece_v`` carry the two potentials themselves.
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
    ``Energy charge/W.h`` / ``Energy discharge/W.h`` x 1000 (``Energy we charge/W.h`` in a
    three-electrode export: note it is the working-electrode energy, from Ewe, not Ewe - Ece).
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

import datetime as _dt
import math
import os
import pathlib
import re
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import ReaderError, ReadResult, canonical_table

__all__ = ["MPR_READER", "MPT_READER", "READERS"]

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
_Q_SIGNED = ("Q charge/discharge/mA.h",)
_Q_CHARGE = ("Q charge/mA.h",)
_Q_DISCHARGE = ("Q discharge/mA.h",)
_E_CHARGE = ("Energy charge/W.h", "Energy we charge/W.h")
_E_DISCHARGE = ("Energy discharge/W.h", "Energy we discharge/W.h")
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
    _TIME + _CURRENT + _DQ + _EWE + _ECE + _ECELL + ("Ns", "cycle number", "half cycle")
    + _Q_SIGNED + _Q_CHARGE + _Q_DISCHARGE + _E_CHARGE + _E_DISCHARGE + _TEMPERATURE
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
    if ewe is not None and ece is not None:
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
    _, ec = _first(columns, _E_CHARGE)
    _, ed = _first(columns, _E_DISCHARGE)
    if ec is not None:
        out["charge_energy_mwh"] = np.asarray(ec, np.float64) * 1000.0
    if ed is not None:
        out["discharge_energy_mwh"] = np.asarray(ed, np.float64) * 1000.0
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
    return canonical_table(out, file=file), meta


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


# --- .mpt --------------------------------------------------------------------------------------

_NB_HEADER = re.compile(r"^\s*Nb header lines\s*:\s*(\d+)\s*$")
_KEY_VALUE = re.compile(r"^(\S.*?)\s+:(?:\s+(.*?))?\s*$")
_SOFTWARE = re.compile(r"^(.*?)\s+v(\d[\w.]*)\s+\(software\)\s*$", re.IGNORECASE)
_LOOP = re.compile(r"^Loop\s+(\d+)\s+from point number\s+(\d+)\s+to\s+(\d+)\s*$")
_NUMERIC_COMMA = re.compile(rb"^[-+]?\d+,\d")
_NUMBER = re.compile(rb"[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?|[-+]?(nan|inf)", re.IGNORECASE)


def _decode_header(lines: list[bytes]) -> tuple[list[str], str]:
    blob = b"".join(lines)
    try:
        blob.decode("ascii")
        encoding = "ascii"
    except UnicodeDecodeError:
        try:
            blob.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    out = []
    for raw in lines:
        try:
            text = raw.decode("latin-1" if encoding == "ascii" else encoding)
        except UnicodeDecodeError:  # cp1252 leaves 5 bytes undefined
            text = raw.decode("latin-1")
        out.append(text.rstrip("\r\n"))
    return out, ("latin-1" if encoding in ("ascii", "cp1252") else encoding)


def _parse_datetime(text: str) -> _dt.datetime | None:
    text = text.strip()
    for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f",
                "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(text.replace(",", "."), fmt)
        except ValueError:
            continue
    return None


def _parse_mpt_header(lines: list[str]) -> dict[str, Any]:
    """Lines 3 .. N-1 of an .mpt (the column row excluded) into metadata."""
    header: dict[str, Any] = {}
    flags: list[str] = []
    params: dict[str, list[str]] = {}
    loops: list[list[int]] = []
    techniques: list[str] = []
    parent: str | None = None
    expect_technique = True
    for line in lines:
        if not line.strip():
            continue
        stripped = line.strip()
        if expect_technique:
            expect_technique = False
            if not _KEY_VALUE.match(line):
                techniques.append(stripped)
                continue
        loop = _LOOP.match(stripped)
        if loop:
            loops.append([int(loop.group(2)), int(loop.group(3))])
            continue
        if line[0] in " \t":  # continuation of the previous item
            if parent is None:
                continue
            kv = _KEY_VALUE.match(stripped)
            if kv:
                header[f"{parent}/{kv.group(1).strip()}"] = (kv.group(2) or "").strip()
            else:
                header.setdefault(f"{parent}/details", []).append(stripped)
            continue
        kv = _KEY_VALUE.match(line)
        if kv:
            key, value = kv.group(1).strip(), (kv.group(2) or "").strip()
            if key == "Technique" and value.isdigit():
                expect_technique = True
                parent = key
                continue
            if key in header:
                existing = header[key]
                header[key] = (existing if isinstance(existing, list) else [existing]) + [value]
            else:
                header[key] = value
            parent = key
            continue
        if len(line) >= 40 and len(line) % 20 == 0 and line[19] == " ":  # fixed-width parameter table
            values = [line[j:j + 20].strip() for j in range(20, len(line), 20)]
            name = line[:20].strip()
            params[name if name not in params else f"{name} ({len(params)})"] = values
            parent = None
            continue
        flags.append(stripped)
        parent = stripped

    meta: dict[str, Any] = {}
    meta.update(_technique_fields(None, techniques[0] if techniques else None))
    if len(techniques) > 1:
        meta["techniques"] = [_technique_fields(None, t).get("technique", t) for t in techniques]
    software = [m for m in (_SOFTWARE.match(f) for f in flags) if m]
    if software:
        product = software[0].group(1).strip()
        meta["software"] = {"ec-lab": "EC-Lab", "bt-lab": "BT-Lab"}.get(
            product.split()[0].lower(), product)
        meta["software_version"] = software[0].group(2)
    simple = {
        "Device": "device", "Run on channel": "channel", "Electrode material": "electrode_material",
        "Initial state": "initial_state", "Electrolyte": "electrolyte",
        "Reference electrode": "reference_electrode", "Cycle Definition": "cycle_definition",
        "Electrode surface area": "electrode_surface_area", "Characteristic mass": "characteristic_mass",
    }
    for key, target in simple.items():
        value = header.get(key)
        if isinstance(value, list):
            value = value[0]
        if value:
            meta[target] = value
    comments = header.get("Comments")
    if comments:
        comments = [c for c in (comments if isinstance(comments, list) else [comments]) if c]
        if comments:
            meta["comments"] = "\n".join(comments)
    for key, target in (("Acquisition started on", "acquisition_start"),
                        ("Technique started on", "technique_start")):
        started = header.get(key)
        if isinstance(started, str):
            when = _parse_datetime(started)
            if when is not None:
                meta[target] = when.isoformat()
    mass = header.get("Mass of active material")
    if isinstance(mass, str):
        parts = mass.split()
        value = _number(parts[0]) if parts else None
        unit = parts[1] if len(parts) > 1 else "mg"
        if value is not None and unit in _MASS_TO_MG:
            meta["active_mass_mg"] = value * _MASS_TO_MG[unit]
    capacity = header.get("Battery capacity")
    if isinstance(capacity, str):
        parts = capacity.split()
        value = _number(parts[0]) if parts else None
        scale = {"mA.h": 1.0, "A.h": 1000.0, "µA.h": 1e-3}.get(parts[1] if len(parts) > 1 else "")
        if value is not None and scale is not None:
            meta["battery_capacity_mah"] = value * scale
    meta["header"] = header
    if flags:
        meta["header_flags"] = flags
    if params:
        meta["technique_parameters"] = params
    if loops:
        meta["loops"] = loops
    return meta


class _MptReader:
    """EC-Lab / BT-Lab text export (.mpt)."""

    name = "biologic-mpt"
    version = "1.0"

    def sniff(self, head: bytes, filename: str) -> float:
        head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        first, _, rest = head.partition(b"\n")
        first_text = first.strip().decode("latin-1")
        if first_text in MPT_MAGICS:
            return 1.0
        if _NB_HEADER.match(rest.partition(b"\n")[0].decode("latin-1").rstrip("\r")):
            return 0.9
        # A header-less export starts directly with EC-Lab's column names.
        if b"\t" in first and b"time/s" in first and (
                b"Ewe/V" in first or b"Ecell/V" in first or b"<Ewe>/V" in first):
            return 0.6
        return 0.0

    def read(self, path: str | os.PathLike) -> ReadResult:
        path = pathlib.Path(path)
        file = path.name
        with open(path, "rb") as handle:
            first = handle.readline()
            if not first.strip() and not handle.read(1):
                raise ReaderError("the file is empty", file=file)
            offset = len(first)
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            raw_lines = [first]
            first_text = first.decode("latin-1").strip()
            if first_text in MPT_MAGICS:
                second = handle.readline()
                offset += len(second)
                raw_lines.append(second)
                match = _NB_HEADER.match(second.decode("latin-1").rstrip("\r\n"))
                if not match:
                    raise ReaderError("expected 'Nb header lines : N' on line 2", file=file, line=2)
                n_header = int(match.group(1))
                if n_header < 3:
                    raise ReaderError(f"'Nb header lines' is {n_header}; it must be at least 3",
                                      file=file, line=2)
                while len(raw_lines) < n_header:
                    line = handle.readline()
                    if not line:
                        raise ReaderError(
                            f"the header announces {n_header} header lines but the file ends after "
                            f"{len(raw_lines)} lines", file=file, line=len(raw_lines))
                    offset += len(line)
                    raw_lines.append(line)
            elif b"\t" in first and b"time/s" in first:
                n_header = 1  # header-less export: the column names are the first line
            else:
                raise ReaderError(
                    f"not a BioLogic text export: line 1 is {first_text[:60]!r}, expected "
                    f"'EC-Lab ASCII FILE' or 'BT-Lab ASCII FILE'", file=file, line=1)
            # First data line (skipping blank lines, which pyarrow ignores as well).
            data_offset = offset
            first_data_line = n_header + 1
            sample = handle.readline()
            while sample and not sample.strip():
                data_offset += len(sample)
                first_data_line += 1
                sample = handle.readline()

        text_lines, encoding = _decode_header(raw_lines)
        names = text_lines[-1].split("\t")
        while names and not names[-1].strip():
            names.pop()
        names = [n.strip() for n in names]
        if not names or "time/s" not in names:
            raise ReaderError(
                f"line {n_header} should be the tab-separated column names (with time/s), found "
                f"{text_lines[-1][:80]!r}", file=file, line=n_header)
        names = _unique(names)
        if not sample:
            raise ReaderError("no data rows after the column-name row", file=file, line=n_header + 1)

        fields = sample.rstrip(b"\r\n").split(b"\t")
        column_names = list(names)
        if len(fields) == len(names) + 1 and not fields[-1].strip():
            column_names.append("__trailing_tab__")
        elif len(fields) != len(names):
            raise ReaderError(f"expected {len(names)} tab-separated values, found {len(fields)}",
                              file=file, line=first_data_line)
        decimal = "," if any(_NUMERIC_COMMA.match(f.strip()) for f in fields) else "."

        meta: dict[str, Any] = {}
        if n_header > 1:
            meta.update(_parse_mpt_header(text_lines[2:-1]))
        meta["nb_header_lines"] = n_header
        meta["encoding"] = encoding
        meta["decimal_separator"] = decimal

        time_field = fields[names.index("time/s")].strip()
        text_export = str(meta.get("header", {}).get("Text export/Time format", ""))
        absolute_time = text_export.lower().startswith("absolute") or (
            bool(time_field) and not _NUMBER.fullmatch(time_field))
        wanted = [n for n in names if n in _USED_COLUMNS]
        types = {n: pa.float64() for n in wanted}
        if absolute_time:
            types["time/s"] = pa.string()

        try:
            with pa.OSFile(str(path)) as source:
                source.seek(data_offset)
                table = pacsv.read_csv(
                    source,
                    read_options=pacsv.ReadOptions(column_names=column_names, block_size=1 << 24),
                    parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False,
                                                      ignore_empty_lines=True),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=wanted, column_types=types, decimal_point=decimal,
                        strings_can_be_null=True),
                )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise _locate_mpt_problem(path, data_offset, first_data_line, column_names, wanted,
                                      decimal, absolute_time, str(exc)) from None

        columns = {n: table.column(n).to_numpy() for n in wanted if n != "time/s" or not absolute_time}
        timestamp = None
        if absolute_time:
            timestamp, elapsed = _absolute_time(table.column("time/s"), text_export,
                                                meta.get("acquisition_start"), file, first_data_line)
            columns["time/s"] = elapsed
            meta["time_origin"] = "acquisition_start" if meta.get("acquisition_start") else "first row"
        result, mapping_meta = _canonical(columns, file, timestamp=timestamp)
        meta.update(mapping_meta)
        meta["source_columns"] = names
        return ReadResult(table=result, reader_name=self.name, reader_version=self.version,
                          metadata=meta)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name} ({seen[name]})")
        else:
            seen[name] = 1
            out.append(name)
    return out


def _absolute_time(column: pa.ChunkedArray, time_format: str, start_iso: str | None,
                   file: str, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd  # only for this rare export variant

    text = pd.Series(column.to_pandas(), dtype="string").str.strip().str.replace(",", ".", regex=False)
    day_first = "ddmm" in time_format.lower()
    try:
        stamps = pd.to_datetime(text, dayfirst=day_first, format="mixed")
    except (ValueError, TypeError) as exc:
        raise ReaderError(f"cannot read the absolute time stamps: {exc}", file=file,
                          line=first_line, column="time/s") from None
    values = stamps.to_numpy(dtype="datetime64[us]")
    origin = np.datetime64(start_iso, "us") if start_iso else values[0]
    elapsed = (values - origin).astype("timedelta64[us]").astype(np.float64) / 1e6
    return values, elapsed


def _locate_mpt_problem(path: pathlib.Path, data_offset: int, first_line: int,
                        column_names: list[str], wanted: list[str], decimal: str,
                        absolute_time: bool, arrow_message: str) -> ReaderError:
    """Find the line and column pyarrow refused (slow path, only on error)."""
    file = path.name
    index = {name: i for i, name in enumerate(column_names)}
    checks = [(name, index[name]) for name in wanted if not (absolute_time and name == "time/s")]
    nulls = {b"", b"nan", b"NaN", b"-nan", b"-NaN", b"NA", b"N/A", b"NULL", b"null", b"#N/A"}
    with open(path, "rb") as handle:
        handle.seek(data_offset)
        for line_no, raw in enumerate(handle, start=first_line):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            fields = line.split(b"\t")
            if len(fields) != len(column_names):
                expected = len(column_names) - (1 if column_names[-1] == "__trailing_tab__" else 0)
                return ReaderError(f"expected {expected} tab-separated values, found {len(fields)}",
                                   file=file, line=line_no)
            for name, i in checks:
                value = fields[i].strip()
                if value in nulls:
                    continue
                wrong_separator = b"." if decimal == "," else b","
                if not _NUMBER.fullmatch(value) or wrong_separator in value:
                    shown = value.decode("latin-1")
                    return ReaderError(f"not a number: {shown!r}", file=file, line=line_no, column=name)
    return ReaderError(f"cannot parse the data rows: {arrow_message}", file=file)


MPT_READER = _MptReader()


# --- .mpr --------------------------------------------------------------------------------------

# Column ID -> (name, numpy dtype). IDs marked "seen" were checked value by value against the
# .mpt exports of the sample files; the others come from public descriptions of the format.
# In files from EC-Lab >= 11.5 some IDs are written with 256 added (467 = 211, 468 = 212,
# 471 = 215); only those seen in files are listed.
_MPR_COLUMNS: dict[int, tuple[str, str]] = {
    4: ("time/s", "<f8"),                   # seen
    5: ("control/V/mA", "<f4"),             # seen
    6: ("Ewe/V", "<f4"),                    # seen
    7: ("dq/mA.h", "<f8"),                  # seen
    8: ("I/mA", "<f4"),
    9: ("Ece/V", "<f4"),                    # seen
    11: ("<I>/mA", "<f8"),
    13: ("(Q-Qo)/mA.h", "<f8"),             # seen
    16: ("Analog IN 1/V", "<f4"),
    17: ("Analog IN 2/V", "<f4"),
    19: ("control/V", "<f4"),
    20: ("control/mA", "<f4"),
    23: ("dQ/mA.h", "<f8"),
    24: ("cycle number", "<f8"),            # seen
    32: ("freq/Hz", "<f4"),                 # seen
    33: ("|Ewe|/V", "<f4"),                 # seen
    34: ("|I|/A", "<f4"),                   # seen
    35: ("Phase(Z)/deg", "<f4"),            # seen
    36: ("|Z|/Ohm", "<f4"),                 # seen
    37: ("Re(Z)/Ohm", "<f4"),               # seen
    38: ("-Im(Z)/Ohm", "<f4"),              # seen
    39: ("I Range", "<u2"),                 # seen
    70: ("P/W", "<f4"),
    76: ("<I>/mA", "<f4"),                  # seen
    77: ("<Ewe>/V", "<f4"),                 # seen
    96: ("|Ece|/V", "<f4"),                 # seen
    98: ("Phase(Zce)/deg", "<f4"),          # seen
    99: ("|Zce|/Ohm", "<f4"),               # seen
    100: ("Re(Zce)/Ohm", "<f4"),            # seen
    101: ("-Im(Zce)/Ohm", "<f4"),           # seen
    123: ("Energy charge/W.h", "<f8"),      # seen
    124: ("Energy discharge/W.h", "<f8"),   # seen
    125: ("Capacitance charge/µF", "<f8"),
    126: ("Capacitance discharge/µF", "<f8"),
    131: ("Ns", "<u2"),                     # seen
    169: ("Cs/µF", "<f4"),                  # seen
    172: ("Cp/µF", "<f4"),                  # seen
    182: ("step time/s", "<f8"),
    211: ("Q charge/discharge/mA.h", "<f8"),
    212: ("half cycle", "<u4"),
    215: ("<Ece>/V", "<f4"),
    430: ("Phase(Zwe-ce)/deg", "<f4"),      # seen
    431: ("|Zwe-ce|/Ohm", "<f4"),           # seen
    432: ("Re(Zwe-ce)/Ohm", "<f4"),         # seen
    433: ("-Im(Zwe-ce)/Ohm", "<f4"),        # seen
    467: ("Q charge/discharge/mA.h", "<f8"),  # seen
    468: ("half cycle", "<u4"),             # seen
    471: ("<Ece>/V", "<f4"),                # seen
}
# Flag IDs share one byte per row (stored where the first flag ID is listed): ID -> (name, mask).
_MPR_FLAGS: dict[int, tuple[str, int]] = {
    1: ("mode", 0x03),
    2: ("ox/red", 0x04),
    3: ("error", 0x08),
    21: ("control changes", 0x10),
    31: ("Ns changes", 0x20),
    65: ("counter inc.", 0x80),
}
_MODULE_MAGIC = b"MODULE"
_OLD_DATA_OFFSET = 0x195      # old module header: 4 B points, 1 B column count, 200 x 2 B IDs
_NEW_DATA_OFFSET = 0x3EF      # new (EC-Lab >= 11.5) header: 4 B points, 2 B count, 500 x 2 B IDs, 1 B


class _Module:
    __slots__ = ("short_name", "long_name", "version", "date", "offset", "body", "new_header")

    def __init__(self, short_name, long_name, version, date, offset, body, new_header):
        self.short_name, self.long_name, self.version = short_name, long_name, version
        self.date, self.offset, self.body, self.new_header = date, offset, body, new_header


def _mpr_modules(data: bytes, file: str) -> list[_Module]:
    pos = 0x34
    if data[pos:pos + 6] != _MODULE_MAGIC:
        pos = data.find(_MODULE_MAGIC, len(MPR_MAGIC), 4096)
        if pos < 0:
            raise ReaderError("no module found after the BioLogic signature: not an .mpr file or a "
                              "damaged one", file=file)
    modules = []
    while pos < len(data):
        if data[pos:pos + 6] != _MODULE_MAGIC:
            if not data[pos:].strip(b"\x00"):
                break  # zero padding at the end
            raise ReaderError(f"damaged file: expected a module header at byte {pos}, found "
                              f"{data[pos:pos + 6]!r}", file=file)
        head = pos + 6
        if len(data) < head + 39:
            raise ReaderError(f"truncated file: the module header at byte {pos} is cut short", file=file)
        short_name = data[head:head + 10].decode("latin-1").strip(" \x00")
        long_name = data[head + 10:head + 35].decode("latin-1").strip(" \x00")
        new_header = data[head + 35:head + 39] == b"\xff\xff\xff\xff"
        size = 24 if new_header else 16
        if len(data) < head + 35 + size:
            raise ReaderError(f"truncated file: the header of module {short_name!r} at byte {pos} is "
                              f"cut short", file=file)
        if new_header:
            length, _unknown, version = struct.unpack_from("<III", data, head + 39)
            date = data[head + 51:head + 59]
        else:
            length, version = struct.unpack_from("<II", data, head + 35)
            date = data[head + 43:head + 51]
        start = head + 35 + size
        if start + length > len(data):
            raise ReaderError(
                f"truncated file: module {short_name!r} at byte {pos} declares {length} bytes but only "
                f"{len(data) - start} remain", file=file)
        modules.append(_Module(short_name, long_name, version, date.decode("latin-1", "replace"),
                               pos, data[start:start + length], new_header))
        pos = start + length
    return modules


def _mpr_data(module: _Module, file: str) -> dict[str, np.ndarray]:
    body = module.body
    if module.new_header:
        if len(body) < 6:
            raise ReaderError("truncated data module", file=file)
        n_points, n_columns = struct.unpack_from("<IH", body, 0)
        ids_at, data_at, max_columns = 6, _NEW_DATA_OFFSET, 500
    else:
        if len(body) < 5:
            raise ReaderError("truncated data module", file=file)
        n_points, n_columns = struct.unpack_from("<IB", body, 0)
        ids_at, max_columns = 5, 200
        data_at = _OLD_DATA_OFFSET + (1 if module.version >= 3 else 0)
    if n_columns == 0 or n_columns > max_columns:
        raise ReaderError(f"data module lists {n_columns} columns; not a readable data module",
                          file=file)
    if len(body) < ids_at + 2 * n_columns:
        raise ReaderError("truncated data module: the column list is cut short", file=file)
    ids = struct.unpack_from(f"<{n_columns}H", body, ids_at)

    fields: list[tuple[str, str]] = []
    flag_ids: list[int] = []
    names_seen: set[str] = set()
    previous = "(start)"
    for position, col_id in enumerate(ids, start=1):
        if col_id in _MPR_FLAGS:
            if not flag_ids:
                fields.append(("flags", "u1"))
            flag_ids.append(col_id)
            previous = _MPR_FLAGS[col_id][0]
            continue
        if col_id not in _MPR_COLUMNS:
            raise ReaderError(
                f"unknown column ID {col_id} (column {position} of {n_columns}, after {previous!r}): "
                f"this reader does not know its name or size; export the file as .mpt from EC-Lab "
                f"or add the ID to the reader", file=file, column=f"ID {col_id}")
        name, dtype = _MPR_COLUMNS[col_id]
        field = name
        k = 2
        while field in names_seen:
            field = f"{name} ({k})"
            k += 1
        names_seen.add(field)
        fields.append((field, dtype))
        previous = name
    row = np.dtype(fields)
    needed = data_at + n_points * row.itemsize
    if len(body) < needed:
        raise ReaderError(
            f"truncated data module: {n_points} points x {row.itemsize} bytes need {needed} bytes, the "
            f"module holds {len(body)}", file=file)
    if len(body) != needed:
        raise ReaderError(
            f"data module size mismatch: {n_points} points x {row.itemsize} bytes + {data_at} header "
            f"bytes = {needed}, but the module holds {len(body)} (an unknown column size?)", file=file)
    if n_points == 0:
        raise ReaderError("the data module holds no points", file=file)
    records = np.frombuffer(body, dtype=row, count=n_points, offset=data_at)
    columns: dict[str, np.ndarray] = {}
    for name in row.names:
        if name == "flags":
            flags = records["flags"]
            for col_id in flag_ids:
                flag_name, mask = _MPR_FLAGS[col_id]
                shift = (mask & -mask).bit_length() - 1
                columns[flag_name] = (flags & mask) >> shift
        else:
            columns[name] = records[name]
    return columns


def _pascal(body: bytes, offset: int) -> str | None:
    if offset >= len(body):
        return None
    length = body[offset]
    if offset + 1 + length > len(body):
        return None
    text = body[offset + 1:offset + 1 + length].decode("cp1252", "replace").replace("\r\n", "\n")
    return text.strip("\x00").strip() or None


def _mpr_settings(body: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if not body:
        return meta
    technique_id = body[0]
    meta["technique_id"] = technique_id
    meta.update(_technique_fields(_MPR_TECHNIQUE_IDS.get(technique_id), None))
    for key, offset in (("comments", 0x07), ("electrode_material", 0x11E), ("initial_state", 0x16F),
                        ("electrolyte", 0x1C0), ("reference_electrode", 0x215)):
        value = _pascal(body, offset)
        if value:
            meta[key] = value
    if len(body) >= 0x10B:
        mass = struct.unpack_from("<f", body, 0x107)[0]
        if math.isfinite(mass) and mass > 0:
            meta["active_mass_mg"] = _round_f32(mass)
    return meta


def _mpr_log(body: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if len(body) >= 593:
        days = struct.unpack_from("<d", body, 585)[0]
        if math.isfinite(days) and 10000 < days < 100000:  # 1927 .. 2173
            # An OLE automation date; EC-Lab shows it to the millisecond.
            when = _dt.datetime(1899, 12, 30) + _dt.timedelta(milliseconds=round(days * 86_400_000))
            meta["acquisition_start"] = when.isoformat()
    saved = _pascal(body, 593)
    if saved:
        meta["saved_file"] = saved
    version = _pascal(body, 951)
    if version and re.fullmatch(r"\d+(\.\d+)*", version):
        meta["software_version"] = version
    serial = _pascal(body, 975)
    if serial and serial.isalnum():
        meta["device_serial"] = serial
    return meta


def _mpr_loops(body: bytes) -> list[int] | None:
    if len(body) < 4:
        return None
    count = struct.unpack_from("<I", body, 0)[0]
    if len(body) < 4 + 4 * count:
        return None
    return list(struct.unpack_from(f"<{count}I", body, 4))


class _MprReader:
    """EC-Lab / BT-Lab binary file (.mpr)."""

    name = "biologic-mpr"
    version = "1.0"

    def sniff(self, head: bytes, filename: str) -> float:
        if head.startswith(MPR_MAGIC):
            return 1.0
        if len(head) < len(MPR_MAGIC) and head and MPR_MAGIC.startswith(head):
            return 0.5
        return 0.0

    def read(self, path: str | os.PathLike) -> ReadResult:
        path = pathlib.Path(path)
        file = path.name
        data = path.read_bytes()
        if not data:
            raise ReaderError("the file is empty", file=file)
        if not data.startswith(MPR_MAGIC):
            raise ReaderError("not a BioLogic .mpr file: it does not start with "
                              "'BIO-LOGIC MODULAR FILE'", file=file)
        modules = _mpr_modules(data, file)
        by_name = {}
        for module in modules:
            by_name.setdefault(module.short_name, module)
        data_module = by_name.get("VMP data")
        if data_module is None:
            raise ReaderError("no 'VMP data' module: the file holds no data points", file=file)
        columns = _mpr_data(data_module, file)

        meta: dict[str, Any] = {"modules": [m.short_name for m in modules],
                                "data_module_version": data_module.version}
        if "VMP Set" in by_name:
            meta.update(_mpr_settings(by_name["VMP Set"].body))
        if "VMP LOG" in by_name:
            log = _mpr_log(by_name["VMP LOG"].body)
            saved = log.get("saved_file", "")
            if "technique" not in meta and saved:
                match = re.search(r"_\d+_([A-Za-z][A-Za-z0-9]*)_C\d+\.mpr$", saved)
                if match:
                    meta.update(_technique_fields(match.group(1).upper(), None))
            meta.update(log)
        if "VMP loop" in by_name:
            loops = _mpr_loops(by_name["VMP loop"].body)
            if loops is not None:
                meta["loop_start_points"] = loops
        table, mapping_meta = _canonical(columns, file)
        meta.update(mapping_meta)
        meta["source_columns"] = list(columns)
        return ReadResult(table=table, reader_name=self.name, reader_version=self.version,
                          metadata=meta)


MPR_READER = _MprReader()

READERS = [MPR_READER, MPT_READER]
