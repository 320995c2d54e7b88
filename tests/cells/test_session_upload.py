"""Uploads through a browser session: streamed to disk and hashed on the way exactly as a token
upload is, with the CSRF token from the X-CSRFToken header checked before the body is read; a
token upload needs no CSRF token. And retrying a failed ingestion through the API."""
import hashlib
import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import Client

from analysis.models import ProcessingStage
from cells.models import Dataset, RawDataFile
from eln import uploads
from eln.models import ProjectMembership
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db

FILE = "biologic_mpr/gcpl.issue_211.mpr"
SHA256 = "5be1b5bd1624fa0c5be516862a7c2423eb2aa20f0a204a32b4cefe2beb1bbcba"  # MANIFEST.tsv


@pytest.fixture
def members(demo_lab, people):
    for who, role in (("writer", ProjectMembership.Role.WRITER), ("reader", ProjectMembership.Role.READER)):
        ProjectMembership.objects.create(project=demo_lab["project"], user=people[who], role=role)
    return people


@pytest.fixture
def handled(monkeypatch):
    """What the hashing handler wrote for each upload: (its class, the file's class, on disk?)."""
    seen = []
    complete = uploads.HashingUploadHandler.file_complete

    def file_complete(self, file_size):
        uploaded = complete(self, file_size)
        seen.append((type(self), type(uploaded), uploaded.temporary_file_path()))
        return uploaded

    monkeypatch.setattr(uploads.HashingUploadHandler, "file_complete", file_complete)
    return seen


def logged_in(username: str) -> Client:
    """A browser's session: the login form posted with its CSRF token, checks enforced."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    answer = client.post("/login/", {"username": username, "password": f"pw-{username}",
                                     "csrfmiddlewaretoken": token})
    assert answer.status_code == 302, answer.content
    return client


def page_token(client, run) -> str:
    """The CSRF token of the run's page, as the page's upload script sends it."""
    page = client.get(f"/cycling-runs/{run.human_id}/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


def post(client, run, content, capture, **headers):
    with capture(execute=True):
        return client.post(f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                           {"file": SimpleUploadedFile("gcpl.issue_211.mpr", content)}, **headers)


def test_a_session_upload_streams_through_the_hashing_handler_with_the_csrf_header(
        demo_lab, members, handled, django_capture_on_commit_callbacks):
    run = demo_lab["runs"]["nco95_70mpa"]
    client = logged_in("wei")
    content = shared_bytes(FILE)
    response = post(client, run, content, django_capture_on_commit_callbacks,
                    HTTP_X_CSRFTOKEN=page_token(client, run))
    assert response.status_code == 202, response.content
    # written to a temporary file chunk by chunk, never whole in memory, and hashed on the way
    assert len(handled) == 1
    handler, uploaded_class, path = handled[0]
    assert handler is uploads.HashingUploadHandler and uploaded_class is TemporaryUploadedFile and path
    body = response.json()
    assert body["raw_file"]["sha256"] == SHA256 == hashlib.sha256(content).hexdigest()
    stored = RawDataFile.objects.get()
    assert stored.sha256 == SHA256 and stored.uploaded_by.username == "wei"
    with stored.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == SHA256
    dataset = Dataset.objects.get(human_id=body["dataset"])
    assert dataset.state == "done" and dataset.cycles.filter(complete=True).count() == 5


def test_a_session_upload_without_the_csrf_header_is_refused_before_its_file_is_read(
        demo_lab, members, handled, django_capture_on_commit_callbacks):
    run = demo_lab["runs"]["nco95_70mpa"]
    client = logged_in("wei")
    token = page_token(client, run)
    content = shared_bytes(FILE)
    missing = post(client, run, content, django_capture_on_commit_callbacks)
    assert missing.status_code == 403
    assert missing.json() == {"detail": uploads.CSRF_HEADER_MISSING}
    assert "X-CSRFToken header" in missing.json()["detail"]
    # the token in a form field is not read: that would parse the file before the handler is set
    with django_capture_on_commit_callbacks(execute=True):
        in_form = client.post(f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                              {"file": SimpleUploadedFile("gcpl.issue_211.mpr", content),
                               "csrfmiddlewaretoken": token})
    assert in_form.status_code == 403 and in_form.json() == {"detail": uploads.CSRF_HEADER_MISSING}
    wrong = post(client, run, content, django_capture_on_commit_callbacks, HTTP_X_CSRFTOKEN="x" * 64)
    assert wrong.status_code == 403
    assert wrong.json() == {"detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."}
    assert handled == [] and RawDataFile.objects.count() == 0 and Dataset.objects.count() == 0


def test_a_reader_session_upload_is_refused_before_its_file_is_read(
        demo_lab, members, handled, django_capture_on_commit_callbacks):
    run = demo_lab["runs"]["nco95_70mpa"]
    client = logged_in("rita")
    response = post(client, run, shared_bytes(FILE), django_capture_on_commit_callbacks,
                    HTTP_X_CSRFTOKEN=page_token(client, run))
    assert response.status_code == 403
    assert response.json() == {"detail": "You are a reader of project 'Closo-borate infiltration (demo)'; "
                                         "uploading needs write rights."}
    assert handled == [] and RawDataFile.objects.count() == 0


def test_a_token_upload_needs_no_csrf_token_and_streams_the_same_way(
        demo_lab, members, handled, django_capture_on_commit_callbacks):
    from eln.security.services import api_token_issue

    run = demo_lab["runs"]["nco95_70mpa"]
    _token, key = api_token_issue(user=members["writer"])
    response = post(Client(enforce_csrf_checks=True), run, shared_bytes(FILE), django_capture_on_commit_callbacks,
                    HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 202, response.content
    assert [(h, u) for h, u, _path in handled] == [(uploads.HashingUploadHandler, TemporaryUploadedFile)]
    assert response.json()["raw_file"]["sha256"] == SHA256
    assert Dataset.objects.get().state == "done"


def test_a_failed_ingestion_is_retried_once_its_file_is_back(demo_lab, members, api,
                                                             django_capture_on_commit_callbacks):
    """The stored file was away when the worker read it (a storage restore): put back, a retry
    through the API reads it and the dataset ends done; each stage counts both attempts."""
    run = demo_lab["runs"]["nco95_70mpa"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        received = api(members["writer"]).post(f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                                               {"file": SimpleUploadedFile("gcpl.issue_211.mpr", shared_bytes(FILE))},
                                               format="multipart")
    assert received.status_code == 202
    dataset = Dataset.objects.get(human_id=received.json()["dataset"])
    path = dataset.raw_file.file.path
    away = path + ".away"
    os.rename(path, away)
    for callback in queued:
        callback()
    dataset.refresh_from_db()
    assert dataset.state == "failed"
    assert dataset.message == dataset.raw_file.gone_message
    assert dataset.message.startswith("The raw file gcpl.issue_211.mpr of RUN-0001 is no longer in the file store")

    retry = f"/api/v1/datasets/{dataset.human_id}/retry/"
    refused = api(members["reader"]).post(retry)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You are a reader of this project; only members with write rights can "
                                        "change its records."}
    os.rename(away, path)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(members["writer"]).post(retry)
    assert response.status_code == 202, response.content
    assert response["Location"].endswith(f"/api/v1/datasets/{dataset.human_id}/status/")
    dataset.refresh_from_db()
    assert dataset.state == "done" and dataset.message == "" and dataset.cycles.filter(complete=True).count() == 5
    assert ProcessingStage.objects.get(dataset=dataset, name="read").attempts == 2
    assert dataset.modified_by.username == "wei"
    status = api(members["writer"]).get(response["Location"]).json()
    assert status["state"] == "done" and [s["attempts"] for s in status["stages"]][0] == 2

    again = api(members["writer"]).post(retry)
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": [f"{dataset.human_id} is done; only a failed ingestion is retried."]}
