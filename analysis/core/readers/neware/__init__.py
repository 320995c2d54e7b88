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

import logging
import os
import pathlib
from typing import Any, Iterator

import numpy as np


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


from .binary import NDA_READER, NDAX_READER  # noqa: E402 - the readers build on the helpers above
from .btsda_csv import NEWARE_CSV_READER  # noqa: E402

READERS = [NDA_READER, NDAX_READER, NEWARE_CSV_READER]
