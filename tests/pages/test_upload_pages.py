"""Uploading from a run's page and a cell's page (writers only), the processing fragment that
asks for itself again while a dataset is queued or running, and retrying a failed ingestion."""
import json
import re

import pytest

from analysis.models import ProcessingStage
from cells.models import Dataset
from tests.pages.conftest import GOOD_FILE
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def upload_form(html: str) -> str | None:
    found = re.search(r'<form class="upload-form".*?</form>', html, re.S)
    return found[0] if found else None


def test_writers_get_the_upload_form_on_a_runs_and_a_cells_page_readers_none(logged_in, people, lab):
    cell = lab.half_cell()
    run = lab.run(cell)
    writer = logged_in(people["writer"])
    for url in (f"/cycling-runs/{run.human_id}/", f"/cells/{cell.human_id}/"):
        html = writer.get(url).content.decode()
        form = upload_form(html)
        assert form, url
        assert f'action="/api/v1/cycling-runs/{run.human_id}/raw-files/"' in form
        assert 'data-processing-url="/datasets/__dataset__/processing/"' in form
        assert 'name="csrfmiddlewaretoken"' in form and 'type="file"' in form and "<progress" in form
        assert '<script src="/static/eln/upload.js" defer></script>' in html
        assert "<script>" not in html
    reader = logged_in(people["reader"])
    for url in (f"/cycling-runs/{run.human_id}/", f"/cells/{cell.human_id}/"):
        html = reader.get(url).content.decode()
        assert upload_form(html) is None and "data-upload" not in html and "Upload a cycler file" not in html, url


def test_a_queued_datasets_fragment_asks_again_and_a_finished_one_stops_and_tells_the_page(
        logged_in, people, lab, django_capture_on_commit_callbacks):
    from analysis.services import raw_file_receive
    from django.core.files.base import ContentFile
    import hashlib

    run = lab.run(lab.half_cell())
    content = shared_bytes(GOOD_FILE)
    upload = ContentFile(content, name="gcpl.mpt")
    upload.sha256 = hashlib.sha256(content).hexdigest()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        dataset = raw_file_receive(run=run, uploaded=upload, user=people["writer"]).dataset
    client = logged_in(people["reader"])
    url = f"/datasets/{dataset.human_id}/processing/"
    waiting = client.get(url, HTTP_HX_REQUEST="true")
    html = waiting.content.decode()
    assert waiting.status_code == 200 and "HX-Trigger" not in waiting
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in html
    assert '<span class="badge badge-queued">queued</span>' in html and "updated by itself every 2 s" in html

    for callback in queued:
        callback()
    done = client.get(url, HTTP_HX_REQUEST="true")
    html = done.content.decode()
    assert "hx-trigger" not in html and '<span class="badge badge-done">done</span>' in html
    cycles = dataset.cycles.count()
    assert f'<span class="processing-cycles">{cycles} cycles</span>' in html
    assert json.loads(done["HX-Trigger"]) == {"dataset-processed": {"dataset": dataset.human_id}}
    assert "Retry" not in html
    # the page's tables of datasets and cycles fetch themselves again on that event
    for page, selected in ((f"/cycling-runs/{run.human_id}/", "#run-datasets"),
                           (f"/datasets/{dataset.human_id}/", "#dataset-cycles"),
                           (f"/cells/{run.cell.human_id}/", f"#datasets-of-{run.human_id}")):
        html = client.get(page).content.decode()
        assert re.search(rf'hx-trigger="dataset-processed from:body" hx-select="{selected}"', html), page


def test_a_failed_ingestion_shows_its_message_and_writers_a_retry_that_counts_the_attempt(
        logged_in, people, lab, django_capture_on_commit_callbacks):
    run = lab.run(lab.half_cell())
    dataset = lab.failed_dataset(run)
    url = f"/datasets/{dataset.human_id}/processing/"
    reader = logged_in(people["reader"])
    html = reader.get(url).content.decode()
    assert '<span class="badge badge-failed">failed</span>' in html
    assert f'<p class="message-text processing-message">{dataset.message}</p>' in html and dataset.message
    assert "Retry" not in html and "hx-trigger" not in html
    refused = reader.post(f"/datasets/{dataset.human_id}/retry/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert ProcessingStage.objects.get(dataset=dataset, name="read").attempts == 1

    writer = logged_in(people["writer"])
    html = writer.get(f"/datasets/{dataset.human_id}/").content.decode()
    assert f'hx-post="/datasets/{dataset.human_id}/retry/"' in html and ">Retry</button>" in html
    with django_capture_on_commit_callbacks(execute=True):
        retried = writer.post(f"/datasets/{dataset.human_id}/retry/", HTTP_HX_REQUEST="true")
    assert retried.status_code == 200
    html = retried.content.decode()  # answered before the worker took it up: queued, and asking again
    assert '<span class="badge badge-queued">queued</span>' in html and 'hx-trigger="every 2s"' in html
    assert "processing-message" not in html and "HX-Trigger" not in retried
    polled = writer.get(url, HTTP_HX_REQUEST="true")
    html = polled.content.decode()
    dataset.refresh_from_db()
    assert dataset.state == "failed"  # the same bytes fail the same way, and say so again
    assert f'<p class="message-text processing-message">{dataset.message}</p>' in html
    assert re.search(r'<tr data-stage="read"><td>[^<]+</td><td><span class="badge badge-failed">failed</span></td>'
                     r'<td class="num">2</td>', html)
    assert ">Retry</button>" in html
    assert json.loads(polled["HX-Trigger"]) == {"dataset-processed": {"dataset": dataset.human_id}}
    # without htmx: back to the dataset's page
    with django_capture_on_commit_callbacks(execute=True):
        plain = writer.post(f"/datasets/{dataset.human_id}/retry/")
    assert plain.status_code == 302 and plain["Location"] == f"/datasets/{dataset.human_id}/"


def test_retrying_a_dataset_that_did_not_fail_is_refused_with_its_state(logged_in, people, lab):
    dataset = lab.good_dataset(lab.run(lab.half_cell()))
    assert dataset.state in ("done", "done_with_warnings")
    response = logged_in(people["writer"]).post(f"/datasets/{dataset.human_id}/retry/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert (f'<p class="message message-error" role="alert">{dataset.human_id} is '
            f'{dataset.get_state_display()}; only a failed ingestion is retried.</p>') in html
    assert ProcessingStage.objects.get(dataset=dataset, name="read").attempts == 1
    assert Dataset.objects.get(pk=dataset.pk).state == dataset.state
