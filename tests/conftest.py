"""Fixtures for the whole suite: the lab's people, a project, API clients.

Tests that touch the database run on PostgreSQL (DATABASE_URL, set by the test command).
"""
import pytest

from tests.environment import BROKER_URL

# Django imports live inside the fixtures so that the pure core's tests (tests/analysis) also
# run without Django: `pytest -p no:django tests/analysis`.


@pytest.fixture
def people(db):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    make = lambda name, **extra: User.objects.create_user(name, f"{name}@lab.example", "pw-" + name, **extra)  # noqa: E731
    return {
        "manager": make("mara"),
        "writer": make("wei"),
        "reader": make("rita"),
        "outsider": make("otto"),
        "lab_manager": make("lena", is_staff=True),
    }


@pytest.fixture
def project(people):
    from eln.models import Project, ProjectMembership

    project = Project.objects.create(name="Closo infiltration", description="NaCrO2 and Sn cells")
    Role = ProjectMembership.Role
    for who, role in (("manager", Role.MANAGER), ("writer", Role.WRITER), ("reader", Role.READER)):
        ProjectMembership.objects.create(project=project, user=people[who], role=role)
    return project


@pytest.fixture
def api():
    """api(user) -> an APIClient authenticated as that user (or anonymous for None)."""

    from rest_framework.test import APIClient

    def client_for(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture(autouse=True)
def media_in_tmp(request, tmp_path_factory):
    """Uploaded raw files and their Parquet go to a fresh folder per test."""
    if not request.config.pluginmanager.hasplugin("django"):
        return  # the pure core's tests, run without Django
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    # Test users need no slow password hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The throttles count in the cache: each test starts with none of an earlier test's requests.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def broker():
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {BROKER_URL}: start it (scripts/services-up does).")
    client.flushdb()  # no task left over from an earlier run
    yield client
    client.flushdb()


@pytest.fixture
def celery_to_redis(broker):
    """Send tasks to Redis from this process instead of running them in process."""
    from eln.celery import app

    def fresh_connections():
        # The next send opens connections (and a producer pool) for the configured broker.
        app._pool = None
        app.amqp._producer_pool = None

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=BROKER_URL)
    fresh_connections()
    yield app
    app.conf.update(saved)
    fresh_connections()


@pytest.fixture
def sent_to_broker(broker):
    """``with sent_to_broker() as queued:`` sends tasks to Redis (not run) inside the block;
    ``queued()`` lists them as (task name, args) pairs."""
    import contextlib
    import json

    from eln.celery import app

    def read():
        messages = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
        return sorted((m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages)

    @contextlib.contextmanager
    def sending():
        saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
        app.conf.update(task_always_eager=False, broker_url=BROKER_URL)
        app._pool, app.amqp._producer_pool = None, None
        try:
            yield read
        finally:
            app.conf.update(saved)
            app._pool, app.amqp._producer_pool = None, None

    return sending


@pytest.fixture
def manager(people):
    """The lab manager, as a superuser of the admin."""
    user = people["lab_manager"]
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def browser(client, manager):
    """A browser session logged in as the lab manager."""
    client.force_login(manager)
    return client
