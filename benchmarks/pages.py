"""Pages benchmark: the server time of the cell list with 10,000 cells, of a cell's page and a
dataset's page with a 1,000-cycle dataset, and of the plots' data of a 1,000,000-row dataset.

    .venv/bin/python benchmarks/pages.py [--rows 1000000] [--cells 10000] [--cycles 1000]
        [--repeat 3] [--database-url postgres://postgres@127.0.0.1:5432/eln_pages_bench]

What it does
------------
1. A fresh database (default: SQLite in a temporary folder; ``--database-url`` for another one,
   DROPPED and re-created, so its name must contain "bench"), migrated, with the demo lab
   (``analysis.demo.lab.load_demo_lab``) and its user logged in through Django's test client:
   the requests go through the whole Django stack (middleware, views, templates, the database)
   in this process, without a network.
2. Lists: ``/cells/`` (sorted and searched) with the demo lab's cells, then again after 10,000
   cells (each with a part) were written in bulk.
3. Detail: a cell's page and its dataset's page with a 3-cycle synthetic file ingested, then the
   same with a 1,000-cycle one (NaCrO2 at 0.5C, 20 points a step) on another cell of the lab.
4. Plots: the 70 MPa NaCrO2 long-term file made with 1,000,000 rows (as ``benchmarks/ingest.py``
   does) is ingested, then each plot's data (``/api/v1/datasets/<id>/plots/<plot>/``, 1,000
   points a series) is asked for; beside each, the floor: pyarrow reading the columns the plot
   needs from the dataset's Parquet file.

Each request runs ``--repeat`` times and the fastest is shown, with its number of queries; the
ratios say how the time grows with the data (a list of 10,000 against a list of a few, a
1,000-cycle page against a 3-cycle one, a plot against reading its columns). It measures; it
asserts nothing about time.
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import tempfile
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ingest  # noqa: E402  (its synthetic file, machine line and database reset)

PLOT_COLUMNS = {
    "voltage": ["test_time_s", "voltage_v"],
    "voltage-capacity": ["test_time_s", "current_ma", "voltage_v"],
    "capacity": [],
    "rate": [],
    "dqdv": ["test_time_s", "current_ma", "voltage_v"],
}


def set_up(database_url: str, folder: pathlib.Path):
    os.environ["DATABASE_URL"] = database_url
    os.environ["ELN_VAR_DIR"] = str(folder / "var")
    os.environ["ELN_MEDIA_ROOT"] = str(folder / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eln.settings")
    os.environ.setdefault("ELN_LOG_LEVEL", "WARNING")  # no line per task
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected here
    for name in [key for key in os.environ if key.startswith("CELERY_")]:
        del os.environ[name]  # tasks run in process
    ingest._fresh_database(database_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", interactive=False, verbosity=0)
    from analysis.demo.lab import load_demo_lab

    return load_demo_lab()


def timed(client, url: str, repeat: int) -> tuple[float, int, int]:
    """(fastest seconds, queries, bytes) of GET url."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    best, queries, size = math.inf, 0, 0
    client.get(url)  # warm: imports, template loading, caches
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        best, queries, size = min(best, elapsed), len(captured), len(response.content)
    return best, queries, size


def upload(run, name: str, content: bytes, user):
    from django.db import transaction

    from analysis.demo.cycling import as_upload
    from analysis.services import raw_file_receive

    with transaction.atomic():  # the ingestion runs on commit, in process
        received = raw_file_receive(run=run, uploaded=as_upload(name, content), user=user)
    dataset = type(received.dataset).objects.get(pk=received.dataset.pk)
    if dataset.state not in ("done", "done_with_warnings"):
        raise SystemExit(f"{name}: {dataset.state}: {dataset.message}")
    return dataset


def cycling_file(spec, cycles: int) -> bytes:
    from analysis.core import synthetic

    targets = [synthetic.CycleTarget(0.5, 110.0 / 0.998, 110.0, 3.05, 2.95) for _ in range(cycles)]
    return synthetic.to_bdf_csv(synthetic.generate(spec, targets, sample_interval_s=math.inf,
                                                   min_points_per_step=20).table)


def line(name: str, few: tuple, many: tuple | None = None) -> None:
    if many is None:
        print(f"  {name:<44} {few[0] * 1000:8.1f} ms  {few[1]:3d} queries  {few[2] / 1024:8.1f} KiB")
        return
    print(f"  {name:<44} {few[0] * 1000:8.1f} ms → {many[0] * 1000:8.1f} ms  ×{many[0] / few[0]:.2f}   "
          f"queries {few[1]} → {many[1]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the plotted dataset (default 1000000)")
    parser.add_argument("--cells", type=int, default=10_000, help="cells added to the list (default 10000)")
    parser.add_argument("--cycles", type=int, default=1_000, help="cycles of the long dataset (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each request; the fastest is shown")
    parser.add_argument("--database-url", default=None, help="a database to DROP and re-create (name with 'bench')")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eln-pages-bench-") as tmp:
        folder = pathlib.Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
        if args.database_url and "bench" not in ingest.database_name(url):
            raise SystemExit("--database-url: the database is dropped; its name must contain 'bench'")
        lab = set_up(url, folder)
        return run(args, lab)


def run(args, lab) -> int:
    import pyarrow.parquet as pq
    from django.db import connection
    from django.test import Client

    from analysis.core import synthetic
    from analysis.demo.cycling import DEMO_RUNS, spec_for
    from cells.models import Cell, CellPart

    user, project = lab["user"], lab["project"]
    client = Client()
    client.force_login(user)
    print(f"{ingest.machine()}; {connection.vendor} database; fastest of {args.repeat}")

    print("List (/cells/, sorted by stack pressure, searched):")
    listing = "/cells/?ordering=-stack_pressure_mpa&search=cell"
    before = Cell.objects.count()
    few = timed(client, listing, args.repeat)
    cells = Cell.objects.bulk_create(
        (Cell(project=project, human_id=f"CELL-{100000 + i}", name=f"bulk cell {i}", kind=Cell.Kind.CATHODE_HALF,
              stack_pressure_mpa=1 + i % 60) for i in range(args.cells)), batch_size=1000)
    CellPart.objects.bulk_create((CellPart(cell=cell, role="negative", description="Na metal foil") for cell in cells),
                                 batch_size=1000)
    many = timed(client, listing, args.repeat)
    line(f"{before} cells → {before + args.cells} cells", few, many)
    line(f"page 150 of {before + args.cells} cells", timed(client, "/cells/?page=150", args.repeat))

    print(f"Detail (a cell's and its dataset's page, 3 cycles → {args.cycles} cycles):")
    short_run, long_run = lab["runs"]["nco97_half"], lab["runs"]["nco95_3mpa"]
    short_spec = spec_for(short_run.cell, DEMO_RUNS["nco97_half"][1])
    long_spec = spec_for(long_run.cell, DEMO_RUNS["nco95_3mpa"][1])
    short = upload(short_run, "three-cycles.bdf.csv", cycling_file(short_spec, 3), user)
    long = upload(long_run, "long.bdf.csv", cycling_file(long_spec, args.cycles), user)
    print(f"  ({short.cycles.count()} and {long.cycles.count()} cycles, {short.row_count} and "
          f"{long.row_count} rows)")
    line("cell's page", timed(client, f"/cells/{short_run.cell.human_id}/", args.repeat),
         timed(client, f"/cells/{long_run.cell.human_id}/", args.repeat))
    line("dataset's page", timed(client, f"/datasets/{short.human_id}/", args.repeat),
         timed(client, f"/datasets/{long.human_id}/", args.repeat))
    for name in ("capacity", "rate"):
        line(f"plot {name} (per cycle)", timed(client, f"/api/v1/datasets/{short.human_id}/plots/{name}/", args.repeat),
             timed(client, f"/api/v1/datasets/{long.human_id}/plots/{name}/", args.repeat))

    print(f"Plots of a {args.rows:,}-row dataset (1000 points a series; floor: pyarrow reading its columns):")
    _data, table, _interval = ingest._synthetic(args.rows)
    big_run = lab["runs"]["nco95_70mpa"]
    started = time.perf_counter()
    big = upload(big_run, "million.bdf.csv", synthetic.to_bdf_csv(table), user)
    print(f"  ({big.row_count:,} rows, {big.cycles.count()} cycles, ingested in {time.perf_counter() - started:.1f} s)")
    for name, columns in PLOT_COLUMNS.items():
        seconds, queries, size = timed(client, f"/api/v1/datasets/{big.human_id}/plots/{name}/", args.repeat)
        if columns:
            floor = math.inf
            for _ in range(args.repeat):
                started = time.perf_counter()
                with big.parquet_file.open("rb") as handle:
                    pq.read_table(handle, columns=columns)
                floor = min(floor, time.perf_counter() - started)
            print(f"  {name:<18} {seconds * 1000:8.1f} ms  {queries:3d} queries  {size / 1024:7.1f} KiB   "
                  f"floor {floor * 1000:6.1f} ms  ×{seconds / floor:.1f}")
        else:
            print(f"  {name:<18} {seconds * 1000:8.1f} ms  {queries:3d} queries  {size / 1024:7.1f} KiB   "
                  f"(from the cycles' rows, no Parquet read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
