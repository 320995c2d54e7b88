"""The inventory in the admin: remaining stock from the ledger, the LOW marker, the stock
filter, corrections and disposals on the lot's ledger, and records that take stock refusing
to overdraw a lot (message on the page, nothing saved)."""
import re

import pytest
from django.urls import reverse

from samples import selectors, services
from samples.models import (
    ElectrodeSheet,
    ElectrolyteBatch,
    Material,
    SheetComponent,
    StockMovement,
)
from tests.admin.forms import page_form_data
from tests.factories import lot as make_lot


@pytest.fixture
def lots(project, manager):
    """b12: 1000 mg received, 533.6 mg used by a batch → 466.4 mg left, below its 500 mg mark.
    b10: 5000 mg, untouched, mark 100 mg. ipa: 2000 mg, all used → empty."""
    b12 = make_lot(project, "Na2B12H12", 1000, low_stock_threshold_mg=500, lot_number="K-12",
                   storage_place="argon_glovebox", storage_detail="box 2")
    b10 = make_lot(project, "Na2B10H10", 5000, low_stock_threshold_mg=100, lot_number="K-10")
    ipa = make_lot(project, "Isopropanol", 2000, supplier="Sigma-Aldrich", storage_place="flammables_cabinet")
    batch = services.electrolyte_batch_record(user=manager, project=project,
                                              product=Material.objects.get(name="Na4(B12H12)(B10H10)"),
                                              inputs=[dict(lot=b12, mass_mg=533.6)])
    services.stock_correct(user=manager, holder=ipa, quantity=2000, kind="disposal", note="evaporated")
    return {"b12": b12, "b10": b10, "ipa": ipa, "batch": batch}


def changelist(browser, **params):
    return browser.get(reverse("admin:samples_precursorlot_changelist"), params)


def row_of(page: str, lot) -> str:
    """The HTML table row of the lot in a changelist page."""
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.S)
    matching = [row for row in rows if f">{lot.human_id}</a>" in row]
    assert len(matching) == 1, f"{lot.human_id} is not listed once"
    return matching[0]


def remaining(lot):
    return selectors.stock_of(lot)[1]


def lot_change(browser, lot):
    return reverse("admin:samples_precursorlot_change", args=[lot.pk])


# --- the list ---------------------------------------------------------------------------------------


def test_list_shows_remaining_stock_from_the_ledger_and_marks_low_lots(browser, lots):
    page = changelist(browser).content.decode()
    b12_row, b10_row, ipa_row = (row_of(page, lots[key]) for key in ("b12", "b10", "ipa"))
    assert "466.4 mg" in b12_row  # 1000 − 533.6
    assert ">LOW</span>" in b12_row
    assert "5000.0 mg" in b10_row and "5.00 g" in b10_row
    assert "LOW" not in b10_row and "EMPTY" not in b10_row
    assert ">EMPTY</span>" in ipa_row
    assert "argon glovebox, box 2" in b12_row


def test_list_sorts_by_remaining_stock(browser, lots):
    response = changelist(browser)
    column = list(response.context["cl"].list_display).index("remaining")
    ordered = list(changelist(browser, o=str(column)).context["cl"].result_list)
    assert ordered == [lots["ipa"], lots["b12"], lots["b10"]]
    ordered = list(changelist(browser, o=f"-{column}").context["cl"].result_list)
    assert ordered == [lots["b10"], lots["b12"], lots["ipa"]]


@pytest.mark.parametrize("stock, expected", [("low", {"b12"}), ("ok", {"b10"}), ("empty", {"ipa"})])
def test_stock_filter(browser, lots, stock, expected):
    shown = set(changelist(browser, stock=stock).context["cl"].result_list)
    assert shown == {lots[key] for key in expected}


def test_filters_and_search(browser, lots):
    assert set(changelist(browser, **{"material__kind__exact": "solvent"}).context["cl"].result_list) == {lots["ipa"]}
    assert set(changelist(browser, storage_place__exact="flammables_cabinet").context["cl"].result_list) == {lots["ipa"]}
    assert set(changelist(browser, q="K-10").context["cl"].result_list) == {lots["b10"]}
    assert set(changelist(browser, q="sigma").context["cl"].result_list) == {lots["ipa"]}
    assert set(changelist(browser, q="Na2B12H12").context["cl"].result_list) == {lots["b12"]}
    assert set(changelist(browser, q=lots["b12"].human_id).context["cl"].result_list) == {lots["b12"]}


# --- the ledger on the lot's page ----------------------------------------------------------------------


def test_lot_page_shows_remaining_and_ledger(browser, lots):
    page = browser.get(lot_change(browser, lots["b12"])).content.decode()
    assert "466.4 mg" in page and "533.6 mg" in page  # remaining, taken so far
    assert lots["batch"].human_id in page  # the process line says what used it


def add_ledger_line(browser, lot, kind, mass, note="weighed"):
    response = browser.get(lot_change(browser, lot))
    data = page_form_data(response)
    index = int(data["movements-TOTAL_FORMS"])
    data["movements-TOTAL_FORMS"] = index + 1
    data.update({f"movements-{index}-kind": kind, f"movements-{index}-quantity": mass,
                 f"movements-{index}-note": note})
    return browser.post(lot_change(browser, lot), data)


def test_a_correction_on_the_ledger_changes_the_remaining_stock(browser, manager, lots):
    lot = lots["b12"]
    response = add_ledger_line(browser, lot, "correction", 66.4, "reweighed: 400 mg in the vial")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert remaining(lot) == pytest.approx(400.0)
    line = StockMovement.objects.get(lot=lot, kind="correction")
    assert line.quantity == 66.4 and line.created_by == manager and line.source is None
    assert "400.0 mg" in row_of(changelist(browser).content.decode(), lot)
    # a negative correction puts mass back
    assert add_ledger_line(browser, lot, "correction", -100).status_code == 302
    assert remaining(lot) == pytest.approx(500.0)


def test_a_disposal_takes_mass_out_and_must_be_positive(browser, lots):
    lot = lots["b10"]
    response = add_ledger_line(browser, lot, "disposal", -5)
    assert response.status_code == 200
    assert "A disposal takes out of the stock: enter a positive quantity." in response.content.decode()
    assert remaining(lot) == 5000
    assert add_ledger_line(browser, lot, "disposal", 1000, "spilled").status_code == 302
    assert remaining(lot) == 4000


def test_a_correction_cannot_take_more_than_is_left(browser, lots):
    lot = lots["b12"]
    response = add_ledger_line(browser, lot, "correction", 500)
    assert response.status_code == 200
    assert f"{lot.human_id} (Na2B12H12) has 466.4 mg left; this correction asks for 500 mg." in response.content.decode()
    assert not StockMovement.objects.filter(lot=lot, kind="correction").exists()


def test_process_lines_are_read_only_on_the_lot_page(browser, lots):
    lot = lots["b12"]
    line = StockMovement.objects.get(lot=lot, kind="use")
    response = browser.get(lot_change(browser, lot))
    data = page_form_data(response)
    prefix = next(k[:-3] for k, v in data.items() if k.startswith("movements-") and k.endswith("-id") and v == line.pk)
    data.update({f"{prefix}-quantity": 1, f"{prefix}-kind": "correction", f"{prefix}-DELETE": "on"})
    assert browser.post(lot_change(browser, lot), data).status_code == 302
    line.refresh_from_db()
    assert (line.kind, line.quantity) == ("use", 533.6)
    assert remaining(lot) == pytest.approx(466.4)


def test_quantity_received_cannot_drop_below_what_the_ledger_took(browser, lots):
    lot = lots["b12"]
    data = page_form_data(browser.get(lot_change(browser, lot)))
    data["quantity_received_mg"] = 500
    response = browser.post(lot_change(browser, lot), data)
    assert response.status_code == 200
    assert (f"The ledger has already taken 533.6 mg from {lot.human_id}; its quantity received cannot be less."
            in response.content.decode())
    lot.refresh_from_db()
    assert lot.quantity_received_mg == 1000


def test_ledger_admin_lets_the_manager_add_corrections_but_not_edit_process_lines(browser, lots):
    lot = lots["b10"]
    response = browser.post(reverse("admin:samples_stockmovement_add"),
                            {"lot": lot.pk, "kind": "correction", "quantity": 250, "note": "inventory"})
    assert response.status_code == 302
    assert remaining(lot) == 4750
    use_line = StockMovement.objects.get(kind="use")
    response = browser.post(reverse("admin:samples_stockmovement_change", args=[use_line.pk]),
                            {"lot": use_line.lot_id, "kind": "correction", "quantity": 1, "note": ""})
    assert response.status_code == 403
    assert browser.post(reverse("admin:samples_stockmovement_delete", args=[use_line.pk]),
                        {"post": "yes"}).status_code == 403
    assert StockMovement.objects.filter(pk=use_line.pk, quantity=533.6).exists()


# --- records that take stock --------------------------------------------------------------------------


def batch_post(project, inputs, **extra):
    data = {
        "project": project.pk, "name": "1 g batch", "product": Material.objects.get(name="Na4(B12H12)(B10H10)").pk,
        "route": "solution", "notes": "", "xrd_phase": "",
        "ir_b_h_bands_present": "unknown", "ir_solvent_bands_present": "unknown",
        "inputs-TOTAL_FORMS": len(inputs), "inputs-INITIAL_FORMS": 0, "inputs-MIN_NUM_FORMS": 0,
        "inputs-MAX_NUM_FORMS": 1000,
        "steps-TOTAL_FORMS": 0, "steps-INITIAL_FORMS": 0, "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
        "conductivity_measurements-TOTAL_FORMS": 0, "conductivity_measurements-INITIAL_FORMS": 0,
        "conductivity_measurements-MIN_NUM_FORMS": 0, "conductivity_measurements-MAX_NUM_FORMS": 1000,
    }
    for index, (lot, mass) in enumerate(inputs):
        data[f"inputs-{index}-lot"] = lot.pk
        data[f"inputs-{index}-mass_mg"] = mass
    data.update(extra)
    return data


def test_a_batch_asking_more_than_a_lot_has_shows_the_error_and_saves_nothing(browser, project, lots):
    b12, b10 = lots["b12"], lots["b10"]
    batches, lines = ElectrolyteBatch.objects.count(), StockMovement.objects.count()
    response = browser.post(reverse("admin:samples_electrolytebatch_add"),
                            batch_post(project, [(b12, 533.6), (b10, 466.4)]))
    assert response.status_code == 200
    page = response.content.decode()
    assert (f"{b12.human_id} (Na2B12H12) has 466.4 mg left; this new electrolyte batch asks for 533.6 mg."
            in page)
    assert ElectrolyteBatch.objects.count() == batches
    assert StockMovement.objects.count() == lines
    assert remaining(b10) == 5000


def test_a_lot_is_one_input_of_a_batch(browser, project, lots):
    b12 = lots["b12"]
    response = browser.post(reverse("admin:samples_electrolytebatch_add"),
                            batch_post(project, [(b12, 300), (b12, 200)]))
    assert f"{b12.human_id} is listed twice." in response.content.decode()
    assert remaining(b12) == pytest.approx(466.4)


def test_a_batch_within_stock_writes_the_ledger_and_edits_replace_its_lines(browser, manager, project, lots):
    b10 = lots["b10"]
    response = browser.post(reverse("admin:samples_electrolytebatch_add"), batch_post(project, [(b10, 4000)]))
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = ElectrolyteBatch.objects.exclude(pk=lots["batch"].pk).get()
    line = StockMovement.objects.get(lot=b10)
    assert (line.quantity, line.kind, line.used_for, line.created_by) == (4000, "use", batch.human_id, manager)
    assert line.source == batch.inputs.get()
    assert batch.created_by == manager
    assert remaining(b10) == 1000

    change = reverse("admin:samples_electrolytebatch_change", args=[batch.pk])
    data = page_form_data(browser.get(change))
    # 1000 mg are left, and the row already holds 4000: asking 4900 is fine …
    data["inputs-0-mass_mg"] = 4900
    assert browser.post(change, data).status_code == 302
    assert [(m.pk, m.quantity) for m in StockMovement.objects.filter(lot=b10)] == [(line.pk, 4900)]  # in place
    assert remaining(b10) == 100
    # … 5100 is not
    data["inputs-0-mass_mg"] = 5100
    response = browser.post(change, data)
    assert f"{b10.human_id} (Na2B10H10) has 5000 mg left; {batch.human_id} asks for 5100 mg." in response.content.decode()
    assert remaining(b10) == 100
    # deleting the row gives its mass back
    data["inputs-0-mass_mg"] = 4900
    data["inputs-0-DELETE"] = "on"
    assert browser.post(change, data).status_code == 302
    assert remaining(b10) == 5000 and not batch.inputs.exists()


def test_deleting_a_batch_gives_its_stock_back(browser, lots):
    batch = lots["batch"]
    response = browser.post(reverse("admin:samples_electrolytebatch_delete", args=[batch.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not ElectrolyteBatch.objects.filter(pk=batch.pk).exists()
    assert remaining(lots["b12"]) == 1000


def sheet_post(project, components):
    data = {
        "project": project.pk, "name": "NCO 95:2:3", "current_collector": "Al foil",
        "current_collector_areal_mass_mg_cm2": 4.3, "drying_atmosphere": "vacuum", "notes": "",
        "components-TOTAL_FORMS": len(components), "components-INITIAL_FORMS": 0,
        "components-MIN_NUM_FORMS": 0, "components-MAX_NUM_FORMS": 1000,
        "loading_discs-TOTAL_FORMS": 0, "loading_discs-INITIAL_FORMS": 0,
        "loading_discs-MIN_NUM_FORMS": 0, "loading_discs-MAX_NUM_FORMS": 1000,
    }
    for index, (lot, role, fraction, mass) in enumerate(components):
        data.update({f"components-{index}-lot": lot.pk, f"components-{index}-role": role,
                     f"components-{index}-mass_fraction_percent": fraction,
                     f"components-{index}-mass_mg": "" if mass is None else mass})
    return data


def test_sheet_components_with_a_mass_take_stock_and_fractions_must_add_up(browser, project, lots):
    nacro2 = make_lot(project, "NaCrO2", 1000)
    pvdf = make_lot(project, "PVDF", 100)
    url = reverse("admin:samples_electrodesheet_add")
    response = browser.post(url, sheet_post(project, [(nacro2, "active", 95, 950), (pvdf, "binder", 3, None)]))
    assert "must sum to 100 %; they sum to 98 %" in response.content.decode()
    assert not ElectrodeSheet.objects.exists()
    response = browser.post(url, sheet_post(project, [(nacro2, "active", 95, 950), (pvdf, "binder", 5, None)]))
    assert response.status_code == 302
    assert remaining(nacro2) == 50 and remaining(pvdf) == 100  # no mass given for the binder: nothing taken
    assert SheetComponent.objects.count() == 2


def test_stock_rows_are_read_only_on_their_own_pages(browser, lots):
    row = lots["batch"].inputs.get()
    assert browser.get(reverse("admin:samples_electrolytebatchinput_change", args=[row.pk])).status_code == 200
    response = browser.post(reverse("admin:samples_electrolytebatchinput_change", args=[row.pk]),
                            {"batch": row.batch_id, "lot": row.lot_id, "mass_mg": 1})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.mass_mg == 533.6
