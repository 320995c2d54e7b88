"""Journeys through alerts, notebook entries, labels and lineage in a real headless Chromium, on
the paper's lab: an alert raised by a synthetic file whose efficiency drops, acknowledged; a
cell's label printed and its QR code read back from the screen and followed; a lot's lineage
followed down to a dataset; an entry mentioning a cell written and seen on the cell's page."""
import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from analysis.alerts.models import Alert
from analysis.core import synthetic
from analysis.demo.cycling import as_upload, spec_for
from analysis.services import raw_file_receive
from cells import services as cell_services
from cells.selectors import record_lineage
from cells.models import CyclingRun, Dataset
from eln.notebook.models import NotebookEntry

pytestmark = pytest.mark.slow


def photo_png() -> bytes:
    """A small photo-like PNG (a gradient), as a phone would attach it."""
    image = Image.new("RGB", (160, 90))
    image.putdata([(x, 60 + y, 200 - x) for y in range(90) for x in range(160)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def read_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, f"{len(found)} QR codes read"
    return found[0].text


def test_an_alert_raised_by_a_file_whose_efficiency_drops_is_seen_and_acknowledged(journey, demo_lab):
    cell = demo_lab["cells"]["nco97_half"]
    run = cell_services.cycling_run_start(user=demo_lab["user"], project=cell.project, cell=cell,
                                          state=CyclingRun.State.RUNNING, channel=demo_lab["runs"]["nco97_half"].channel)
    data = synthetic.nacro2_efficiency_drop(cell=spec_for(cell, synthetic.nacro2_half_cell(7.7, "97:1:2")),
                                            cycles_at_05c=16, drop_from_cycle=15, efficiency_after=0.965)
    received = raw_file_receive(run=run, uploaded=as_upload(f"{run.human_id}.bdf.csv", synthetic.to_bdf_csv(data.table)),
                                user=demo_lab["user"])
    received.dataset.refresh_from_db()
    assert received.dataset.state == "done", received.dataset.message
    alert = Alert.objects.get(run=run)
    assert (alert.rule, alert.cycle_number) == ("low_efficiency", 15)

    j = journey("alert-acknowledged")
    j.log_in("wei", "pw-wei")
    page = j.page
    panel = page.locator("section.panel", has=page.get_by_role("heading", name="Alerts", exact=True))
    expect(panel.locator("tr.alert-open")).to_have_count(1)
    expect(panel).to_contain_text("Coulombic efficiency fell to 96.5 % in cycle 15, below 98.0 %.")
    expect(panel).to_contain_text(cell.human_id)
    j.screenshot("dashboard")

    panel.get_by_role("link", name=cell.human_id).click()
    page.wait_for_url(f"**/cells/{cell.human_id}/")
    section = page.locator("section.record-section-alerts")
    expect(section).to_contain_text("1 open")
    row = section.locator("tr.alert-open")
    expect(row).to_contain_text("coulombic efficiency below the floor")
    row.get_by_label(re.compile("Note on alert")).fill("side reaction at the Na-Sn counter electrode")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"**/cells/{cell.human_id}/")
    expect(page.locator(".message-success")).to_contain_text("Acknowledged")
    expect(section).to_contain_text("0 open")
    acknowledged = section.locator("tr.alert-acknowledged")
    expect(acknowledged).to_contain_text("by wei on")
    expect(acknowledged).to_contain_text("side reaction at the Na-Sn counter electrode")
    j.screenshot("cell")
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "wei" and alert.acknowledged_at is not None

    page.get_by_role("navigation", name="Records").get_by_role("link", name="Alerts").click()
    expect(page.get_by_text("No alert is open.")).to_be_visible()


def test_a_cells_label_is_printed_and_its_qr_code_opens_the_cells_page(journey, demo_lab):
    cell = demo_lab["dataset"].run.cell
    j = journey("label-followed")
    j.log_in("rita", "pw-rita", then=f"/cells/{cell.human_id}/")  # a reader prints labels too
    page = j.page
    page.locator("section.record-section-label").get_by_role("link", name="Print the label").click()
    page.wait_for_url("**/labels/?records=*")
    label = page.locator(".label")
    expect(label).to_have_count(1)
    expect(label.locator(".label-id")).to_have_text(cell.human_id)
    j.screenshot("labels")

    # Read the code from the screen, as a phone would, and go where it says.
    target = read_qr(label.locator(".label-qr").screenshot())
    assert target == j.url(f"/cells/{cell.human_id}/")
    # Printed, the page holds the label alone, one 62 × 29 mm label a page.
    page.emulate_media(media="print")
    expect(page.locator(".site-nav")).to_be_hidden()
    expect(page.locator("form.label-controls")).to_be_hidden()
    page.emulate_media(media="screen")
    page.get_by_label("Copies of each").fill("3")
    page.get_by_role("button", name="Show").click()
    expect(label).to_have_count(3)
    page.emulate_media(media="print")
    pdf = page.pdf(prefer_css_page_size=True)
    pages = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(pages) == 3  # 62 × 29 mm = 175.7 × 82.2 pt, each
    assert all(abs(float(w) - 175.7) < 1 and abs(float(h) - 82.2) < 1 for w, h in pages), pages
    page.emulate_media(media="screen")

    page.goto(target)
    expect(page.get_by_role("heading", level=1)).to_contain_text(cell.human_id)
    j.screenshot("followed")


def test_a_lots_lineage_is_followed_down_to_a_dataset(journey, demo_lab):
    dataset = demo_lab["dataset"]
    cell = dataset.run.cell
    nacro2 = demo_lab["lots"]["NaCrO2"]
    downstream = {(e.source.human_id, e.target.human_id) for e in record_lineage(nacro2).downstream}
    assert (dataset.run.human_id, dataset.human_id) in downstream
    j = journey("lineage-to-a-dataset")
    j.log_in("wei", "pw-wei", then=f"/lots/{nacro2.human_id}/")
    page = j.page
    down = page.locator("table.lineage-downstream")
    expect(down).to_contain_text(dataset.human_id)
    expect(page.locator(".lineage canvas").first).to_be_visible()
    j.screenshot("lot")
    # lot -> sheet -> electrode -> cell: the cell has a page; the run and the dataset are on it
    down.get_by_role("link", name=cell.human_id).first.click()
    page.wait_for_url(f"**/cells/{cell.human_id}/")
    row = page.locator("table.datasets tr", has_text=dataset.human_id)
    expect(row.locator(".badge-done")).to_have_text("done")
    expect(page.locator("table.lineage-downstream")).to_contain_text(dataset.human_id)
    expect(page.locator("table.lineage-upstream")).to_contain_text(nacro2.human_id)
    j.screenshot("cell")
    assert Dataset.objects.get(human_id=dataset.human_id).run.cell == cell


def test_an_entry_mentioning_a_cell_is_written_and_seen_on_the_cells_page(journey, demo_lab):
    cell = demo_lab["cells"]["nco95_3mpa"]
    j = journey("notebook-entry")
    j.log_in("wei", "pw-wei", then=f"/cells/{cell.human_id}/")
    page = j.page
    page.get_by_role("link", name=f"Write an entry about {cell.human_id}").click()
    page.wait_for_url("**/notebook/new/?mention=*")
    expect(page.get_by_label("Text")).to_have_value(f"{cell.human_id} ")
    page.get_by_label("Title").fill("Spring fixture tightened")
    page.get_by_label("Text").fill(f"{cell.human_id}: the spring of the 3 MPa fixture was tightened by a quarter "
                                   "turn.\n\n![the fixture](attachment:fixture.png)\n\n**Stack pressure** checked: 3 MPa.")
    page.get_by_label("Attach files").set_input_files(
        [{"name": "fixture.png", "mimeType": "image/png", "buffer": photo_png()}])
    page.get_by_role("button", name="Write the entry").click()
    page.wait_for_url(re.compile(r"/notebook/NB-\d+/$"))
    entry = NotebookEntry.objects.get(title="Spring fixture tightened")
    expect(page.locator(".message-success")).to_contain_text(f"{entry.human_id} is written.")
    body = page.locator(".entry-body")
    expect(body.locator("strong")).to_have_text("Stack pressure")
    image = body.get_by_role("img", name="the fixture")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 160
    expect(page.locator(".entry-history")).to_contain_text("written")
    j.screenshot("entry")

    body.get_by_role("link", name=cell.human_id).click()
    page.wait_for_url(f"**/cells/{cell.human_id}/")
    section = page.locator("section.record-section-notebook")
    expect(section).to_contain_text(entry.human_id)
    expect(section).to_contain_text("Spring fixture tightened")
    expect(section.get_by_role("img", name="the fixture")).to_be_visible()
    j.screenshot("cell")
