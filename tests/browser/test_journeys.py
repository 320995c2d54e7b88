"""The researchers' journeys through the pages in a real headless Chromium, on the paper's lab."""
import re

import pytest
from django.db.models import F
from playwright.sync_api import expect

from cells.selectors import record_lineage
from eln.formatting import fixed, significant
from samples.selectors import with_stock
from samples.models import PrecursorLot

pytestmark = pytest.mark.slow


def expect_ids(page, ids):
    """Wait until the table lists these records, in this order (htmx swaps it in place)."""
    expect(page.locator("table.records tbody tr td:first-child")).to_have_text(list(ids))


def test_a_writer_logs_in_finds_lots_by_search_and_filters_and_opens_one(journey, demo_lab):
    lots = demo_lab["lots"]
    j = journey("writer-finds-a-lot")
    j.log_in("wei", "pw-wei")
    page = j.page
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator(".username")).to_have_text("wei")
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)  # not staff
    expect(page.get_by_role("heading", name="Low stock")).to_be_visible()
    expect(page.get_by_role("heading", name="Cells recorded last")).to_be_visible()
    j.screenshot("dashboard")

    page.get_by_role("navigation", name="Records").get_by_role("link", name="Precursor lots").click()
    page.wait_for_url("**/lots/")
    expect(page.get_by_role("heading", name="Precursor lots", level=1)).to_be_visible()
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(len(lots))
    expect(page.locator(".edit-controls")).to_be_visible()

    # Typing in the search box narrows the table in place (htmx) and keeps the address.
    page.get_by_label("Search").fill("Katchem")
    expect_ids(page, [lots["Na2B10H10"].human_id, lots["Na2B12H12"].human_id])  # newest first
    expect(page).to_have_url(re.compile(r"/lots/\?search=Katchem$"))

    page.get_by_label("Search").fill("")
    page.get_by_label("Below its low-stock mark").select_option("true")
    low = with_stock(PrecursorLot.objects.all()).filter(remaining__lt=F("low_stock_threshold_mg"))
    assert low.exists()
    expect_ids(page, low.order_by("-created_at", "-pk").values_list("human_id", flat=True))
    expect(page.locator("table.records .badge-low").first).to_have_text("low")

    page.get_by_label("Below its low-stock mark").select_option("")
    page.get_by_label("Material", exact=True).fill("Isopropanol")
    page.get_by_label("Material", exact=True).press("Enter")
    expect_ids(page, [lots["Isopropanol"].human_id])

    page.get_by_role("link", name="Clear").click()
    page.wait_for_url("**/lots/")
    page.get_by_role("columnheader", name="Remaining").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Remaining")).to_have_attribute("aria-sort", "ascending")
    by_remaining = with_stock(PrecursorLot.objects.all()).order_by("remaining", "-pk")
    expect_ids(page, by_remaining.values_list("human_id", flat=True))
    j.screenshot("lot-list")

    b10 = with_stock(PrecursorLot.objects.filter(pk=lots["Na2B10H10"].pk)).get()
    page.get_by_role("link", name=b10.human_id, exact=True).click()
    page.wait_for_url(f"**/lots/{b10.human_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{b10.human_id} Na2B10H10")
    expect(page.locator("dd.remaining")).to_contain_text(fixed(b10.remaining, 1, "mg"))
    ledger = page.locator("table.ledger tbody tr")
    expect(ledger).to_have_count(b10.movements.count())
    expect(page.locator("table.ledger")).to_contain_text(demo_lab["electrolyte_batch"].human_id)
    # The lineage graph is drawn: the lot and every record made from it, down to the datasets.
    expect(page.locator(".lineage")).to_have_attribute("data-lineage-nodes", str(len(record_lineage(b10).records)))
    expect(page.locator("table.lineage-downstream")).to_contain_text(demo_lab["solution"].human_id)
    expect(page.locator(".lineage canvas").first).to_be_visible()
    expect(page.locator(".page-head .edit-controls")).to_contain_text("Edit")
    j.screenshot("lot")


def test_a_reader_sees_no_edit_controls_anywhere(journey, demo_lab):
    cell = demo_lab["dataset"].run.cell
    lot = demo_lab["lots"]["Na2B12H12"]
    j = journey("reader-sees-no-edit-controls")
    j.log_in("rita", "pw-rita", then="/lots/")
    page = j.page
    expect(page).to_have_url(re.compile(r"/lots/$"))  # back where the login was asked for
    for path in ("/", "/lots/", f"/lots/{lot.human_id}/", "/cells/", f"/cells/{cell.human_id}/"):
        page.goto(j.url(path))
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator(".edit-controls")).to_have_count(0)
        expect(page.get_by_text("Edit in")).to_have_count(0)
        expect(page.get_by_text("New lot")).to_have_count(0)
    j.screenshot("cell")


def test_a_cells_page_shows_its_numbers_its_data_plotted_and_what_it_was_built_from(journey, demo_lab):
    dataset = demo_lab["dataset"]
    cell = dataset.run.cell
    spring = demo_lab["cells"]["nco95_3mpa"]
    j = journey("cell-page")
    j.log_in("wei", "pw-wei", then="/cells/")
    page = j.page
    page.get_by_label("Stack pressure up to (MPa)").fill("10")
    page.get_by_label("Stack pressure up to (MPa)").press("Enter")
    expect_ids(page, [spring.human_id])
    j.screenshot("cell-list")

    page.goto(j.url(f"/cells/{cell.human_id}/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(cell.human_id)
    expect(page.locator("dd.one-c-current")).to_have_text(significant(cell.one_c_current_ma, 3, "mA"))
    expect(page.locator("table.datasets")).to_contain_text(dataset.human_id)
    expect(page.locator("table.datasets .badge-done")).to_have_text("done")
    # The voltage curve, down-sampled on the server, drawn by uPlot from the site's own files.
    plot = page.locator('.plot[data-plot="voltage"]')
    expect(plot.locator("canvas")).to_be_visible()
    expect(plot).to_have_attribute("data-plot-points", re.compile(r"\d+"))
    points = int(plot.get_attribute("data-plot-points"))
    assert 100 < points <= 1000
    expect(plot.locator(".u-legend")).to_contain_text("voltage")
    expect(page.locator(".lineage canvas").first).to_be_visible()
    expect(page.locator(".lineage")).to_have_attribute("data-lineage-nodes", str(len(record_lineage(cell).records)))
    expect(page.locator("table.lineage-upstream")).to_contain_text(cell.electrode_in_role("positive").electrode.human_id)
    j.screenshot("cell")


def test_logging_out_ends_the_session(journey, demo_lab):
    j = journey("log-out")
    j.log_in("wei", "pw-wei")
    j.page.get_by_role("button", name="Log out").click()
    expect(j.page.get_by_role("heading", name="Log in")).to_be_visible()
    j.page.goto(j.url("/lots/"))
    expect(j.page).to_have_url(re.compile(r"/login/\?next=/lots/"))
    j.screenshot("login")


def test_a_request_outside_the_server_is_refused_and_noticed(journey, demo_lab):
    """The guard of every journey above can fail."""
    j = journey("outside-request")
    with pytest.raises(Exception):
        j.page.goto("http://cdn.example.org/htmx.min.js")
    assert j.outside == ["http://cdn.example.org/htmx.min.js"]
    with pytest.raises(AssertionError, match="requests left the server"):
        j.assert_clean()
    j.outside.clear()
