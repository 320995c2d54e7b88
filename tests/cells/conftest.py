import pytest


@pytest.fixture
def demo_lab(db):
    from analysis.demo.lab import load_demo_lab

    return load_demo_lab()


@pytest.fixture
def demo_user(demo_lab):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="demo")


@pytest.fixture
def upload(api, demo_user, django_capture_on_commit_callbacks):
    """upload(run, name, bytes, client=None) -> response; ingestion runs in process on commit."""

    def post(run, name, content: bytes, client=None, **headers):
        from django.core.files.uploadedfile import SimpleUploadedFile

        client = client or api(demo_user)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                {"file": SimpleUploadedFile(name, content)}, format="multipart", **headers,
            )

    return post

