"""The plots of a cell's page in a real browser: drawn by uPlot from the site's own files with
data down-sampled on the server, a series hidden by a click on its legend entry, the values
under the pointer shown, other cycles chosen. Nothing is fetched from outside the server (the
journey's guard, tests/browser/conftest.py)."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

PLOTS = ("voltage", "voltage-capacity", "capacity", "rate", "dqdv")
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")


def test_a_cells_plots_zoom_toggle_and_show_values(journey, demo_lab):
    dataset = demo_lab["dataset"]
    cell = dataset.run.cell
    j = journey("cell-plots")
    j.log_in("wei", "pw-wei", then=f"/cells/{cell.human_id}/")
    page = j.page
    section = page.locator(".record-section-plots")
    expect(section.get_by_role("heading", name="Plots")).to_be_visible()
    for name in PLOTS:
        plot = section.locator(f'.plot[data-plot="{name}"]')
        expect(plot.locator("canvas")).to_be_visible()
        expect(plot).to_have_attribute("data-plot-points", re.compile(r"^[1-9]\d*$"))
        assert int(plot.get_attribute("data-plot-points")) <= 5 * 1000, name
        expect(plot.locator(".plot-status")).to_be_hidden()
    # the first, the 10th and the last cycle by default
    cycles = section.locator(".plot-cycles input[name=cycles]")
    last = dataset.cycles.filter(cycle_number__gte=1).order_by("-cycle_number").first().cycle_number
    expect(cycles).to_have_value(f"1, 10, {last}")
    curves = section.locator('.plot[data-plot="voltage-capacity"]')
    expect(curves.locator(".u-legend")).to_contain_text(f"cycle {last} discharge")

    # a click on a legend entry hides its series, a second shows it again
    capacity = section.locator('.plot[data-plot="capacity"]')
    entry = capacity.locator(".u-legend tr.u-series").filter(has=page.get_by_text("discharge", exact=True))
    expect(entry).to_have_count(1)
    expect(entry).not_to_have_class(re.compile(r"\bu-off\b"))
    entry.locator(".u-label").click()
    expect(entry).to_have_class(re.compile(r"\bu-off\b"))
    entry.locator(".u-label").click()
    expect(entry).not_to_have_class(re.compile(r"\bu-off\b"))

    # hovering shows the values under the pointer in the legend
    over = capacity.locator(".u-over")
    box = over.bounding_box()
    over.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    value = entry.locator(".u-value")
    expect(value).to_have_text(NUMBER)
    discharge = float(value.inner_text().replace(",", ""))
    assert 50 < discharge < 130  # mAh/g of a NaCrO2 half cell
    cycle = capacity.locator(".u-legend tr.u-series").first.locator(".u-value")
    expect(cycle).to_have_text(NUMBER)

    # other cycles, chosen in the form
    cycles.fill("2, 5")
    section.get_by_role("button", name="Show").click()
    expect(curves.locator(".u-legend")).to_contain_text("cycle 5 charge")
    expect(curves.locator(".u-legend")).not_to_contain_text(f"cycle {last} discharge")
    expect(section.locator('.plot[data-plot="dqdv"] .u-legend')).to_contain_text("cycle 2 discharge")
    # a cycle the dataset does not have: the server's message, named by its parameter
    cycles.fill("2, 9999")
    section.get_by_role("button", name="Show").click()
    expect(curves.locator(".plot-status")).to_have_text(
        f"cycles: {dataset.human_id} has no cycle 9999; its cycles are 1 to {last}.")
    expect(section.locator('.plot[data-plot="dqdv"] .plot-status')).to_have_text(
        f"cycles: {dataset.human_id} has no cycle 9999; its cycles are 1 to {last}.")
    j.screenshot("cell-plots")
    # Chromium logs each refused request on its console itself: these were expected
    j.page.wait_for_timeout(200)
    refused = [e for e in j.errors if "status of 400" in e and "cycles=2%2C9999" in e]
    assert refused
    j.errors[:] = [e for e in j.errors if e not in refused]


def test_a_datasets_page_has_the_same_plots(journey, demo_lab):
    dataset = demo_lab["dataset"]
    j = journey("dataset-plots")
    j.log_in("rita", "pw-rita", then=f"/datasets/{dataset.human_id}/")
    section = j.page.locator(".record-section-plots")
    for name in PLOTS:
        expect(section.locator(f'.plot[data-plot="{name}"] canvas')).to_be_visible()
    rate = section.locator('.plot[data-plot="rate"] .u-legend')
    expect(rate).to_contain_text("C")
    j.screenshot("dataset-plots")
