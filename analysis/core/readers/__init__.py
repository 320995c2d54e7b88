"""Cycler file readers: one vendor format in, one canonical Arrow table out.

The canonical table (see ``CANONICAL_COLUMNS``) is what every later stage reads. Columns carry
their units in their names. Rows are in acquisition order (readers sort when a format stores
them otherwise). Current is signed from the cell's point of view: positive while charging
(cell voltage driven up), negative while discharging.

Required columns: ``test_time_s``, ``current_ma``, ``voltage_v``. Every other column is
present only when the file carries it (all-null columns are dropped).

A reader is a module-level object with ``name``, ``version``, ``sniff(head: bytes, filename)``
returning a confidence in [0, 1], and ``read(path) -> ReadResult``. ``detect`` chooses by
content first; the file name only breaks ties. Readers raise ``ReaderError`` naming the file,
and where known the line and column, of the problem.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

# name -> (arrow type, meaning). Order here is the order of columns in the canonical table.
CANONICAL_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "test_time_s": (pa.float64(), "seconds since the start of the test"),
    "current_ma": (pa.float64(), "cell current in mA, positive = charge"),
    "voltage_v": (pa.float64(), "cell voltage in V (Ewe - Ece for a three-electrode file)"),
    "step_index": (pa.int64(), "the cycler's own step number"),
    "cycle_index": (pa.int64(), "the cycler's own cycle number"),
    "ewe_v": (pa.float64(), "working electrode vs reference, V"),
    "ece_v": (pa.float64(), "counter electrode vs reference, V"),
    "charge_capacity_mah": (pa.float64(), "the cycler's charge capacity counter, mAh"),
    "discharge_capacity_mah": (pa.float64(), "the cycler's discharge capacity counter, mAh"),
    "charge_energy_mwh": (pa.float64(), "the cycler's charge energy counter (the cell's, "
                                        "Ewe - Ece, in a three-electrode file), mWh"),
    "discharge_energy_mwh": (pa.float64(), "the cycler's discharge energy counter (the cell's, "
                                           "Ewe - Ece, in a three-electrode file), mWh"),
    "ewe_charge_energy_mwh": (pa.float64(), "the working electrode's charge energy counter "
                                            "(three-electrode file), mWh"),
    "ewe_discharge_energy_mwh": (pa.float64(), "the working electrode's discharge energy counter, "
                                               "mWh"),
    "ece_charge_energy_mwh": (pa.float64(), "the counter electrode's charge energy counter, mWh"),
    "ece_discharge_energy_mwh": (pa.float64(), "the counter electrode's discharge energy counter, "
                                               "mWh"),
    "temperature_c": (pa.float64(), "cell or chamber temperature, °C"),
    "timestamp": (pa.timestamp("us"), "wall-clock time of the point as the cycler wrote it"),
}
REQUIRED_COLUMNS = ("test_time_s", "current_ma", "voltage_v")

#: Field metadata of ``current_ma`` saying what one row's current stands for. Absent: the
#: current at the moment of the row. ``INTERVAL_MEAN``: the mean current since the previous
#: row (EC-Lab's ``<I>``, or a current derived from ``dq``), which the analysis then holds over
#: that whole interval.
CURRENT_MEANING_KEY = b"eln.current"
INTERVAL_MEAN = b"mean since the previous row"


def with_interval_mean_current(table: pa.Table) -> pa.Table:
    """The table with ``current_ma`` marked as the mean current since the previous row."""
    index = table.schema.get_field_index("current_ma")
    field = table.schema.field(index).with_metadata({CURRENT_MEANING_KEY: INTERVAL_MEAN})
    return table.cast(table.schema.set(index, field))


def current_is_interval_mean(table: pa.Table) -> bool:
    if "current_ma" not in table.column_names:
        return False
    metadata = table.schema.field("current_ma").metadata or {}
    return metadata.get(CURRENT_MEANING_KEY) == INTERVAL_MEAN


class ReaderError(ValueError):
    """A file that cannot be read, with where and why in words a person can act on."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None):
        self.file, self.line, self.column, self.reason = file, line, column, message
        where = ", ".join(
            part for part in (
                file and f"file {file}",
                line is not None and f"line {line}",
                column and f"column {column!r}",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class NotRecognised(ReaderError):
    """No reader knows the file: a CSV from another cycler is then read through its mapping."""


@dataclasses.dataclass
class ReadResult:
    table: pa.Table
    reader_name: str
    reader_version: str
    # What the file says about itself: technique, device, start time, active mass, ...
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


def canonical_table(columns: dict[str, Any], *, file: str | None = None) -> pa.Table:
    """Build the canonical table from column arrays (lists, numpy arrays or Arrow arrays).

    Unknown names are refused (a reader's bug, not the user's), required columns must be
    present, all-null optional columns are dropped, and columns are cast to their canonical
    types and put in canonical order.
    """
    unknown = set(columns) - set(CANONICAL_COLUMNS)
    if unknown:
        raise KeyError(f"not canonical columns: {sorted(unknown)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ReaderError(f"no {', '.join(missing)} data found", file=file)
    arrays, names = [], []
    for name, (dtype, _meaning) in CANONICAL_COLUMNS.items():
        if name not in columns:
            continue
        array = columns[name]
        array = array if isinstance(array, (pa.Array, pa.ChunkedArray)) else pa.array(array, from_pandas=True)
        if array.null_count == len(array) and name not in REQUIRED_COLUMNS:
            continue
        arrays.append(array.cast(dtype))
        names.append(name)
    return pa.table(arrays, names=names)
