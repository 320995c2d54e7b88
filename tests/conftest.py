"""Fixtures for the whole suite: the lab's people, a project, API clients.

Tests that touch the database run on PostgreSQL (DATABASE_URL, set by the test command).
"""
import pytest

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
