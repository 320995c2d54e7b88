"""The queue away at upload time, the same bytes sent again, and beat's sweep of datasets whose
ingestion stopped, on PostgreSQL and Redis (tasks sent, not run; the processes themselves are
in tests/integration/test_nothing_stuck.py)."""
import collections
import datetime as dt

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from analysis import services, tasks
from analysis.models import ProcessingStage
from cells.models import Dataset
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db

MPT = "biologic_mpt/gcpl.issue_211.mpt"


def broker_away():
    from eln.celery import app

    app.conf.broker_url = "redis://127.0.0.1:9/0"  # a closed port
    app._pool, app.amqp._producer_pool = None, None


def test_the_same_bytes_again_queue_a_dataset_that_never_ran(demo_lab, demo_user, api, upload, sent_to_broker):
    run, content = demo_lab["runs"]["nco95_70mpa"], shared_bytes(MPT)
    with sent_to_broker() as queued:
        broker_away()
        first = upload(run, "cell.mpt", content)
    assert first.status_code == 202
    # (here the task is sent after the answer; the integration test shows the answer itself waiting)
    status = api(demo_user).get(first.json()["status_url"]).json()
    assert status["state"] == "waiting_for_queue"
    assert status["message"].startswith("The task queue did not answer (Error 111 connecting to 127.0.0.1:9")
    assert status["message"].endswith(
        "The file is stored; the dataset is queued as soon as the queue answers (looked at every 60 s).")

    with sent_to_broker() as queued:
        again = upload(run, "cell.mpt", content)
        assert (again.status_code, again.json()["state"], again.json()["created"]) == (202, "queued", False)
        dataset = Dataset.objects.get()
        assert queued() == [("analysis.tasks.ingest_dataset", repr((dataset.pk, dataset.raw_file_id)))]
        read = ProcessingStage.objects.get(dataset=dataset, name="read")
        assert (read.state, read.requeues, read.message) == ("queued", 1, "queued again (sent again; 1 time)")

    assert tasks.ingest_dataset.apply(args=(dataset.pk, dataset.raw_file_id)).get() == "done"
    with sent_to_broker() as queued:
        before = queued()
        processed = upload(run, "cell.mpt", content)
        assert (processed.status_code, processed.json()["state"]) == (200, "done")
        assert queued() == before  # nothing more sent


def test_the_sweep_queues_again_what_stopped_and_leaves_what_a_worker_holds(demo_lab, upload, sent_to_broker):
    runs = demo_lab["runs"]
    with sent_to_broker() as queued:
        stopped = Dataset.objects.get(human_id=upload(runs["nco95_70mpa"], "a.mpt", shared_bytes(MPT)).json()["dataset"])
        held = Dataset.objects.get(human_id=upload(runs["nco95_3mpa"], "b.mpt", shared_bytes(MPT)).json()["dataset"])
        fresh = Dataset.objects.get(human_id=upload(runs["nco97_half"], "c.mpt", shared_bytes(MPT)).json()["dataset"])
        # two whose worker started reading 11 minutes ago and then showed nothing
        long_ago = timezone.now() - dt.timedelta(minutes=11)
        for dataset in (stopped, held):
            Dataset.objects.filter(pk=dataset.pk).update(state="running")
            ProcessingStage.objects.filter(dataset=dataset).update(queued_at=long_ago)
            ProcessingStage.objects.filter(dataset=dataset, name="read").update(state="running", started_at=long_ago)
        before = queued()

        db = connection.settings_dict
        worker = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
                                  host=db["HOST"], port=db["PORT"])
        try:
            with worker.cursor() as cursor:  # a worker that holds the ingestion of ``held``
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [services.INGESTION_LOCK, held.pk])
            assert services.dataset_requeue_stuck() == [stopped]
        finally:
            worker.close()
        sent = sorted((collections.Counter(queued()) - collections.Counter(before)).elements())
        assert sent == [("analysis.tasks.ingest_dataset", repr((stopped.pk, stopped.raw_file_id)))]

    stages = {s.name: s for s in ProcessingStage.objects.filter(dataset=stopped)}
    assert Dataset.objects.get(pk=stopped.pk).state == "queued"
    assert (stages["read"].state, stages["read"].requeues, stages["read"].started_at) == ("queued", 1, None)
    assert stages["read"].message == "queued again (no progress for 600 s: its worker stopped; 1 time)"
    assert {s.requeues for n, s in stages.items() if n != "read"} == {0}
    assert Dataset.objects.get(pk=held.pk).state == "running"
    assert Dataset.objects.get(pk=fresh.pk).state == "queued"
    assert ProcessingStage.objects.get(dataset=fresh, name="read").requeues == 0

    # the next sweep: the requeued one shows progress now; the worker that held the other is
    # gone (its connection closed, the lock with it), so that one is queued again now
    with sent_to_broker():
        assert services.dataset_requeue_stuck() == [held]


def test_a_dataset_waiting_for_the_queue_is_queued_by_the_next_sweep(demo_lab, upload, sent_to_broker):
    with sent_to_broker():
        broker_away()
        upload(demo_lab["runs"]["nco95_70mpa"], "cell.mpt", shared_bytes(MPT))
    dataset = Dataset.objects.get()
    assert dataset.state == "waiting_for_queue"
    with sent_to_broker() as queued:
        broker_away()
        assert services.dataset_requeue_stuck() == [dataset]  # still away: it keeps waiting
        assert Dataset.objects.get().state == "waiting_for_queue"
    with sent_to_broker() as queued:
        assert services.dataset_requeue_stuck() == [dataset]
        assert queued() == [("analysis.tasks.ingest_dataset", repr((dataset.pk, dataset.raw_file_id)))]
    assert (Dataset.objects.get().state, Dataset.objects.get().message) == ("queued", "")
    read = ProcessingStage.objects.get(dataset=dataset, name="read")
    assert (read.requeues, read.message) == (2, "queued again (the queue was away; 2 times)")


def test_a_second_delivery_of_a_finished_ingestion_leaves_it_as_it_is(demo_lab, upload):
    upload(demo_lab["runs"]["nco95_70mpa"], "cell.mpt", shared_bytes(MPT))
    dataset = Dataset.objects.get()
    attempts = list(ProcessingStage.objects.filter(dataset=dataset).values_list("name", "attempts"))
    outcome = tasks.ingest_dataset.apply(args=(dataset.pk, dataset.raw_file_id), kwargs={"unless_finished": True})
    assert outcome.get() == "already finished"
    assert list(ProcessingStage.objects.filter(dataset=dataset).values_list("name", "attempts")) == attempts
