"""The watch of silent running tests in the production shape: Celery beat sends the task on its
schedule to Redis and a real worker runs it against the test PostgreSQL database."""
import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from analysis.alerts.models import Alert
from tests import factories
from tests.environment import BROKER_URL
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def start(arguments, env, log):
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "eln", *arguments], cwd=REPO_ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    return process


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_beat_and_a_worker_raise_the_alert_of_a_silent_running_test(broker, settings, tmp_path):
    from samples.models import Material
    from samples.seed import seed_materials

    seed_materials(Material)  # an earlier transactional test may have emptied the seeded table
    run = factories.CyclingRunFactory(started_at=timezone.now() - dt.timedelta(hours=9))
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eln.settings", "CELERY_BROKER_URL": BROKER_URL,
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "ELN_MEDIA_ROOT": str(settings.MEDIA_ROOT), "ELN_WATCH_EVERY_SECONDS": "1"}
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = start(["worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO", "--without-heartbeat",
                    "--without-gossip", "--without-mingle"], env, worker_log)
    beat = start(["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")], env, beat_log)
    try:
        deadline = time.monotonic() + 90
        while not Alert.objects.filter(run=run).exists():
            if time.monotonic() > deadline or worker.poll() is not None or beat.poll() is not None:
                pytest.fail(f"no alert raised.\nworker:\n{worker_log.read_text()[-2000:]}\n"
                            f"beat:\n{beat_log.read_text()[-2000:]}")
            time.sleep(0.3)
        time.sleep(2.5)  # beat sends the task again and again: the same silence stays one alert
    finally:
        stop(beat)
        stop(worker)
    alert = Alert.objects.get(run=run)
    assert (alert.rule, alert.last_data_at, alert.acknowledged_at) == ("no_new_data", run.started_at, None)
    assert "analysis.tasks.watch_silent_runs" in beat_log.read_text()
    assert worker_log.read_text().count("analysis.tasks.watch_silent_runs") >= 2
