"""Any other delimited text file, read through a column mapping saved per cycler.

This module also holds the small delimited-text engine (pyarrow.csv underneath) that the
vendor text readers (Arbin CSV, Maccor text, Battery Data Format) share, and the time-order
check every reader's result must pass.

Mapping schema (a JSON-able dict, stored per cycler)::

    {
        # one entry per canonical column; test_time_s, current_ma and voltage_v are required
        "test_time_s": {"column": "Time(h)", "scale": 3600},
        "current_ma":  {"column": "I/A", "scale": 1000},
        "voltage_v":   {"column": "U/V"},                        # scale defaults to 1
        "cycle_index": {"column": "Cycle"},                      # index columns take no scale
        "timestamp":   {"column": "Date", "format": "%d.%m.%Y %H:%M:%S"},  # strptime format,
                                                                 # optional (ISO 8601 if absent)
        # options, all optional:
        "delimiter": ";",              # one character; default ","
        "decimal_separator": ",",      # "." (default) or ","; alias: "decimal"
        "invert_current_sign": True,   # for cyclers that log discharge as positive
        "skip_rows": 3,                # lines before the column-name row; default 0
        "encoding": "cp1252",          # default "utf-8" (a UTF-8 BOM is always accepted)
    }

A time column may also be given as durations (``"format": "duration"``): ``[Nd ]HH:MM:SS[.fff]``.
Values are multiplied by ``scale`` to reach the canonical unit (named in the canonical column).
The mapped reader is never auto-detected (``sniff`` returns 0); the registry uses it only when
the cycler has a mapping. Thousands separators are not supported.
"""
from __future__ import annotations

import codecs
import csv
import pathlib
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    ReaderError,
    ReadResult,
    canonical_table,
)

INDEX_COLUMNS = ("step_index", "cycle_index")
MAPPING_OPTIONS = {"delimiter", "decimal_separator", "decimal", "invert_current_sign",
                   "skip_rows", "encoding"}

_FLOAT_RE = r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$"
# a number as pyarrow reads it with this decimal separator (inf and nan included)
_NUMBER_WITH = {point: (rf"^\s*([-+]?(\d+({p}\d*)?|{p}\d+)([eE][-+]?\d+)?|[-+]?(inf|infinity|nan))\s*$")
                for point, p in ((".", r"\."), (",", ","))}
_DURATION_RE = (r"^\s*(?:(?P<days>\d+)\s*d\s*)?(?P<hours>\d+):(?P<minutes>\d{1,2}):"
                r"(?P<seconds>\d{1,2}(?:[.,]\d*)?)\s*$")


# --------------------------------------------------------------------------- shared helpers

def file_label(path: str | pathlib.Path) -> str:
    """How errors name a file: its name (uploads live under storage paths nobody recognises)."""
    return pathlib.Path(path).name


def decode_head(head: bytes, encoding: str = "utf-8") -> str:
    """The head of a file as text: UTF-8 (BOM stripped) if it decodes, else cp1252/latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    for enc in (_python_encoding(encoding), "utf-8", "cp1252"):
        try:
            # incremental: a multi-byte character cut at the end of the head is not an error
            return codecs.getincrementaldecoder(enc)().decode(head, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
    return head.decode("latin-1")


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:4096]


def head_lines(head: bytes, max_lines: int = 50) -> list[str]:
    text = decode_head(head)
    return text.splitlines()[:max_lines]


def split_fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter))


def normalise_name(name: str) -> str:
    """Case and punctuation folded: 'Test Time (s)', 'Test_Time(s)' -> 'testtimes'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def read_header_row(path: pathlib.Path) -> tuple[str, list[str], str, list[str]]:
    """The file's label, its first lines, their delimiter and the column names of the first row.

    Raises ReaderError for an empty file."""
    label = file_label(path)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    lines = decode_head(head).splitlines()
    if not lines:
        raise ReaderError("the file is empty", file=label)
    delimiter = guess_delimiter(lines[0])
    return label, lines, delimiter, [n.strip() for n in split_fields(lines[0], delimiter)]


def guess_delimiter(line: str, candidates: str = ",;\t") -> str:
    counts = {d: line.count(d) for d in candidates}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def guess_decimal(sample_lines: list[str], delimiter: str) -> str:
    """',' if the numbers in these data lines use decimal commas, else '.'."""
    if delimiter == ",":
        return "."
    comma = dot = 0
    for line in sample_lines:
        for field in line.split(delimiter):
            field = field.strip()
            if re.fullmatch(r"[-+]?\d+,\d+([eE][-+]?\d+)?", field):
                comma += 1
            elif re.fullmatch(r"[-+]?\d*\.\d+([eE][-+]?\d+)?", field):
                dot += 1
    return "," if comma > dot else "."


def _read_text_lines(path: pathlib.Path, encoding: str, count: int) -> list[str]:
    with open(path, "rb") as fh:
        raw = fh.read(1 << 20)
    text = decode_head(raw, encoding)
    lines = text.splitlines()
    return lines[:count]


def _ends_with_line_end(path: pathlib.Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if not fh.tell():
            return False
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def _last_line(path: pathlib.Path, end: int | None = None) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell() if end is None else end
        fh.seek(max(0, size - 65536))
        tail = fh.read(size - fh.tell())
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else b""


def unfinished_last_line(path: str | pathlib.Path, delimiter: str, *,
                         encoding: str = "utf-8") -> dict[str, Any] | None:
    """The last line of a text file still being written when it was copied, if it is cut short.

    A last line without a line end is cut short when it has fewer fields than the line before
    it, or when its last field is shorter than that line's (a number cut in the middle): every
    cycler export writes a column's numbers at one width. A complete file whose last line
    merely lacks a line end reads whole. Returns None, or ``{"line": 1-based line number,
    "start": its byte offset, "text": what it holds, "message": what the lab reads}``."""
    path = pathlib.Path(path)
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail_start = fh.tell()
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return None
    cut = tail.rfind(b"\n")
    if cut < 0 or not tail[cut + 1:].strip():
        return None  # the header alone, or trailing blanks
    text_encoding = _python_encoding(encoding)
    last = tail[cut + 1:].decode(text_encoding, "replace")
    before = tail[tail.rfind(b"\n", 0, cut) + 1:cut].rstrip(b"\r").decode(text_encoding, "replace")
    fields, fields_before = last.split(delimiter), before.split(delimiter)
    if len(fields) >= len(fields_before) and len(fields[-1].strip()) >= len(fields_before[-1].strip()):
        return None
    start = tail_start + cut + 1
    line = _lines_before(path, start) + 1
    return {"line": line, "start": start, "text": last[:200],
            "message": f"line {line} was not read: the file ends inside it (the cycler was still "
                       "writing it); it is read when the grown file arrives"}


def _lines_before(path: pathlib.Path, offset: int) -> int:
    count = 0
    with open(path, "rb") as fh:
        while offset > 0:
            chunk = fh.read(min(offset, 1 << 22))
            if not chunk:
                break
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count


def text_up_to(path: str | pathlib.Path, end: int | None, start: int = 0):
    """The file's bytes from ``start`` to ``end`` as an Arrow stream, mapped rather than read."""
    mapped = pa.memory_map(str(path))
    stop = mapped.size() if end is None else end
    return pa.BufferReader(mapped.read_at(max(0, stop - start), start))


def read_delimited(path: str | pathlib.Path, *, columns: dict[str, pa.DataType],
                   header_line: int = 0, delimiter: str = ",", decimal: str = ".",
                   encoding: str = "utf-8") -> tuple[dict[str, pa.Array], dict[str, Any]]:
    """Read the named columns of a delimited text file with pyarrow.csv.

    ``header_line`` is the 0-based line holding the column names; data start on the next line.
    ``columns`` maps source column name (whitespace-stripped, as in the header) to the Arrow
    type wanted (``pa.float64()`` or ``pa.string()``). Missing columns, unparsable numbers and
    ragged rows raise ``ReaderError`` naming file, line and column. A single ragged *last* row
    (a file copied while the test was still writing it) is dropped and reported in the info.
    A last line cut short (``unfinished_last_line``) is not read either; ``info["dropped_last_row"]``
    says which line and why. Returns the columns (combined Arrow arrays) and an info dict.
    """
    path = pathlib.Path(path)
    label = file_label(path)
    unfinished = unfinished_last_line(path, delimiter, encoding=encoding)
    end = unfinished["start"] if unfinished else None
    lines = _read_text_lines(path, encoding, header_line + 3)
    if len(lines) <= header_line:
        raise ReaderError("no column-name row found", file=label, line=header_line + 1)
    names = [name.strip() for name in split_fields(lines[header_line], delimiter)]
    first_data = lines[header_line + 1] if len(lines) > header_line + 1 else None
    if first_data is not None:
        n_fields = len(split_fields(first_data, delimiter))
        # a trailing delimiter on the data rows only (or on the header only)
        while n_fields > len(names):
            names.append(f"_unnamed_{len(names)}")
        while n_fields < len(names) and names[-1] == "":
            names.pop()
    seen: dict[str, int] = {}
    unique_names = []
    for name in names:
        if name in seen:
            seen[name] += 1
            unique_names.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            unique_names.append(name)
    missing = [name for name in columns if name not in unique_names]
    if missing:
        raise ReaderError(
            f"column {missing[0]!r} not found; the file has: {', '.join(n for n in unique_names if n)}",
            file=label, line=header_line + 1, column=missing[0])

    invalid: list[Any] = []

    def on_invalid(row):
        invalid.append(row)
        return "skip"

    def _read(types: dict[str, pa.DataType], include: list[str], use_threads: bool = True):
        return pacsv.read_csv(
            text_up_to(path, end),
            read_options=pacsv.ReadOptions(skip_rows=header_line + 1, column_names=unique_names,
                                           encoding=_arrow_encoding(encoding),
                                           use_threads=use_threads),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=include,
                                                 decimal_point=decimal),
        )

    try:
        table = _read(dict(columns), list(columns))
    except pa.ArrowInvalid as exc:
        raise _conversion_error(exc, path, label, columns, unique_names, header_line, delimiter,
                                encoding, end, decimal) from None
    info: dict[str, Any] = {}
    if unfinished:
        info["dropped_last_row"] = {k: unfinished[k] for k in ("line", "text", "message")}
    if invalid:
        last = _last_line(path, end).decode(_python_encoding(encoding), "replace").strip()
        if len(invalid) == 1 and invalid[0].text.strip() == last:
            # a last row with fewer fields than the header, line end and all
            if end is not None:  # the line before the unfinished one
                line = _lines_before(path, end)
            else:
                line = _lines_before(path, path.stat().st_size) + (0 if _ends_with_line_end(path) else 1)
            info["dropped_last_row"] = {
                "line": line, "text": invalid[0].text[:200],
                "message": f"line {line} was not read: it has {invalid[0].actual_columns} of the "
                           f"{invalid[0].expected_columns} fields of the header (cut short)"}
        else:
            # numbers are only known single-threaded: read again to say where
            invalid.clear()
            _read(dict(columns), list(columns), use_threads=False)
            row = next(r for r in invalid if r.text.strip() != last) if len(invalid) > 1 else invalid[0]
            line = row.number  # pyarrow counts file lines from 1, skipped lines included
            if row.text.count('"') % 2:
                raise ReaderError(f'a quote (") opens a field that does not close on its line: '
                                  f"{row.text.splitlines()[0][:120]!r}", file=label, line=line)
            raise ReaderError(
                f"row has {row.actual_columns} fields where the header has {row.expected_columns}: "
                f"{row.text[:120]!r}", file=label, line=line)
    out = {name: table.column(name).combine_chunks() for name in columns}
    return out, info


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding


def _python_encoding(encoding: str) -> str:
    return "utf-8" if _arrow_encoding(encoding) == "utf8" else encoding


def _conversion_error(exc: Exception, path: pathlib.Path, label: str,
                      columns: dict[str, pa.DataType], names: list[str], header_line: int,
                      delimiter: str, encoding: str, end: int | None = None,
                      decimal: str = ".") -> ReaderError:
    """Turn pyarrow's 'In CSV column #k: CSV conversion error' into file/line/column words."""
    message = str(exc)
    match = re.search(r"column #(\d+)", message)
    if not match:
        # pyarrow's own words kept after ours, for whoever looks into the file
        return ReaderError(f"cannot read the file as text separated by {_delimiter_name(delimiter)} "
                           f"(the parser says: {message})", file=label)
    name = names[int(match.group(1))]
    strings = pacsv.read_csv(
        text_up_to(path, end),
        read_options=pacsv.ReadOptions(skip_rows=header_line + 1, column_names=names,
                                       encoding=_arrow_encoding(encoding)),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=lambda r: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={name: pa.string()}, include_columns=[name]),
    ).column(name).combine_chunks()
    ok = pc.or_(pc.is_null(strings), pc.match_substring_regex(strings, _NUMBER_WITH[decimal], ignore_case=True))
    bad = np.flatnonzero(~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool))
    if len(bad):
        row = int(bad[0])
        value = strings[row].as_py()
        other = "," if decimal == "." else "."
        hint = (f" (the file's numbers are written with a decimal {'point' if decimal == '.' else 'comma'})"
                if re.fullmatch(_FLOAT_RE, value) and other in value else "")
        return ReaderError(f"not a number: {value!r}{hint}", file=label,
                           line=header_line + 2 + row, column=name)
    return ReaderError(f"the numbers of this column cannot be read (the parser says: {message})",
                       file=label, column=name)


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs"}.get(delimiter, repr(delimiter))


def as_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Float array with NaN for nulls."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return np.asarray(array.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def scaled(array: pa.Array, factor: float) -> pa.Array:
    array = array.cast(pa.float64())
    return array if factor == 1 else pc.multiply(array, pa.scalar(float(factor)))


def integer_column(array: pa.Array, *, file: str, column: str, first_line: int | None = None) -> pa.Array:
    """Index columns arrive as text or float ('3', '3.0'); refuse a fractional index."""
    values = as_numpy(array)
    frac = np.flatnonzero(np.isfinite(values) & (values != np.round(values)))
    if len(frac):
        row = int(frac[0])
        raise ReaderError(f"expected a whole number, found {values[row]!r}", file=file,
                          line=None if first_line is None else first_line + row, column=column)
    mask = ~np.isfinite(values)
    return pa.array(np.where(mask, 0, values).astype(np.int64), mask=mask)


def parse_durations(array: pa.Array, *, file: str, column: str,
                    first_line: int | None = None) -> pa.Array:
    """'[Nd ]HH:MM:SS[.ffff]' strings (Maccor TestTime, Neware, ...) to seconds."""
    array = array.cast(pa.string())
    parts = pc.extract_regex(array, _DURATION_RE)
    failed = np.flatnonzero(np.asarray(
        pc.and_(pc.is_valid(array), pc.is_null(parts)).to_numpy(zero_copy_only=False), dtype=bool))
    if len(failed):
        row = int(failed[0])
        raise ReaderError(f"not a duration like '0d 01:02:03.5': {array[row].as_py()!r}", file=file,
                          line=None if first_line is None else first_line + row, column=column)

    def field(name: str) -> pa.Array:
        values = pc.struct_field(parts, name)
        values = pc.if_else(pc.equal(values, ""), None, values)
        return pc.replace_substring(values, ",", ".").cast(pa.float64()).fill_null(0.0)

    seconds = pc.add(pc.add(pc.multiply(field("days"), 86400.0), pc.multiply(field("hours"), 3600.0)),
                     pc.add(pc.multiply(field("minutes"), 60.0), field("seconds")))
    return pc.if_else(pc.is_null(array), None, seconds)


def parse_timestamps(array: pa.Array, formats: list[str] | tuple[str, ...] | None) -> pa.Array | None:
    """Wall-clock strings to timestamp[us]; the first format that parses every value wins.

    ``None`` formats means ISO 8601. Returns None when no format fits (the column is then
    left out rather than failing the whole file).
    """
    strings = pc.utf8_trim_whitespace(array.cast(pa.string()))
    strings = pc.if_else(pc.equal(strings, ""), None, strings)
    for fmt in (formats or ()):
        stamps = _arrow_strptime(strings, fmt)
        if stamps is not None:
            return stamps
    # pandas for what Arrow's strptime cannot do (ISO 8601 variants, odd directives)
    import pandas as pd  # local: only the text readers with a date column need it

    series = strings.to_pandas()
    valid = series.notna() & (series != "")
    for fmt in (formats or ["ISO8601"]):
        try:
            parsed = pd.to_datetime(series, format=fmt, errors="coerce")
        except (ValueError, TypeError):
            continue
        if parsed[valid].notna().all():
            return pa.array(parsed.astype("datetime64[us]"), type=pa.timestamp("us"), from_pandas=True)
    return None


def _arrow_strptime(strings: pa.Array, fmt: str) -> pa.Array | None:
    """Arrow's vectorised strptime (about 10x pandas); a trailing '.%f' is handled here since
    Arrow's parser has no fractional seconds. None unless every non-null value parses."""
    fraction = None
    base = fmt
    if fmt.endswith(".%f"):
        base = fmt[:-3]
        parts = pc.extract_regex(strings, r"^(?P<main>.*?)(?:[.,](?P<frac>\d{1,9}))?$")
        main = pc.struct_field(parts, "main")
        digits = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.struct_field(parts, "frac"), 0, 6), 6, "0")
        fraction = digits.cast(pa.int64())
    elif "%f" in fmt:
        return None
    else:
        main = strings
    try:
        parsed = pc.strptime(main, format=base, unit="us", error_is_null=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.null_count != strings.null_count:
        return None
    if fraction is not None:
        parsed = pc.add(parsed.cast(pa.int64()), fraction).cast(pa.timestamp("us"))
    return parsed


def check_time_order(time_s: pa.Array | pa.ChunkedArray | np.ndarray, *, file: str | None,
                     first_line: int | None = None) -> dict | None:
    """Refuse missing test time; say where it goes backwards. Row numbers are 1-based data
    rows; when the reader knows the file line of the first data row it passes ``first_line``.

    Time going backwards is not refused: the rows are kept in the order the cycler wrote
    them, the analysis counts those intervals as zero and flags the cycles they fall in.
    Returns None, or ``{"rows": how many, "first_row": 1-based row, "by_s": how far back}``."""
    values = time_s if isinstance(time_s, np.ndarray) else as_numpy(time_s)
    missing = np.flatnonzero(~np.isfinite(values))
    if len(missing):
        row = int(missing[0])
        raise ReaderError(f"no test time at row {row + 1}", file=file,
                          line=None if first_line is None else first_line + row,
                          column="test_time_s")
    step = np.diff(values)
    back = np.flatnonzero(step < 0)
    if not len(back):
        return None
    return {"rows": int(back.size), "first_row": int(back[0]) + 2,
            "by_s": float(-step[back[0]])}


# --------------------------------------------------------------------------- the mapped reader

class MappedCsvReader:
    """A reader built from a saved column mapping (see the module docstring)."""

    name = "mapped-csv"
    version = "1.0"
    extensions = (".csv", ".txt", ".tsv", ".dat")

    def __init__(self, mapping: dict[str, Any]):
        if not isinstance(mapping, dict):
            raise ReaderError("the column mapping must be a dict")
        unknown = set(mapping) - set(CANONICAL_COLUMNS) - MAPPING_OPTIONS
        if unknown:
            raise ReaderError(f"unknown key(s) in the column mapping: {', '.join(sorted(unknown))}; "
                              f"expected canonical columns ({', '.join(CANONICAL_COLUMNS)}) or "
                              f"options ({', '.join(sorted(MAPPING_OPTIONS))})")
        missing = [name for name in REQUIRED_COLUMNS if name not in mapping]
        if missing:
            raise ReaderError(f"the column mapping has no entry for {', '.join(missing)}")
        self.columns: dict[str, dict[str, Any]] = {}
        for canonical in CANONICAL_COLUMNS:
            if canonical not in mapping:
                continue
            entry = mapping[canonical]
            if isinstance(entry, str):
                entry = {"column": entry}
            if not isinstance(entry, dict) or not entry.get("column"):
                raise ReaderError(f"mapping for {canonical} needs a source 'column'")
            extra = set(entry) - {"column", "scale", "format"}
            if extra:
                raise ReaderError(f"mapping for {canonical}: unknown key(s) {', '.join(sorted(extra))}")
            scale = entry.get("scale", 1)
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale == 0:
                raise ReaderError(f"mapping for {canonical}: scale must be a non-zero number")
            if canonical in INDEX_COLUMNS and scale != 1:
                raise ReaderError(f"mapping for {canonical}: an index column takes no scale")
            self.columns[canonical] = {"column": str(entry["column"]).strip(), "scale": float(scale),
                                       "format": entry.get("format")}
        self.delimiter = mapping.get("delimiter", ",")
        if self.delimiter in ("tab", "\\t"):
            self.delimiter = "\t"
        self.decimal = mapping.get("decimal_separator", mapping.get("decimal", "."))
        if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
            raise ReaderError("delimiter must be a single character")
        if self.decimal not in (".", ","):
            raise ReaderError("decimal separator must be '.' or ','")
        if self.decimal == self.delimiter:
            raise ReaderError(f"decimal separator and delimiter are both {self.decimal!r}")
        self.invert_current_sign = bool(mapping.get("invert_current_sign", False))
        self.skip_rows = int(mapping.get("skip_rows", 0))
        self.encoding = mapping.get("encoding", "utf-8")
        self.mapping = mapping

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.0

    def read(self, path) -> ReadResult:
        label = file_label(path)
        wanted: dict[str, pa.DataType] = {}
        for canonical, entry in self.columns.items():
            numeric = canonical != "timestamp" and entry["format"] is None
            wanted.setdefault(entry["column"], pa.float64() if numeric else pa.string())
        raw, info = read_delimited(path, columns=wanted, header_line=self.skip_rows,
                                   delimiter=self.delimiter, decimal=self.decimal,
                                   encoding=self.encoding)
        first_line = self.skip_rows + 2
        out: dict[str, Any] = {}
        for canonical, entry in self.columns.items():
            source, fmt = raw[entry["column"]], entry["format"]
            if canonical == "timestamp":
                stamps = parse_timestamps(source, [fmt] if fmt else None)
                if stamps is None:
                    raise ReaderError(f"dates do not match the format {fmt or 'ISO 8601'!r}",
                                      file=label, column=entry["column"])
                out[canonical] = stamps
            elif canonical in INDEX_COLUMNS:
                out[canonical] = integer_column(source, file=label, column=entry["column"],
                                                first_line=first_line)
            elif fmt in ("duration", "hh:mm:ss"):
                out[canonical] = scaled(parse_durations(source, file=label, column=entry["column"],
                                                        first_line=first_line), entry["scale"])
            elif fmt is not None:
                raise ReaderError(f"mapping for {canonical}: unknown format {fmt!r}")
            else:
                out[canonical] = scaled(source, entry["scale"])
        if self.invert_current_sign:
            out["current_ma"] = pc.negate(out["current_ma"])
        check_time_order(out["test_time_s"], file=label, first_line=first_line)
        metadata = {"mapping": self.mapping, **info}
        return ReadResult(canonical_table(out, file=label), self.name, self.version, metadata)


def mapped_csv_reader(mapping: dict[str, Any]) -> MappedCsvReader:
    """The reader for one cycler's saved column mapping."""
    return MappedCsvReader(mapping)


# Never auto-detected: the registry builds it from a cycler's mapping instead.
READERS: list = []
