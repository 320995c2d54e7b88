"""Uploading a cycler file from a run's page in a real headless Chromium, on the paper's lab: a
writer who is not staff sends a real BioLogic file, sees the progress bar fill and the processing
reach "done" without reloading, then the dataset's cycles and its plots; a file no reader knows
shows its message and a retry button, and the retry is counted; a reader gets no upload control
and is refused if they post anyway. Ingestion runs in process (no broker), as the upload's answer."""
import re

import pytest
from playwright.sync_api import expect

from analysis.models import ProcessingStage
from cells.models import Dataset
from tests.paths import SHARED_DATA

pytestmark = pytest.mark.slow

CYCLER_FILE = SHARED_DATA / "biologic_mpr" / "gcpl.issue_211.mpr"
PROCESSED = 60_000  # ms: ingestion runs in the upload's request on a busy machine


def test_a_writer_uploads_a_cycler_file_on_a_runs_page_and_watches_it_processed(journey, demo_lab, tmp_path):
    run = demo_lab["runs"]["nco95_3mpa"]
    assert not run.datasets.exists()
    j = journey("upload-from-the-browser")
    j.log_in("wei", "pw-wei", then=f"/cycling-runs/{run.human_id}/")
    page = j.page
    expect(page.locator("#run-datasets")).to_contain_text("No file uploaded to this run yet.")
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    form = page.locator("form[data-upload]")
    form.get_by_label(f"Cycler file for {run.human_id}").set_input_files(str(CYCLER_FILE))
    form.get_by_role("button", name="Upload").click()
    progress = form.locator(".upload-progress progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "100", timeout=PROCESSED)  # set by the upload's progress events
    expect(form.locator(".upload-percent")).to_have_text("100 %")

    processing = page.locator(".upload-results .dataset-processing")
    expect(processing).to_have_attribute("data-state", "done", timeout=PROCESSED)
    dataset = Dataset.objects.get(run=run)
    assert dataset.state == "done" and dataset.raw_file.uploaded_by.username == "wei"
    cycles = dataset.cycles.count()
    assert cycles == dataset.cycles.filter(complete=True).count() == 5
    expect(processing.locator(".processing-state .badge")).to_have_text("done")
    expect(processing.locator(".processing-cycles")).to_have_text(f"{cycles} cycles")
    expect(processing.locator("tr[data-stage] .badge")).to_have_text(["done"] * 4)
    # the run's table of datasets fetched itself again: the new dataset, done
    row = page.locator("#run-datasets table.datasets tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(dataset.human_id)
    expect(row.locator(".badge")).to_have_text("done")
    assert page.evaluate("window.notReloaded") is True
    j.screenshot("run")

    processing.get_by_role("link", name=dataset.human_id).click()
    page.wait_for_url(f"**/datasets/{dataset.human_id}/")
    expect(page.locator("table.cycles tbody tr")).to_have_count(cycles)
    first = dataset.cycles.order_by("cycle_number").first()
    expect(page.locator("table.cycles tbody tr").first.locator("td").first).to_have_text(str(first.cycle_number))
    # and the plots of what was just uploaded are drawn
    plots = page.locator(".record-section-plots")
    for name in ("voltage", "voltage-capacity", "capacity", "dqdv"):  # one rate only: no rate plot
        plot = plots.locator(f'.plot[data-plot="{name}"]')
        expect(plot.locator("canvas")).to_be_visible(timeout=PROCESSED)
        expect(plot).to_have_attribute("data-plot-points", re.compile(r"^[1-9]\d*$"))
    j.screenshot("dataset")

    # a file no reader knows: its message and a retry button
    page.goto(j.url(f"/cycling-runs/{run.human_id}/"))
    page.evaluate("window.notReloaded = true")
    bad = tmp_path / "notes from the glovebox.txt"
    bad.write_text("Cell assembled at 70 MPa, rested 12 h.\n")
    form.get_by_label(f"Cycler file for {run.human_id}").set_input_files(str(bad))
    form.get_by_role("button", name="Upload").click()
    failed = page.locator(".upload-results .dataset-processing")
    expect(failed).to_have_attribute("data-state", "failed", timeout=PROCESSED)
    broken = Dataset.objects.get(run=run, source_name="notes from the glovebox.txt")
    assert broken.state == "failed" and "not a recognised cycler format" in broken.message
    expect(failed.locator(".processing-message")).to_have_text(broken.message)
    j.screenshot("failed")
    failed.get_by_role("button", name="Retry").click()
    read = page.locator(f"#processing-{broken.human_id} tr[data-stage='read']")
    expect(read.locator("td.num")).to_have_text("2", timeout=PROCESSED)  # the retry counted on the stage
    expect(page.locator(f"#processing-{broken.human_id} .processing-message")).to_have_text(broken.message)
    expect(page.locator(f"#processing-{broken.human_id}").get_by_role("button", name="Retry")).to_be_visible()
    assert ProcessingStage.objects.get(dataset=broken, name="read").attempts == 2
    expect(page.locator("#run-datasets table.datasets tbody tr")).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True
    j.screenshot("retried")


def test_a_reader_sees_no_upload_control_and_a_post_is_refused(journey, demo_lab):
    run = demo_lab["runs"]["nco95_3mpa"]
    failed = demo_lab["dataset"]
    j = journey("upload-reader-refused")
    j.log_in("rita", "pw-rita", then=f"/cycling-runs/{run.human_id}/")
    page = j.page
    expect(page.locator("main h1")).to_contain_text(run.human_id)
    expect(page.locator("form[data-upload]")).to_have_count(0)
    expect(page.get_by_role("heading", name="Upload a cycler file")).to_have_count(0)
    page.goto(j.url(f"/cells/{run.cell.human_id}/"))
    expect(page.locator("main h1")).to_contain_text(run.cell.human_id)
    expect(page.locator("form[data-upload]")).to_have_count(0)
    token = next(c["value"] for c in j.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(j.url(f"/api/v1/cycling-runs/{run.human_id}/raw-files/"),
                                multipart={"file": {"name": CYCLER_FILE.name, "mimeType": "application/octet-stream",
                                                    "buffer": CYCLER_FILE.read_bytes()}},
                                headers={"X-CSRFToken": token})
    assert refused.status == 403
    assert refused.json() == {"detail": f"You are a reader of project {run.project.name!r}; uploading needs write "
                                        "rights."}
    assert not run.datasets.exists()
    assert page.request.post(j.url(f"/datasets/{failed.human_id}/retry/"), headers={"X-CSRFToken": token}).status == 403
    j.screenshot("cell")
