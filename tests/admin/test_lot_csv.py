"""CSV export and import of lots: samples.lot_csv and the admin's action, button and page."""
import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from samples import lot_csv, selectors, services
from samples.models import (
    Material,
    PrecursorLot,
    StockMovement,
)
from tests.factories import ProjectFactory

HEADER = ",".join(lot_csv.COLUMNS)





@pytest.fixture
def lots(project, manager):
    b12 = services.lot_receive(
        user=manager, project=project, material=Material.objects.get(name="Na2B12H12"), supplier="Katchem",
        lot_number="K-12",
        received_on=date(2024, 3, 5), purity_percent=99.5, quantity_received_mg=1000, low_stock_threshold_mg=500,
        storage_place="argon_glovebox", storage_detail="box 2, µ-balance side", state="dried",
        hazards="H261", notes="dried 180 °C, 6 h; \"vacuum\"\nsecond line",
    )
    ipa = services.lot_receive(
        user=manager, project=project, material=Material.objects.get(name="Isopropanol"), supplier="Sigma-Aldrich",
        quantity_received_mg=20000, storage_place="flammables_cabinet",
    )
    services.electrolyte_batch_record(user=manager, project=project,
                                      product=Material.objects.get(name="Na4(B12H12)(B10H10)"),
                                      inputs=[dict(lot=b12, mass_mg=533.6)])
    return {"b12": b12, "ipa": ipa}


def parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def upload(text: str, *, encoding="utf-8", name="lots.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def run_import(text: str, user, **kwargs):
    return lot_csv.import_lots(io.BytesIO(text.encode(kwargs.pop("encoding", "utf-8"))), user)


def snapshot():
    return sorted(PrecursorLot.objects.values_list(
        "human_id", "supplier", "lot_number", "quantity_received_mg", "storage_place", "state", "notes"))


# --- export --------------------------------------------------------------------------------------


def test_export_writes_one_row_per_lot_with_the_remaining_stock(lots, project):
    out = io.StringIO(newline="")
    count = lot_csv.export_lots(PrecursorLot.objects.order_by("human_id"), out)
    text = out.getvalue()
    assert count == 2 and text.startswith("\ufeff")
    rows = parse(text)
    assert list(rows[0]) == list(lot_csv.COLUMNS)
    b12 = {**rows[0]}
    assert b12 == {
        "id": lots["b12"].human_id, "project": project.name, "material": "Na2B12H12", "supplier": "Katchem",
        "lot_number": "K-12", "received_on": "2024-03-05", "purity_percent": "99.5",
        "quantity_received_mg": "1000", "remaining_mg": "466.4", "low_stock_threshold_mg": "500",
        "storage_place": "argon_glovebox", "storage_detail": "box 2, µ-balance side", "state": "dried",
        "hazards": "H261", "notes": "dried 180 °C, 6 h; \"vacuum\"\nsecond line",
    }
    ipa = rows[1]
    assert (ipa["id"], ipa["material"], ipa["remaining_mg"], ipa["received_on"], ipa["purity_percent"]) == (
        lots["ipa"].human_id, "Isopropanol", "20000", "", "")


def test_export_action_exports_the_selected_lots(browser, lots):
    response = browser.post(reverse("admin:samples_precursorlot_changelist"),
                            {"action": "export_csv", "_selected_action": [lots["ipa"].pk]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = parse(response.content.decode("utf-8"))
    assert [row["id"] for row in rows] == [lots["ipa"].human_id]


def test_export_button_exports_the_filtered_list(browser, lots):
    page = browser.get(reverse("admin:samples_precursorlot_changelist"), {"stock": "low"}).content.decode()
    export_url = reverse("admin:samples_precursorlot_export")
    assert f'href="{export_url}?stock=low"' in page
    assert reverse("admin:samples_precursorlot_import") in page
    rows = parse(browser.get(export_url, {"stock": "low"}).content.decode("utf-8"))
    assert [row["id"] for row in rows] == [lots["b12"].human_id]
    rows = parse(browser.get(export_url).content.decode("utf-8"))
    assert {row["id"] for row in rows} == {lots["b12"].human_id, lots["ipa"].human_id}


def test_an_export_imports_back_unchanged(lots, manager):
    out = io.StringIO(newline="")
    lot_csv.export_lots(PrecursorLot.objects.all(), out)
    before = snapshot()
    result = lot_csv.import_lots(io.BytesIO(out.getvalue().encode("utf-8")), manager)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated, len(result.unchanged)) == ([], [], 2)
    assert snapshot() == before


# --- import --------------------------------------------------------------------------------------


def test_import_creates_and_updates_lots(lots, project, manager):
    b12 = lots["b12"]
    text = "\n".join([
        HEADER,
        f"{b12.human_id},{project.name},Na2B12H12,Katchem,K-12,2024-03-05,99.5,1200,0,400,desiccator,shelf 1,"
        "in_use,H261,topped up",
        f",{project.name},na2b10h10,Katchem,K-10,2024-04-01,99,2000,,100,argon glovebox,,as received,,new lot",
    ])
    result = run_import(text, manager)
    assert result.ok, [str(e) for e in result.errors]
    assert [lot.pk for lot in result.updated] == [b12.pk]
    (new,) = result.created
    b12.refresh_from_db()
    assert (b12.quantity_received_mg, b12.low_stock_threshold_mg, b12.storage_place, b12.storage_detail,
            b12.state, b12.notes) == (1200, 400, "desiccator", "shelf 1", "in_use", "topped up")
    assert b12.modified_by == manager and b12.history.first().history_user == manager
    assert selectors.stock_of(b12)[1] == pytest.approx(666.4)  # the ledger is untouched
    new = PrecursorLot.objects.get(pk=new.pk)
    assert new.human_id.startswith("LOT-")
    assert (new.project, new.material.name, new.lot_number, new.received_on, new.purity_percent,
            new.quantity_received_mg, new.storage_place, new.state, new.created_by) == (
        project, "Na2B10H10", "K-10", date(2024, 4, 1), 99.0, 2000, "argon_glovebox", "as_received", manager)


def test_columns_left_out_keep_their_values(lots, manager):
    b12 = lots["b12"]
    result = run_import(f"id,storage_detail\n{b12.human_id},box 7\n", manager)
    assert result.ok and result.updated == [b12]
    b12.refresh_from_db()
    assert (b12.storage_detail, b12.supplier, b12.state, b12.quantity_received_mg) == ("box 7", "Katchem", "dried", 1000)


def test_import_with_errors_names_line_and_column_and_saves_nothing(lots, project, manager):
    b12 = lots["b12"]
    before, count = snapshot(), PrecursorLot.objects.count()
    text = "\n".join([
        HEADER,
        f",{project.name},Na2B12H12,Katchem,K-1,2024-03-05,99.5,1000,,0,argon_glovebox,,as_received,,fine row",
        f",{project.name},Unobtainium,Katchem,K-2,2024-03-05,99.5,1000,,0,argon_glovebox,,as_received,,",
        ",No such project,Na2B12H12,Katchem,K-3,5.3.2024,lots,12 g,,0,lab bench,,wet,,",
        f",{project.name},Na2B12H12,,K-4,2024-02-30,101,-5,,0,shelf,,dried,,",
        f"{b12.human_id},{project.name},Na2B12H12,Katchem,K-12,2024-03-05,99.5,500,,0,argon_glovebox,,dried,,",
        f"LOT-9999,{project.name},Na2B12H12,Katchem,K-12,,,1000,,0,shelf,,dried,,",
    ])
    result = run_import(text, manager)
    messages = [str(error) for error in result.errors]
    assert "line 3, column material: unknown material 'Unobtainium' (add it under Materials first)" in messages
    assert "line 4, column project: unknown project 'No such project'" in messages
    assert "line 4, column received_on: '5.3.2024' is not a date as YYYY-MM-DD" in messages
    assert "line 4, column purity_percent: 'lots' is not a number" in messages
    assert "line 4, column quantity_received_mg: '12 g' is not a number" in messages
    assert any(m.startswith("line 4, column storage_place: unknown storage place 'lab bench'; use one of: ")
               for m in messages)
    assert any(m.startswith("line 4, column state: unknown state 'wet'") for m in messages)
    assert "line 5, column supplier: missing required value" in messages
    assert "line 5, column received_on: '2024-02-30' is not a valid date" in messages
    assert any(m.startswith("line 5, column purity_percent: ") and "100" in m for m in messages)
    assert any(m.startswith("line 5, column quantity_received_mg: ") and "at least 0 mg" in m
               for m in messages)
    assert (f"line 6, column quantity_received_mg: The ledger has already taken 533.6 mg from {b12.human_id}; "
            "its quantity received cannot be less.") in messages
    assert "line 7, column id: there is no lot LOT-9999 (leave id empty to add a new lot)" in messages
    assert not any(m.startswith("line 2") for m in messages)
    assert len(messages) == 13, messages
    assert result.created == [] and result.updated == []
    assert PrecursorLot.objects.count() == count and snapshot() == before


def test_missing_required_columns_are_reported_once(manager, project):
    result = run_import("project,material,lot_number\nCloso infiltration,Sn,A\nCloso infiltration,Sn,B\n", manager)
    assert [str(e) for e in result.errors] == [
        "line 1, column supplier: the column is missing; rows with an empty id add new lots, which need it",
        "line 1, column quantity_received_mg: the column is missing; rows with an empty id add new lots, which need it",
    ]
    assert not PrecursorLot.objects.exists()


def test_unknown_column_and_empty_file(manager, project):
    assert [str(e) for e in run_import("", manager).errors] == ["line 1: the file is empty"]
    assert [str(e) for e in run_import(HEADER + "\n", manager).errors] == ["line 1: the file has a header but no lots"]
    errors = [str(e) for e in run_import("id,colour\nLOT-0001,red\n", manager).errors]
    assert errors[0].startswith("line 1, column colour: unknown column")


def test_bom_and_semicolons_with_decimal_commas_import(manager, project):
    text = "\ufeff" + "\r\n".join([
        "id;project;material;supplier;lot_number;received_on;purity_percent;quantity_received_mg;"
        "low_stock_threshold_mg;storage_place;state;notes",
        f";{project.name};Sn;Sigma-Aldrich;MKCD1234;2024-05-06;99,8;2500,5;250;shelf;as_received;10 µm, <50 ppm O",
        f";{project.name};NaCrO2;in-house;NCO-7;;;1000;;argon_glovebox;dried;\"900 °C; 5 h Ar\"",
    ]) + "\r\n"
    result = run_import(text, manager)
    assert result.ok, [str(e) for e in result.errors]
    sn, nacro2 = sorted(result.created, key=lambda lot: lot.material.name != "Sn")
    sn.refresh_from_db()
    assert (sn.material.name, sn.purity_percent, sn.quantity_received_mg, sn.storage_place, sn.notes) == (
        "Sn", 99.8, 2500.5, "shelf", "10 µm, <50 ppm O")
    assert (nacro2.low_stock_threshold_mg, nacro2.notes, nacro2.received_on) == (0, "900 °C; 5 h Ar", None)


def test_decimal_comma_is_refused_in_a_comma_file(manager, project):
    text = f'{HEADER}\n,{project.name},Sn,Sigma,,,"99,8",1000,,0,shelf,,as_received,,\n'
    errors = [str(e) for e in run_import(text, manager).errors]
    assert errors == ["line 2, column purity_percent: '99,8' is not a number; write decimals with a point"]


def test_not_utf8_is_reported(manager, project):
    text = f"{HEADER}\n,{project.name},Sn,Sigma,,,,1000,,0,shelf,,as_received,,10 µm\n"
    errors = [str(e) for e in run_import(text, manager, encoding="latin-1").errors]
    assert len(errors) == 1 and errors[0].startswith("line 1: the file is not UTF-8 text")
    assert not PrecursorLot.objects.exists()


def test_a_reader_cannot_import_into_their_project(people, project):
    text = f"{HEADER}\n,{project.name},Sn,Sigma,,,,1000,,0,shelf,,as_received,,\n"
    errors = [str(e) for e in run_import(text, people["reader"]).errors]
    assert errors == [f"line 2, column project: you are a reader of project '{project.name}' "
                      "and cannot add or change its lots"]
    outsider = [str(e) for e in run_import(text, people["outsider"]).errors]
    assert outsider == [f"line 2, column project: unknown project '{project.name}'"]
    assert run_import(text, people["writer"]).ok


def test_a_lot_cannot_move_to_another_project(lots, manager):
    ProjectFactory(name="Sulfides", manager=manager)
    result = run_import(f"id,project\n{lots['ipa'].human_id},Sulfides\n", manager)
    assert [str(e) for e in result.errors] == ["line 2, column project: A record cannot move to another project."]


def test_line_numbers_count_multi_line_cells(lots, project, manager):
    text = f'{HEADER}\n,{project.name},Sn,Sigma,,,,1000,,0,shelf,,as_received,,"two\nlines"\n' \
           f",{project.name},Sn,Sigma,,,,x,,0,shelf,,as_received,,\n"
    assert [str(e) for e in run_import(text, manager).errors] == [
        "line 4, column quantity_received_mg: 'x' is not a number"]


# --- the admin's import page ------------------------------------------------------------------------


def test_import_page_creates_lots_and_reports(browser, project, manager):
    url = reverse("admin:samples_precursorlot_import")
    assert browser.get(url).status_code == 200
    text = f"{HEADER}\n,{project.name},Sn,Sigma-Aldrich,MK-1,2024-05-06,99.8,2500,,250,shelf,,as_received,,\n"
    response = browser.post(url, {"file": upload(text)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:samples_precursorlot_changelist")
    assert "1 lots added, 0 updated" in response.content.decode()
    lot = PrecursorLot.objects.get(lot_number="MK-1")
    assert lot.created_by == manager and lot.quantity_received_mg == 2500


def test_import_page_lists_every_problem_and_saves_nothing(browser, lots, project):
    url = reverse("admin:samples_precursorlot_import")
    text = (f"{HEADER}\n,{project.name},Sn,Sigma-Aldrich,MK-1,2024-05-06,99.8,2500,,250,shelf,,as_received,,\n"
            f",{project.name},Unobtainium,Sigma,,2024-13-01,,1000,,0,shelf,,as_received,,\n")
    count = PrecursorLot.objects.count()
    response = browser.post(url, {"file": upload(text)})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "line 3, column material: unknown material &#x27;Unobtainium&#x27;" in page
    assert "line 3, column received_on: &#x27;2024-13-01&#x27; is not a valid date" in page
    assert PrecursorLot.objects.count() == count


def test_import_page_accepts_bom_and_semicolons(browser, project):
    text = ("\ufeffproject;material;supplier;quantity_received_mg;storage_place\n"
            f"{project.name};Sn;Sigma-Aldrich;1500,25;fridge\n")
    response = browser.post(reverse("admin:samples_precursorlot_import"), {"file": upload(text)})
    assert response.status_code == 302
    lot = PrecursorLot.objects.get()
    assert (lot.quantity_received_mg, lot.storage_place, lot.state) == (1500.25, "fridge", "as_received")
    assert StockMovement.objects.count() == 0


def test_import_refuses_nul_characters_and_overlong_text_by_line_and_column(lots, project, manager):
    text = "\n".join([
        HEADER,
        f",{project.name},Na2B12H12,Kat\x00chem,K-12,2024-03-05,99.5,1200,,400,desiccator,,in_use,,",
        f",{project.name},Na2B12H12,{'K' * 101},K-12,2024-03-05,99.5,1200,,400,desiccator,,in_use,,",
    ])
    result = run_import(text, manager)
    errors = [str(e) for e in result.errors]
    assert not result.ok and len(errors) == 2, errors
    assert "line 2" in errors[0] and "supplier" in errors[0] and "NUL character" in errors[0]
    assert "line 3" in errors[1] and "supplier" in errors[1] and "longer than the 100 characters" in errors[1]
