"""Ingestion by a real Celery worker: Redis as the broker, the test PostgreSQL database, and
the upload API in between. The worker runs as a separate process, as in production."""
import os
import subprocess
import sys
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from analysis.models import CycleSummary, ProcessingStage
from cells.models import Dataset
from tests.paths import REPO_ROOT as ROOT
from tests.environment import BROKER_URL
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(celery_to_redis, settings, tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "ELN_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_SETTINGS_MODULE": "eln.settings",
    }
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "eln", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_real_worker_ingests_an_upload(worker, api):
    from analysis.demo.lab import load_demo_lab

    lab = load_demo_lab()
    run = lab["runs"]["nco95_70mpa"]
    response = api(lab["user"]).post(
        f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
        {"file": SimpleUploadedFile("gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))},
        format="multipart",
    )
    assert response.status_code == 202
    assert response.json()["state"] == "queued"
    assert {s["state"] for s in response.json()["stages"]} == {"queued"}

    seen, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline:
        state = api(lab["user"]).get(response.json()["status_url"]).json()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("done", "failed"):
            break
        time.sleep(0.05)
    assert seen[-1] == "done", (seen, worker.read_text()[-3000:])
    # The states seen while polling follow queued -> running -> done (a fast worker may skip some).
    order = ["queued", "running", "done"]
    assert [order.index(state) for state in seen] == sorted(order.index(state) for state in seen)

    dataset = Dataset.objects.get(human_id=response.json()["dataset"])
    stages = {s.name: s for s in ProcessingStage.objects.filter(dataset=dataset)}
    assert {(n, s.state, s.attempts) for n, s in stages.items()} == {(n, "done", 1) for n in ("read", "cycles", "summary", "metrics")}
    assert stages["read"].finished_at <= stages["cycles"].started_at <= stages["summary"].started_at
    assert CycleSummary.objects.filter(dataset=dataset, complete=True).count() == 5
    assert "analysis.tasks.ingest_dataset" in worker.read_text()
