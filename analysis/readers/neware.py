"""Neware readers: BTS binary files (.nda, .ndax) and BTSDA "regular" CSV exports.

``NDA_READER`` and ``NDAX_READER`` decode through NewareNDA (BSD-3-Clause). This module checks
the file's structure first, so that a truncated or foreign file is refused with a message
rather than half read. The NewareNDA version goes into the metadata (``newarenda_version``).
``NEWARE_CSV_READER`` parses the three-layer BTSDA export without third-party help.

What Neware stores, and what this module makes of it:

* Current is signed positive while charging, in every sample file (checked against the step
  types on every read; a file with the opposite sign is flipped and says so in its metadata).
* ``Time`` in NewareNDA's frame is the step time for NDA v29 and NDAX files: it restarts at 0
  with every step. BTS 9.1 NDA (v130) stores total test time. ``test_time_s`` is the stored
  total time, or the step time plus the durations of the earlier steps. That is how BTSDA
  builds ``Total Time``: nothing is added at a step change.
* Capacity and energy counters restart at every step. They sit in the charge or discharge
  column according to the step type, and are 0 in the other column. The per-cycle summary
  (``vendor_cycle_summary``) is therefore the sum, over the cycle's steps, of each step's
  final counter. For a CC-CV charge that is CC plus CV, not the maximum of the counter.
* ``step_index`` is the step's number in the step program (Neware ``Step_Index`` / CSV
  ``Step Index``), not the running step count. ``cycle_index`` is the cycle counter the
  cycler wrote, not one NewareNDA regenerates. The exception is a file that stores none
  (BTS 9.0 NDA v130); see ``metadata["cycle_index_source"]``.
* Timestamps: NDA v29 and NDAX with ndc v2 store the cycler PC's local wall-clock time, with
  no zone. BTS 9.x NDA and newer NDAX store Unix time, which is given here as naive UTC.
  ``metadata["timestamp_timezone"]`` says which applies to the file.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import mmap
import os
import pathlib
import re
import struct
import tempfile
import warnings as warnings_module
import zipfile
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import ReaderError, ReadResult, canonical_table

READER_VERSION = "1.0.0"
SUPPORTED_NDA_VERSIONS = (29, 130)  # what NewareNDA decodes; used only to word the error

_NDA_MAGIC = b"NEWARE"
_ZIP_MAGIC = b"PK\x03\x04"
_NDAX_MEMBERS = {"versioninfo.xml", "testinfo.xml", "step.xml", "editstep.xml", "data.ndc",
                 "data_runinfo.ndc", "data_step.ndc", "data_log.ndc"}

logger = logging.getLogger(__name__)


def _label(path: str | os.PathLike) -> str:
    """How errors name a file: its name (uploads live under storage paths nobody recognises)."""
    return pathlib.Path(path).name


# =========================================================================== NewareNDA-backed

def _newarenda():
    try:
        import NewareNDA  # noqa: PLC0415 - optional at import time, needed to read binaries
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ReaderError("the NewareNDA package is not installed; it is needed for .nda/.ndax "
                          "files") from exc
    return NewareNDA


def _newarenda_version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415
        return version("NewareNDA")
    except Exception:  # noqa: BLE001 - fall back to the module's own attribute
        return str(getattr(_newarenda(), "__version__", "unknown")).lstrip("v")


@contextlib.contextmanager
def _with_suffix(path: pathlib.Path, suffix: str) -> Iterator[str]:
    """NewareNDA dispatches on the (case-sensitive) extension; give it one it understands."""
    if path.suffix == suffix:
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="neware-") as tmp:
        alias = pathlib.Path(tmp) / f"data{suffix}"
        try:
            os.symlink(path.resolve(), alias)
        except OSError:
            import shutil  # noqa: PLC0415
            shutil.copyfile(path, alias)
        yield str(alias)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _call_newarenda(path: pathlib.Path, suffix: str, *, software_cycle_number: bool,
                    warnings: list[str] | None = None):
    """NewareNDA.read, with its warnings collected (for the metadata) rather than printed."""
    nda = _newarenda()
    collect = _Collect()
    nda_logger = logging.getLogger("newarenda")
    nda_logger.addHandler(collect)
    try:
        with _with_suffix(path, suffix) as target, warnings_module.catch_warnings():
            # NewareNDA 2026.6 uses pandas' deprecated inplace=...; not the user's concern
            warnings_module.filterwarnings("ignore", module=r"NewareNDA(\.|$)")
            return nda.read(target, software_cycle_number=software_cycle_number,
                            log_level="WARNING")
    finally:
        nda_logger.removeHandler(collect)
        if warnings is not None:
            warnings.extend(m for m in collect.messages if m not in warnings)


def _read_newarenda_metadata(path: pathlib.Path, suffix: str) -> dict[str, Any]:
    reader = getattr(_newarenda(), "read_metadata", None)
    if reader is None:  # older NewareNDA
        return {}
    try:
        with _with_suffix(path, suffix) as target:
            return dict(reader(target))
    except Exception as exc:  # noqa: BLE001 - metadata is a bonus; the data decide success
        logger.info("NewareNDA.read_metadata failed on %s: %s", path, exc)
        return {}


def _check_nda_structure(path: pathlib.Path, file: str) -> int:
    """Refuse what NewareNDA would half read: returns the NDA version byte.

    NewareNDA reads fixed-length records until the data run out. It does not notice a file that
    stops part way, and returns the records before the cut. The layouts it decodes are checked
    here:

    * v130 BTS 9.1 (records start 0x55 at byte 1024): a complete file ends its data with a block
      starting 0x81 on a record boundary. Its absence means the file was cut.
    * v130 BTS 9.0 (88-byte records): the data run must end on a record boundary, unless an 0x81
      block is present.
    * v29 (86-byte records after a zero-padded header): the data run must end on a record
      boundary.
    """
    size = path.stat().st_size
    if size == 0:
        raise ReaderError("the file is empty", file=file)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head.startswith(_NDA_MAGIC):
        raise ReaderError("not a Neware .nda file (it does not start with 'NEWARE')", file=file)
    if len(head) < 15:
        raise ReaderError(f"the file is truncated: only {size} bytes, less than an NDA header",
                          file=file)
    version = head[14]
    if version not in (29, 130):
        return version  # NewareNDA decides (and we word its refusal)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if version == 130:
            if size <= 1026:
                raise ReaderError(f"the file is truncated: {size} bytes, no data records after "
                                  "the 1024-byte header", file=file)
            if mm[1024] == 0x55:  # BTS 9.1
                record_len = mm.find(mm[1024:1026], 1026) - 1024
                if record_len <= 0:
                    raise ReaderError("the file is truncated: it holds at most one data record "
                                      "and no end-of-data block", file=file)
                layout, needs_footer = "BTS 9.1", True
            else:
                record_len, layout, needs_footer = 88, "BTS 9.0", False
            start = 1024
        else:
            identifier = b"\x00\x00\x00\x00\x55\x00"
            record_len, layout, needs_footer = 86, "BTS 7", False
            header = mm.find(identifier)
            while (header != -1 and header + 4 + record_len < size
                   and (mm[header + 4 + record_len] != 0x55 or mm[header + 4 + 12] == 0)):
                header = mm.find(identifier, header + 4)
            if header == -1:
                raise ReaderError(f"no data records found in {size} bytes: the file is truncated "
                                  "or holds no measurements", file=file)
            start = header + 4
        view = np.frombuffer(mm, dtype=np.uint8)
        firsts = view[start::record_len].copy()
        del view
    footer = np.flatnonzero(firsts == 0x81)
    if footer.size:
        return version
    complete = (size - start) // record_len
    if (size - start) % record_len:
        raise ReaderError(
            f"the file is truncated: it ends {(size - start) % record_len} bytes into data "
            f"record {complete + 1} (NDA v{version}, {layout} layout, {record_len}-byte records, "
            f"file size {size} bytes)", file=file)
    if needs_footer:
        raise ReaderError(
            f"the file is truncated: its data end at byte {size} without Neware's end-of-data "
            f"block (NDA v{version}, {layout} layout); was the copy interrupted?", file=file)
    return version


def _check_ndax_structure(path: pathlib.Path, file: str) -> list[str]:
    size = path.stat().st_size
    if size == 0:
        raise ReaderError("the file is empty", file=file)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(4)
        why = ("it starts like a ZIP archive but its directory is missing; the file is truncated"
               if head == _ZIP_MAGIC else "it is not a ZIP archive")
        raise ReaderError(f"not a readable Neware .ndax file: {why}", file=file)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReaderError(f"the .ndax archive is damaged: {exc}", file=file) from exc
    lower = {n.lower() for n in names}
    if "data.ndc" not in lower:
        listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        if "[content_types].xml" in lower:
            raise ReaderError("this ZIP archive is an Office document (e.g. an .xlsx workbook), "
                              f"not a Neware .ndax: it has no data.ndc member (members: {listed})",
                              file=file)
        if lower & _NDAX_MEMBERS:
            raise ReaderError("this .ndax has no data.ndc member; NewareNDA "
                              f"{_newarenda_version()} cannot read its layout (members: {listed})",
                              file=file)
        raise ReaderError(f"this ZIP archive is not a Neware .ndax: no data.ndc member "
                          f"(members: {listed or 'none'})", file=file)
    return names


def _newarenda_error(exc: Exception, *, file: str, kind: str, version: int | None) -> ReaderError:
    if isinstance(exc, NotImplementedError):
        if kind == "nda" and version is not None:
            supported = " and ".join(str(v) for v in SUPPORTED_NDA_VERSIONS)
            return ReaderError(f"NDA version {version} is not supported (NewareNDA "
                               f"{_newarenda_version()} reads {supported})", file=file)
        return ReaderError(f"unsupported {kind.upper()} content for NewareNDA "
                           f"{_newarenda_version()}: {exc}", file=file)
    if isinstance(exc, zipfile.BadZipFile):
        return ReaderError(f"the .ndax archive is damaged: {exc}", file=file)
    if isinstance(exc, (struct.error, EOFError, IndexError, ValueError, OSError, KeyError)):
        return ReaderError(f"the {kind} file is truncated or corrupt; NewareNDA could not decode "
                           f"it ({type(exc).__name__}: {exc})", file=file)
    return ReaderError(f"NewareNDA failed on this {kind} file ({type(exc).__name__}: {exc})",
                       file=file)


# --------------------------------------------------------------------------- shared numerics

def _accumulate_step_time(step_time: np.ndarray, step_id: np.ndarray) -> np.ndarray:
    """Total test time from a clock that restarts with each step: at every step change add the
    previous step's last reading (BTSDA does the same: a new step starts at the same instant)."""
    increments = np.zeros(len(step_time), dtype=np.float64)
    boundaries = np.flatnonzero(step_id[1:] != step_id[:-1]) + 1
    previous = step_time[boundaries - 1]
    increments[boundaries] = np.where(np.isfinite(previous), previous, 0.0)
    return step_time + np.cumsum(increments)


def _step_kinds(status: np.ndarray) -> np.ndarray:
    """+1 charge, -1 discharge, 0 anything else, from Neware step-type names."""
    out = np.zeros(len(status), dtype=np.int8)
    for i, name in enumerate(status):
        text = str(name).lower().replace(" ", "").replace("_", "")
        if "dchg" in text or "放电" in text or "discharge" in text:
            out[i] = -1
        elif "chg" in text or "充电" in text or "charge" in text:
            out[i] = 1
    return out


def _check_current_sign(current: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, str]:
    """Return the current with positive = charge, and a sentence on what was found."""
    with np.errstate(invalid="ignore"):
        chg = current[(kind == 1) & (current != 0) & np.isfinite(current)]
        dchg = current[(kind == -1) & (current != 0) & np.isfinite(current)]
    chg_sign = np.sign(np.median(chg)) if chg.size else 0.0
    dchg_sign = np.sign(np.median(dchg)) if dchg.size else 0.0
    if chg_sign >= 0 and dchg_sign <= 0:
        return current, "as stored: positive in charge steps, negative in discharge steps"
    if chg_sign <= 0 and dchg_sign >= 0:
        return -current, ("flipped: the file stores negative current in charge steps; the table "
                          "has positive = charge")
    return current, "as stored: charge and discharge steps have the same current sign (unusual)"


def _plain(value: Any) -> Any:
    """JSON-friendly scalars for metadata."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _vendor_summary(cycle: np.ndarray, step_id: np.ndarray, counters: dict[str, np.ndarray]
                    ) -> list[dict[str, Any]]:
    """Per cycle: the sum over its steps of each step's final (maximum) counter value."""
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame({"cycle": cycle, "step": step_id, **counters})
    frame = frame[frame["cycle"] >= 0]
    per_step = frame.groupby(["cycle", "step"], sort=False).max()
    per_cycle = per_step.groupby(level="cycle", sort=True).sum(min_count=1)
    rows = []
    for cyc, values in per_cycle.iterrows():
        row = {"cycle_index": int(cyc)}
        for key in counters:
            row[key] = _plain(float(values[key]))
        rows.append(row)
    return rows


def _frame_to_result(df, *, path: pathlib.Path, suffix: str, file: str, reader,
                     metadata: dict[str, Any]) -> ReadResult:
    import pandas as pd  # noqa: PLC0415

    n = len(df)
    if n == 0:
        raise ReaderError("the file holds no data records", file=file)
    step_seq = df["Step"].to_numpy(dtype=np.int64)
    status = df["Status"].astype(str).to_numpy()
    names = pd.unique(status)
    kind_of = dict(zip(names, _step_kinds(np.asarray(names, dtype=object))))
    kinds = pd.Series(status).map(kind_of).to_numpy(dtype=np.int8)

    # ---- time
    stored = df["Time"].to_numpy(dtype=np.float64)
    back = np.flatnonzero(np.diff(stored) < 0) + 1
    boundaries = np.flatnonzero(step_seq[1:] != step_seq[:-1]) + 1
    starts = np.concatenate(([0], boundaries))
    if back.size == 0:
        test_time, source = stored, "Neware Time column (total test time)"
    else:
        at_boundary = np.isin(back, boundaries)
        if at_boundary.all() and np.nanmedian(stored[starts]) < 1.0:
            test_time = _accumulate_step_time(stored, step_seq)
            source = ("Neware Time column is step time (restarts at each step); test time = step "
                      "time + durations of the earlier steps")
        else:
            bad = int(back[~at_boundary][0]) if not at_boundary.all() else int(back[0])
            where = "inside step" if not at_boundary.all() else "at the start of step"
            raise ReaderError(
                f"time goes backwards {where} {int(step_seq[bad])} at record Index "
                f"{int(df['Index'].iloc[bad])} ({stored[bad]:g} s after {stored[bad - 1]:g} s)",
                file=file, column="Time")
    if not np.all(np.isfinite(test_time)):
        bad = int(np.flatnonzero(~np.isfinite(test_time))[0])
        raise ReaderError(f"no time at record Index {int(df['Index'].iloc[bad])}", file=file,
                          column="Time")
    if np.any(np.diff(test_time) < 0):  # pragma: no cover - guarded above
        raise ReaderError("test time is not monotonic after accumulating step times", file=file)

    # ---- electrical
    current, sign_note = _check_current_sign(df["Current(mA)"].to_numpy(dtype=np.float64), kinds)
    columns: dict[str, Any] = {
        "test_time_s": test_time,
        "current_ma": current,
        "voltage_v": df["Voltage"].to_numpy(dtype=np.float64),
        "step_index": df["Step_Index"].to_numpy(dtype=np.int64),
    }

    # ---- cycle: what the cycler wrote, unless it wrote nothing (BTS 9.0 NDA stores no cycle)
    cycle = df["Cycle"].to_numpy(dtype=np.int64)
    if np.all(cycle == 0):
        regenerated = _call_newarenda(path, suffix, software_cycle_number=True)
        cycle = regenerated["Cycle"].to_numpy(dtype=np.int64)
        metadata["cycle_index_source"] = ("generated by NewareNDA (a cycle starts at a charge "
                                          "after a discharge): the file stores no cycle counter")
    else:
        metadata["cycle_index_source"] = "cycle counter stored by the cycler"
    columns["cycle_index"] = cycle

    counters = {
        "charge_capacity_mah": df["Charge_Capacity(mAh)"].to_numpy(dtype=np.float64),
        "discharge_capacity_mah": df["Discharge_Capacity(mAh)"].to_numpy(dtype=np.float64),
        "charge_energy_mwh": df["Charge_Energy(mWh)"].to_numpy(dtype=np.float64),
        "discharge_energy_mwh": df["Discharge_Energy(mWh)"].to_numpy(dtype=np.float64),
    }
    columns.update(counters)  # they follow the step type, so a current-sign flip leaves them

    # ---- temperature: the first auxiliary temperature channel (T1, T2, ...)
    temps = sorted((int(m.group(1)), c) for c in df.columns
                   if (m := re.fullmatch(r"T(\d+)", str(c))))
    for _num, col in temps:
        values = df[col].to_numpy(dtype=np.float64)
        if np.isfinite(values).any():
            columns["temperature_c"] = values
            metadata["temperature_source"] = f"auxiliary channel {col}"
            break

    # ---- timestamps
    stamps = df["Timestamp"]
    if stamps.dtype == object:  # mixed UTC offsets (a DST change) come as Python datetimes
        sample = stamps.dropna()
        aware = len(sample) and getattr(sample.iloc[0], "tzinfo", None) is not None
        stamps = pd.to_datetime(stamps, utc=bool(aware), errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        # NewareNDA turns the stored Unix time into the *reading* machine's zone; undo that
        columns["timestamp"] = (stamps.dt.tz_convert("UTC").dt.tz_localize(None)
                                .to_numpy("datetime64[us]"))
        metadata["timestamp_timezone"] = "UTC (the file stores Unix time)"
    else:
        columns["timestamp"] = stamps.to_numpy("datetime64[us]")
        metadata["timestamp_timezone"] = ("local wall-clock time of the cycler PC as written; "
                                          "the zone is not recorded")
    if "timestamp" in columns and n:
        first = pd.Timestamp(columns["timestamp"][0])
        if not pd.isna(first):
            metadata["start_time"] = first.isoformat()

    metadata["current_sign"] = sign_note
    metadata["time_source"] = source
    metadata["record_count"] = n
    metadata["capacity_counters"] = ("Neware per-step counters (restart at every step; the other "
                                     "direction's column is 0)")
    metadata["vendor_cycle_summary"] = _vendor_summary(cycle, step_seq, counters)
    metadata["vendor_cycle_summary_source"] = (
        "sum over each cycle's steps of the step's final Neware capacity/energy counter")
    table = canonical_table(columns, file=file)
    return ReadResult(table=table, reader_name=reader.name, reader_version=reader.version,
                      metadata=metadata)


class NdaReader:
    """Neware BTS .nda binary (NDA v29 from BTS 7.x, v130 from BTS 9.x) through NewareNDA."""

    name = "neware-nda"
    version = READER_VERSION
    extensions = (".nda",)

    def sniff(self, head: bytes, filename: str) -> float:
        if not head.startswith(_NDA_MAGIC):
            return 0.0
        if len(head) > 14 and head[14] in SUPPORTED_NDA_VERSIONS:
            return 0.99
        return 0.95  # a Neware file all the same: better refused here with its version

    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        file = _label(path)
        version = _check_nda_structure(path, file)
        notes: list[str] = []
        try:
            df = _call_newarenda(path, ".nda", software_cycle_number=False, warnings=notes)
        except ReaderError:
            raise
        except Exception as exc:  # noqa: BLE001 - NewareNDA raises all sorts; we name them
            raise _newarenda_error(exc, file=file, kind="nda", version=version) from exc
        info = _read_newarenda_metadata(path, ".nda")
        metadata: dict[str, Any] = {
            "vendor": "Neware", "format": "nda",
            "nda_version": version, "newarenda_version": _newarenda_version(),
        }
        for key in ("bts_version", "server_version", "client_version"):
            if info.get(key):
                metadata[key] = _plain(info[key])
        if info.get("active_mass_mg") is not None:
            metadata["active_mass_mg"] = _plain(float(info["active_mass_mg"]))
        metadata["step_file"] = None  # NDA files do not carry the step-file name (NDAX do)
        if notes:
            metadata["newarenda_warnings"] = notes
        return _frame_to_result(df, path=path, suffix=self.extensions[0], file=file, reader=self,
                                metadata=metadata)


def _zip_member_names(filename: str) -> list[str] | None:
    try:
        if filename and os.path.isfile(filename) and zipfile.is_zipfile(filename):
            with zipfile.ZipFile(filename) as zf:
                return zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _first_zip_member(head: bytes) -> str | None:
    if len(head) < 30 or not head.startswith(_ZIP_MAGIC):
        return None
    (name_len,) = struct.unpack("<H", head[26:28])
    name = head[30:30 + name_len]
    if len(name) < name_len:
        return None
    return name.decode("utf-8", errors="replace")


class NdaxReader:
    """Neware BTS 8.x+ .ndax: a ZIP of XML descriptions and binary .ndc streams."""

    name = "neware-ndax"
    version = READER_VERSION
    extensions = (".ndax",)

    def sniff(self, head: bytes, filename: str) -> float:
        """A ZIP magic alone is not enough (an .xlsx is a ZIP too). If ``filename`` is a path
        that exists, the member list (the archive's central directory) decides. Otherwise the
        first local header's member name in ``head`` decides."""
        if not head.startswith(_ZIP_MAGIC):
            return 0.0
        names = _zip_member_names(filename)
        if names is not None:
            lower = {n.lower() for n in names}
            if "data.ndc" in lower:
                return 0.98
            if lower & _NDAX_MEMBERS and "[content_types].xml" not in lower:
                return 0.8  # Neware's layout without data.ndc: read() explains the refusal
            return 0.0
        first = (_first_zip_member(head) or "").lower()
        if first in _NDAX_MEMBERS or (first.endswith(".ndc") and "/" not in first):
            return 0.9
        if any(marker in head for marker in (b"VersionInfo.xml", b"TestInfo.xml", b"data.ndc")):
            return 0.85
        return 0.0

    def read(self, path) -> ReadResult:
        path = pathlib.Path(path)
        file = _label(path)
        _check_ndax_structure(path, file)
        notes: list[str] = []
        try:
            df = _call_newarenda(path, ".ndax", software_cycle_number=False, warnings=notes)
        except ReaderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _newarenda_error(exc, file=file, kind="ndax", version=None) from exc
        metadata: dict[str, Any] = {"vendor": "Neware", "format": "ndax",
                                    "newarenda_version": _newarenda_version()}
        info = _read_newarenda_metadata(path, ".ndax")
        version_info = _dig(info, "VersionInfo", "ZwjVersion")
        test_info = _dig(info, "TestInfo", "TestInfo")
        for key, src in (("server_version", "SvrVer"), ("client_version", "CurrClientVer"),
                         ("control_unit_version", "ZwjVersion")):
            if version_info.get(src):
                metadata[key] = str(version_info[src])
        metadata["step_file"] = test_info.get("StepName") or None
        # TestInfo.xml's times are the cycler PC's wall clock; start_time (set from the first
        # record) follows the table's timestamps, whose zone metadata["timestamp_timezone"] says
        for key, src in (("test_start_time", "StartTime"), ("test_end_time", "EndTime")):
            if test_info.get(src):
                metadata[key] = str(test_info[src]).replace(" ", "T")
        channel = [test_info.get(k) for k in ("DevID", "UnitID", "ChlID")]
        if all(channel):
            metadata["channel"] = "-".join(str(c) for c in channel)
        masses = {k: v for k, v in _walk(info) if "mass" in k.lower()}
        if masses:
            metadata["mass_fields"] = masses  # as written; Neware states no unit for these
        if notes:
            metadata["newarenda_warnings"] = notes
        return _frame_to_result(df, path=path, suffix=self.extensions[0], file=file, reader=self,
                                metadata=metadata)


def _dig(obj: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else {}


def _walk(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _walk(value, f"{prefix}/{key}" if prefix else str(key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _walk(value, f"{prefix}[{i}]")
    else:
        yield prefix, obj


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
    return raw


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
        for key in ("current", "voltage"):
            if col[key] is None:
                raise ReaderError(f"the record header has no {key} column", file=file, line=3)
        if col["total_time"] is None and col["step_time"] is None:
            raise ReaderError("the record header has no time column", file=file, line=3)

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


NDA_READER = NdaReader()
NDAX_READER = NdaxReader()
NEWARE_CSV_READER = NewareCsvReader()
READERS = [NDA_READER, NDAX_READER, NEWARE_CSV_READER]
