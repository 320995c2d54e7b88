"""Three-electrode data: the full-cell voltage and each electrode's potential vs the reference,
the consistency check between them, and the half-cycle boundaries the analysis works on.

A three-electrode cell (NaCrO2 | SE | Sn with a Na reference) gives the working electrode's
potential vs the reference (EC-Lab ``Ewe``), the counter electrode's (``Ece``) and the cell
voltage V = E₊ − E₋ (``Ewe-Ece``); a file gives at least two of the three. The lab's cells have
the positive (NaCrO2) as working electrode; with the Sn as working electrode the roles and the
current's sign swap (``working_electrode="negative"``).

Conventions: ``current_ma`` is positive on full-cell **charge** (the positive is desodiated,
the negative sodiated). Potentials in V vs the reference.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

VERSION = "1.0.0"
METADATA_KEY = b"eln.analysis"
POSITIVE, NEGATIVE = "positive", "negative"
ELECTRODES = (POSITIVE, NEGATIVE)
CHARGE, DISCHARGE = "charge", "discharge"
#: default tolerance of the consistency check: "a few mV or less"
CONSISTENCY_TOLERANCE_V = 0.005


def as_float_array(values: Any, name: str) -> np.ndarray:
    """A one-dimensional float64 array from a list, numpy or Arrow array; ValueError naming
    ``name`` otherwise."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_numpy(zero_copy_only=False)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {array.shape}")
    return array


def table_column(table: Any, name: str) -> np.ndarray:
    """One column of a pa.Table or a mapping of arrays, as float64 (KeyError naming it)."""
    if isinstance(table, pa.Table):
        if name not in table.column_names:
            raise KeyError(f"the table has no {name!r} column")
        return as_float_array(table.column(name), name)
    try:
        column = table[name]
    except (KeyError, IndexError, TypeError) as exc:
        raise KeyError(f"the table has no {name!r} column") from exc
    return as_float_array(getattr(column, "to_numpy", lambda: column)(), name)


def json_safe(value: Any) -> Any:
    """Numbers, lists and dicts JSON can store: numpy scalars unwrapped, NaN and ±inf → None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def arrow_table(columns: dict[str, Any], spec: dict[str, tuple[pa.DataType, str]],
                metadata: dict) -> pa.Table:
    """An Arrow table with the columns of ``spec`` (name → (type, meaning)) in its order, NaN
    stored as null, ``metadata`` as JSON under :data:`METADATA_KEY`."""
    arrays = []
    for name, (dtype, _meaning) in spec.items():
        values = columns[name]
        if pa.types.is_floating(dtype):
            values = np.asarray(values, dtype=np.float64)
            arrays.append(pa.array(values, type=dtype, mask=np.isnan(values)))
        else:
            arrays.append(pa.array(list(values) if not isinstance(values, np.ndarray)
                                   else values, type=dtype))
    schema = pa.schema([pa.field(name, dtype) for name, (dtype, _m) in spec.items()],
                       metadata={METADATA_KEY: json.dumps(json_safe(metadata)).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def table_metadata(table: pa.Table) -> dict:
    """The method, version and parameters stored with one of this package's tables."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


# --------------------------------------------------------------------------------------------
# the consistency check
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ConsistencyCheck:
    """|V − (E₊ − E₋)| over the rows where all three are recorded.

    ``status``: "passed" (largest error ≤ tolerance), "failed", or "not_checked" when the cell
    voltage is not recorded independently (derived from the two potentials, or one potential
    derived from the other two): then there is nothing to compare, and ``message`` says so.
    """

    status: str
    tolerance_v: float
    max_abs_error_v: float | None
    rms_error_v: float | None
    n_rows: int
    n_over_tolerance: int
    worst_row: int | None
    message: str
    definition: str = "|V − (E₊ − E₋)| per row; passed when the largest is ≤ the tolerance"
    version: str = VERSION

    @property
    def passed(self) -> bool | None:
        return {"passed": True, "failed": False}.get(self.status)

    def to_dict(self) -> dict:
        return json_safe(dataclasses.asdict(self))


def consistency_check(cell_voltage_v: Any, positive_potential_v: Any, negative_potential_v: Any,
                      *, tolerance_v: float = CONSISTENCY_TOLERANCE_V) -> ConsistencyCheck:
    """Compare a recorded cell voltage with the difference of the two recorded potentials."""
    v = as_float_array(cell_voltage_v, "cell_voltage_v")
    ep = as_float_array(positive_potential_v, "positive_potential_v")
    en = as_float_array(negative_potential_v, "negative_potential_v")
    if not (v.size == ep.size == en.size):
        raise ValueError("cell_voltage_v, positive_potential_v and negative_potential_v must "
                         "have the same length")
    if not (np.isfinite(tolerance_v) and tolerance_v > 0):
        raise ValueError(f"tolerance_v must be a positive number, not {tolerance_v!r}")
    error = np.abs(v - (ep - en))
    valid = np.isfinite(error)
    n = int(valid.sum())
    if n == 0:
        return ConsistencyCheck("not_checked", tolerance_v, None, None, 0, 0, None,
                                "no row has the cell voltage and both potentials")
    worst = int(np.flatnonzero(valid)[np.argmax(error[valid])])
    largest = float(error[worst])
    over = int((error[valid] > tolerance_v).sum())
    rms = float(np.sqrt(np.mean(error[valid] ** 2)))
    if over:
        return ConsistencyCheck(
            "failed", tolerance_v, largest, rms, n, over, worst,
            f"the cell voltage differs from E₊ − E₋ by up to {largest * 1000:.1f} mV (row "
            f"{worst}), more than the {tolerance_v * 1000:g} mV tolerance in {over} of {n} rows: "
            f"the reference may have drifted or a potential is mis-assigned")
    return ConsistencyCheck("passed", tolerance_v, largest, rms, n, 0, worst,
                            f"the cell voltage equals E₊ − E₋ within {largest * 1000:.3g} mV "
                            f"(tolerance {tolerance_v * 1000:g} mV) over {n} rows")


# --------------------------------------------------------------------------------------------
# the three-electrode data
# --------------------------------------------------------------------------------------------

THREE_ELECTRODE_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "test_time_s": (pa.float64(), "test time, s"),
    "current_ma": (pa.float64(), "current, mA, positive on full-cell charge"),
    "cell_voltage_v": (pa.float64(), "full-cell voltage V = E₊ − E₋, V"),
    "positive_potential_v": (pa.float64(), "positive electrode (NaCrO2) vs the reference, V"),
    "negative_potential_v": (pa.float64(), "negative electrode (Sn) vs the reference, V"),
    "consistency_error_v": (pa.float64(), "V − (E₊ − E₋) where all three are recorded, else "
                                          "null, V"),
}


@dataclasses.dataclass(frozen=True)
class ThreeElectrodeData:
    """Time, current and the three potentials of a three-electrode run, row by row as in the
    canonical table; ``sources`` says for each potential where it came from ("measured: …" or
    "derived: …"), ``check`` is the consistency check."""

    time_s: np.ndarray
    current_ma: np.ndarray
    cell_voltage_v: np.ndarray
    positive_potential_v: np.ndarray
    negative_potential_v: np.ndarray
    sources: dict
    check: ConsistencyCheck
    params: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.time_s.size)

    def potential_v(self, electrode: str) -> np.ndarray:
        if electrode == POSITIVE:
            return self.positive_potential_v
        if electrode == NEGATIVE:
            return self.negative_potential_v
        raise ValueError(f"electrode must be {POSITIVE!r} or {NEGATIVE!r}, not {electrode!r}")

    def to_arrow(self) -> pa.Table:
        """The three-electrode table (:data:`THREE_ELECTRODE_COLUMNS`); the sources, the check
        and the parameters in the schema metadata."""
        error = self.cell_voltage_v - (self.positive_potential_v - self.negative_potential_v)
        if self.check.status == "not_checked":
            error = np.full(len(self), np.nan)
        columns = {"test_time_s": self.time_s, "current_ma": self.current_ma,
                   "cell_voltage_v": self.cell_voltage_v,
                   "positive_potential_v": self.positive_potential_v,
                   "negative_potential_v": self.negative_potential_v,
                   "consistency_error_v": error}
        return arrow_table(columns, THREE_ELECTRODE_COLUMNS,
                           {"method": "three_electrode_data", "version": VERSION,
                            "sources": self.sources, "check": self.check.to_dict(),
                            "params": self.params})


def three_electrode_data(time_s: Any, current_ma: Any, *, cell_voltage_v: Any = None,
                         positive_potential_v: Any = None, negative_potential_v: Any = None,
                         tolerance_v: float = CONSISTENCY_TOLERANCE_V,
                         sources: dict | None = None) -> ThreeElectrodeData:
    """The three potentials from any two of them (the third derived from V = E₊ − E₋) or from
    all three (then checked against each other, see :func:`consistency_check`).

    ``current_ma`` must be positive on full-cell charge. ``sources`` may name where each given
    array came from (e.g. ``{"positive_potential_v": "Ewe/V"}``).
    """
    t = as_float_array(time_s, "time_s")
    i = as_float_array(current_ma, "current_ma")
    given = {name: as_float_array(values, name) for name, values in
             (("cell_voltage_v", cell_voltage_v), ("positive_potential_v", positive_potential_v),
              ("negative_potential_v", negative_potential_v)) if values is not None}
    for name, values in {"current_ma": i, **given}.items():
        if values.size != t.size:
            raise ValueError(f"{name} has {values.size} values, time_s has {t.size}")
    if len(given) < 2:
        missing = [n for n in ("cell_voltage_v", "positive_potential_v", "negative_potential_v")
                   if n not in given]
        raise ValueError("two of cell_voltage_v, positive_potential_v and negative_potential_v "
                         f"are needed; missing: {', '.join(missing)}")
    names = dict(sources or {})
    label = {name: f"measured: {names.get(name, name)}" for name in given}
    if len(given) == 3:
        v, ep, en = given["cell_voltage_v"], given["positive_potential_v"], given["negative_potential_v"]
        check = consistency_check(v, ep, en, tolerance_v=tolerance_v)
    else:
        if "cell_voltage_v" not in given:
            ep, en = given["positive_potential_v"], given["negative_potential_v"]
            v = ep - en
            label["cell_voltage_v"] = "derived: E₊ − E₋"
        elif "positive_potential_v" not in given:
            v, en = given["cell_voltage_v"], given["negative_potential_v"]
            ep = v + en
            label["positive_potential_v"] = "derived: V + E₋"
        else:
            v, ep = given["cell_voltage_v"], given["positive_potential_v"]
            en = ep - v
            label["negative_potential_v"] = "derived: E₊ − V"
        derived = [n for n, s in label.items() if s.startswith("derived")][0]
        check = ConsistencyCheck("not_checked", tolerance_v, None, None, 0, 0, None,
                                 f"only two of the three potentials are recorded ({derived} is "
                                 f"derived from them), so there is nothing to check")
    return ThreeElectrodeData(t, i, v, ep, en, label, check,
                              {"tolerance_v": tolerance_v})


def three_electrode_from_table(table: Any, *, working_electrode: str = POSITIVE,
                               cell_voltage_v: Any = None,
                               tolerance_v: float = CONSISTENCY_TOLERANCE_V) -> ThreeElectrodeData:
    """:func:`three_electrode_data` from a canonical table with ``ewe_v`` and ``ece_v``.

    ``working_electrode``: which electrode ``ewe_v`` belongs to ("positive", the lab's set-up,
    or "negative"; then ``ece_v`` is the positive, and the table's current, positive when the
    working electrode is oxidised, is negated so that it is positive on full-cell charge).

    The cell voltage: ``cell_voltage_v`` when given (e.g. EC-Lab's own ``Ewe-Ece/V`` column),
    else the table's ``voltage_v`` (its sign follows the working electrode). A ``voltage_v``
    that is exactly ``ewe_v − ece_v`` in every row was derived by the reader from the two
    potentials: it is not counted as a third measurement, and the check says "not_checked".
    """
    if working_electrode not in ELECTRODES:
        raise ValueError(f"working_electrode must be {POSITIVE!r} or {NEGATIVE!r}, "
                         f"not {working_electrode!r}")
    ewe = table_column(table, "ewe_v")
    try:
        ece = table_column(table, "ece_v")
    except KeyError:
        raise KeyError("the table has no 'ece_v' column: the counter electrode's potential was "
                       "not recorded, so this is not a three-electrode run") from None
    t = table_column(table, "test_time_s")
    i = table_column(table, "current_ma")
    sign = 1.0 if working_electrode == POSITIVE else -1.0
    if cell_voltage_v is not None:
        v = sign * as_float_array(cell_voltage_v, "cell_voltage_v")
        v_source = "the given cell voltage"
        independent = True
    else:
        voltage = table_column(table, "voltage_v")
        independent = not np.array_equal(voltage, ewe - ece, equal_nan=True)
        v = sign * voltage
        v_source = "voltage_v"
    if working_electrode == POSITIVE:
        ep, en, names = ewe, ece, {"positive_potential_v": "ewe_v", "negative_potential_v": "ece_v"}
    else:
        ep, en, names = ece, ewe, {"positive_potential_v": "ece_v", "negative_potential_v": "ewe_v"}
    names["cell_voltage_v"] = v_source
    if independent:
        data = three_electrode_data(t, sign * i, cell_voltage_v=v, positive_potential_v=ep,
                                    negative_potential_v=en, tolerance_v=tolerance_v,
                                    sources=names)
    else:
        data = three_electrode_data(t, sign * i, positive_potential_v=ep,
                                    negative_potential_v=en, tolerance_v=tolerance_v,
                                    sources=names)
        check = dataclasses.replace(
            data.check, message="the table's voltage_v is ewe_v − ece_v in every row (the file "
                                "records only the two potentials), so there is nothing to check")
        data = dataclasses.replace(data, check=check)
    return dataclasses.replace(data, params={**data.params, "working_electrode": working_electrode})


# --------------------------------------------------------------------------------------------
# half-cycle boundaries
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HalfCycles:
    """The half cycles to analyse: row ranges (inclusive) of the table with their full-cell
    direction (+1 charge, −1 discharge) and cycle number, in row order, at most one charge and
    one discharge per cycle. Where they come from (the cycler's counters, a segmentation) is up
    to the caller: see :meth:`from_rows` and :func:`half_cycles_from_cycling`."""

    cycle_number: np.ndarray
    direction: np.ndarray
    start_row: np.ndarray
    end_row: np.ndarray

    def __len__(self) -> int:
        return int(self.cycle_number.size)

    @classmethod
    def from_rows(cls, *, cycle_number: Sequence[int], direction: Sequence[Any],
                  start_row: Sequence[int], end_row: Sequence[int],
                  n_rows: int | None = None) -> "HalfCycles":
        """Validate and build; ``direction`` as +1/−1 or "charge"/"discharge"; ``n_rows`` (the
        table's length) to check the rows against."""
        numbers = np.asarray(cycle_number, dtype=np.int64)
        starts = np.asarray(start_row, dtype=np.int64)
        ends = np.asarray(end_row, dtype=np.int64)
        codes = []
        for k, value in enumerate(direction):
            if isinstance(value, str):
                if value not in (CHARGE, DISCHARGE):
                    raise ValueError(f"direction[{k}] must be 'charge' or 'discharge', not {value!r}")
                codes.append(1 if value == CHARGE else -1)
            elif value in (1, -1):
                codes.append(int(value))
            else:
                raise ValueError(f"direction[{k}] must be +1, -1, 'charge' or 'discharge', "
                                 f"not {value!r}")
        codes = np.asarray(codes, dtype=np.int8)
        n = numbers.size
        for name, values in (("direction", codes), ("start_row", starts), ("end_row", ends)):
            if values.size != n:
                raise ValueError(f"{name} has {values.size} entries, cycle_number has {n}")
        if n and (starts > ends).any():
            k = int(np.flatnonzero(starts > ends)[0])
            raise ValueError(f"half cycle {k}: start_row {starts[k]} is after end_row {ends[k]}")
        if n and (starts < 0).any():
            raise ValueError("start_row must not be negative")
        if n > 1 and (starts[1:] <= ends[:-1]).any():
            k = int(np.flatnonzero(starts[1:] <= ends[:-1])[0]) + 1
            raise ValueError(f"half cycle {k} (rows {starts[k]}–{ends[k]}) overlaps or precedes "
                             f"the one before it (rows {starts[k - 1]}–{ends[k - 1]})")
        if n_rows is not None and n and ends[-1] >= n_rows:
            raise ValueError(f"end_row {ends[-1]} is beyond the table's {n_rows} rows")
        seen: set[tuple[int, int]] = set()
        for number, code in zip(numbers.tolist(), codes.tolist()):
            if (number, code) in seen:
                raise ValueError(f"cycle {number} has more than one "
                                 f"{'charge' if code > 0 else 'discharge'}")
            seen.add((number, code))
        return cls(numbers, codes, starts, ends)

    def index(self, cycle_number: int, direction: str) -> int | None:
        """Position of the cycle's charge or discharge, None if it has none."""
        code = 1 if direction == CHARGE else -1
        hits = np.flatnonzero((self.cycle_number == cycle_number) & (self.direction == code))
        return int(hits[0]) if hits.size else None

    def cycles(self) -> np.ndarray:
        """The cycle numbers, in order of appearance, each once."""
        _, first = np.unique(self.cycle_number, return_index=True)
        return self.cycle_number[np.sort(first)]

    def rest_after(self, k: int, current_ma: np.ndarray, rest_current_ma: float) -> tuple[int, int] | None:
        """Rows (first, last) of the rest that follows half cycle k: the consecutive rows after
        its end, before the next half cycle, whose |current| is at most ``rest_current_ma``;
        None when the next row already carries current."""
        first = int(self.end_row[k]) + 1
        stop = int(self.start_row[k + 1]) if k + 1 < len(self) else current_ma.size
        if first >= stop:
            return None
        resting = np.abs(np.nan_to_num(current_ma[first:stop])) <= rest_current_ma
        if not resting[0]:
            return None
        n = int(np.argmin(resting)) if not resting.all() else resting.size
        return first, first + n - 1


def half_cycles_from_cycling(steps: Any, cycles: Any) -> HalfCycles:
    """The half cycles found by :mod:`analysis.core.cycling` (its ``StepTable`` and
    ``CycleAssignment``): each half cycle from the first row of its first step to the last row
    of its last step, with the cycle number of that step. Half cycles the segmentation marks as
    pulses (``half_cycle_is_pulse``, where it has it) are left out: they are not the cell's
    charge or discharge. Thin glue; the analysis itself takes any :class:`HalfCycles`."""
    half = np.asarray(cycles.half_cycle)
    pulse = getattr(cycles, "half_cycle_is_pulse", None)
    numbers, directions, starts, ends = [], [], [], []
    for h in np.unique(half[half >= 0]):
        if pulse is not None and bool(np.asarray(pulse)[h]):
            continue
        members = np.flatnonzero(half == h)
        numbers.append(int(cycles.cycle[members[0]]))
        directions.append(int(cycles.half_cycle_direction[h]))
        starts.append(int(steps.start_row[members[0]]))
        ends.append(int(steps.end_row[members[-1]]))
    # a cycle 0 (leading partial half cycle of the other direction) is kept as it is
    return HalfCycles.from_rows(cycle_number=numbers, direction=directions, start_row=starts,
                                end_row=ends)
