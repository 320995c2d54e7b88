"""Nothing stuck, with real processes: Celery workers and beat on Redis against the test
PostgreSQL database. A worker killed mid-ingestion, the broker away at upload time and the
database connection dropped mid-ingestion all end with the dataset done once, its rows stored
once; the status API never shows a dataset queued or running with no progress for longer than
the sweep's age (plus the time no worker was there to sweep)."""
import datetime as dt
import functools
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils.dateparse import parse_datetime

from analysis.core import synthetic
from analysis.models import CycleStep, CycleSummary, ProcessingStage
from analysis.services import INGESTION_LOCK
from cells.models import Dataset, RawDataFile
from tests.environment import BROKER_URL
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)

STUCK_AFTER_S = 3  # the workers' ELN_STUCK_AFTER_SECONDS
SWEEP_EVERY_S = 1  # beat's ELN_SWEEP_EVERY_SECONDS
VISIBILITY_TIMEOUT_S = 20  # longer than an ingestion of the test's file
KILL_WITHIN_S = 1.0  # a drop this long at most after reading started: mid-ingestion


@functools.cache
def large_file() -> tuple[bytes, int]:
    """A long-term cycling test of 102 cycles logged every 10 s (~150,000 rows, ~6.6 MB): the
    BDF CSV and its number of cycles."""
    data = synthetic.paper_nacro2_long_term(70.0, sample_interval_s=10)
    return synthetic.to_bdf_csv(data.table), 102


class Processes:
    """Celery workers and beat started as in production; each keeps its own log."""

    def __init__(self, settings, tmp_path):
        db = connection.settings_dict
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "eln.settings", "CELERY_BROKER_URL": BROKER_URL,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "ELN_MEDIA_ROOT": str(settings.MEDIA_ROOT), "ELN_STUCK_AFTER_SECONDS": str(STUCK_AFTER_S),
            "ELN_SWEEP_EVERY_SECONDS": str(SWEEP_EVERY_S),
            "ELN_BROKER_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT_S),
            "ELN_WATCH_EVERY_SECONDS": "3600",
        }
        self.tmp_path, self.running, self.logs = tmp_path, [], []
        self.workers = {}  # its database connections' application_name -> (process, log)

    def _start(self, name, arguments, env=None):
        log = self.tmp_path / f"{name}-{len(self.logs)}.log"
        # a session of its own: the whole worker (main process and pool child) can be killed at once
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "eln", *arguments], cwd=REPO_ROOT,
                                   env=env or self.env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running.append(process)
        self.logs.append(log)
        return process, log

    def worker(self, *, wait=True):
        """A worker as in production: a main process and one pool child that runs the tasks. Its
        database connections carry its name, so the test can tell which worker holds what."""
        name = f"eln-worker-{len(self.logs)}"
        env = {**self.env, "DATABASE_URL": f"{self.env['DATABASE_URL']}?application_name={name}"}
        process, log = self._start("worker", ["worker", "--pool=prefork", "--concurrency=1", "--loglevel=INFO",
                                              "--without-heartbeat", "--without-gossip", "--without-mingle",
                                              "-n", f"{name}@%h"], env)
        self.workers[name] = (process, log)
        if wait:
            self.wait_ready(process, log)
        return process

    @staticmethod
    def wait_ready(process, log):
        deadline = time.monotonic() + 90
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def holder(self, dataset_id: int):
        """The worker whose connection holds the dataset's ingestion (None between runs)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                           "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s",
                           [INGESTION_LOCK, dataset_id])
            row = cursor.fetchone()
        return row and row[0]

    @staticmethod
    def pool_child(worker) -> int:
        children = pathlib.Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def beat(self):
        return self._start("beat", ["beat", "--loglevel=INFO", "-s", str(self.tmp_path / "beat-schedule")])[0]

    def text(self, name="worker"):
        return "".join(log.read_text() for log in self.logs if log.name.startswith(name))

    def stop_all(self):
        # killed outright: nothing of theirs is kept (Redis is emptied after the test)
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def processes(celery_to_redis, settings, tmp_path):
    running = Processes(settings, tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def lab():
    from analysis.demo.lab import load_demo_lab

    return load_demo_lab()


def upload(api, lab, content: bytes):
    run = lab["runs"]["nco95_70mpa"]
    return api(lab["user"]).post(f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                                 {"file": SimpleUploadedFile("long-term.bdf.csv", content)}, format="multipart")


class StatusWatch:
    """Polls the status API as the lab would, and checks that every answer showing the dataset
    queued or running shows progress (a stage queued, started or finished) no older than the
    sweep's age plus one sweep interval."""

    def __init__(self, api, user, status_url, processes):
        self.client, self.url, self.processes = api(user), status_url, processes
        self.states, self.oldest_progress_s = [], 0.0

    def look(self) -> dict:
        body = self.client.get(self.url).json()
        now = dt.datetime.now(dt.timezone.utc)
        if not self.states or self.states[-1] != body["state"]:
            self.states.append(body["state"])
        if body["state"] in ("queued", "running"):
            moments = [parse_datetime(s[key]) for s in body["stages"]
                       for key in ("queued_at", "started_at", "finished_at") if s[key]]
            age_s = (now - max(moments)).total_seconds()
            self.oldest_progress_s = max(self.oldest_progress_s, age_s)
            # 2.5 s for the machine: the sweep's task waiting for a pool process, its queries, a poll
            allowed_s = STUCK_AFTER_S + SWEEP_EVERY_S + 2.5
            assert age_s <= allowed_s, (body, self.processes.text()[-3000:])
        return body

    def until(self, condition, *, timeout_s=120):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self.look()
            if condition(body):
                return body
            time.sleep(0.05)
        pytest.fail(f"not reached in {timeout_s} s: states {self.states}\n{self.processes.text()[-4000:]}")


def assert_done_once(dataset_human_id: str, processes, cycles: int):
    dataset = Dataset.objects.get(human_id=dataset_human_id)
    assert dataset.state == "done", dataset.message
    assert Dataset.objects.count() == 1 and RawDataFile.objects.count() == 1
    # every cycle once, every step once
    assert CycleSummary.objects.filter(dataset=dataset).count() == cycles
    assert sorted(CycleSummary.objects.filter(dataset=dataset).values_list("cycle_number", flat=True)) == \
        list(range(1, cycles + 1))
    steps = list(CycleStep.objects.filter(dataset=dataset).values_list("step_number", flat=True))
    assert sorted(steps) == list(range(1, len(steps) + 1))
    assert set(ProcessingStage.objects.filter(dataset=dataset).values_list("state", flat=True)) == {"done"}
    # one delivery did the work; every other one found it finished or in hand
    # (the state reads done a moment before the task returns)
    deadline = time.monotonic() + 30
    while "done" not in (outcomes := re.findall(r"ingest_dataset\[[^]]+\] succeeded in [0-9.]+s: '([a-z ]+)'",
                                                processes.text())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert outcomes.count("done") == 1, (outcomes, [line for line in processes.text().splitlines()
                                                     if "ingest_dataset" in line][-30:])
    assert set(outcomes) <= {"done", "already finished", "already running"}, outcomes
    return dataset


def started_since(moment: dt.datetime, stage: str = "read"):
    """A worker has (re)started on it after ``moment`` and reached ``stage`` (or a later one)."""
    order = [s.value for s in ProcessingStage.ORDER]
    return lambda body: body["state"] == "running" and any(
        s["state"] == "running" and s["started_at"] and parse_datetime(s["started_at"]) > moment
        and order.index(s["name"]) >= order.index(stage) for s in body["stages"])


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def test_a_worker_killed_ten_times_mid_ingestion_ends_with_the_dataset_done_once(processes, lab, api):
    """Killed in turn: the pool child (as the out-of-memory killer does; the worker's main process
    gives the task back to Redis at once) and the whole worker (main process and child, as a
    crash of the machine does; the task stays unacknowledged and the sweep queues it again)."""
    content, cycles = large_file()
    processes.beat()
    processes.worker(wait=False)
    processes.worker(wait=False)
    processes.worker()
    response = upload(api, lab, content)
    assert response.status_code == 202, response.content
    dataset_id = Dataset.objects.get(human_id=response.json()["dataset"]).pk
    watch = StatusWatch(api, lab["user"], response.json()["status_url"], processes)
    random.seed(8)
    killed, killed_at, started = [], now() - dt.timedelta(hours=1), time.monotonic()
    stages = ["read", "cycles", "summary", "metrics"]
    for kill in range(10):
        # wait until a worker has started on it (again) and reached the stage, then kill it there
        stage = stages[kill % 4]
        watch.until(started_since(killed_at, stage))
        if stage == "read":
            time.sleep(random.uniform(0.0, 0.5))
        name = processes.holder(dataset_id)
        assert name, "no worker holds the ingestion it shows running"
        worker, log = processes.workers.pop(name)
        # the whole worker when another one is ready to sweep (and take the task back), else its child
        whole = kill % 2 == 1 and any("ready." in other_log.read_text() for _, other_log in processes.workers.values())
        if whole:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        else:
            os.kill(processes.pool_child(worker), signal.SIGKILL)
            processes.workers[name] = (worker, log)
        killed_at = now()
        body = watch.look()
        assert body["state"] != "done", "the worker finished before it was killed: kill it sooner"
        at = next((s["name"] for s in body["stages"] if s["state"] == "running"), "between stages")
        killed.append(f"{'worker' if whole else 'child'} in {at} at {time.monotonic() - started:.1f} s")
        if whole:
            processes.worker(wait=False)  # its replacement, ready for a later kill
    body = watch.until(lambda b: b["state"] in ("done", "failed", "done_with_warnings"))
    assert len(killed) == 10
    assert sum(k.startswith("worker") for k in killed) >= 3 and sum(k.startswith("child") for k in killed) >= 3
    assert_done_once(body["dataset"], processes, cycles)
    stages = {s["name"]: s for s in body["stages"]}
    # each kill is one more attempt of the stage it stopped; the sweep counted its requeues
    assert sum(s["attempts"] for s in stages.values()) >= 4 + 10
    assert sum(s["requeues"] for s in stages.values()) >= 1
    assert "requeue_stuck_datasets" in processes.text("beat")
    print(f"killed: {killed}; done at {time.monotonic() - started:.0f} s; "
          f"oldest progress shown {watch.oldest_progress_s:.1f} s; attempts "
          f"{[(n, s['attempts'], s['requeues']) for n, s in stages.items()]}; states {watch.states}")


def test_an_upload_with_the_broker_away_waits_for_the_queue_then_the_sweep_queues_it(processes, lab, api):
    from eln.celery import app

    content, cycles = large_file()
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # a closed port: the broker is away
    app._pool = app.amqp._producer_pool = None
    response = upload(api, lab, content)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "waiting_for_queue"
    assert body["message"].startswith("The task queue did not answer (")
    assert "The file is stored; the dataset is queued as soon as the queue answers" in body["message"]
    assert RawDataFile.objects.get().file.size == len(content)  # the file is safe

    # the broker back: the worker and beat find it
    processes.worker()
    processes.beat()
    watch = StatusWatch(api, lab["user"], body["status_url"], processes)
    done = watch.until(lambda b: b["state"] in ("done", "failed", "done_with_warnings"))
    assert_done_once(done["dataset"], processes, cycles)
    assert watch.states[0] in ("waiting_for_queue", "queued", "running"), watch.states
    read = next(s for s in done["stages"] if s["name"] == "read")
    assert read["requeues"] == 1  # the sweep sent it once


def test_database_connections_dropped_mid_ingestion_are_retried_to_done(processes, lab, api):
    content, cycles = large_file()
    processes.beat()
    processes.worker()
    response = upload(api, lab, content)
    assert response.status_code == 202
    watch = StatusWatch(api, lab["user"], response.json()["status_url"], processes)
    dataset = Dataset.objects.get(human_id=response.json()["dataset"])
    dropped, dropped_at = 0, now() - dt.timedelta(hours=1)
    random.seed(8)
    for _ in range(3):
        watch.until(started_since(dropped_at))
        time.sleep(random.uniform(0.0, KILL_WITHIN_S))
        with connection.cursor() as cursor:
            # the backend of the worker holding the dataset's ingestion
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND classid = %s AND objid = %s", [INGESTION_LOCK, dataset.pk])
            dropped += sum(1 for (ok,) in cursor.fetchall() if ok)
        dropped_at = now()
        if watch.look()["state"] in ("done", "failed"):
            break
    assert dropped >= 1
    body = watch.until(lambda b: b["state"] in ("done", "failed", "done_with_warnings"))
    assert_done_once(body["dataset"], processes, cycles)
    assert "OperationalError" in processes.text() or "InterfaceError" in processes.text()
