"""Ingestion survives a passing fault and reads a cycler's own CSV through its saved mapping."""
import pytest
from django.db import OperationalError

from analysis import services, tasks
from analysis.models import ProcessingStage
from cells.models import Dataset
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def test_a_passing_database_fault_is_retried_and_the_result_is_the_same(demo_lab, upload, monkeypatch):
    read = services.read_raw_file
    calls = []

    def flaky_read(dataset):
        calls.append(dataset.pk)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return read(dataset)

    monkeypatch.setattr(services, "read_raw_file", flaky_read)
    upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    dataset = Dataset.objects.get()
    assert len(calls) == 2  # retried by Celery (autoretry_for), not by hand
    assert dataset.state == "done"
    assert ProcessingStage.objects.get(dataset=dataset, name="read").attempts == 2
    assert dataset.cycles.filter(complete=True).count() == 5

    # Running the task again for the same file changes nothing: the writes are idempotent.
    before = list(dataset.cycles.values_list("cycle_number", "discharge_capacity_mah"))
    assert tasks.ingest_dataset.apply(args=(dataset.pk, dataset.raw_file_id)).get() == "done"
    assert list(dataset.cycles.values_list("cycle_number", "discharge_capacity_mah")) == before


def test_a_superseded_file_is_not_ingested(demo_lab, upload):
    run = demo_lab["runs"]["nco95_70mpa"]
    content = shared_bytes("biologic_mpt/gcpl.issue_211.mpt")
    first = upload(run, "cell.mpt", content[: len(content) // 2]).json()
    upload(run, "cell.mpt", content)
    dataset = Dataset.objects.get()
    assert tasks.ingest_dataset.apply(args=(dataset.pk, first["raw_file"]["id"])).get() == "superseded"


SEMICOLON_CSV = (
    "Zeit(h);Strom(A);Spannung(V)\n"
    + "".join(f"{t / 60:.6f};{current};{voltage:.4f}\n".replace(".", ",")
              for t, current, voltage in
              [(m, 0.0005 if m < 60 else -0.0005 if m < 120 else 0.0, 3.0 + (m % 60) / 100) for m in range(0, 180)])
)


def test_a_csv_no_reader_knows_is_read_through_the_cyclers_mapping(demo_lab, upload):
    run = demo_lab["runs"]["nco95_70mpa"]
    cycler = run.channel.cycler
    failed = upload(run, "export.csv", SEMICOLON_CSV.encode()).json()
    assert failed["dataset"]
    assert "needs a column mapping" in Dataset.objects.get(human_id=failed["dataset"]).message

    cycler.csv_column_mapping = {
        "test_time_s": {"column": "Zeit(h)", "scale": 3600},
        "current_ma": {"column": "Strom(A)", "scale": 1000},
        "voltage_v": {"column": "Spannung(V)"},
        "delimiter": ";", "decimal": ",",
    }
    cycler.save()
    other = demo_lab["runs"]["nco95_3mpa"]
    other.channel = run.channel
    other.save()
    done = upload(other, "export.csv", SEMICOLON_CSV.encode()).json()
    dataset = Dataset.objects.get(human_id=done["dataset"])
    # this made-up discharge ends at 3.59 V, far from the cell's 2.10 V cut-off, and the CSV has
    # no step numbers to show the protocol ended it: the dataset says so
    assert (dataset.state, dataset.reader_name) == ("done_with_warnings", "mapped-csv"), dataset.message
    assert list(dataset.quality_flags.values_list("code", "half")) == [("unexpected_end", "discharge")]
    cycle = dataset.cycles.get(cycle_number=1)
    # 0.5 mA for one hour each way (trapezoid over 1-minute points): 0.5 mAh give or take a point
    assert cycle.charge_capacity_mah == pytest.approx(0.5, rel=0.02)
    assert cycle.discharge_capacity_mah == pytest.approx(0.5, rel=0.02)


def test_a_rerun_with_the_stored_rows_gone_recomputes_every_cycle(demo_lab, upload):
    upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    dataset = Dataset.objects.get()
    dataset.cycles.all().delete()  # e.g. a database restored from an older backup than the files
    assert tasks.ingest_dataset.apply(args=(dataset.pk, dataset.raw_file_id)).get() == "done"
    assert list(dataset.cycles.values_list("cycle_number", flat=True)) == [1, 2, 3, 4, 5]
