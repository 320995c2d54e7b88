"""Arbin: the .res results database, the Excel export and the CSV exports.

* ``.res`` is a JET4 (MS-Access) database. It is read with ``access_parser`` (pure Python,
  Apache-2.0; mdbtools, which is GPL, is not used). ``Channel_Normal_Table`` rows are stored out
  of order, so rows are sorted by (Test_ID, Data_Point). ``DateTime`` is an OLE Automation date
  (days since 1899-12-30, local wall-clock time of the cycler PC).
* ``.xlsx`` (MITS / Data Watcher export): a ``Global_Info`` sheet plus ``Channel_<n>_<k>``
  sheets (a long test is split over several, concatenated in ``k`` order); read with openpyxl
  in read-only mode.
* CSV: the MITS Pro export (UTF-8 BOM, ``Test Time (s)``, ``Current (A)``, a tab before each
  ``Date Time``), the older ``Test_Time(s)`` names, and beep's underscore names (``Test_Time``,
  ``Current``; ``DateTime`` in epoch seconds).

Units: s, A -> mA, V, Ah -> mAh, Wh -> mWh. Arbin's current is already signed positive for
charge (checked on the shared .res: Charge_Capacity grows and the voltage rises while Current > 0).
Capacity and energy counters are cumulative within a cycle (reset when Cycle_Index changes).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import html
import pathlib
import re
import struct
import zlib
from typing import Any

import numpy as np
import pyarrow as pa

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
    parse_timestamps,
    read_delimited,
    read_header_row,
    scaled,
    split_fields,
)

OLE_EPOCH = dt.datetime(1899, 12, 30)
_UNIX_MINUS_OLE_DAYS = 25569.0  # 1970-01-01 - 1899-12-30

# normalised column name (see normalise_name) -> (canonical column, scale to canonical unit)
COLUMN_NAMES: dict[str, tuple[str, float]] = {
    "testtimes": ("test_time_s", 1.0), "testtime": ("test_time_s", 1.0),
    "currenta": ("current_ma", 1000.0), "current": ("current_ma", 1000.0),
    "currentma": ("current_ma", 1.0),
    "voltagev": ("voltage_v", 1.0), "voltage": ("voltage_v", 1.0),
    "stepindex": ("step_index", 1.0),
    "cycleindex": ("cycle_index", 1.0),
    "chargecapacityah": ("charge_capacity_mah", 1000.0), "chargecapacity": ("charge_capacity_mah", 1000.0),
    "dischargecapacityah": ("discharge_capacity_mah", 1000.0),
    "dischargecapacity": ("discharge_capacity_mah", 1000.0),
    "chargeenergywh": ("charge_energy_mwh", 1000.0), "chargeenergy": ("charge_energy_mwh", 1000.0),
    "dischargeenergywh": ("discharge_energy_mwh", 1000.0),
    "dischargeenergy": ("discharge_energy_mwh", 1000.0),
    "auxtemperature1c": ("temperature_c", 1.0), "auxtemperature1": ("temperature_c", 1.0),
    "temperaturec": ("temperature_c", 1.0), "temperature": ("temperature_c", 1.0),
    "temperaturec1": ("temperature_c", 1.0),
    "datetime": ("timestamp", 1.0),
}
_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                 "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%d.%m.%Y %H:%M:%S")


def resolve_columns(names: list[str]) -> dict[str, tuple[str, float]]:
    """canonical column -> (source column, scale), first match wins."""
    found: dict[str, tuple[str, float]] = {}
    for name in names:
        hit = COLUMN_NAMES.get(normalise_name(name))
        if hit and hit[0] not in found:
            found[hit[0]] = (name, hit[1])
    return found


def _is_arbin_header(names: list[str]) -> bool:
    keys = {normalise_name(n) for n in names}
    return (bool(keys & {"testtimes", "testtime"}) and bool(keys & {"currenta", "current"})
            and bool(keys & {"voltagev", "voltage"})
            and bool(keys & {"datapoint", "stepindex", "cycleindex"}))


def ole_days_to_timestamps(days: np.ndarray) -> pa.Array:
    """OLE Automation dates (days since 1899-12-30) to timestamp[us]."""
    days = np.asarray(days, dtype=np.float64)
    mask = ~np.isfinite(days)
    micros = np.round((np.where(mask, _UNIX_MINUS_OLE_DAYS, days) - _UNIX_MINUS_OLE_DAYS) * 86400e6)
    return pa.array(micros.astype(np.int64), type=pa.int64(), mask=mask).cast(pa.timestamp("us"))


def _columns_from_resolved(values: dict[str, Any], resolved: dict[str, tuple[str, float]], *,
                           label: str, first_line: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    out: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for canonical, (source, scale) in resolved.items():
        column = values[source]
        if canonical == "timestamp":
            stamps = _timestamps(column)
            if stamps is None:
                meta["timestamp_unparsed"] = f"{source!r}: no known date format"
            else:
                out[canonical], zone = stamps
                meta["timestamp_timezone"] = zone
        elif canonical in ("step_index", "cycle_index"):
            out[canonical] = integer_column(column, file=label, column=source, first_line=first_line)
        else:
            out[canonical] = scaled(column, scale)
    return out, meta


def _timestamps(column: pa.Array) -> tuple[pa.Array, str] | None:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us")), "local (cycler PC)"
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        seconds = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        finite = seconds[np.isfinite(seconds)]
        if len(finite) and np.nanmedian(finite) > 1e8:  # beep: epoch seconds
            mask = ~np.isfinite(seconds)
            micros = np.round(np.where(mask, 0, seconds) * 1e6).astype(np.int64)
            return pa.array(micros, mask=mask).cast(pa.timestamp("us")), "UTC"
        if len(finite) and 20000 < np.nanmedian(finite) < 80000:  # OLE days
            return ole_days_to_timestamps(seconds), "local (cycler PC)"
        return None
    stamps = parse_timestamps(column, _DATE_FORMATS)
    return (stamps, "local (cycler PC)") if stamps is not None else None


# --------------------------------------------------------------------------- .res

class ArbinResReader:
    name = "arbin-res"
    version = "1.0"
    extensions = (".res",)

    def sniff(self, head: bytes, filename: str) -> float:
        if head[4:19] != b"Standard Jet DB":
            return 0.0
        # the catalogue page usually falls in the first 64 KiB; table names are UTF-16
        if "Channel_Normal_Table".encode("utf-16-le") in head:
            return 0.95
        # an Access database, very likely Arbin's, but the catalogue was not in the head
        return 0.65 if filename.lower().endswith(".res") else 0.55

    def read(self, path) -> ReadResult:
        from access_parser import AccessParser  # Apache-2.0, pure Python

        path = pathlib.Path(path)
        label = file_label(path)
        try:
            db = AccessParser(str(path))
        except Exception as exc:  # the parser raises assorted construct/struct errors
            raise ReaderError(f"not a readable Access (JET) database: {exc}", file=label) from None
        if "Channel_Normal_Table" not in db.catalog:
            raise ReaderError("no Channel_Normal_Table: not an Arbin .res results file", file=label)
        try:
            rows = db.parse_table("Channel_Normal_Table")
        except Exception as exc:
            raise ReaderError(f"cannot read Channel_Normal_Table: {exc}", file=label) from None
        needed = ("Data_Point", "Test_Time", "Current", "Voltage")
        for name in needed:
            if name not in rows:
                raise ReaderError(f"Channel_Normal_Table has no {name} column", file=label, column=name)
        n = len(rows["Data_Point"])
        if n == 0:
            raise ReaderError("Channel_Normal_Table has no rows", file=label)

        def col(name: str) -> np.ndarray:
            values = rows.get(name)
            if values is None or len(values) != n:
                return None
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        test_id = col("Test_ID")
        data_point = col("Data_Point")
        order = np.lexsort((data_point, test_id if test_id is not None else np.zeros(n)))
        stored_sorted = bool(np.all(order == np.arange(n)))
        out: dict[str, Any] = {
            "test_time_s": col("Test_Time")[order],
            "current_ma": col("Current")[order] * 1000.0,
            "voltage_v": col("Voltage")[order],
        }
        for source, canonical, scale in (("Charge_Capacity", "charge_capacity_mah", 1000.0),
                                         ("Discharge_Capacity", "discharge_capacity_mah", 1000.0),
                                         ("Charge_Energy", "charge_energy_mwh", 1000.0),
                                         ("Discharge_Energy", "discharge_energy_mwh", 1000.0)):
            values = col(source)
            if values is not None:
                out[canonical] = values[order] * scale
        for source, canonical in (("Step_Index", "step_index"), ("Cycle_Index", "cycle_index")):
            values = col(source)
            if values is not None:
                out[canonical] = integer_column(pa.array(values[order]), file=label, column=source)
        days = col("DateTime")
        if days is not None:
            out["timestamp"] = ole_days_to_timestamps(days[order])

        metadata: dict[str, Any] = {"rows_stored_in_data_point_order": stored_sorted,
                                    "timestamp_timezone": "local (cycler PC)",
                                    "capacity_counters_reset": "each cycle"}
        metadata.update(self._global_info(db))
        if test_id is not None and len(np.unique(test_id)) > 1:
            metadata["test_ids"] = sorted(int(t) for t in np.unique(test_id[np.isfinite(test_id)]))
        if "Auxiliary_Table" in db.catalog:
            try:
                aux_rows = len(next(iter(db.parse_table("Auxiliary_Table").values()), []))
            except Exception:
                aux_rows = None
            if aux_rows:
                metadata["auxiliary_rows_not_read"] = aux_rows
        check_time_order(out["test_time_s"], file=label)
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)

    @staticmethod
    def _global_info(db) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        try:
            table = db.parse_table("Global_Table")
        except Exception:
            return meta
        for source, key in (("Test_Name", "test_name"), ("Creator", "creator"),
                            ("Comments", "comments"), ("Schedule_File_Name", "schedule_file"),
                            ("Channel_Index", "channel"), ("Item_ID", "item_id")):
            values = table.get(source) or []
            if values and values[0] not in (None, ""):
                meta[key] = values[0]
        start = (table.get("Start_DateTime") or [None])[0]
        if isinstance(start, (int, float)):
            meta["start_datetime"] = (OLE_EPOCH + dt.timedelta(days=float(start))).isoformat()
        try:
            version = db.parse_table("Version_Table").get("Version_Schema_Field") or []
            if version:
                meta["res_schema"] = version[0]
        except Exception:
            pass
        return meta


# --------------------------------------------------------------------------- .xlsx

def zip_members_from_head(head: bytes, wanted: tuple[str, ...], limit: int = 1 << 20) -> dict[str, bytes]:
    """Inflate the named members of a ZIP from its first bytes only (local file headers).

    Enough for sniffing an .xlsx: ``xl/workbook.xml`` (the sheet names) sits near the start.
    """
    found: dict[str, bytes] = {}
    offset = 0
    while offset + 30 <= len(head) and head[offset:offset + 4] == b"PK\x03\x04":
        (_sig, _ver, flags, method, _t, _d, _crc, csize, _usize, name_len,
         extra_len) = struct.unpack_from("<IHHHHHIIIHH", head, offset)
        name = head[offset + 30:offset + 30 + name_len].decode("utf-8", "replace")
        start = offset + 30 + name_len + extra_len
        data = head[start:]
        consumed = csize
        if method == 8:
            inflater = zlib.decompressobj(-15)
            try:
                content = inflater.decompress(data, limit)
            except zlib.error:
                break
            if inflater.eof:
                consumed = len(data) - len(inflater.unused_data)
            if name in wanted:
                found[name] = content
        elif method == 0 and name in wanted:
            found[name] = data[:csize]
        if flags & 0x08:  # sizes follow in a data descriptor
            if method != 8 or not inflater.eof:
                break
            descriptor = head[start + consumed:start + consumed + 16]
            consumed += 16 if descriptor[:4] == b"PK\x07\x08" else 12
        elif consumed != csize:
            break
        offset = start + consumed
    return found


def xlsx_sheet_names(head: bytes) -> list[str] | None:
    members = zip_members_from_head(head, ("xl/workbook.xml",))
    xml = members.get("xl/workbook.xml")
    if xml is None:
        return None
    names = re.findall(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"', xml)
    return [html.unescape(name.decode("utf-8", "replace")) for name in names]


_CHANNEL_SHEET = re.compile(r"^Channel[_ -]?\d+([_-]\d+)?$", re.IGNORECASE)


class ArbinXlsxReader:
    name = "arbin-xlsx"
    version = "1.0"
    extensions = (".xlsx",)

    def sniff(self, head: bytes, filename: str) -> float:
        if not head.startswith(b"PK\x03\x04"):
            return 0.0
        sheets = xlsx_sheet_names(head)
        if sheets is None:
            # workbook.xml beyond the head: only the name can say
            return 0.3 if filename.lower().endswith(".xlsx") and "channel" in filename.lower() else 0.0
        channel = [s for s in sheets if _CHANNEL_SHEET.match(s)]
        if not channel:
            return 0.0
        return 0.95 if "Global_Info" in sheets else 0.75

    def read(self, path) -> ReadResult:
        import openpyxl

        path = pathlib.Path(path)
        label = file_label(path)
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ReaderError(f"not a readable .xlsx workbook: {exc}", file=label) from None
        try:
            metadata = self._global_info(workbook)
            sheets = [s for s in workbook.sheetnames if _CHANNEL_SHEET.match(s)]
            if not sheets:
                raise ReaderError("no Channel_<n>_<k> data sheet: not an Arbin Excel export", file=label)
            sheets.sort(key=lambda s: [int(x) for x in re.findall(r"\d+", s)])
            columns: dict[str, list] = {}
            header: list[str] | None = None
            for sheet in sheets:
                rows = workbook[sheet].iter_rows(values_only=True)
                this_header = [str(c).strip() if c is not None else "" for c in next(rows, [])]
                if header is None:
                    header = this_header
                    columns = {name: [] for name in header if name}
                elif this_header != header:
                    raise ReaderError(f"sheet {sheet} has different columns from {sheets[0]}", file=label)
                index = [(i, name) for i, name in enumerate(header) if name]
                for row in rows:
                    if row is None or all(v is None for v in row):
                        continue
                    for i, name in index:
                        columns[name].append(row[i] if i < len(row) else None)
        finally:
            workbook.close()
        metadata["sheets"] = sheets
        resolved = resolve_columns(list(columns))
        for required, words in (("test_time_s", "Test_Time(s)"), ("current_ma", "Current(A)"),
                                ("voltage_v", "Voltage(V)")):
            if required not in resolved:
                raise ReaderError(f"no {words} column in sheet {sheets[0]}", file=label, column=words)
        values: dict[str, pa.Array] = {}
        for canonical, (source, _scale) in resolved.items():
            raw = columns[source]
            if canonical == "timestamp":
                values[source] = _xlsx_dates(raw)
            else:
                try:
                    values[source] = pa.array([None if v in (None, "") else float(v) for v in raw],
                                              type=pa.float64())
                except (TypeError, ValueError):
                    bad = next(i for i, v in enumerate(raw)
                               if v not in (None, "") and not _is_number(v))
                    raise ReaderError(f"not a number: {raw[bad]!r} (sheet row {bad + 2})",
                                      file=label, column=source) from None
        out, meta = _columns_from_resolved(values, resolved, label=label, first_line=2)
        metadata.update(meta)
        metadata["capacity_counters_reset"] = "each cycle"
        check_time_order(out["test_time_s"], file=label, first_line=2)
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)

    @staticmethod
    def _global_info(workbook) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if "Global_Info" not in workbook.sheetnames:
            return meta
        rows = [list(r) for r in workbook["Global_Info"].iter_rows(values_only=True)]
        for i, row in enumerate(rows):
            if row and row[0] == "Channel" and i + 1 < len(rows):
                for key, value in zip(row, rows[i + 1]):
                    if key and value not in (None, ""):
                        meta[str(key).strip().lower().replace(" ", "_")] = (
                            value.isoformat() if isinstance(value, dt.datetime) else value)
                break
        if len(rows) > 1 and len(rows[1]) > 3 and isinstance(rows[1][3], str):
            meta["test_name"] = rows[1][3]
        return meta


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _xlsx_dates(raw: list) -> pa.Array:
    if all(v is None or isinstance(v, dt.datetime) for v in raw):
        return pa.array(raw, type=pa.timestamp("us"))
    if all(v is None or isinstance(v, (int, float)) for v in raw):
        return pa.array(raw, type=pa.float64())
    return pa.array([None if v is None else str(v) for v in raw], type=pa.string())


# --------------------------------------------------------------------------- CSV

_ARBIN_REQUIRED = (("test_time_s", "test time", "Test_Time(s)"), ("current_ma", "current", "Current(A)"),
                   ("voltage_v", "voltage", "Voltage(V)"))


def missing_columns(names: list[str]) -> str | None:
    """For an Arbin header (it has Data_Point, Step_Index or Cycle_Index) that lacks a
    required column: which, in Arbin's words. None for any other header."""
    keys = {normalise_name(n) for n in names}
    if "datapoint" not in keys and not {"stepindex", "cycleindex"} <= keys:
        return None
    resolved = resolve_columns(names)
    missing = [(quantity, words) for canonical, quantity, words in _ARBIN_REQUIRED if canonical not in resolved]
    if not missing:
        return None
    return (f"no {' and no '.join(q for q, _w in missing)} column: an Arbin CSV export needs "
            f"{', '.join(w for _q, w in missing)}")


class ArbinCsvReader:
    name = "arbin-csv"
    version = "1.0"
    extensions = (".csv",)
    missing_columns = staticmethod(missing_columns)

    def sniff(self, head: bytes, filename: str) -> float:
        if not head or looks_binary(head):
            return 0.0
        lines = decode_head(head).splitlines()
        if not lines:
            return 0.0
        delimiter = guess_delimiter(lines[0])
        names = [n.strip() for n in split_fields(lines[0], delimiter)]
        if not _is_arbin_header(names):
            return 0.0
        score = 0.9
        if head.startswith(b"\xef\xbb\xbf") or any(n.startswith("Aux_") for n in names):
            score = 0.92
        return score

    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        label, lines, delimiter, names = read_header_row(path)
        resolved = resolve_columns(names)
        for required, words in (("test_time_s", "Test Time (s)"), ("current_ma", "Current (A)"),
                                ("voltage_v", "Voltage (V)")):
            if required not in resolved:
                raise ReaderError(f"no {words} column", file=label, line=1, column=words)
        wanted = {source: (pa.string() if canonical == "timestamp" else pa.float64())
                  for canonical, (source, _s) in resolved.items()}
        decimal = guess_decimal(lines[1:50], delimiter)  # ';' and decimal commas: a German export
        raw, info = read_delimited(path, columns=wanted, header_line=0, delimiter=delimiter, decimal=decimal)
        if "timestamp" in resolved:
            # beep's DateTime is epoch seconds; MITS Pro's is text with a leading tab
            source = resolved["timestamp"][0]
            text = raw[source]
            numeric = _numeric_or_none(text)
            if numeric is not None:
                raw[source] = numeric
        out, meta = _columns_from_resolved(raw, resolved, label=label, first_line=2)
        metadata = {"columns": {c: s for c, (s, _f) in resolved.items()}, **info, **meta,
                    "capacity_counters_reset": "each cycle", "delimiter": delimiter, "decimal_separator": decimal}
        check_time_order(out["test_time_s"], file=label, first_line=2)
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)


def _numeric_or_none(text: pa.Array) -> pa.Array | None:
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(text)
    try:
        return pc.cast(pc.if_else(pc.equal(trimmed, ""), None, trimmed), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


# --------------------------------------------------------------------------- companion files

_METADATA_SUFFIX = "_metadata.csv"
_METADATA_KEYS = ("test_id", "schedule_file_name", "first_start_datetime")
_EPOCH_FIELDS = ("first_start_datetime", "last_resume_datetime", "last_end_datetime")


@dataclasses.dataclass
class CompanionFile:
    """A file that describes another one: which file (its name without the extension) and
    what it says."""

    describes: str
    metadata: dict[str, Any]
    reader_name: str
    reader_version: str


class ArbinMetadataCsvReader:
    """The ``<test>_Metadata.csv`` an Arbin export (and beep) writes beside ``<test>.csv``:
    one row of the test's settings (test and channel ids, schedule, start and end times in
    Unix seconds). It holds no data points; its settings belong to the data file's dataset."""

    name = "arbin-metadata-csv"
    version = "1.0"

    def sniff(self, head: bytes, filename: str) -> float:
        if looks_binary(head):
            return 0.0
        first = decode_head(head).split("\n", 1)[0].lower()
        names = [n.strip() for n in first.split(",")]
        if not all(key in names for key in _METADATA_KEYS):
            return 0.0
        return 0.99 if filename.lower().endswith(_METADATA_SUFFIX) else 0.8

    def describes(self, filename: str) -> str:
        """The name (without extension) of the data file this companion describes."""
        base = pathlib.PurePath(filename).name
        cut = base.lower().rfind(_METADATA_SUFFIX)
        return base[:cut] if cut > 0 else pathlib.PurePath(base).stem

    def read(self, path) -> CompanionFile:
        import csv

        path = pathlib.Path(path)
        label = file_label(path)
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(text.splitlines()))
        if len(rows) < 2:
            raise ReaderError("an Arbin metadata file with a header but no row of settings",
                              file=label)
        names, values = rows[0], rows[1]
        metadata: dict[str, Any] = {}
        for name, value in zip(names, values):
            name = name.strip()
            if not name:
                continue  # the pandas index column
            value = value.strip()
            try:
                number = float(value)
                value = int(number) if number.is_integer() and "." not in value else number
            except ValueError:
                pass
            if name in _EPOCH_FIELDS and isinstance(value, (int, float)) and value > 0:
                value = dt.datetime.fromtimestamp(float(value), dt.timezone.utc).replace(
                    tzinfo=None).isoformat()
            metadata[name] = value
        return CompanionFile(self.describes(path.name), metadata, self.name, self.version)


READERS = [ArbinResReader(), ArbinXlsxReader(), ArbinCsvReader()]
COMPANION_READERS = [ArbinMetadataCsvReader()]
