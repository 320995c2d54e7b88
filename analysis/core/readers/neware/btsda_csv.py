"""Neware BTSDA "regular" CSV exports (three stacked header rows), parsed without third-party help."""
from __future__ import annotations
import csv
import io
import pathlib
import re
from typing import Any
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from .. import ReaderError, ReadResult, canonical_table
from ..mapped_csv import unfinished_last_line
from . import READER_VERSION, _accumulate_step_time, _check_current_sign, _label, _step_kinds

# =========================================================================== BTSDA CSV export

_DURATION_RE = (r"^(?:(?P<d>\d+)\s*(?:days?|d|D|-|\s)\s*,?\s*)?(?P<h>\d+):(?P<m>\d{1,2}):"
                r"(?P<s>\d{1,2}(?:\.\d*)?)$")
_UNIT_RE = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


def _split_name(name: str) -> tuple[str, str]:
    """'Current(A)' -> ('current', 'a'); 'Chg. Cap.(Ah)' -> ('chgcap', 'ah')."""
    name = name.strip().strip('"').strip()
    m = _UNIT_RE.match(name)
    base, unit = (m.group(1), m.group(2)) if m else (name, "")
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", base.lower()), unit.strip().lower()


def _find(names: list[str], *bases: str) -> int | None:
    split = [_split_name(n) for n in names]
    for base in bases:
        for i, (b, _unit) in enumerate(split):
            if b == base:
                return i
    return None


_SCALES = {
    "current": {"a": 1000.0, "ma": 1.0, "ua": 0.001, "µa": 0.001, "μa": 0.001},
    "voltage": {"v": 1.0, "mv": 0.001},
    "capacity": {"ah": 1000.0, "mah": 1.0, "uah": 0.001, "µah": 0.001, "μah": 0.001},
    "energy": {"wh": 1000.0, "mwh": 1.0, "uwh": 0.001, "µwh": 0.001, "μwh": 0.001},
}


def _scale(names: list[str], idx: int, quantity: str, file: str) -> float:
    unit = _split_name(names[idx])[1]
    try:
        return _SCALES[quantity][unit]
    except KeyError:
        raise ReaderError(f"unknown {quantity} unit {unit!r}", file=file, line=None,
                          column=names[idx].strip()) from None


def _decode_line(raw: bytes) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _fields(raw: bytes) -> list[str]:
    return [f.strip() for f in next(csv.reader([_decode_line(raw)]))]


def _normalise_bytes(raw: bytes) -> bytes:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raw = raw.decode("utf-16").encode("utf-8")
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if _semicolon_separated(raw):
        # an export made with a German (or French...) locale: ';' between fields, decimal commas
        raw = raw.replace(b",", b".").replace(b";", b",")
    return raw


def _semicolon_separated(raw: bytes) -> bool:
    first = raw[:raw.find(b"\n")] if b"\n" in raw else raw[:4096]
    return first.count(b";") > first.count(b",")


class NewareCsvReader:
    """Neware BTSDA "regular" CSV export: cycle, step and record rows stacked in one file.

    Line 1 is the cycle header, line 2 the step header (it starts with one empty field) and
    line 3 the record header (two empty fields). Below them come cycle rows, each followed by
    its step rows, each followed by its record rows. In the sample, the first cycle row
    carries the first step row's fields after its own.
    """

    name = "neware-csv"
    version = READER_VERSION
    extensions = (".csv",)

    # -------------------------------------------------------------- sniff
    def sniff(self, head: bytes, filename: str) -> float:
        utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
        if not head or (b"\x00" in head[:2048] and not utf16):
            return 0.0
        try:
            text = _normalise_bytes(head[: len(head) - len(head) % 2] if utf16 else head)
        except UnicodeDecodeError:
            return 0.0
        lines = text.split(b"\n")
        if len(lines) < 3:
            return 0.0
        l1, l2, l3 = (_decode_line(x).strip() for x in lines[:3])
        first = _split_name(l1.split(",")[0])[0]
        if not (first.startswith("cycle") or first in ("循环序号", "循环号")):
            return 0.0
        if l2.startswith(",") and not l2.startswith(",,") and l3.startswith(",,"):
            step_ok = "step" in l2.lower() or "工步" in l2
            record_ok = "电压" in l3 or any(
                k in l3.lower() for k in ("voltage", "current", "datapoint", "record"))
            return 0.95 if step_ok and record_ok else 0.6
        return 0.0

    # -------------------------------------------------------------- read
    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        file = _label(path)
        raw = path.read_bytes()
        if not raw or (len(raw) < 65536 and not raw.strip()):
            raise ReaderError("the file is empty", file=file)
        unfinished = None
        if not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            unfinished = unfinished_last_line(path, ";" if _semicolon_separated(raw[:65536]) else ",")
            if unfinished:
                raw = raw[:unfinished["start"]]
        dialect = ("';'-separated, decimal comma" if _semicolon_separated(raw[:65536].lstrip(b"\xef\xbb\xbf"))
                   else None)
        try:
            raw = _normalise_bytes(raw)
        except UnicodeDecodeError as exc:
            raise ReaderError(f"undecodable UTF-16 text: {exc}", file=file) from exc

        buf = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(raw)]))
        if starts[-1] >= len(raw):
            starts, ends = starts[:-1], ends[:-1]
        n_lines = len(starts)
        if n_lines < 3:
            raise ReaderError("not a Neware BTSDA export: fewer than the three header lines "
                              "(cycle, step, record)", file=file)

        def line_bytes(i: int) -> bytes:
            return raw[starts[i]:ends[i]]

        cycle_names = _fields(line_bytes(0))
        step_names = _fields(line_bytes(1))
        record_names = _fields(line_bytes(2))
        if not (line_bytes(1).startswith(b",") and not line_bytes(1).startswith(b",,")
                and line_bytes(2).startswith(b",,")):
            raise ReaderError("not a Neware BTSDA export: line 2 must be the step header (one "
                              "leading empty field) and line 3 the record header (two)",
                              file=file, line=2)

        lengths = ends - starts
        safe = np.minimum(starts, len(raw) - 1)
        c0 = np.where(lengths > 0, buf[safe], 0)
        c1 = np.where(lengths > 1, buf[np.minimum(starts + 1, len(raw) - 1)], 0)
        body = np.arange(n_lines) >= 3
        is_record = body & (c0 == 44) & (c1 == 44)
        is_step = body & (c0 == 44) & ~is_record
        is_cycle = body & (lengths > 0) & (c0 != 44)

        # ---- cycle rows (a cycle row may carry the first step row's fields after its own)
        n_cycle = len(cycle_names)
        cyc_col = _find(cycle_names, "cycleindex", "cycleid", "cycle", "循环序号", "循环号")
        if cyc_col is None:
            raise ReaderError("the cycle header has no 'Cycle Index' column", file=file, line=1)
        cycle_lines: list[int] = []
        cycle_values: list[int] = []
        summary_raw: list[list[str]] = []
        step_lines: list[int] = []
        step_rows: list[list[str]] = []
        for i in np.flatnonzero(is_cycle):
            fields = _fields(line_bytes(int(i)))
            if not any(fields):
                continue
            try:
                cycle_values.append(int(float(fields[cyc_col])))
            except (ValueError, IndexError):
                raise ReaderError("cycle row has no valid cycle number",
                                  file=file, line=int(i) + 1,
                                  column=cycle_names[cyc_col]) from None
            cycle_lines.append(int(i))
            summary_raw.append(fields[:n_cycle])
            if len(fields) > n_cycle and any(fields[n_cycle:]):
                step_lines.append(int(i))
                step_rows.append([""] + fields[n_cycle:])
        for i in np.flatnonzero(is_step):
            step_lines.append(int(i))
            step_rows.append(_fields(line_bytes(int(i))))
        order = np.argsort(step_lines, kind="stable")
        step_lines_arr = np.asarray(step_lines, dtype=np.int64)[order]
        step_rows = [step_rows[k] for k in order]
        cycle_lines_arr = np.asarray(cycle_lines, dtype=np.int64)

        sidx_col = _find(step_names, "stepindex", "stepid", "工步号")
        stype_col = _find(step_names, "steptype", "status", "工步类型", "工步状态")
        step_index_values = np.full(len(step_rows), -1, dtype=np.int64)
        step_types = []
        for k, fields in enumerate(step_rows):
            if sidx_col is not None and sidx_col < len(fields) and fields[sidx_col]:
                try:
                    step_index_values[k] = int(float(fields[sidx_col]))
                except ValueError:
                    raise ReaderError(f"invalid step number {fields[sidx_col]!r}", file=file,
                                      line=int(step_lines_arr[k]) + 1,
                                      column=step_names[sidx_col]) from None
            step_types.append(fields[stype_col] if stype_col is not None and
                              stype_col < len(fields) else "")
        step_kind = _step_kinds(np.asarray(step_types, dtype=object))

        # ---- record rows: gather their contiguous blocks and let Arrow parse them
        record_line_idx = np.flatnonzero(is_record)
        if record_line_idx.size == 0:
            raise ReaderError("no record rows (lines starting with two empty fields) below the "
                              "three header lines", file=file)
        run_breaks = np.flatnonzero(np.diff(record_line_idx) != 1) + 1
        run_first = record_line_idx[np.concatenate(([0], run_breaks))]
        run_last = record_line_idx[np.concatenate((run_breaks - 1, [len(record_line_idx) - 1]))]
        block = b"".join([raw[starts[a]:ends[b] + 1] for a, b in zip(run_first, run_last)])
        if not block.endswith(b"\n"):
            block += b"\n"

        names = [n if n else f"_blank{i}" for i, n in enumerate(record_names)]
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if n in seen:
                names[i] = f"{n}_{i}"
            seen[n] = i
        width = len(_fields(line_bytes(int(record_line_idx[0]))))
        if width > len(names):
            names += [f"_extra{i}" for i in range(len(names), width)]
        elif width < len(names) and not any(record_names[width:]):
            names = names[:width]

        col = {key: _find(record_names, *bases) for key, bases in {
            "total_time": ("totaltime", "cumulativetime", "testtime", "总时间"),
            "step_time": ("time", "steptime", "relativetime", "相对时间"),
            "current": ("current", "电流"),
            "voltage": ("voltage", "电压"),
            "capacity": ("capacity", "容量"),
            "chg_cap": ("chgcap", "capacitancechg", "chargecapacity", "充电容量"),
            "dchg_cap": ("dchgcap", "capacitancedchg", "dischargecapacity", "放电容量"),
            "energy": ("energy", "能量"),
            "chg_energy": ("chgenergy", "engychg", "chargeenergy", "充电能量"),
            "dchg_energy": ("dchgenergy", "engydchg", "dischargeenergy", "放电能量"),
            "date": ("date", "realtime", "absolutetime", "systemtime", "绝对时间"),
        }.items()}
        temp_candidates = sorted(
            (int(m.group(1)), i) for i, n in enumerate(record_names)
            if (m := re.fullmatch(r"t(\d+)", _split_name(n)[0]))
            and _split_name(n)[1] not in ("v", "mv"))
        col["temperature"] = temp_candidates[0][1] if temp_candidates else None
        found = ", ".join(repr(n) for n in record_names if n)
        for key, words in (("current", "Current(mA) or Current(A)"), ("voltage", "Voltage(V)")):
            if col[key] is None:
                raise ReaderError(f"the record header has no {key} column ({words}); it has the columns "
                                  f"{found}", file=file, line=3)
        if col["total_time"] is None and col["step_time"] is None:
            raise ReaderError(f"the record header has no time column (Total Time or Time); it has the "
                              f"columns {found}", file=file, line=3)

        wanted = sorted({i for i in col.values() if i is not None})
        invalid: list[Any] = []

        def on_invalid(row):
            invalid.append(row)
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(block),
                read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter=",", invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    include_columns=[names[i] for i in wanted],
                    column_types={names[i]: pa.string() for i in wanted},
                    strings_can_be_null=True, null_values=[""], check_utf8=False),
            )
        except pa.ArrowInvalid as exc:
            raise ReaderError(f"could not parse the record rows: {exc}", file=file) from exc
        del block
        if invalid:
            row = invalid[0]
            line = self._line_of_text(raw, starts, is_record, row.text)
            cut = (line == n_lines and not raw.endswith(b"\n")
                   and row.actual_columns < row.expected_columns)
            raise ReaderError(f"record row has {row.actual_columns} fields, the record header "
                              f"has {row.expected_columns}"
                              + ("; the file ends inside this row (truncated?)" if cut else ""),
                              file=file, line=line)
        n = table.num_rows
        assert n == len(record_line_idx), (n, len(record_line_idx))

        def location(i: int) -> int:
            return int(record_line_idx[i]) + 1

        def strings(key: str) -> pa.Array:
            arr = table.column(names[col[key]]).combine_chunks()
            return pc.ascii_trim_whitespace(pc.cast(arr, pa.string()))

        def numbers(key: str) -> np.ndarray:
            arr = strings(key)
            try:
                out = pc.cast(arr, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                import pandas as pd  # noqa: PLC0415
                s = arr.to_pandas()
                parsed = pd.to_numeric(s, errors="coerce")
                bad = int(np.flatnonzero((parsed.isna() & s.notna()).to_numpy())[0])
                raise ReaderError(f"not a number: {s.iloc[bad]!r}", file=file,
                                  line=location(bad), column=record_names[col[key]]) from None
            return out.to_numpy(zero_copy_only=False)

        def durations(key: str) -> np.ndarray:
            arr = strings(key)
            pieces = pc.split_pattern(arr, ":")
            lengths = pc.list_value_length(pieces)
            if pc.all(pc.equal(lengths, 3)).as_py() is not False:  # fast path: h:mm:ss[.f]
                try:
                    h, m, sec = (pc.cast(pc.list_element(pieces, k), pa.float64())
                                 .to_numpy(zero_copy_only=False) for k in range(3))
                    return h * 3600.0 + m * 60.0 + sec
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass  # days, stray characters: the regex below parses or locates them
            parts = pc.extract_regex(arr, _DURATION_RE)
            ok = pc.is_valid(parts).to_numpy(zero_copy_only=False)
            present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            if not ok[present].all():
                if not ok[present].any():  # plain numbers: seconds, or the unit in the header
                    unit = _split_name(record_names[col[key]])[1]
                    factor = {"": 1.0, "s": 1.0, "ms": 0.001, "min": 60.0, "h": 3600.0}.get(unit)
                    if factor is not None:
                        return numbers(key) * factor
                bad = int(np.flatnonzero(present & ~ok)[0])
                raise ReaderError(f"not a duration (hh:mm:ss): {arr[bad].as_py()!r}", file=file,
                                  line=location(bad), column=record_names[col[key]])

            def part(name: str) -> np.ndarray:
                values = pc.struct_field(parts, name)
                values = pc.if_else(pc.equal(values, ""), "0", values)
                return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
            return part("d") * 86400.0 + part("h") * 3600.0 + part("m") * 60.0 + part("s")

        # ---- attach step and cycle
        spos = np.searchsorted(step_lines_arr, record_line_idx, side="right") - 1
        cpos = np.searchsorted(cycle_lines_arr, record_line_idx, side="right") - 1
        has_step = spos >= 0
        rec_kind = np.where(has_step, step_kind[np.maximum(spos, 0)] if len(step_kind) else 0, 0)
        step_index = np.where(has_step, step_index_values[np.maximum(spos, 0)]
                              if len(step_index_values) else -1, -1)
        cycle_arr = np.asarray(cycle_values, dtype=np.int64)
        cycle_index = np.where(cpos >= 0, cycle_arr[np.maximum(cpos, 0)] if len(cycle_arr) else -1,
                               -1)

        # ---- time
        time_column = record_names[col["total_time"] if col["total_time"] is not None
                                   else col["step_time"]]
        if col["total_time"] is not None:
            test_time = durations("total_time")
            time_source = f"the export's {record_names[col['total_time']]!r} column"
        else:
            step_time = durations("step_time")
            test_time = _accumulate_step_time(step_time, spos)
            time_source = ("the export's step time accumulated over steps (no total-time column)")
        missing = np.flatnonzero(~np.isfinite(test_time))
        if missing.size:
            raise ReaderError("no time in this record row", file=file,
                              line=location(int(missing[0])), column=time_column)
        back = np.flatnonzero(np.diff(test_time) < 0)
        if back.size:
            i = int(back[0]) + 1
            raise ReaderError(f"test time goes backwards ({test_time[i]:g} s after "
                              f"{test_time[i - 1]:g} s)", file=file, line=location(i),
                              column=time_column)

        current = numbers("current") * _scale(record_names, col["current"], "current", file)
        current, sign_note = _check_current_sign(current, rec_kind)
        voltage = numbers("voltage") * _scale(record_names, col["voltage"], "voltage", file)

        columns: dict[str, Any] = {
            "test_time_s": test_time,
            "current_ma": current,
            "voltage_v": voltage,
            "step_index": pa.array(step_index, mask=step_index < 0, type=pa.int64()),
            "cycle_index": pa.array(cycle_index, mask=cycle_index < 0, type=pa.int64()),
        }
        goes_charge = (rec_kind == 1) | ((rec_kind == 0) & (current >= 0))
        for quantity, single, chg, dchg, out_chg, out_dchg in (
                ("capacity", "capacity", "chg_cap", "dchg_cap",
                 "charge_capacity_mah", "discharge_capacity_mah"),
                ("energy", "energy", "chg_energy", "dchg_energy",
                 "charge_energy_mwh", "discharge_energy_mwh")):
            if col[chg] is not None and col[dchg] is not None:
                columns[out_chg] = (np.abs(numbers(chg))
                                    * _scale(record_names, col[chg], quantity, file))
                columns[out_dchg] = (np.abs(numbers(dchg))
                                     * _scale(record_names, col[dchg], quantity, file))
            elif col[single] is not None:
                value = np.abs(numbers(single)) * _scale(record_names, col[single], quantity, file)
                columns[out_chg] = np.where(goes_charge, value, 0.0)
                columns[out_dchg] = np.where(goes_charge, 0.0, value)

        metadata: dict[str, Any] = {
            "vendor": "Neware", "format": "BTSDA CSV export (cycle/step/record layers)",
            "record_count": n, "time_source": time_source, "current_sign": sign_note,
            "capacity_counters": ("the export's per-step Capacity/Energy, put in the charge or "
                                  "discharge column by the step type"),
            "step_count": len(step_rows), "cycle_count": len(cycle_values),
        }
        if col["temperature"] is not None:
            temperature = numbers("temperature")
            if np.isfinite(temperature).any():
                columns["temperature_c"] = temperature
                metadata["temperature_source"] = (
                    f"{record_names[col['temperature']]} (unit taken as °C; BTSDA writes '(?)' "
                    "when the degree sign is lost)")
        if col["date"] is not None:
            columns["timestamp"] = self._timestamps(strings("date"), file, location,
                                                    record_names[col["date"]])
            first = columns["timestamp"][0].as_py()
            if first is not None:
                metadata["start_time"] = first.isoformat()
            metadata["timestamp_timezone"] = ("local wall-clock time of the cycler PC as written; "
                                              "the zone is not recorded")
        if np.all(test_time == np.round(test_time)):
            metadata["time_resolution_s"] = 1.0
        metadata["vendor_cycle_summary"] = self._cycle_summary(cycle_names, summary_raw,
                                                               cycle_lines, file)
        metadata["vendor_cycle_summary_source"] = "the export's cycle rows"
        if unfinished:
            metadata["dropped_last_row"] = {k: unfinished[k] for k in ("line", "text", "message")}
        if dialect:
            metadata["dialect"] = dialect
        table_out = canonical_table(columns, file=file)
        return ReadResult(table=table_out, reader_name=self.name, reader_version=self.version,
                          metadata=metadata)

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _line_of_text(raw: bytes, starts: np.ndarray, is_record: np.ndarray, text: str | None
                      ) -> int | None:
        if not text:
            return None
        needle = text.encode("utf-8", errors="surrogateescape")
        pos = raw.find(needle)
        while pos != -1:
            line = int(np.searchsorted(starts, pos, side="right")) - 1
            if starts[line] == pos and is_record[line]:
                return line + 1
            pos = raw.find(needle, pos + 1)
        return None

    @staticmethod
    def _timestamps(arr: pa.Array, file: str, location, column: str) -> pa.Array:
        candidates = [arr]
        if pc.any(pc.match_substring(arr, "/")).as_py():
            candidates.append(pc.replace_substring(arr, "/", "-"))
        for values in candidates:
            try:
                return pc.cast(values, pa.timestamp("us"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        import pandas as pd  # noqa: PLC0415
        s = arr.to_pandas()
        parsed = pd.to_datetime(s, errors="coerce", format="ISO8601")
        bad_rows = np.flatnonzero((parsed.isna() & s.notna()).to_numpy())
        bad = int(bad_rows[0]) if bad_rows.size else 0
        raise ReaderError(f"not a date and time (YYYY-MM-DD HH:MM:SS): {s.iloc[bad]!r}", file=file,
                          line=location(bad), column=column)

    @staticmethod
    def _cycle_summary(names: list[str], rows: list[list[str]], lines: list[int], file: str
                       ) -> list[dict[str, Any]]:
        wanted = {
            "cycle_index": (("cycleindex", "cycleid", "cycle", "循环序号", "循环号"), None),
            "charge_capacity_mah": (("chgcap", "chargecapacity", "充电容量"), "capacity"),
            "discharge_capacity_mah": (("dchgcap", "dischargecapacity", "放电容量"), "capacity"),
            "charge_energy_mwh": (("chgenergy", "chargeenergy", "充电能量"), "energy"),
            "discharge_energy_mwh": (("dchgenergy", "dischargeenergy", "放电能量"), "energy"),
            "coulombic_efficiency_pct": (("chgdchgeff", "efficiency", "充放电效率"), None),
        }
        where = {key: (_find(names, *bases), quantity) for key, (bases, quantity) in wanted.items()}
        out = []
        for fields, line in zip(rows, lines):
            row: dict[str, Any] = {}
            for key, (idx, quantity) in where.items():
                if idx is None:
                    if key != "coulombic_efficiency_pct":
                        row[key] = None
                    continue
                text = fields[idx] if idx < len(fields) else ""
                if text == "":
                    row[key] = None
                    continue
                try:
                    value = float(text)
                except ValueError:
                    raise ReaderError(f"not a number: {text!r}", file=file, line=line + 1,
                                      column=names[idx]) from None
                if key == "cycle_index":
                    row[key] = int(value)
                elif quantity is not None:  # 12 digits: 0.3278 Ah -> 327.8 mAh, not ...99995
                    row[key] = float(f"{value * _scale(names, idx, quantity, file):.12g}")
                else:
                    row[key] = value
            out.append(row)
        return out



NEWARE_CSV_READER = NewareCsvReader()
