"""The forms of the lab's steps: each writes through its service; lots, batches and solutions are
chosen from stock with what is left beside them; a refusal is shown where it belongs (a field's
message on its field, a child set's above its rows) with everything typed kept; the derived
numbers are computed from what is typed; readers are refused."""
import re

import pytest
from django.utils.html import escape

from cells.models import Cell, CyclingRun
from samples.models import Electrode, ElectrodeSheet, InfiltratedElectrode, InfiltrationRun, InfiltrationSolution, \
    Material, StockMovement
from samples.selectors import stock_of
from tests import factories
from tests.pages.formdata import form_data

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"


def material_pk(name):
    return Material.objects.get(name=name).pk


def set_errors(html: str, prefix: str) -> str:
    """The messages shown above the rows of a child set."""
    fieldset = html.split(f'id="rows-{prefix}"')[1].split("</fieldset>")[0]
    block = re.search(r'<div class="form-errors set-errors" role="alert">(.*?)</div>', fieldset, re.S)
    return block[1] if block else ""


def field_errors(html: str, name: str) -> list[str]:
    """The messages shown on the field ``name`` of the record's form."""
    match = re.search(rf'<div class="form-field[^"]*">\s*<label[^>]*>[^<]*</label>\s*<[^>]+name="{name}"'
                      rf'.*?(?=<div class="form-field|</fieldset>)', html, re.S)
    assert match, name
    return re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', match[0])


def fact(html: str, css: str) -> str:
    return re.search(rf'<dd class="{css}">(.*?)</dd>', html, re.S)[1].strip()


@pytest.fixture
def writer(logged_in, people):
    return logged_in(people["writer"])


@pytest.fixture
def stock(lab):
    return {"b12": lab.lot("Na2B12H12", 5000), "b10": lab.lot("Na2B10H10", 400), "ipa": lab.lot("Isopropanol", 100_000)}


def solution_post(client, stock, b10_mg):
    data = form_data(client.get("/infiltration-solutions/new/").content.decode())
    data.update({"name": "closo 100 mg/mL", "product": material_pk("Na4(B12H12)(B10H10)"),
                 "solvent_lot": stock["ipa"].pk, "solvent_volume_ml": "10",
                 "inputs-0-lot": stock["b12"].pk, "inputs-0-mass_mg": "533.6",
                 "inputs-1-lot": stock["b10"].pk, "inputs-1-mass_mg": str(b10_mg)})
    return client.post("/infiltration-solutions/new/", data)


def test_lots_are_chosen_from_stock_with_what_is_left_beside_each(writer, stock, lab):
    lab.correct(stock["b12"], 433.6)
    html = writer.get("/infiltration-solutions/new/").content.decode()
    row = html.split('name="inputs-0-lot"')[1].split("</select>")[0]
    assert f'{stock["b12"].human_id} Na2B12H12 (Katchem {stock["b12"].lot_number}) · 4566.4{NBSP}mg left' in row
    assert f'{stock["b10"].human_id} Na2B10H10' in row
    assert stock["ipa"].human_id not in row  # a solvent is not a salt: not offered
    solvent = html.split('name="solvent_lot"')[1].split("</select>")[0]
    assert stock["ipa"].human_id in solvent and stock["b12"].human_id not in solvent


def test_preparing_a_solution_takes_its_salts_and_solvent_from_the_lots(writer, stock):
    response = solution_post(writer, {**stock}, 366.4)
    assert response.status_code == 302
    solution = InfiltrationSolution.objects.get()
    assert response["Location"] == f"/infiltration-solutions/{solution.human_id}/"
    assert stock_of(stock["b12"])[1] == pytest.approx(5000 - 533.6)
    assert stock_of(stock["b10"])[1] == pytest.approx(400 - 366.4)
    assert stock_of(stock["ipa"])[1] == pytest.approx(100_000 - 10 * 0.786 * 1000)  # 10 mL × 0.786 g/cm³
    page = writer.get(response["Location"]).content.decode()
    assert f"{solution.human_id} recorded." in page
    assert fact(page, "concentration") == f"90.0{NBSP}mg/mL"  # (533.6 + 366.4) mg / 10 mL
    lot_page = writer.get(f"/lots/{stock['b10'].human_id}/").content.decode()
    assert f'<a href="/infiltration-solutions/{solution.human_id}/">{solution.human_id}</a>' in lot_page


def test_taking_more_than_is_left_is_refused_in_the_form_with_the_services_message(writer, stock):
    response = solution_post(writer, stock, 466.4)
    assert response.status_code == 200
    html = response.content.decode()
    message = (f"{stock['b10'].human_id} (Na2B10H10) has 400 mg left; this new infiltration solution asks for "
               f"466.4 mg.")
    assert escape(message) in set_errors(html, "inputs")
    assert "Not saved" in html
    assert not InfiltrationSolution.objects.exists() and not StockMovement.objects.exists()
    assert form_data(html)["inputs-1-mass_mg"] == "466.4"  # what was typed is kept


@pytest.fixture
def solution(lab, people, project):
    return factories.InfiltrationSolutionFactory(project=project, user=people["writer"])  # 100 mg/mL, 10 mL


def run_post(client, solution, electrode, volume, **extra):
    data = form_data(client.get("/infiltration-runs/new/").content.decode())
    data.update({"solution": solution.pk, "solution_volume_ml": str(volume), "dip_time_min": "10",
                 "electrodes-0-electrode": electrode.pk, "electrodes-0-mass_before_mg": "12.91",
                 "electrodes-0-mass_after_mg": "14.25", "electrodes-0-pressed_thickness_um": "40",
                 "electrodes-0-pressed_mass_mg": "14.2", **extra})
    return client, data


def test_an_infiltration_run_takes_its_volume_from_the_solution(writer, solution, project, people):
    electrode = factories.ElectrodeFactory(project=project, user=people["writer"])
    html = writer.get("/infiltration-runs/new/").content.decode()
    offered = html.split('name="solution"')[1].split("</select>")[0]
    assert f"{solution.human_id}" in offered and f"10.00{NBSP}mL left · 100.0{NBSP}mg/mL" in offered
    # The paper's drying steps come filled in.
    assert form_data(html)["drying_steps-1-temperature_c"] == "180"

    client, data = run_post(writer, solution, electrode, 12)
    refused = client.post("/infiltration-runs/new/", data).content.decode()
    assert field_errors(refused, "solution_volume_ml") == [escape(
        f"{solution.human_id} (Na4(B12H12)(B10H10)) has 10 mL left; this new infiltration run asks for 12 mL.")]
    assert not InfiltrationRun.objects.exists()

    data["solution_volume_ml"] = "2"
    response = client.post("/infiltration-runs/new/", data)
    run = InfiltrationRun.objects.get()
    assert response["Location"] == f"/infiltration-runs/{run.human_id}/"
    assert stock_of(solution)[1] == pytest.approx(8.0)
    assert [s.description for s in run.drying_steps.all()] == ["dry under argon", "heat treatment"]
    page = client.get(response["Location"]).content.decode()
    # (14.25 − 12.91) mg ÷ (12.91 − 4.05 × 1.1310) mg of coating = 1.34 / 8.330 = 16.1 %; expected
    # ε·c/((1 − ε)·ρ) = 0.7764 × 0.1 / (0.2236 × 4.116) = 8.4 % (the sheet's 77.6 % at 100 mg/mL).
    row = page.split(f'<a href="/electrodes/{electrode.human_id}/">')[1].split("</tr>")[0]
    assert f'measured-uptake">16.1{NBSP}%' in row and f'expected-uptake">8.4{NBSP}%' in row
    ledger = client.get(f"/infiltration-solutions/{solution.human_id}/").content.decode().split(
        'id="ledger-heading"')[1]
    assert f"2.00{NBSP}mL" in ledger and f"8.00{NBSP}mL" in ledger and run.human_id in ledger


def test_the_uptake_is_shown_as_you_type(writer, solution, project, people):
    electrode = factories.ElectrodeFactory(project=project, user=people["writer"])
    client, data = run_post(writer, solution, electrode, 2)
    part = client.post("/infiltration-runs/new/", {**data, "preview": "1"}, HTTP_HX_REQUEST="true")
    html = part.content.decode()
    assert "<html" not in html
    assert f'measured-uptake">16.1{NBSP}%' in html and f'expected-uptake">8.4{NBSP}%' in html
    assert not InfiltrationRun.objects.exists()  # nothing saved
    # A mass still being typed is left out, not an error.
    half = client.post("/infiltration-runs/new/", {**data, "electrodes-0-mass_after_mg": "14.", "preview": "1"})
    assert half.status_code == 200 and not InfiltrationRun.objects.exists()


def sheet_data(client, lots, fractions=("95", "2", "3")):
    data = form_data(client.get("/electrode-sheets/new/").content.decode())
    data.update({"name": "NaCrO2 95:2:3", "current_collector_areal_mass_mg_cm2": "4.05", "coating_thickness_um": "80"})
    for i, (lot, role, fraction) in enumerate(zip(lots, ("active", "binder", "conductive_carbon"), fractions)):
        data.update({f"components-{i}-lot": lot.pk, f"components-{i}-role": role,
                     f"components-{i}-mass_fraction_percent": fraction})
    for i, mass in enumerate(("12.91", "12.95", "12.87", "12.91")):
        data.update({f"loading_discs-{i}-diameter_mm": "12", f"loading_discs-{i}-mass_mg": mass})
    return data


def test_casting_a_sheet_shows_its_porosity_as_you_type_and_on_save(writer, lab):
    lots = [lab.lot("NaCrO2", 50_000), lab.lot("PVDF", 50_000), lab.lot("Super P", 50_000)]
    data = sheet_data(writer, lots)
    # ρ = 1/(0.95/4.4 + 0.02/1.78 + 0.03/1.9) = 4.116 g/cm³; discs 12.91/12.95/12.87/12.91 mg on
    # 1.1310 cm² less 4.05 mg/cm² of foil: 7.365 ± 0.029 mg/cm², 6.997 active; porosity
    # 1 − 7.365 mg/cm² / (80 µm × 4.116 g/cm³) = 77.6 %.
    preview = writer.post("/electrode-sheets/new/", {**data, "preview": "1"}).content.decode()
    assert fact(preview, "composite-density") == f"4.12{NBSP}g/cm³"
    assert fact(preview, "areal-loading") == f"7.36{NBSP}mg/cm² ± 0.03{NBSP}mg/cm²"
    assert fact(preview, "active-loading") == f"7.00{NBSP}mg/cm²"
    assert fact(preview, "casting-porosity") == f"77.6{NBSP}%"
    assert not ElectrodeSheet.objects.exists()

    wrong = writer.post("/electrode-sheets/new/", sheet_data(writer, lots, ("95", "2", "2"))).content.decode()
    assert "The mass fractions of the components must sum to 100 %; they sum to 99 %." in set_errors(wrong, "components")
    assert not ElectrodeSheet.objects.exists()

    response = writer.post("/electrode-sheets/new/", data)
    sheet = ElectrodeSheet.objects.get()
    page = writer.get(response["Location"]).content.decode()
    assert fact(page, "casting-porosity") == f"77.6{NBSP}%" and fact(page, "composition") == "95:2:3"
    assert sheet.loading_discs.count() == 4


def test_electrodes_are_punched_from_a_sheet_all_or_none(writer, project, people):
    sheet = factories.ElectrodeSheetFactory(project=project, user=people["writer"])
    html = writer.get(f"/electrodes/punch/?sheet={sheet.human_id}").content.decode()
    data = form_data(html)
    assert data["sheet"] == str(sheet.pk) and data["diameter_mm"] == "12.0"
    data.update({"electrodes-0-mass_mg": "12.91", "electrodes-1-mass_mg": "12.95", "electrodes-2-mass_mg": "-1"})
    refused = writer.post("/electrodes/punch/", data).content.decode()
    assert "Ensure this value is at least 0 mg." in refused.split('name="electrodes-2-mass_mg"')[1].split("</td>")[0]
    assert not Electrode.objects.exists()
    # (12.91 − 4.580) × 0.95 = 7.91 mg of NaCrO2: 0.950 mA at 1C.
    preview = writer.post("/electrodes/punch/", {**data, "electrodes-2-mass_mg": "", "preview": "1"}).content.decode()
    assert f'active-mass">7.91{NBSP}mg' in preview and f'one-c-current">0.950{NBSP}mA' in preview
    response = writer.post("/electrodes/punch/", {**data, "electrodes-2-mass_mg": ""})
    assert response["Location"] == f"/electrode-sheets/{sheet.human_id}/"
    assert sorted(e.mass_mg for e in sheet.electrodes.all()) == [12.91, 12.95]
    listed = writer.get(response["Location"]).content.decode().split('id="electrodes-heading"')[1].split("</section>")[0]
    assert listed.count('<a href="/electrodes/EL-') == 2


@pytest.fixture
def electrodes(project, people):
    positive = factories.ElectrodeFactory(project=project, user=people["writer"])
    negative = factories.ElectrodeFactory(project=project, user=people["writer"], mass_mg=6.23,
                                          sheet=factories.ElectrodeSheetFactory(project=project, tin=True))
    return positive, negative


def cell_data(client, positive, negative, **extra):
    data = form_data(client.get("/cells/new/").content.decode())
    data.update({"name": "full cell", "kind": "full", "lower_cutoff_v": "1.5", "upper_cutoff_v": "3.3",
                 "parts-0-role": "positive", "parts-0-electrode": positive.pk,
                 "parts-1-role": "negative", "parts-1-electrode": negative.pk, **extra})
    return data


def test_building_a_full_cell_shows_its_np_ratio_and_1c_current(writer, electrodes, lab):
    positive, negative = electrodes
    data = cell_data(writer, positive, negative)
    # 7.913 mg NaCrO2 × 120 mAh/g = 0.950 mA; N/P = (1.4846 mg × 847) / (7.913 mg × 120) = 1.32
    preview = writer.post("/cells/new/", {**data, "preview": "1"}).content.decode()
    assert fact(preview, "np-ratio") == "1.32" and fact(preview, "one-c-current") == f"0.950{NBSP}mA"
    assert fact(preview, "one-c-density") == f"0.840{NBSP}mA/cm²"

    window = writer.post("/cells/new/", {**data, "lower_cutoff_v": "3.5"}).content.decode()
    assert field_errors(window, "lower_cutoff_v") == ["The lower cut-off (3.5 V) must be below the upper cut-off (3.3 V)."]
    swapped = writer.post("/cells/new/", {**data, "parts-0-electrode": negative.pk,
                                          "parts-1-electrode": positive.pk}).content.decode()
    assert f"{negative.human_id} is a Sn electrode (anode active material); the positive electrode" in set_errors(
        swapped, "parts")
    assert not Cell.objects.exists()

    response = writer.post("/cells/new/", data)
    cell = Cell.objects.get()
    page = writer.get(response["Location"]).content.decode()
    assert re.search(r'<dd class="np-ratio">1\.32 ', page)
    # Built: its electrodes are no longer offered for another cell.
    again = writer.get("/cells/new/").content.decode().split('name="parts-0-electrode"')[1].split("</select>")[0]
    assert positive.human_id not in again and negative.human_id not in again
    other = lab.half_cell()
    edit = writer.get(f"/cells/{cell.human_id}/edit/").content.decode()
    offered = edit.split('name="parts-0-electrode"')[1].split("</select>")[0]
    assert positive.human_id in offered and other.electrode_in_role("positive").electrode.human_id not in offered


def test_a_run_is_started_on_a_channel_with_its_currents_shown(writer, lab, project, people):
    cell = lab.full_cell()
    busy = lab.run(lab.half_cell())
    protocol = factories.ProtocolFactory(project=project, user=people["writer"])
    html = writer.get(f"/cycling-runs/new/?cell={cell.human_id}").content.decode()
    data = form_data(html)
    assert data["cell"] == str(cell.pk) and data["state"] == "running"
    channel_options = html.split('name="channel"')[1].split("</select>")[0]
    assert f"{busy.channel} · running {busy.human_id}" in channel_options
    free = factories.ChannelFactory()
    data.update({"channel": free.pk, "protocol": protocol.pk, "started_at": "2026-11-02T09:30"})
    preview = writer.post("/cycling-runs/new/", {**data, "preview": "1"}).content.decode()
    assert f"0.1{NBSP}C = 0.0950{NBSP}mA" in preview and f"0.5{NBSP}C = 0.475{NBSP}mA" in preview
    response = writer.post("/cycling-runs/new/", data)
    run = CyclingRun.objects.get(cell=cell)
    assert (run.channel, run.protocol, run.state) == (free, protocol, "running")
    assert response["Location"] == f"/cycling-runs/{run.human_id}/"


def test_an_edit_keeps_the_rows_in_place_and_their_ledger_lines(writer, project, people):
    run = factories.InfiltrationRunFactory(project=project, user=people["writer"])
    row = run.electrodes.get()
    line = StockMovement.objects.get(infiltration_solution=run.solution)
    data = form_data(writer.get(f"/infiltration-runs/{run.human_id}/edit/").content.decode())
    assert data["electrodes-0-row_id"] == str(row.pk) and data["electrodes-0-mass_after_mg"] == "14.25"
    data.update({"electrodes-0-mass_after_mg": "14.40", "solution_volume_ml": "3"})
    response = writer.post(f"/infiltration-runs/{run.human_id}/edit/", data)
    assert response["Location"] == f"/infiltration-runs/{run.human_id}/"
    assert InfiltratedElectrode.objects.get(pk=row.pk).mass_after_mg == 14.40
    line.refresh_from_db()
    assert line.quantity == 3.0 and StockMovement.objects.filter(infiltration_solution=run.solution).count() == 1
    assert f"{run.human_id} changed." in writer.get(response["Location"]).content.decode()
    # A row marked for deletion goes; the run then has no electrode, which its service refuses.
    data["electrodes-0-DELETE"] = "on"
    refused = writer.post(f"/infiltration-runs/{run.human_id}/edit/", data).content.decode()
    assert "An infiltration run needs the electrodes it infiltrated." in set_errors(refused, "electrodes")
    assert InfiltratedElectrode.objects.filter(pk=row.pk).exists()


FORMS = ["/lots/new/", "/electrolyte-batches/new/", "/infiltration-solutions/new/", "/electrode-sheets/new/",
         "/electrodes/punch/", "/infiltration-runs/new/", "/alloy-batches/new/", "/cells/new/", "/cycling-runs/new/",
         "/protocols/new/"]


def test_a_reader_is_refused_every_form_even_when_posting_anyway(logged_in, people, lab, project):
    cell = lab.full_cell()
    run = lab.run(cell)
    infiltration = factories.InfiltrationRunFactory(project=project, user=people["writer"])
    positive = cell.electrode_in_role("positive").electrode
    edits = [f"/lots/{positive.sheet.components.first().lot.human_id}/edit/",
             f"/electrolyte-batches/{cell.separator_batch.human_id}/edit/",
             f"/infiltration-solutions/{infiltration.solution.human_id}/edit/",
             f"/electrode-sheets/{positive.sheet.human_id}/edit/", f"/electrodes/{positive.human_id}/edit/",
             f"/infiltration-runs/{infiltration.human_id}/edit/",
             f"/alloy-batches/{lab.half_cell().electrode_in_role('negative').alloy_batch.human_id}/edit/",
             f"/cells/{cell.human_id}/edit/", f"/cycling-runs/{run.human_id}/edit/",
             f"/protocols/{run.protocol.human_id}/edit/"]
    reader, outsider = logged_in(people["reader"]), None
    counts = {model: model.objects.count() for model in (Cell, CyclingRun, InfiltrationRun, Electrode)}
    for url in FORMS + edits:
        assert reader.get(url).status_code == 403, url
        assert reader.post(url, {"name": "x", "kind": "full", "preview": ""}).status_code == 403, url
        assert reader.post(url, {"preview": "1"}).status_code == 403, url
    assert {model: model.objects.count() for model in counts} == counts
    outsider = logged_in(people["outsider"])
    for url in edits:
        assert outsider.get(url).status_code == 404, url
    writer = logged_in(people["writer"])
    for url in FORMS + edits:
        assert writer.get(url).status_code == 200, url


def test_a_refusal_the_form_has_no_field_for_is_shown_above_the_form(rf, people, project):
    from django.core.exceptions import ValidationError

    from eln.forms import show_refusal
    from samples.forms import AlloyFormView

    view = AlloyFormView()
    form, formsets = view.build(rf.get("/"), None, [project], data={"name": "Na-Sn 3:1", "inputs-TOTAL_FORMS": "0",
                                                                    "inputs-INITIAL_FORMS": "0"})
    form.is_valid()
    show_refusal(ValidationError({"project": ["A record cannot move to another project."],
                                  "inputs": ["LOT-0001 (Na) has 1 mg left; AL-0001 asks for 2 mg."],
                                  "yield_mg": ["Too much."], "__all__": ["Something else."]}), form, formsets)
    assert form.non_field_errors() == ["Project: A record cannot move to another project.", "Something else."]
    assert formsets["inputs"].non_form_errors() == ["LOT-0001 (Na) has 1 mg left; AL-0001 asks for 2 mg."]
    assert form.errors["yield_mg"] == ["Too much."]


def test_no_input_answers_500(logged_in, people, lab, project):
    """Empty posts, posts without the rows' management data, and nonsense in every field: the
    form shows what is wrong, the numbers as you type stay calm."""
    lab.full_cell()
    writer = logged_in(people["writer"])
    nonsense = "1e308"
    for url in FORMS:
        data = form_data(writer.get(url).content.decode())
        garbage = {name: nonsense if not name.endswith(("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS",
                                                         "MAX_NUM_FORMS")) else value for name, value in data.items()}
        for posted in ({}, {"preview": "1"}, garbage, {**garbage, "preview": "1"},
                       {**data, **{k: "-5" for k in data if k.endswith("mass_mg")}},
                       {**data, **{k: "-5" for k in data if k.endswith("mass_mg")}, "preview": "1"}):
            response = writer.post(url, posted)
            assert response.status_code == 200, (url, posted)


def test_an_electrolyte_batch_is_recorded_from_stock_with_its_conductivity_as_you_type(writer, stock):
    data = form_data(writer.get("/electrolyte-batches/new/").content.decode())
    data.update({"name": "1 g batch", "product": material_pk("Na4(B12H12)(B10H10)"), "route": "solution",
                 "solvent_lot": stock["ipa"].pk, "solvent_volume_ml": "20", "yield_mg": "962",
                 "pellet_mass_mg": "1000",
                 "inputs-0-lot": stock["b12"].pk, "inputs-0-mass_mg": "533.6",
                 "steps-0-order": "1", "steps-0-description": "Schlenk line", "steps-0-temperature_c": "60",
                 "conductivity_measurements-0-temperature_c": "25",
                 "conductivity_measurements-0-pellet_thickness_mm": "0.5",
                 "conductivity_measurements-0-pellet_area_cm2": "1.131",
                 "conductivity_measurements-0-resistance_ohm": "44.2"})
    preview = writer.post("/electrolyte-batches/new/", {**data, "preview": "1"}).content.decode()
    assert fact(preview, "sigma-25") == f"0.00100{NBSP}S/cm"  # 0.05 cm / (44.2 Ω × 1.131 cm²)
    # The pellet is taken from the batch's own yield: 1000 mg of 962 is refused on its field.
    refused = writer.post("/electrolyte-batches/new/", data).content.decode()
    assert field_errors(refused, "pellet_mass_mg") == [escape(
        "this new electrolyte batch (Na4(B12H12)(B10H10)) has 962 mg left; this new electrolyte batch asks for "
        "1000 mg.")]
    response = writer.post("/electrolyte-batches/new/", {**data, "pellet_mass_mg": "62"})
    assert response.status_code == 302
    page = writer.get(response["Location"]).content.decode()
    assert fact(page, "sigma-25") == f"0.00100{NBSP}S/cm" and fact(page, "remaining") == f"900.0{NBSP}mg"
    assert stock_of(stock["b12"])[1] == pytest.approx(5000 - 533.6)
