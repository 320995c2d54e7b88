"""Neware BTS binary files (.nda, .ndax), decoded through NewareNDA after a structure check."""
from __future__ import annotations
import contextlib
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
from .. import ReaderError, ReadResult, canonical_table
from . import READER_VERSION, SUPPORTED_NDA_VERSIONS, _NDAX_MEMBERS, _NDA_MAGIC, _ZIP_MAGIC, _accumulate_step_time, _check_current_sign, _dig, _label, _plain, _step_kinds, _vendor_summary, _walk, logger

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



NDA_READER = NdaReader()
NDAX_READER = NdaxReader()
