"""The lab's steps through the forms in a real headless Chromium, on the paper's lab: a writer
who is not staff prepares a solution from stock and records an infiltration run with it,
seeing the ledgers of the lots and of the solution change; punches electrodes and builds a full
cell, seeing its N/P ratio as it is typed and on its page; a reader gets no form and a post is
refused."""
import re

import pytest
from playwright.sync_api import expect

from eln.formatting import fixed, percent
from samples.models import Electrode, InfiltrationRun, InfiltrationSolution, Material
from samples.selectors import with_stock
from samples.models import PrecursorLot

pytestmark = pytest.mark.slow


def remaining(lot) -> float:
    return with_stock(PrecursorLot.objects.filter(pk=lot.pk)).get().remaining


def choose(page, name, value):
    page.locator(f'[name="{name}"]').select_option(str(value))


def fill(page, name, value):
    page.locator(f'[name="{name}"]').fill(str(value))


def test_a_writer_records_an_infiltration_run_from_stock_and_sees_the_ledgers_change(journey, demo_lab):
    lots = demo_lab["lots"]
    spare = demo_lab["electrodes"]["NCO-97-b"]  # not infiltrated, not in a cell
    b12_before, b10_before = remaining(lots["Na2B12H12"]), remaining(lots["Na2B10H10"])
    j = journey("infiltration-from-stock")
    j.log_in("wei", "pw-wei", then="/infiltration-solutions/")
    page = j.page
    page.get_by_role("link", name="Prepare a solution").click()
    page.wait_for_url("**/infiltration-solutions/new/")
    expect(page.locator('[name="inputs-0-lot"] option', has_text=lots["Na2B12H12"].human_id)).to_contain_text(
        f"{fixed(b12_before, 1, 'mg')} left")
    fill(page, "name", "closo 100 mg/mL, 5 mL")
    choose(page, "product", Material.objects.get(name="Na4(B12H12)(B10H10)").pk)
    choose(page, "solvent_lot", lots["Isopropanol"].pk)
    fill(page, "solvent_volume_ml", "5")
    choose(page, "inputs-0-lot", lots["Na2B12H12"].pk)
    fill(page, "inputs-0-mass_mg", "266.8")
    choose(page, "inputs-1-lot", lots["Na2B10H10"].pk)
    fill(page, "inputs-1-mass_mg", "233.2")
    expect(page.locator("#derived .concentration")).to_have_text(fixed(100.0, 1, "mg/mL"))  # 500 mg in 5 mL
    j.screenshot("solution-form")
    page.get_by_role("button", name="Save").click()
    solution = InfiltrationSolution.objects.get(name="closo 100 mg/mL, 5 mL")
    page.wait_for_url(f"**/infiltration-solutions/{solution.human_id}/")
    expect(page.locator(".message-success")).to_have_text(f"{solution.human_id} recorded.")
    expect(page.locator("dd.remaining")).to_have_text(fixed(5.0, 2, "mL"))

    # The lots' ledgers took the salts.
    page.goto(j.url(f"/lots/{lots['Na2B12H12'].human_id}/"))
    expect(page.locator("dd.remaining")).to_contain_text(fixed(b12_before - 266.8, 1, "mg"))
    line = page.locator("table.ledger tbody tr", has_text=solution.human_id)
    expect(line).to_contain_text(fixed(266.8, 1, "mg"))
    page.goto(j.url(f"/lots/{lots['Na2B10H10'].human_id}/"))
    expect(page.locator("dd.remaining")).to_contain_text(fixed(b10_before - 233.2, 1, "mg"))
    j.screenshot("lot-ledger")

    # The run takes its dip from the solution; the uptake shows as the masses are typed.
    page.goto(j.url("/infiltration-runs/new/"))
    expect(page.locator('[name="solution"] option', has_text=solution.human_id)).to_contain_text(
        f"{fixed(5.0, 2, 'mL')} left")
    choose(page, "solution", solution.pk)
    fill(page, "solution_volume_ml", "6")
    choose(page, "electrodes-0-electrode", spare.pk)
    fill(page, "electrodes-0-mass_before_mg", spare.mass_mg)
    after = round(spare.mass_mg + 1.50, 2)
    fill(page, "electrodes-0-mass_after_mg", after)
    uptake = 1.50 / spare.coating_mass_mg
    expect(page.locator("#derived .measured-uptake")).to_have_text(percent(uptake))
    page.get_by_role("button", name="Save").click()
    # 6 mL from a 5 mL solution: refused on the field, with the service's message.
    expect(page.locator(".form-field.has-error")).to_contain_text(
        f"{solution.human_id} (Na4(B12H12)(B10H10)) has 5 mL left; this new infiltration run asks for 6 mL.")
    assert not InfiltrationRun.objects.filter(solution=solution).exists()
    j.screenshot("run-refused")
    fill(page, "solution_volume_ml", "1.5")
    page.get_by_role("button", name="Save").click()
    run = InfiltrationRun.objects.get(solution=solution)
    page.wait_for_url(f"**/infiltration-runs/{run.human_id}/")
    expect(page.locator("table.infiltrated tbody tr").first).to_contain_text(percent(uptake))
    j.screenshot("run")

    page.get_by_role("link", name=solution.human_id).first.click()
    page.wait_for_url(f"**/infiltration-solutions/{solution.human_id}/")
    expect(page.locator("dd.remaining")).to_have_text(fixed(3.5, 2, "mL"))
    expect(page.locator("table.ledger tbody tr", has_text=run.human_id)).to_contain_text(fixed(1.5, 2, "mL"))
    j.screenshot("solution-ledger")


def test_a_writer_punches_electrodes_and_builds_a_full_cell_and_sees_its_np_ratio(journey, demo_lab):
    sheets = demo_lab["sheets"]
    j = journey("build-full-cell")
    j.log_in("wei", "pw-wei", then=f"/electrode-sheets/{sheets['NCO-97-FC'].human_id}/")
    page = j.page
    made = {}
    for key, mass in (("NCO-97-FC", 11.20), ("SN-90", 6.05)):
        page.goto(j.url(f"/electrode-sheets/{sheets[key].human_id}/"))
        page.get_by_role("link", name="Punch electrodes").click()
        page.wait_for_url("**/electrodes/punch/?sheet=*")
        fill(page, "electrodes-0-mass_mg", mass)
        expect(page.locator("#derived .active-mass").first).not_to_have_text("—")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"**/electrode-sheets/{sheets[key].human_id}/")
        made[key] = Electrode.objects.filter(sheet=sheets[key]).latest("created_at")
        assert made[key].mass_mg == mass
    positive, negative = made["NCO-97-FC"], made["SN-90"]

    page.get_by_role("navigation", name="Records").get_by_role("link", name="Cells").click()
    page.get_by_role("link", name="Build a cell").click()
    page.wait_for_url("**/cells/new/")
    fill(page, "name", "full cell from the form")
    page.locator('[name="kind"]').select_option("full")
    choose(page, "separator_batch", demo_lab["electrolyte_batch"].pk)
    fill(page, "separator_mass_mg", "55")
    fill(page, "lower_cutoff_v", "1.5")
    fill(page, "upper_cutoff_v", "3.3")
    page.locator('[name="parts-0-role"]').select_option("positive")
    choose(page, "parts-0-electrode", positive.pk)
    page.locator('[name="parts-1-role"]').select_option("negative")
    choose(page, "parts-1-electrode", negative.pk)
    # N/P on the reference capacities: (Sn active loading × 847) ÷ (NaCrO2 active loading × 120).
    np = (negative.active_loading_mg_cm2 * 847.0) / (positive.active_loading_mg_cm2 * 120.0)
    expect(page.locator("#derived .np-ratio")).to_have_text(fixed(np, 2))
    j.screenshot("cell-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/cells/CELL-\d+/$"))
    expect(page.locator("dd.np-ratio")).to_contain_text(fixed(np, 2))
    expect(page.locator("table.parts")).to_contain_text(positive.human_id)
    j.screenshot("cell")


def test_a_reader_gets_no_form_and_a_post_is_refused(journey, demo_lab):
    cell = demo_lab["dataset"].run.cell
    j = journey("reader-refused")
    j.log_in("rita", "pw-rita", then=f"/cells/{cell.human_id}/")
    page = j.page
    for path in ("/electrolyte-batches/", f"/electrolyte-batches/{demo_lab['electrolyte_batch'].human_id}/",
                 "/infiltration-runs/", f"/infiltration-solutions/{demo_lab['solution'].human_id}/",
                 "/electrode-sheets/", "/cycling-runs/", f"/datasets/{demo_lab['dataset'].human_id}/"):
        page.goto(j.url(path))
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator(".edit-controls")).to_have_count(0)
    assert page.request.get(j.url("/cells/new/")).status == 403  # (not opened in the page: a 403 logs an error)
    token = next(c["value"] for c in j.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(j.url(f"/cells/{cell.human_id}/edit/"), form={"name": "renamed", "kind": "full"},
                                headers={"X-CSRFToken": token})
    assert refused.status == 403
    cell.refresh_from_db()
    assert cell.name != "renamed"
    page.goto(j.url(f"/cells/{cell.human_id}/"))
    j.screenshot("cell")
