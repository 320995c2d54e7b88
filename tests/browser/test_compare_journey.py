"""Comparing cells in a real headless Chromium on the paper's lab, and the README's screenshots.

The README's screenshots (docs/screenshots/) are retaken by ``scripts/readme-screenshots``,
which runs ``test_the_readme_pages`` with ELN_README_SCREENSHOTS set to that folder; without it
the same pictures go to the browser tests' screenshot folder.
"""
import os
import pathlib
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

README_SHOTS = pathlib.Path(os.environ.get("ELN_README_SCREENSHOTS") or SCREENSHOTS / "readme")
README_VIEWPORT = {"width": 1280, "height": 800}


def ingest(records, run_key):
    """The demo run's synthetic cycler file, uploaded and ingested as the demo does it."""
    from analysis.core import synthetic
    from analysis.demo.cycling import DEMO_RUNS, as_upload, spec_for
    from analysis.services import raw_file_receive

    preset, base, arguments = DEMO_RUNS[run_key]
    run = records["runs"][run_key]
    table = preset(cell=spec_for(run.cell, base), **arguments).table
    received = raw_file_receive(run=run, uploaded=as_upload(f"{run.human_id}.bdf.csv", synthetic.to_bdf_csv(table)),
                                user=records["user"])
    received.dataset.refresh_from_db()
    assert received.dataset.state == "done", received.dataset.message
    return received.dataset


def choose_the_pressure_cells(page, sheet_label: str):
    page.get_by_label("Electrode sheet").fill(sheet_label)
    page.get_by_label("Kind", exact=True).select_option("cathode_half")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/compare/\?.*sheet="))


def test_compare_the_70_mpa_and_3_mpa_cells_and_see_both_retention_curves_and_stack_pressure_ranked_first(
        journey, demo_lab):
    ingest(demo_lab, "nco95_3mpa")  # the fixture ingested the 70 MPa cell's file
    cells = demo_lab["cells"]
    high, low = cells["nco95_70mpa"].human_id, cells["nco95_3mpa"].human_id
    j = journey("compare-pressures")
    j.log_in("wei", "pw-wei")
    page = j.page
    page.get_by_role("navigation", name="Records").get_by_role("link", name="Compare").click()
    page.wait_for_url("**/compare/")
    expect(page.get_by_role("heading", name="Compare cells", level=1)).to_be_visible()
    choose_the_pressure_cells(page, demo_lab["sheets"]["NCO-95"].human_id)

    expect(page.get_by_role("heading", name="2 cells, grouped by stack pressure")).to_be_visible()
    retention = page.locator('[data-compare-plot="retention"]')
    expect(retention.locator("canvas")).to_be_visible()
    labels = retention.locator(".u-legend .u-series .u-label")
    expect(labels).to_have_text(["cycle", re.compile(rf"^3\sMPa · {low}$"), re.compile(rf"^70\sMPa · {high}$")])
    expect(retention).to_have_attribute("data-plot-series", "2")
    for other in ("coulombic_efficiency", "rate_capability"):
        expect(page.locator(f'[data-compare-plot="{other}"] canvas')).to_be_visible()

    ranking = page.locator("table#ranking tbody tr")
    expect(ranking.first.locator("td").nth(1)).to_have_text("stack pressure")
    # one cell at each pressure (the paper's): the page says it cannot tell more
    expect(ranking.first).to_contain_text("too few cells to tell")
    expect(ranking.first).to_contain_text(re.compile(r"70\sMPa: 95\.\d\s%"))
    expect(page.locator("table#differing thead")).to_contain_text("stack pressure")
    expect(page.locator(".compare-same")).to_contain_text("electrode sheet")
    j.screenshot()


def test_the_readme_pages(journey, transactional_db):
    """The dashboard, a cell's page, its lineage graph and the compare page of the demo lab with
    all its cycling data, at 1280 × 800."""
    from analysis.demo.cycling import load_demo_cycling_data
    from analysis.demo.lab import load_demo_lab

    records = load_demo_lab()
    load_demo_cycling_data(records)
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    j = journey("readme")
    page = j.page
    page.set_viewport_size(README_VIEWPORT)
    j.log_in("demo", "demo")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Running tests")).to_be_visible()
    page.screenshot(path=str(README_SHOTS / "dashboard.png"))

    cell = records["cells"]["nco95_70mpa"]
    page.goto(j.url(f"/cells/{cell.human_id}/"))
    expect(page.locator('.plot[data-plot="voltage"] canvas')).to_be_visible()
    page.screenshot(path=str(README_SHOTS / "cell.png"))
    plots = page.locator(".record-section-plots")
    for name in ("voltage", "voltage-capacity", "capacity", "rate", "dqdv"):
        expect(plots.locator(f'.plot[data-plot="{name}"] canvas')).to_be_visible()
    plots.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the plots are drawn
    plots.screenshot(path=str(README_SHOTS / "cell-plots.png"))
    graph = page.locator(".lineage")
    expect(graph.locator("canvas").first).to_be_visible()
    graph.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # the graph's layout settles
    section = page.locator("section", has=graph).bounding_box()
    drawn = graph.bounding_box()  # the section's heading and graph, not its lists
    page.screenshot(path=str(README_SHOTS / "lineage.png"), clip={
        "x": section["x"], "y": section["y"], "width": section["width"],
        "height": drawn["y"] + drawn["height"] - section["y"] + 12})

    page.goto(j.url("/compare/"))
    choose_the_pressure_cells(page, records["sheets"]["NCO-95"].human_id)
    expect(page.locator('[data-compare-plot="retention"] .u-legend .u-series')).to_have_count(3)
    expect(page.locator("table#ranking")).to_be_visible()
    page.screenshot(path=str(README_SHOTS / "compare.png"), full_page=True)
    for name in ("dashboard", "cell", "cell-plots", "lineage", "compare"):
        assert (README_SHOTS / f"{name}.png").stat().st_size < 400_000, name

    # every cell of the electrolyte batch, every kind: retention at the last cycle they all reached
    batch = records["electrolyte_batch"].human_id
    page.goto(j.url(f"/compare/?separator_batch={batch}"))
    expect(page.get_by_role("heading", name=re.compile(r"Which variable goes with the difference in retention at "
                                                       r"cycle \d+"))).to_be_visible()
    expect(page.locator("table#ranking tbody tr").first).to_be_visible()
    expect(page.locator('[data-compare-plot="rate_capability"] canvas')).to_be_visible()
    j.screenshot("electrolyte-batch")
    # the reference-curve cells were cycled at C/20 only: no C-rate common to all
    page.goto(j.url(f"/compare/?separator_batch={batch}&rank_by=rate_capability"))
    expect(page.get_by_text("Nothing to rank: the chosen cells share no C-rate other than 0.1C")).to_be_visible()
