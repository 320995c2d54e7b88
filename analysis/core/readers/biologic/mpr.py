"""The EC-Lab binary file (.mpr), written from the format; the mapping is described in the package."""
from __future__ import annotations

import datetime as _dt
import math
import os
import pathlib
import re
import struct
from typing import Any

import numpy as np

from .. import ReaderError, ReadResult
from . import MPR_MAGIC, _MPR_TECHNIQUE_IDS, _canonical, _round_f32, _technique_fields

# --- .mpr --------------------------------------------------------------------------------------

# Column ID -> (name, numpy dtype), names as EC-Lab's text export writes them. IDs marked
# "seen" were checked value by value against the .mpt exports of the sample files; the others
# come from public descriptions of the format (the ID lists of permissively licensed readers
# and the EC-Lab column names and orders reported in parsers' issue trackers), grouped here by
# what they measure. Files from EC-Lab 11.5 on write some columns under a second ID (a base
# ID + 256: 467 = 211, 468 = 212, 471 = 215); only pairs described as such are listed, since
# the rule does not hold for every ID (430 is Phase(Zwe-ce), 174 is <Ewe>). An ID missing here
# is refused with a message naming it (see _mpr_data).
_F4, _F8, _U2, _U4 = "<f4", "<f8", "<u2", "<u4"
_MPR_COLUMNS: dict[int, tuple[str, str]] = {
    # time, counters of the technique
    4: ("time/s", _F8),                           # seen
    182: ("step time/s", _F8),
    24: ("cycle number", _F8),                    # seen
    131: ("Ns", _U2),                             # seen
    212: ("half cycle", _U4),
    468: ("half cycle", _U4),                     # seen
    213: ("z cycle", _U4),
    469: ("z cycle", _U4),
    39: ("I Range", _U2),                         # seen
    # control values (set points)
    5: ("control/V/mA", _F4),                     # seen
    19: ("control/V", _F4),
    20: ("control/mA", _F4),
    # potentials: working electrode, counter electrode, cell, stacks
    6: ("Ewe/V", _F4),                            # seen
    436: ("Ewe/V", _F4),                          # EC-Lab Express
    77: ("<Ewe>/V", _F4),                         # seen
    174: ("<Ewe>/V", _F4),
    9: ("Ece/V", _F4),                            # seen
    185: ("<Ece>/V", _F4),
    215: ("<Ece>/V", _F4),
    441: ("<Ece>/V", _F4),
    471: ("<Ece>/V", _F4),                        # seen
    163: ("|Estack|/V", _F4),
    426: ("<Estack>/V", _F4),
    241: ("|E1|/V", _F4),
    242: ("|E2|/V", _F4),
    135: ("<E1>/V", _F4),
    136: ("<E2>/V", _F4),
    391: ("<E1>/V", _F4),
    392: ("<E2>/V", _F4),
    # current
    8: ("I/mA", _F4),
    11: ("<I>/mA", _F8),
    76: ("<I>/mA", _F4),                          # seen
    # charge
    7: ("dq/mA.h", _F8),                          # seen
    23: ("dQ/mA.h", _F8),
    13: ("(Q-Qo)/mA.h", _F8),                     # seen
    178: ("(Q-Qo)/C", _F4),
    434: ("(Q-Qo)/C", _F4),
    179: ("dQ/C", _F4),
    435: ("dQ/C", _F4),
    211: ("Q charge/discharge/mA.h", _F8),
    467: ("Q charge/discharge/mA.h", _F8),        # seen
    # energy and power (Energy charge is the working electrode's: Energy we charge since
    # EC-Lab 11.62; P is Pwe and R is Rwe there)
    123: ("Energy charge/W.h", _F8),              # seen
    124: ("Energy discharge/W.h", _F8),           # seen
    110: ("Energy ce/W.h", _F8),
    112: ("Energy we/W.h", _F8),
    115: ("Energy ce charge/W.h", _F8),
    116: ("Energy ce discharge/W.h", _F8),
    74: ("|Energy|/W.h", _F8),
    70: ("P/W", _F4),
    69: ("R/Ohm", _F4),
    168: ("Rcmp/Ohm", _F4),
    # capacitance
    125: ("Capacitance charge/µF", _F8),
    126: ("Capacitance discharge/µF", _F8),
    169: ("Cs/µF", _F4),                          # seen
    172: ("Cp/µF", _F4),                          # seen
    78: ("Cs-2/µF-2", _F4),
    173: ("Cp-2/µF-2", _F4),
    # analog inputs and output, temperature
    16: ("Analog IN 1/V", _F4),
    17: ("Analog IN 2/V", _F4),
    75: ("Analog OUT/V", _F4),
    206: ("Temperature/°C", _F4),
    462: ("Temperature/°C", _F4),
    # impedance of the cell (working electrode vs reference)
    32: ("freq/Hz", _F4),                         # seen
    33: ("|Ewe|/V", _F4),                         # seen
    34: ("|I|/A", _F4),                           # seen
    35: ("Phase(Z)/deg", _F4),                    # seen
    36: ("|Z|/Ohm", _F4),                         # seen
    37: ("Re(Z)/Ohm", _F4),                       # seen
    38: ("-Im(Z)/Ohm", _F4),                      # seen
    # impedance: the counter electrode, working minus counter, the stack's elements
    96: ("|Ece|/V", _F4),                         # seen
    97: ("|Ece|/V", _F4),                         # EC-Lab Express
    98: ("Phase(Zce)/deg", _F4),                  # seen
    99: ("|Zce|/Ohm", _F4),                       # seen
    100: ("Re(Zce)/Ohm", _F4),                    # seen
    101: ("-Im(Zce)/Ohm", _F4),                   # seen
    175: ("|Zwe-ce|/Ohm", _F4),
    176: ("Re(Zwe-ce)/Ohm", _F4),
    177: ("-Im(Zwe-ce)/Ohm", _F4),
    430: ("Phase(Zwe-ce)/deg", _F4),              # seen
    431: ("|Zwe-ce|/Ohm", _F4),                   # seen
    432: ("Re(Zwe-ce)/Ohm", _F4),                 # seen
    433: ("-Im(Zwe-ce)/Ohm", _F4),                # seen
    166: ("Phase(Zstack)/deg", _F4),
    167: ("|Zstack|/Ohm", _F4),
    422: ("Phase(Zstack)/deg", _F4),
    423: ("|Zstack|/Ohm", _F4),
    424: ("Re(Zstack)/Ohm", _F4),
    425: ("-Im(Zstack)/Ohm", _F4),
    15: ("Phase(Z1)/deg", _F4),
    271: ("Phase(Z1)/deg", _F4),
    272: ("Phase(Z2)/deg", _F4),
    45: ("|Z1|/Ohm", _F4),
    46: ("|Z2|/Ohm", _F4),
    301: ("|Z1|/Ohm", _F4),
    302: ("|Z2|/Ohm", _F4),
    331: ("Re(Z1)/Ohm", _F4),
    332: ("Re(Z2)/Ohm", _F4),
    105: ("-Im(Z1)/Ohm", _F4),
    106: ("-Im(Z2)/Ohm", _F4),
    361: ("-Im(Z1)/Ohm", _F4),
    362: ("-Im(Z2)/Ohm", _F4),
    # EIS quality indicators: total harmonic distortion, noise (NSD, NSR) and harmonics
    **{base + offset: (f"{name}/%", _F4)
       for offset in (0, 256)
       for base, name in ((217, "THD Ewe"), (218, "THD I"), (219, "THD Ece"),
                          (220, "NSD Ewe"), (221, "NSD I"), (222, "NSD Ece"),
                          (223, "NSR Ewe"), (224, "NSR I"), (225, "NSR Ece"))},
    **{486 + k: (f"|Ewe h{k + 2}|/V", _F4) for k in range(6)},
    **{492 + k: (f"|I h{k + 2}|/A", _F4) for k in range(6)},
    **{498 + k: (f"|Ece h{k + 2}|/V", _F4) for k in range(6)},
    **{230 + k: (f"|Ewe h{k + 2}|/V", _F4) for k in range(6)},
    **{236 + k: (f"|I h{k + 2}|/A", _F4) for k in range(5)},  # 241 is |E1|
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

