"""Which reader reads a file, and the contract check every reader's result must pass.

``detect(path)`` reads the first 64 KiB and asks every reader in ``ALL_READERS`` how sure it is
(``sniff``). The highest score wins; a tie goes to the reader whose extensions match the file
name; a best score of 0.5 or less means "not recognised". The mapped-CSV reader is never
auto-detected: ``read_cycler_file(path, mapping=...)`` uses it when the cycler has a mapping.
"""
from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pyarrow as pa

from . import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    NotRecognised,
    ReaderError,
    ReadResult,
    arbin,
    bdf,
    biologic,
    maccor,
    neware,
)
from .mapped_csv import (
    check_time_order,
    file_label,
    guess_delimiter,
    head_lines,
    looks_binary,
    mapped_csv_reader,
    split_fields,
)

HEAD_BYTES = 64 * 1024
MIN_SCORE = 0.5

_MODULES = (biologic, neware, arbin, maccor, bdf)
ALL_READERS: list = [reader for module in _MODULES for reader in module.READERS]

# used to break ties when a reader does not declare its own ``extensions``
_MODULE_EXTENSIONS = {
    "biologic": (".mpr", ".mpt"),
    "neware": (".nda", ".ndax", ".csv", ".xlsx"),
    "arbin": (".res", ".xlsx", ".csv"),
    "maccor": (".txt",),
    "bdf": (".bdf.csv", ".bdf", ".csv"),
}
_READER_MODULE = {id(reader): module.__name__.rsplit(".", 1)[-1]
                  for module in _MODULES for reader in module.READERS}

NOT_RECOGNISED = ("not a recognised cycler format (looked for BioLogic, Neware, Arbin, Maccor, "
                  "Battery Data Format); a CSV from another cycler needs a column mapping")


def _extensions(reader) -> tuple[str, ...]:
    declared = getattr(reader, "extensions", None)
    if declared:
        return tuple(declared)
    return _MODULE_EXTENSIONS.get(_READER_MODULE.get(id(reader), ""), ())


def _extension_match(reader, filename: str) -> int:
    """Length of the longest of the reader's extensions the name ends with (0: none)."""
    name = filename.lower()
    return max((len(ext) for ext in _extensions(reader) if name.endswith(ext.lower())), default=0)


def _sniff(reader, head: bytes, filename: str) -> float:
    try:
        score = float(reader.sniff(head, filename))
    except Exception:  # one reader's sniffing bug must not stop the others
        return 0.0
    return score if 0.0 <= score <= 1.0 else 0.0


def sniff_scores(path, readers=None) -> list[tuple[float, Any]]:
    """(score, reader) for every reader, best first (ties by extension, then list order)."""
    path = pathlib.Path(path)
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    readers = ALL_READERS if readers is None else readers
    scored = [(_sniff(r, head, path.name), _extension_match(r, path.name), -i, r)
              for i, r in enumerate(readers)]
    scored.sort(key=lambda item: item[:3], reverse=True)
    return [(score, reader) for score, _ext, _i, reader in scored]


def detect(path, readers=None):
    """The reader for this file, or ReaderError if none is confident enough."""
    path = pathlib.Path(path)
    label = file_label(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReaderError(f"cannot open the file: {exc.strerror or exc}", file=label) from None
    if size == 0:
        raise NotRecognised(f"the file is empty: {NOT_RECOGNISED}", file=label)
    try:
        scores = sniff_scores(path, readers)
    except OSError as exc:
        raise ReaderError(f"cannot open the file: {exc.strerror or exc}", file=label) from None
    if not scores or scores[0][0] <= MIN_SCORE:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
        for companion in COMPANION_READERS:
            if _sniff(companion, head, path.name) > MIN_SCORE:
                raise ReaderError(f"this is {companion.name}: the settings of "
                                  f"{companion.describes(path.name)}, not data points; it is "
                                  "attached to that file's dataset", file=label)
        raise NotRecognised(_why_not_recognised(head), file=label)
    return scores[0][1]


def _why_not_recognised(head: bytes) -> str:
    """For a delimited text file: the column a known format lacks, or the columns it has."""
    if looks_binary(head):
        return NOT_RECOGNISED
    lines = [line for line in head_lines(head, 5) if line.strip()]
    if not lines:
        return NOT_RECOGNISED
    delimiter = guess_delimiter(lines[0])
    names = [n.strip() for n in split_fields(lines[0], delimiter)]
    if len(names) < 2:
        return NOT_RECOGNISED
    found = ", ".join(repr(n) for n in names if n)
    for reader in ALL_READERS:
        explain = getattr(reader, "missing_columns", None)
        missing = explain(names) if explain else None
        if missing:
            return f"{missing}; the file has the columns {found}"
    return (f"not a recognised cycler format: its columns {found} are not those of a BioLogic, Neware, "
            "Arbin, Maccor or Battery Data Format export (time, current and voltage); a CSV from another "
            "cycler needs a column mapping (admin, Cyclers)")


#: Beyond these magnitudes a value is not a measurement (a cycler writes 1e308 or inf for
#: "no value"): it is stored as missing and the analysis flags the rows.
PLAUSIBLE_MAGNITUDE = {"current_ma": 1e7, "voltage_v": 1e3, "ewe_v": 1e3, "ece_v": 1e3,
                       "temperature_c": 1e4}
DEFAULT_PLAUSIBLE_MAGNITUDE = 1e12


def store_implausible_as_missing(table, metadata: dict):
    """Non-finite and implausibly large values of the measured columns become missing (null),
    and ``metadata["missing_values"]`` says how many, in which column, from which row and why.
    Test time is not touched (a row without a time cannot be placed: it is refused)."""
    import pyarrow.compute as pc

    for index, name in enumerate(table.column_names):
        field = table.schema.field(name)
        if name == "test_time_s" or not pa.types.is_floating(field.type):
            continue
        column = table.column(name)
        values = column.to_numpy(zero_copy_only=False)  # nulls (already missing) read as NaN
        written = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        limit = PLAUSIBLE_MAGNITUDE.get(name, DEFAULT_PLAUSIBLE_MAGNITUDE)
        with np.errstate(invalid="ignore"):
            bad = written & ~(np.abs(values) <= limit)  # a NaN the file wrote is bad too
        if not bad.any():
            continue
        first = int(np.flatnonzero(bad)[0])
        metadata.setdefault("missing_values", {})[name] = {
            "rows": int(bad.sum()), "first_row": first + 1,
            "first_value": repr(float(values[first])),
            "reason": f"not a finite number or beyond ±{limit:g}: stored as missing"}
        masked = pc.if_else(pa.array(bad), pa.scalar(None, field.type), table.column(name))
        table = table.set_column(index, field, masked)
    return table


def validate_result(result: ReadResult, path=None) -> ReadResult:
    """The canonical-table contract: known columns with canonical types, the required ones
    present, at least one row, and test time present. Non-finite or implausible measured values
    are stored as missing; where time goes backwards is recorded (see ``check_time_order``)."""
    label = file_label(path) if path is not None else None
    if not isinstance(result, ReadResult):
        raise TypeError(f"a reader returned {type(result).__name__}, not ReadResult")
    table = result.table
    unknown = [name for name in table.column_names if name not in CANONICAL_COLUMNS]
    if unknown:
        raise TypeError(f"reader {result.reader_name} returned non-canonical columns {unknown}")
    for name in table.column_names:
        expected = CANONICAL_COLUMNS[name][0]
        if table.schema.field(name).type != expected:
            raise TypeError(f"reader {result.reader_name}: column {name} is "
                            f"{table.schema.field(name).type}, not {expected}")
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        raise ReaderError(f"no {', '.join(missing)} data found", file=label)
    if table.num_rows == 0:
        raise ReaderError("the file holds no data rows", file=label)
    backwards = check_time_order(table.column("test_time_s"), file=label)
    if backwards:
        result.metadata["time_goes_backwards"] = backwards
    result.table = store_implausible_as_missing(table, result.metadata)
    return result


COMPANION_READERS: list = list(arbin.COMPANION_READERS)


def read_companion(path, filename: str | None = None):
    """The companion (a file describing another one, such as Arbin's ``_Metadata.csv``) this
    file is, read; None when it is not one. ``filename``: the name the file was sent under."""
    path = pathlib.Path(path)
    name = filename or path.name
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    best = max(COMPANION_READERS, key=lambda r: _sniff(r, head, name), default=None)
    if best is None or _sniff(best, head, name) <= MIN_SCORE:
        return None
    result = best.read(path)
    result.describes = best.describes(name)
    return result


def read_cycler_file(path, *, mapping: dict[str, Any] | None = None) -> ReadResult:
    """Read a cycler file into the canonical table: through the cycler's column mapping when
    one is given, else with the detected reader. The result is checked against the contract."""
    path = pathlib.Path(path)
    reader = mapped_csv_reader(mapping) if mapping is not None else detect(path)
    try:
        result = reader.read(path)
    except ReaderError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file can break a reader anywhere inside
        # The reader's own checks name the line and column; this is the net under them.
        raise ReaderError(f"the {reader.name} reader could not read this file: it may be damaged or cut short "
                          f"(the reader's own words: {type(exc).__name__}: {exc})", file=file_label(path)) from None
    return validate_result(result, path)
