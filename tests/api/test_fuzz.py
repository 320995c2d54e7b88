"""Schemathesis over the whole OpenAPI schema: generated requests to every operation, as a
project writer and as an authenticated outsider, must never answer 5xx and must answer what the
schema declares (status, content type, body).

The schema is the one the server publishes (drf-spectacular, built in process), the app is the
WSGI application called in process, so the requests see the test's database transaction.
Examples are bounded (``ELN_FUZZ_EXAMPLES`` per operation and user, default 6) to keep the
suite's time.
"""
import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_EXAMPLES = int(os.environ.get("ELN_FUZZ_EXAMPLES", "6"))
# Schemathesis's coverage phase (every boundary of every parameter, ~100 requests an operation)
# is for a deeper run: ELN_FUZZ_COVERAGE=1. The boundaries it once found have tests of their own.
FUZZ_COVERAGE = os.environ.get("ELN_FUZZ_COVERAGE") == "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _published_schema() -> dict:
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _loaded_schema():
    import eln.wsgi

    loaded = schemathesis.openapi.from_dict(_published_schema())
    loaded.app = eln.wsgi.application
    loaded.config.phases.coverage.enabled = FUZZ_COVERAGE
    loaded.config.phases.stateful.enabled = False
    return loaded


schema = _loaded_schema()


@pytest.fixture
def in_test_transaction(tokens):
    """A request must not close the connection that holds the test's transaction (Django's test
    client reconnects the signal after each of its requests, so this comes after the tokens)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(people, project):
    """API tokens of a project writer (with a cell of the project to find) and of an outsider."""
    from rest_framework.test import APIClient

    from tests.factories import CellFactory

    CellFactory(project=project)

    def token_of(user):
        response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "pw-" + user.username})
        assert response.status_code == 200, response.content
        return response.json()["token"]

    return {"writer": token_of(people["writer"]), "outsider": token_of(people["outsider"])}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["writer", "outsider"])
@schema.parametrize()
@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_what_the_schema_declares(case, who, tokens, in_test_transaction):
    case.call_and_validate(headers={"Authorization": f"Token {tokens[who]}"}, checks=CHECKS)
