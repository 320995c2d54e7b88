"""The EC-Lab / BT-Lab text export (.mpt); the mapping is described in the package."""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import ReaderError, ReadResult
from ..mapped_csv import text_up_to, unfinished_last_line
from . import MPT_MAGICS, _MASS_TO_MG, _USED_COLUMNS, _canonical, _number, _technique_fields

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

        unfinished = unfinished_last_line(path, "\t", encoding="latin-1")
        if unfinished and unfinished["start"] > data_offset:
            meta["dropped_last_row"] = {k: unfinished[k] for k in ("line", "text", "message")}
        else:
            unfinished = None
        try:
            with text_up_to(path, unfinished["start"] if unfinished else None, data_offset) as source:
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


