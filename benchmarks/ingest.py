"""Ingestion benchmark: a 1,000,000-row cycling file through the whole Django-side ingestion,
against the floor of pyarrow reading the same file alone.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--keep]
        [--database-url postgres://postgres@127.0.0.1:5432/eln_bench] [--repeat N] [--profile]

What it does
------------
1. Generates realistic cycling data (``analysis.core.synthetic.paper_nacro2_long_term``, NaCrO2
   95:2:3 half cell, 102 cycles, with a sample interval small enough to reach the requested
   number of rows, then trimmed to exactly that many) and writes it, chunk by chunk, as

   * a BioLogic EC-Lab text export (``.mpt``: Latin-1, ``EC-Lab ASCII FILE`` /
     ``Nb header lines : N`` header shaped like a real GCPL export, 25 tab-separated columns
     from ``mode`` to ``P/W``), and
   * a Battery Data Format CSV (``.bdf.csv``, written with ``analysis.core.synthetic.to_bdf_csv``
     one chunk at a time).

   Generation runs in its own process, so its memory is nobody else's.
2. For each format, in a fresh subprocess each (peak RSS = ``ru_maxrss`` of that process):

   * floor: ``pyarrow.csv.read_csv`` alone on the same file, every column, otherwise default
     options (comma for the CSV; for the .mpt tab, all header lines skipped and the Latin-1
     column names passed in, so pyarrow reads bytes without transcoding); for the .mpt also a
     second floor reading only the columns the project's reader converts;
   * ingestion: Django set up against a fresh database (default: SQLite in the temp folder;
     ``--database-url`` for another one, which is DROPPED and re-created for every run, so
     its name must contain "bench"), migrate, ``analysis.demo.lab.load_demo_lab()``, the imports a
     worker would have done by its second file (pyarrow imports pandas lazily on its first numpy
     conversion: ~0.2 s and ~50 MiB once per worker process), then
     ``analysis.services.raw_file_receive`` of the file for the demo run ``nco95_70mpa`` inside an
     outer transaction; on commit the Celery task runs eagerly (no broker configured) and
     performs ``analysis.services.ingest``. ``ingest_s`` is the time of that on-commit
     ingestion alone (not migrate, demo lab or copying the file into the media folder).
     The process's RSS just before ingestion is reported (Django, migrate and the demo lab
     raise it), and the peak-RSS counter is reset there (``/proc/self/clear_refs``) when the
     kernel allows it, so ``ingest_peak_MiB`` is the peak while ingesting.
3. Prints one line per format with the ratios to the floor, then the stage times from the
   dataset's ``ProcessingStage`` rows.

``--repeat N`` runs every measurement N times (each in a fresh process, each ingestion with its
own database and media folder) and shows the fastest, with all times listed: the machine may be
shared. ``--profile`` runs the ingestion under cProfile and prints the top functions.

Exits non-zero, with the stage messages, when an ingestion does not end ``done``. It measures;
it asserts nothing about time. Files are written to a temporary folder that is removed unless
``--keep`` is given. Timings are with a warm page cache (the files were just written).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO_RUN = "nco95_70mpa"
FORMATS = ("mpt", "csv")
FILE_NAMES = {"mpt": "BENCH_NCO95_70MPa_GCPL_C01.mpt", "csv": "BENCH_NCO95_70MPa.bdf.csv"}
CHUNK_ROWS = 100_000
STAGES = ("read", "cycles", "summary", "metrics")


# --------------------------------------------------------------------------------------------
# shared helpers (stdlib only: the parent process stays small)
# --------------------------------------------------------------------------------------------

def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    """Current resident set size of this process, MiB."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process (ru_maxrss, KiB on Linux), MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    return (f"{platform.platform()} | {cpu} | {os.cpu_count()} cores | RAM {ram} | "
            f"Python {platform.python_version()} | pyarrow {v('pyarrow')} | numpy {v('numpy')} | "
            f"Django {v('django')}")


def write_json(path: str, payload: dict) -> None:
    pathlib.Path(path).write_text(json.dumps(payload, indent=1))


# --------------------------------------------------------------------------------------------
# child 1: generate the two files
# --------------------------------------------------------------------------------------------

MPT_COLUMNS = (
    "mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.", "Ns", "time/s",
    "control/V/mA", "Ewe/V", "I/mA", "dQ/C", "(Q-Qo)/mA.h", "half cycle",
    "Q charge/discharge/mA.h", "Energy charge/W.h", "Energy discharge/W.h",
    "Capacitance charge/µF", "Capacitance discharge/µF", "Q discharge/mA.h", "Q charge/mA.h",
    "Capacity/mA.h", "Efficiency/%", "cycle number", "P/W",
)


def _synthetic(rows: int):
    """The NaCrO2 long-term preset with enough points for ``rows`` rows, trimmed to ``rows``."""
    from analysis.core import synthetic

    coarse = synthetic.paper_nacro2_long_term(70.0, sample_interval_s=30.0, cycler_counters=True)
    duration = float(coarse.table["test_time_s"][-1].as_py())
    if coarse.table.num_rows >= rows:
        return coarse, coarse.table.slice(0, rows), 30.0
    interval = duration / rows
    for _ in range(20):
        data = synthetic.paper_nacro2_long_term(70.0, sample_interval_s=interval, cycler_counters=True)
        if data.table.num_rows >= rows:
            return data, data.table.slice(0, rows).combine_chunks(), interval
        interval *= 0.98 * data.table.num_rows / rows
    raise RuntimeError(f"could not reach {rows} rows")


def _mpt_columns(data, table) -> dict:
    """EC-Lab's GCPL export columns from the canonical table (vectorised, whole file)."""
    import numpy as np

    t = table["test_time_s"].to_numpy()
    i = table["current_ma"].to_numpy()
    v = table["voltage_v"].to_numpy()
    step = table["step_index"].to_numpy()
    n = t.size
    new_step = np.r_[True, step[1:] != step[:-1]]

    # EC-Lab's half cycle changes with the direction of the current; rests keep the last one.
    direction = np.sign(i).astype(np.int8)
    idx = np.where(direction != 0, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    held = direction[idx]
    first_nonzero = np.flatnonzero(direction)
    held[held == 0] = direction[first_nonzero[0]] if first_nonzero.size else 1
    half = np.r_[0, np.cumsum(held[1:] != held[:-1])].astype(np.int64)
    cycle = half // 2
    new_half = np.r_[True, half[1:] != half[:-1]]

    # Ns: 0 the opening rest; then charge / discharge of the first protocol block (Ns 1, 2),
    # of the second block (Ns 3, 4), ...; each half cycle's rest stays in its Ns (EC-Lab tR).
    block_cycles = [count for _rate, count in data.protocol] or [10**9]
    block_of_cycle = np.minimum(np.searchsorted(np.cumsum(block_cycles), cycle, side="right"),
                                len(block_cycles) - 1)
    started = np.maximum.accumulate(direction != 0)
    ns = np.where(started, 1 + 2 * block_of_cycle + (half % 2), 0).astype(np.int64)
    new_ns = np.r_[True, ns[1:] != ns[:-1]]

    dt = np.r_[0.0, np.diff(t)]
    same = ~new_step
    i_mean = np.r_[0.0, 0.5 * (i[1:] + i[:-1])]
    p_mean = np.r_[0.0, 0.5 * (i[1:] * v[1:] + i[:-1] * v[:-1])]
    dq_c = np.where(same, i_mean * dt, 0.0) / 1000.0  # mA*s -> C
    de_wh = np.where(same, p_mean * dt, 0.0) / 3.6e6  # mW*s -> Wh
    q_total = np.cumsum(dq_c) / 3.6  # C -> mAh
    e_total = np.cumsum(de_wh)
    starts = np.flatnonzero(new_half)
    lengths = np.diff(np.r_[starts, n])
    q_half = q_total - np.repeat(q_total[starts] - dq_c[starts] / 3.6, lengths)
    e_half = e_total - np.repeat(e_total[starts] - de_wh[starts], lengths)
    charging = held > 0
    zeros = np.zeros(n)
    f32 = np.float32
    return {
        "mode": np.where(direction != 0, 1, 3).astype(np.int64),
        "ox/red": (held > 0).astype(np.int64),
        "error": np.zeros(n, dtype=np.int64),
        "control changes": new_step.astype(np.int64),
        "Ns changes": new_ns.astype(np.int64),
        "counter inc.": np.r_[False, cycle[1:] != cycle[:-1]].astype(np.int64),
        "Ns": ns,
        "time/s": t,
        "control/V/mA": i.astype(f32),
        "Ewe/V": v.astype(f32),
        "I/mA": i.astype(f32),
        "dQ/C": dq_c,
        "(Q-Qo)/mA.h": q_total,
        "half cycle": half,
        "Q charge/discharge/mA.h": q_half,
        "Energy charge/W.h": np.where(charging, e_half, 0.0),
        "Energy discharge/W.h": np.where(charging, 0.0, 0.0 - e_half) + 0.0,
        "Capacitance charge/µF": zeros,
        "Capacitance discharge/µF": zeros,
        "Q discharge/mA.h": np.where(q_half < 0, -q_half, 0.0) + 0.0,
        "Q charge/mA.h": np.where(q_half > 0, q_half, 0.0),
        "Capacity/mA.h": np.abs(q_half),
        "Efficiency/%": zeros,
        "cycle number": cycle,
        "P/W": (v * i / 1000.0).astype(f32),
    }


def _mpt_header(data, file_name: str) -> list[str]:
    """An EC-Lab GCPL export header with the structure of a real one (cf. gcpl.issue_211.mpt)."""
    cell = data.cell
    one_c = cell.one_c_current_ma
    capacity = one_c  # mAh at 1C for one hour
    rates = [rate for rate, _count in data.protocol] or [0.1]
    counts = [count for _rate, count in data.protocol] or [1]
    # Ns 0: the opening rest; then per protocol block a charge and a discharge sequence (C / N,
    # N = 1 / C-rate), the discharge looping back to the block's charge.
    ns, set_ic, n_values, sign, t1, em, goto, ncyc = (["0"], ["I"], ["1.00"], ["> 0"], ["0:10:0.0000"],
                                                      ["0.000"], ["0"], ["0"])
    for block, (rate, count) in enumerate(zip(rates, counts, strict=True)):
        for half in ("charge", "discharge"):
            ns.append(str(len(ns)))
            set_ic.append("C / N")
            n_values.append(f"{1 / rate:.2f}")
            sign.append("> 0" if half == "charge" else "< 0")
            t1.append("0:00:0.0000")
            em.append(f"{cell.upper_cutoff_v if half == 'charge' else cell.lower_cutoff_v:.3f}")
            goto.append("0" if half == "charge" else str(1 + 2 * block))
            ncyc.append("0" if half == "charge" else str(count - 1))
    width = len(ns)

    def table_row(name: str, values: list[str]) -> str:
        values = (values + [values[-1]] * width)[:width]
        return name.ljust(20) + "".join(value.ljust(20) for value in values)

    rows = [
        ("Ns", ns), ("Set I/C", set_ic), ("Is", ["0.000"]), ("unit Is", ["mA"]), ("vs.", ["<None>"]),
        ("N", n_values), ("I sign", sign), ("t1 (h:m:s)", t1), ("I Range", ["10 mA"]),
        ("Bandwidth", ["5"]), ("dE1 (mV)", ["0.00"]), ("dt1 (s)", ["0.00"] + ["30.00"] * (width - 1)),
        ("EM (V)", em), ("tM (h:m:s)", ["0:00:0.0000"]), ("Im", ["0.000"]), ("unit Im", ["mA"]),
        ("dI/dt", ["0.000"]), ("dunit dI/dt", ["mA/s"]), ("E range min (V)", ["0.000"]),
        ("E range max (V)", ["5.000"]), ("dq", ["0.000"]), ("unit dq", ["mA.h"]), ("dtq (s)", ["0.00"]),
        ("dQM", ["0.000"]), ("unit dQM", ["mA.h"]), ("dxM", ["0.000"]), ("delta SoC (%)", ["pass"]),
        ("tR (h:m:s)", ["0:00:0.0000"] + ["0:10:0.0000"] * (width - 1)), ("dER/dt (mV/h)", ["0.0"]),
        ("dER (mV)", ["0.00"]), ("dtR (s)", ["30.00"]), ("EL (V)", ["pass"]), ("goto Ns'", goto),
        ("nc cycles", ncyc),
    ]
    lines = [
        "EC-Lab ASCII FILE",
        "Nb header lines : {n}",
        "",
        "Galvanostatic Cycling with Potential Limitation",
        "",
        "Run on channel : 1 (SN 30412)",
        "User : ",
        "CE vs. WE compliance from -10 V to 10 V",
        "Electrode connection : standard",
        "Potential control : Ewe",
        "Ewe ctrl range : min = 0.00 V, max = 5.00 V",
        "Safety Limits :",
        "\tDo not start on E overload",
        "Acquisition started on : 03/02/2026 17:00:00.000",
        "Loaded Setting File :  NONE",
        "Saved on :",
        f"\tFile : {file_name[:-4]}.mpr",
        "\tDirectory : C:\\Users\\lab\\Documents\\EC-Lab\\Data\\bench\\",
        "\tHost : 192.168.0.10",
        "Device : VMP3 (SN 0858)",
        "Address : 192.168.0.20",
        "EC-LAB for windows v11.61 (software)",
        "Internet server v11.61 (firmware)",
        "Command interpretor v11.61 (firmware)",
        "Electrode material : NaCrO2 95:2:3 (infiltrated)",
        "Initial state : pristine",
        "Electrolyte : Na4(B12H12)(B10H10)",
        "Comments : synthetic benchmark file (analysis.core.synthetic.paper_nacro2_long_term)",
        f"Mass of active material : {cell.active_mass_mg:.3f} mg",
        " at x = 0.000",
        "Molecular weight of active material (at x = 0) : 106.990 g/mol",
        "Atomic weight of intercalated ion : 22.990 g/mol",
        "Acquisition started at : xo = 1.000",
        "Number of e- transfered per intercalated ion : 1",
        f"for DX = 1, DQ = {capacity:.3f} mA.h",
        f"Battery capacity : {capacity:.3f} mA.h",
        f"Electrode surface area : {cell.electrode_area_cm2:.3f} cm²",
        f"Characteristic mass : {cell.active_mass_mg:.3f} mg",
        "Volume (V) : 0.001 cm³",
        "Cycle Definition : Charge/Discharge alternance",
        *(table_row(name, values) for name, values in rows),
        "",
        "\t".join(MPT_COLUMNS),
    ]
    lines[1] = f"Nb header lines : {len(lines)}".ljust(46)
    return lines


def _mpt_used_columns() -> list[str] | None:
    """The columns of our .mpt that the project's reader converts (None if it no longer says)."""
    from analysis.core.readers import biologic

    used = getattr(biologic, "_USED_COLUMNS", None)
    return None if used is None else [name for name in MPT_COLUMNS if name in used]


def child_generate(spec: dict) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from analysis.core import synthetic

    rows = spec["rows"]
    folder = pathlib.Path(spec["folder"])
    started = time.perf_counter()
    data, table, interval = _synthetic(rows)
    generated = time.perf_counter() - started
    out = {"rows": table.num_rows, "sample_interval_s": interval, "generate_s": generated,
           "cycles_in_data": int(np.unique(table["cycle_index"].to_numpy()).size),
           "active_mass_mg": data.cell.active_mass_mg, "files": {}}

    # .mpt: header (Latin-1), then the data rows chunk by chunk
    started = time.perf_counter()
    mpt = folder / FILE_NAMES["mpt"]
    columns = _mpt_columns(data, table)
    with open(mpt, "wb") as fh:
        fh.write(("\n".join(_mpt_header(data, mpt.name)) + "\n").encode("latin-1"))
        options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
        for start in range(0, rows, CHUNK_ROWS):
            chunk = pa.table({name: values[start:start + CHUNK_ROWS] for name, values in columns.items()})
            pacsv.write_csv(chunk, fh, write_options=options)
    out["files"]["mpt"] = {"path": str(mpt), "bytes": mpt.stat().st_size,
                           "write_s": time.perf_counter() - started,
                           "used_columns": _mpt_used_columns()}
    del columns

    # Battery Data Format CSV: synthetic.to_bdf_csv, one chunk at a time
    started = time.perf_counter()
    csv = folder / FILE_NAMES["csv"]
    with open(csv, "wb") as fh:
        for start in range(0, rows, CHUNK_ROWS):
            text = synthetic.to_bdf_csv(table.slice(start, CHUNK_ROWS))
            fh.write(text if start == 0 else text[text.index(b"\n") + 1:])
    out["files"]["csv"] = {"path": str(csv), "bytes": csv.stat().st_size,
                           "write_s": time.perf_counter() - started}
    return out


# --------------------------------------------------------------------------------------------
# child 2: the floor, pyarrow alone
# --------------------------------------------------------------------------------------------

def child_floor(spec: dict) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = spec["path"]
    base = rss_mib()
    if spec["format"] == "mpt":
        # The column names are Latin-1 (µF): take them from the header here and let pyarrow
        # skip every header line, so it reads the data as plain bytes (encoding="latin-1" would
        # transcode the whole file through Python's codec first).
        with open(path, "rb") as fh:
            fh.readline()
            n_header = int(fh.readline().decode("latin-1").split(":")[1])
            for _ in range(n_header - 3):
                fh.readline()
            names = fh.readline().decode("latin-1").rstrip("\r\n").split("\t")
        read_options = pacsv.ReadOptions(skip_rows=n_header, column_names=names)
        parse_options = pacsv.ParseOptions(delimiter="\t")
    else:
        read_options = pacsv.ReadOptions()
        parse_options = pacsv.ParseOptions(delimiter=",")
    convert_options = pacsv.ConvertOptions(include_columns=spec.get("columns") or [])
    started = time.perf_counter()
    table = pacsv.read_csv(path, read_options=read_options, parse_options=parse_options,
                           convert_options=convert_options)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mib": peak_rss_mib(), "base_mib": base, "rows": table.num_rows,
            "columns": table.num_columns, "table_mib": table.nbytes / 1024**2,
            "pyarrow": pa.__version__, "cpu_count": pa.cpu_count()}


# --------------------------------------------------------------------------------------------
# child 3: the whole ingestion through the project
# --------------------------------------------------------------------------------------------

def _fresh_database(url: str) -> None:
    """Drop and re-create the database ``url`` names (a benchmark database, checked by the parent)."""
    import dj_database_url

    config = dj_database_url.parse(url)
    engine = config["ENGINE"]
    if engine.endswith("sqlite3"):
        pathlib.Path(config["NAME"]).unlink(missing_ok=True)
        return
    if "postgresql" not in engine:
        raise SystemExit(f"--database-url: only PostgreSQL and SQLite are supported, not {engine}")
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(dbname="postgres", user=config.get("USER") or None,
                                  password=config.get("PASSWORD") or None,
                                  host=config.get("HOST") or None, port=config.get("PORT") or None)
    connection.autocommit = True
    with connection.cursor() as cursor:
        name = sql.Identifier(config["NAME"])
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    connection.close()


def child_ingest(spec: dict) -> dict:
    import hashlib

    started = time.perf_counter()
    _fresh_database(spec["database_url"])
    os.environ["DATABASE_URL"] = spec["database_url"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eln.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection, transaction

    from analysis.models import CycleStep, CycleSummary, ProcessingStage
    from cells.models import Dataset
    from analysis.services import raw_file_receive
    from analysis.demo.lab import load_demo_lab

    call_command("migrate", interactive=False, verbosity=0)
    lab = load_demo_lab()
    run = lab["runs"][DEMO_RUN]
    setup_s = time.perf_counter() - started

    # A worker process ingests many files: import once what the first ingestion would import
    # lazily (pyarrow imports pandas on its first numpy conversion), outside the measurement.
    t0, rss0 = time.perf_counter(), rss_mib()
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet

    import analysis.core.cycling
    import analysis.core.readers.registry

    del pyarrow.parquet, analysis.core.cycling, analysis.core.readers.registry  # imported for their cost

    pa.array(np.zeros(1))
    warm_s, warm_mib = time.perf_counter() - t0, (rss_mib() or 0.0) - (rss0 or 0.0)

    path = pathlib.Path(spec["path"])
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)

    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    setup_peak = peak_rss_mib()
    base = rss_mib()
    peak_reset = reset_peak_rss()
    with open(path, "rb") as fh:
        upload = File(fh, name=path.name)
        upload.sha256 = digest.hexdigest()
        outer = transaction.atomic()
        outer.__enter__()
        try:
            t0 = time.perf_counter()
            received = raw_file_receive(run=run, uploaded=upload, user=lab["user"])
            store_s = time.perf_counter() - t0
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        outer.__exit__(None, None, None)  # commit: the on-commit Celery task ingests (eager)
        ingest_s = time.perf_counter() - t0
        if profiler:
            profiler.disable()
    peak = peak_rss_mib()

    dataset = Dataset.objects.get(pk=received.dataset.pk)
    stages = {}
    for record in ProcessingStage.objects.filter(dataset=dataset):
        seconds = None
        if record.started_at and record.finished_at:
            seconds = (record.finished_at - record.started_at).total_seconds()
        stages[record.name] = {"state": record.state, "seconds": seconds, "message": record.message}
    result = {
        "setup_s": setup_s, "warm_s": warm_s, "warm_mib": warm_mib, "store_s": store_s, "ingest_s": ingest_s,
        "setup_peak_mib": setup_peak,
        "base_mib": base, "peak_mib": peak, "peak_reset": peak_reset, "state": dataset.state,
        "message": dataset.message, "stages": stages, "row_count": dataset.row_count,
        "reader": f"{dataset.reader_name} {dataset.reader_version}",
        "cycles": CycleSummary.objects.filter(dataset=dataset).count(),
        "complete_cycles": CycleSummary.objects.filter(dataset=dataset, complete=True).count(),
        "steps": CycleStep.objects.filter(dataset=dataset).count(),
        "database": f"{connection.vendor} {_server_version(connection)}",
    }
    if profiler:
        import io
        import pstats

        profile_path = pathlib.Path(spec["result"]).with_suffix(".prof")
        profiler.dump_stats(profile_path)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        result["profile"] = {"path": str(profile_path), "top": text.getvalue()}
    return result


def _server_version(connection) -> str:
    if connection.vendor == "postgresql":
        number = connection.pg_version
        return f"{number // 10000}.{number % 10000}"
    if connection.vendor == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version
    return ""


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------

def run_child(mode: str, spec: dict, folder: pathlib.Path, env: dict, tag: str = "") -> dict:
    result = folder / f"{mode}{tag}-{spec.get('format', 'all')}.json"
    spec = {**spec, "result": str(result)}
    spec_path = result.with_suffix(".spec.json")
    write_json(str(spec_path), spec)
    stderr = result.with_suffix(".stderr.txt")
    with open(stderr, "w") as err:
        process = subprocess.run([sys.executable, str(pathlib.Path(__file__).resolve()), "--child", mode,
                                  "--spec", str(spec_path)], check=False, cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=err)
    if process.returncode != 0 or not result.exists():
        tail = stderr.read_text()[-4000:]
        raise SystemExit(f"benchmark step {mode} {spec.get('format', '')} failed "
                         f"(exit {process.returncode}):\n{tail}")
    return json.loads(result.read_text())


def child_env(folder: pathlib.Path, name: str) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CELERY_") and key != "DATABASE_URL"}
    env.update({
        "DJANGO_SETTINGS_MODULE": "eln.settings",
        "ELN_VAR_DIR": str(folder / f"var-{name}"),
        "ELN_MEDIA_ROOT": str(folder / f"media-{name}"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    })
    return env


def database_name(url: str) -> str:
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows per file (default 1000000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("--database-url", default=None,
                        help="database for the ingestion runs, e.g. postgres://postgres@127.0.0.1:5432/eln_bench; "
                             "it is DROPPED and re-created for each ingestion run (and left as the last run made it), "
                             "so its name must contain 'bench' (default: a fresh SQLite file per run in the "
                             "temp folder)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset of mpt,csv")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each measurement, each in a fresh process; the fastest is shown (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="run the ingestion under cProfile (slower) and print the top functions")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        spec = json.loads(pathlib.Path(args.spec).read_text())
        handler = {"generate": child_generate, "floor": child_floor, "ingest": child_ingest}[args.child]
        write_json(spec["result"], handler(spec))
        return 0

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not formats or set(formats) - set(FORMATS):
        parser.error(f"--formats: choose from {', '.join(FORMATS)}")
    if args.rows < 1000:
        parser.error("--rows: at least 1000")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    if args.database_url and "bench" not in database_name(args.database_url):
        parser.error(f"--database-url: the database is dropped and re-created for each run, so its "
                     f"name must contain 'bench' (got {database_name(args.database_url)!r})")

    folder = pathlib.Path(tempfile.mkdtemp(prefix="eln-bench-ingest-"))
    try:
        return _benchmark(args, formats, folder)
    finally:
        if args.keep:
            print(f"\nkept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _fmt(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _ingestion_ok(ingest: dict, rows: int) -> bool:
    # A file trimmed to N rows ends inside a discharge of a finished run: the last cycle is
    # flagged (done with warnings), which is right and costs nothing to measure.
    return ingest["state"] in ("done", "done_with_warnings") and ingest["row_count"] == rows


def _report_failure(fmt: str, ingest: dict, rows: int) -> None:
    print(f"\nINGESTION FAILED ({fmt}): dataset state {ingest['state']!r}, {ingest['row_count']} rows "
          f"stored of {rows}; {ingest['message'] or 'no message on the dataset'}", file=sys.stderr)
    for name in STAGES:
        stage = ingest["stages"].get(name) or {}
        print(f"  stage {name}: {stage.get('state', 'missing')}: {stage.get('message') or ''}", file=sys.stderr)


def _benchmark(args, formats: list[str], folder: pathlib.Path) -> int:
    print(f"machine: {machine()}")
    print(f"generating {args.rows:,} rows (analysis.core.synthetic.paper_nacro2_long_term) ...", flush=True)
    generated = run_child("generate", {"rows": args.rows, "folder": str(folder)}, folder,
                          child_env(folder, "gen"))
    rows = generated["rows"]
    writes = ", ".join(f"{fmt} {info['bytes'] / 1024**2:.1f} MiB in {info['write_s']:.1f}s"
                       for fmt, info in generated["files"].items())
    print(f"  {rows:,} rows, sample interval {generated['sample_interval_s']:.3f} s, "
          f"{generated['cycles_in_data']} cycle numbers, generated in {generated['generate_s']:.1f}s; "
          f"written: {writes}")

    def best(mode: str, spec: dict, fmt: str, tag: str = "") -> dict:
        """The fastest of --repeat runs, each in a fresh process, with all their times; an
        ingestion that does not end done is returned at once."""
        key = "ingest_s" if mode == "ingest" else "seconds"
        runs = []
        for k in range(args.repeat):
            # every run its own media folder (and SQLite file): a summary Parquet left in the
            # media by an earlier run would make the next ingestion incremental
            name = f"{fmt}{tag}-{k + 1}"
            if mode == "ingest" and not args.database_url:
                spec = {**spec, "database_url": f"sqlite:///{folder / f'db-{name}.sqlite3'}"}
            run = run_child(mode, spec, folder, child_env(folder, name), tag=f"{tag}-{k + 1}")
            if mode == "ingest" and not _ingestion_ok(run, rows):
                run["all_s"] = [run[key]]
                return run
            runs.append(run)
        chosen = min(runs, key=lambda run: run[key])
        chosen["all_s"] = [run[key] for run in runs]
        return chosen

    results = {}
    for fmt in formats:
        path = generated["files"][fmt]["path"]
        print(f"measuring {fmt}: floor ...", end="", flush=True)
        floor = best("floor", {"format": fmt, "path": path}, fmt)
        used = generated["files"][fmt].get("used_columns")
        if used:
            print(" floor (used columns) ...", end="", flush=True)
            floor["used"] = best("floor", {"format": fmt, "path": path, "columns": used}, fmt, tag="-used")
        print(" ingestion ...", flush=True)
        ingest = best("ingest", {"format": fmt, "path": path, "database_url": args.database_url,
                                 "profile": args.profile}, fmt)
        results[fmt] = (floor, ingest)
        if not _ingestion_ok(ingest, rows):
            break

    floor0, ingest0 = next(iter(results.values()))
    print()
    print(f"database: {ingest0['database']} ({'--database-url' if args.database_url else 'fresh SQLite file'}); "
          f"pyarrow {floor0['pyarrow']} using {floor0['cpu_count']} threads; warm page cache; "
          f"best of {args.repeat} run(s), each in a fresh process"
          + ("; ingestion under cProfile (slower)" if args.profile else ""))
    header = ("format", "rows", "file_MiB", "floor_s", "floor_peak_MiB", "ingest_s", "base_MiB",
              "ingest_peak_MiB", "ratio_time", "ratio_mem", "cycles")
    widths = (6, 9, 8, 7, 14, 8, 8, 15, 10, 9, 6)
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for fmt, (floor, ingest) in results.items():
        size = generated["files"][fmt]["bytes"] / 1024**2
        cells = (fmt, f"{ingest['row_count'] or 0:,}", f"{size:.1f}", f"{floor['seconds']:.2f}",
                 f"{floor['peak_mib']:.0f}", f"{ingest['ingest_s']:.2f}", f"{ingest['base_mib']:.0f}",
                 f"{ingest['peak_mib']:.0f}", f"{ingest['ingest_s'] / floor['seconds']:.1f}x",
                 f"{ingest['peak_mib'] / floor['peak_mib']:.1f}x", str(ingest["cycles"]))
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    print()
    print("floor: pyarrow.csv.read_csv of every column; base_MiB: RSS of the ingestion process just before "
          "ingesting (Python, Django, migrate, demo lab); ingest_peak_MiB: peak RSS while ingesting"
          + ("" if all(r[1]["peak_reset"] for r in results.values()) else
             " (the peak counter could not be reset: peak of the whole process)")
          + "; ratios: ingestion / floor.")
    for fmt, (floor, ingest) in results.items():
        stages = ingest["stages"]
        parts = "  ".join(f"{name} {_fmt((stages.get(name) or {}).get('seconds'))}s" for name in STAGES)
        accounted = sum((stages.get(name) or {}).get("seconds") or 0.0 for name in STAGES)
        print(f"{fmt}: stages {parts}  (sum {accounted:.2f}s of {ingest['ingest_s']:.2f}s)")
        print(f"     memory: ingestion +{ingest['peak_mib'] - ingest['base_mib']:.0f} MiB over its base; "
              f"floor +{floor['peak_mib'] - floor['base_mib']:.0f} MiB over its {floor['base_mib']:.0f} MiB "
              f"import base for a {floor['table_mib']:.0f} MiB table of {floor['columns']} columns")
        if floor.get("used"):
            used = floor["used"]
            print(f"     floor of only the {used['columns']} columns the reader converts: "
                  f"{used['seconds']:.2f}s, peak {used['peak_mib']:.0f} MiB; ingestion / this floor: "
                  f"time {ingest['ingest_s'] / used['seconds']:.1f}x, "
                  f"memory {ingest['peak_mib'] / used['peak_mib']:.1f}x")
        print(f"     reader {ingest['reader']}, {ingest['cycles']} cycles ({ingest['complete_cycles']} complete), "
              f"{ingest['steps']} steps, state {ingest['state']}; not timed: migrate + demo lab "
              f"{ingest['setup_s']:.1f}s (peak {ingest['setup_peak_mib']:.0f} MiB), warm-up imports "
              f"{ingest['warm_s']:.2f}s (+{ingest['warm_mib']:.0f} MiB, in base), "
              f"storing the upload {ingest['store_s']:.2f}s")
        if args.repeat > 1:
            def times(run):
                return ", ".join(f"{t:.2f}" for t in run["all_s"])
            print(f"     all runs (s): floor {times(floor)}"
                  + (f"; used-columns floor {times(floor['used'])}" if floor.get("used") else "")
                  + f"; ingestion {times(ingest)}")
        if ingest.get("profile"):
            print(f"     cProfile of the ingestion ({ingest['profile']['path']}):")
            print("\n".join("       " + line for line in ingest["profile"]["top"].splitlines() if line.strip()))
    failed = [fmt for fmt, (_floor, ingest) in results.items() if not _ingestion_ok(ingest, rows)]
    for fmt in failed:
        _report_failure(fmt, results[fmt][1], rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
