"""Each rule of the lab is refused with the same message through the API, the admin and the
CSV import: the rule lives once, in a model's ``clean`` or a service, and every entry point
shows its message."""
import html
import io

import pytest
from django.utils import timezone

from cells import services as cell_services
from cells.models import Cell, CyclerToken, Protocol
from eln.models import ProjectMembership
from samples import lot_csv, selectors
from samples import services as sample_services
from samples.models import ElectrodeSheet, ElectrolyteBatch, InfiltrationSolution, PrecursorLot
from tests.admin.forms import add_form_data, admin_url, page_form_data
from tests.factories import (
    AlloyBatchFactory,
    CellFactory,
    CyclerFactory,
    ElectrodeFactory,
    ElectrodeSheetFactory,
    ElectrolyteBatchFactory,
    ProjectFactory,
    cycler_token,
    lot,
    material,
    member,
)

pytestmark = pytest.mark.django_db


def api_refuses(response, field, message):
    assert response.status_code == 400, response.content
    assert response.json() == {field: [message]}


def admin_refuses(response, message):
    assert response.status_code == 200, "the page is shown again, not saved"
    assert message in html.unescape(response.content.decode())


@pytest.fixture
def used_lot(project, manager):
    """1000 mg of Na2B12H12, 533.6 mg of which went into a batch."""
    b12 = lot(project, "Na2B12H12", 1000)
    sample_services.electrolyte_batch_record(user=manager, project=project, product=material("Na4(B12H12)(B10H10)"),
                                             inputs=[dict(lot=b12, mass_mg=533.6)])
    return b12


# --- a lot's quantity and its ledger ------------------------------------------------------------


def taken_message(b12):
    return f"The ledger has already taken 533.6 mg from {b12.human_id}; its quantity received cannot be less."


def test_quantity_received_below_the_ledger_api(api, people, used_lot):
    response = api(people["writer"]).patch(f"/api/v1/lots/{used_lot.human_id}/", {"quantity_received_mg": 100},
                                           format="json")
    api_refuses(response, "quantity_received_mg", taken_message(used_lot))
    assert selectors.stock_of(PrecursorLot.objects.get(pk=used_lot.pk))[1] == pytest.approx(466.4)


def test_quantity_received_below_the_ledger_admin(browser, used_lot):
    url = admin_url(PrecursorLot, "change", used_lot.pk)
    data = page_form_data(browser.get(url))
    data["quantity_received_mg"] = 100
    admin_refuses(browser.post(url, data), taken_message(used_lot))
    assert PrecursorLot.objects.get(pk=used_lot.pk).quantity_received_mg == 1000


def test_quantity_received_below_the_ledger_csv(manager, used_lot):
    result = lot_csv.import_lots(io.BytesIO(f"id,quantity_received_mg\n{used_lot.human_id},100\n".encode()), manager)
    assert [str(error) for error in result.errors] == [
        f"line 2, column quantity_received_mg: {taken_message(used_lot)}"]


# --- an electrode belongs to one cell; a part's role fits its material and the cell's kind ------


def cell_payload(project, positive, negative, kind="full"):
    return {"project": project.name, "kind": kind, "lower_cutoff_v": 1.5, "upper_cutoff_v": 3.3,
            "parts": [{"role": "positive", "electrode": positive.human_id},
                      {"role": "negative", "electrode": negative.human_id}]}


@pytest.fixture
def electrodes(project):
    sheet = ElectrodeSheetFactory(project=project)
    tin = ElectrodeSheetFactory(project=project, tin=True)
    return {"nco": ElectrodeFactory(project=project, sheet=sheet),
            "nco2": ElectrodeFactory(project=project, sheet=sheet),
            "sn": ElectrodeFactory(project=project, sheet=tin, mass_mg=6.23)}


def in_two_cells(electrodes, cell):
    return (f"{electrodes['nco'].human_id} is already the positive electrode of {cell.human_id}; an electrode "
            "belongs to at most one cell.")


def test_an_electrode_in_a_second_cell_api(api, people, project, electrodes):
    client = api(people["writer"])
    first = client.post("/api/v1/cells/", cell_payload(project, electrodes["nco"], electrodes["sn"]), format="json")
    assert first.status_code == 201, first.json()
    other_sn = ElectrodeFactory(project=project, sheet=electrodes["sn"].sheet, mass_mg=6.23)
    response = client.post("/api/v1/cells/", cell_payload(project, electrodes["nco"], other_sn), format="json")
    api_refuses(response, "parts", in_two_cells(electrodes, Cell.objects.get(human_id=first.json()["id"])))


def test_an_electrode_in_a_second_cell_admin(browser, project, manager, electrodes):
    first = cell_services.cell_build(user=manager, project=project, kind="full", parts=[
        {"role": "positive", "electrode": electrodes["nco"]}, {"role": "negative", "electrode": electrodes["sn"]}])
    other_sn = ElectrodeFactory(project=project, sheet=electrodes["sn"].sheet, mass_mg=6.23)
    data = add_form_data(browser, Cell, {"project": project, "kind": "full", "hardware": "peek_mold_ti",
                                         "temperature_c": 30, "np_basis": "reference"},
                         {"parts": [{"role": "positive", "electrode": electrodes["nco"]},
                                    {"role": "negative", "electrode": other_sn}]})
    admin_refuses(browser.post(admin_url(Cell, "add"), data), in_two_cells(electrodes, first))
    assert Cell.objects.count() == 1


def tin_as_positive(electrodes):
    return (f"{electrodes['sn'].human_id} is a Sn electrode (anode active material); the positive electrode of "
            "this full cell (NaCrO2 | Sn) is of a cathode active material.")


def test_a_tin_electrode_as_a_full_cells_positive_api(api, people, project, electrodes):
    response = api(people["writer"]).post(
        "/api/v1/cells/", cell_payload(project, electrodes["sn"], electrodes["nco"]), format="json")
    assert response.status_code == 400
    assert tin_as_positive(electrodes) in response.json()["parts"]


def test_a_tin_electrode_as_a_full_cells_positive_admin(browser, project, electrodes):
    data = add_form_data(browser, Cell, {"project": project, "kind": "full", "hardware": "peek_mold_ti",
                                         "temperature_c": 30, "np_basis": "reference"},
                         {"parts": [{"role": "positive", "electrode": electrodes["sn"]},
                                    {"role": "negative", "electrode": electrodes["nco"]}]})
    admin_refuses(browser.post(admin_url(Cell, "add"), data), tin_as_positive(electrodes))
    assert not Cell.objects.exists()


def test_a_half_cell_needs_its_kind_of_working_electrode(api, people, project, electrodes):
    alloy = AlloyBatchFactory(project=project)
    response = api(people["writer"]).post("/api/v1/cells/", {
        "project": project.name, "kind": "anode_half",
        "parts": [{"role": "positive", "electrode": electrodes["nco"].human_id},
                  {"role": "negative", "alloy_batch": alloy.human_id, "mass_mg": 40}]}, format="json")
    assert response.json() == {"parts": [
        f"{electrodes['nco'].human_id} is a NaCrO2 electrode (cathode active material); the positive electrode of "
        "this anode half cell (Sn vs Na-Sn) is of an anode active material."]}


# --- a material's kind fits its use --------------------------------------------------------------


@pytest.fixture
def sodium(project):
    return lot(project, "Na", 10_000)


def solution_payload(project, solvent, salts):
    return {"project": project.name, "product": "Na4(B12H12)(B10H10)", "solvent_lot": solvent.human_id,
            "solvent_volume_ml": 10, "inputs": [{"lot": salt.human_id, "mass_mg": 100} for salt in salts]}


def test_sodium_is_neither_a_solvent_nor_a_salt_api(api, people, project, sodium):
    client = api(people["writer"])
    salt = lot(project, "Na2B12H12")
    response = client.post("/api/v1/infiltration-solutions/", solution_payload(project, sodium, [salt]), format="json")
    api_refuses(response, "solvent_lot", f"{sodium.human_id} is Na, a metal (counter/reference electrode); "
                                         "a solvent must be a solvent.")
    ipa = lot(project, "Isopropanol", 100_000)
    response = client.post("/api/v1/infiltration-solutions/", solution_payload(project, ipa, [sodium]), format="json")
    api_refuses(response, "inputs", f"{sodium.human_id} is Na, a metal (counter/reference electrode); "
                                    "a salt must be an electrolyte precursor.")
    assert not InfiltrationSolution.objects.exists()


def test_sodium_is_neither_a_solvent_nor_a_salt_admin(browser, project, sodium):
    fields = {"project": project, "product": material("Na4(B12H12)(B10H10)"), "solvent_lot": sodium,
              "solvent_volume_ml": 10}
    data = add_form_data(browser, InfiltrationSolution, fields, {"inputs": [{"lot": lot(project, "Na2B12H12"),
                                                                              "mass_mg": 100}]})
    admin_refuses(browser.post(admin_url(InfiltrationSolution, "add"), data),
                  f"{sodium.human_id} is Na, a metal (counter/reference electrode); a solvent must be a solvent.")
    fields["solvent_lot"] = lot(project, "Isopropanol", 100_000)
    data = add_form_data(browser, InfiltrationSolution, fields, {"inputs": [{"lot": sodium, "mass_mg": 100}]})
    admin_refuses(browser.post(admin_url(InfiltrationSolution, "add"), data),
                  f"{sodium.human_id} is Na, a metal (counter/reference electrode); a salt must be an electrolyte "
                  "precursor.")
    assert not InfiltrationSolution.objects.exists()


def binder_as_active(pvdf):
    return (f"{pvdf.human_id} is PVDF, a binder; an active material must be a cathode active material or an anode "
            "active material.")


def test_a_binder_is_not_an_active_material_api(api, people, project):
    pvdf, carbon = lot(project, "PVDF"), lot(project, "Super P")
    response = api(people["writer"]).post("/api/v1/electrode-sheets/", {
        "project": project.name, "components": [
            {"lot": pvdf.human_id, "role": "active", "mass_fraction_percent": 95},
            {"lot": carbon.human_id, "role": "conductive_carbon", "mass_fraction_percent": 5}]}, format="json")
    api_refuses(response, "components", binder_as_active(pvdf))


def test_a_binder_is_not_an_active_material_admin(browser, project):
    pvdf, carbon = lot(project, "PVDF"), lot(project, "Super P")
    data = add_form_data(browser, ElectrodeSheet, {"project": project, "current_collector": "Al foil",
                                                   "current_collector_areal_mass_mg_cm2": 4.05},
                         {"components": [{"lot": pvdf, "role": "active", "mass_fraction_percent": 95},
                                         {"lot": carbon, "role": "conductive_carbon", "mass_fraction_percent": 5}]})
    admin_refuses(browser.post(admin_url(ElectrodeSheet, "add"), data), binder_as_active(pvdf))
    assert not ElectrodeSheet.objects.exists()


# --- every record referenced is of the record's project ------------------------------------------


@pytest.fixture
def two_projects(people):
    """A member who only reads project A but writes in project B."""
    a = ProjectFactory(name="Project A")
    b = ProjectFactory(name="Project B")
    user = people["writer"]
    member(a, user, ProjectMembership.Role.READER)
    member(b, user, ProjectMembership.Role.WRITER)
    return a, b, user


def elsewhere(record, a, b):
    return (f"{record.human_id} belongs to project {a.name!r}; records of project {b.name!r} can only use records "
            "of their own project.")


def test_records_of_another_project_cannot_be_used_api(api, two_projects):
    a, b, user = two_projects
    a_lot = lot(a, "Na2B12H12")
    client = api(user)
    response = client.post("/api/v1/electrolyte-batches/", {
        "project": b.name, "product": "Na4(B12H12)(B10H10)", "inputs": [{"lot": a_lot.human_id, "mass_mg": 500}]},
        format="json")
    api_refuses(response, "inputs", elsewhere(a_lot, a, b))
    a_sheet = ElectrodeSheetFactory(project=a)
    response = client.post("/api/v1/electrodes/", {"project": b.name, "sheet": a_sheet.human_id}, format="json")
    api_refuses(response, "sheet", elsewhere(a_sheet, a, b))
    assert selectors.stock_of(a_lot)[0] == 0  # A's writers can still delete their lot
    assert not ElectrolyteBatch.objects.filter(project=b).exists()


def test_records_of_another_project_cannot_be_used_admin(client, two_projects):
    from django.contrib.auth.models import Permission

    a, b, user = two_projects
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="samples"))
    client.force_login(user)
    a_lot = lot(a, "Na2B12H12")
    data = add_form_data(client, ElectrolyteBatch, {"project": b, "product": material("Na4(B12H12)(B10H10)"),
                                                    "route": "solution"},
                         {"inputs": [{"lot": a_lot, "mass_mg": 500}]})
    admin_refuses(client.post(admin_url(ElectrolyteBatch, "add"), data), elsewhere(a_lot, a, b))
    assert not ElectrolyteBatch.objects.exists()


# --- a revoked token stays revoked ---------------------------------------------------------------


def test_a_revoked_token_cannot_be_unrevoked_in_the_admin(browser, api):
    token, key = cycler_token(CyclerFactory())
    cell_services.cycler_token_revoke(user=None, token=token)
    url = admin_url(CyclerToken, "change", token.pk)
    response = browser.post(url, {"label": "un-revoked?", "revoked_at_0": "", "revoked_at_1": ""})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.label == "un-revoked?"
    assert "revoked_at" not in browser.get(url).context["adminform"].form.fields


def test_a_revoked_token_cannot_be_unrevoked_through_the_model(db):
    from django.core.exceptions import ValidationError

    token, _key = cycler_token(CyclerFactory())
    cell_services.cycler_token_revoke(user=None, token=token)
    token.revoked_at = None
    with pytest.raises(ValidationError) as refused:
        token.full_clean()
    assert refused.value.message_dict == {"revoked_at": ["A revoked token stays revoked; make a new token instead."]}
    # and revoking twice keeps the first time
    first = CyclerToken.objects.get(pk=token.pk).revoked_at
    assert cell_services.cycler_token_revoke(user=None, token=token).revoked_at == first <= timezone.now()


# --- solvent volumes are booked wherever a solution is made -------------------------------------


def test_a_solution_takes_its_solvent_api(api, people, project):
    ipa, salt = lot(project, "Isopropanol", 100_000), lot(project, "Na2B12H12")
    response = api(people["writer"]).post("/api/v1/infiltration-solutions/", solution_payload(project, ipa, [salt]),
                                          format="json")
    assert response.status_code == 201, response.json()
    assert selectors.stock_of(ipa)[1] == pytest.approx(100_000 - 10 * 786)  # 10 mL × 0.786 g/mL
    assert response.json()["remaining_ml"] == 10


def test_a_solution_takes_its_solvent_admin(browser, project):
    ipa, salt = lot(project, "Isopropanol", 100_000), lot(project, "Na2B12H12", 5000)
    data = add_form_data(browser, InfiltrationSolution, {"project": project, "product": material("Na4(B12H12)(B10H10)"),
                                                         "solvent_lot": ipa, "solvent_volume_ml": 10},
                         {"inputs": [{"lot": salt, "mass_mg": 1000}]})
    assert browser.post(admin_url(InfiltrationSolution, "add"), data).status_code == 302
    assert selectors.stock_of(ipa)[1] == pytest.approx(100_000 - 7860)
    assert selectors.stock_of(salt)[1] == pytest.approx(4000)


# --- the voltage window: one function, one message -------------------------------------------------


def window_message(low, high):
    return f"The lower cut-off ({low:g} V) must be below the upper cut-off ({high:g} V)."


def test_the_cutoff_rule_api(api, people, project):
    client = api(people["writer"])
    cell = CellFactory(project=project)
    response = client.patch(f"/api/v1/cells/{cell.human_id}/", {"lower_cutoff_v": 3.4}, format="json")
    api_refuses(response, "lower_cutoff_v", window_message(3.4, 3.35))
    response = client.post("/api/v1/protocols/", {"project": project.name, "name": "bad", "steps": [
        {"order": 1, "cycle_count": 1, "charge_c_rate": 0.1, "discharge_c_rate": 0.1, "lower_cutoff_v": 3.35,
         "upper_cutoff_v": 2.1}]}, format="json")
    api_refuses(response, "steps", f"Step 1: {window_message(3.35, 2.1)}")


def test_the_cutoff_rule_admin(browser, project):
    cell = CellFactory(project=project)
    url = admin_url(Cell, "change", cell.pk)
    data = page_form_data(browser.get(url))
    data["lower_cutoff_v"] = 3.4
    admin_refuses(browser.post(url, data), window_message(3.4, 3.35))
    data = add_form_data(browser, Protocol, {"project": project, "name": "bad"}, {"steps": [
        {"order": 1, "cycle_count": 1, "charge_c_rate": 0.1, "discharge_c_rate": 0.1, "lower_cutoff_v": 3.35,
         "upper_cutoff_v": 2.1, "rest_min": 0}]})
    admin_refuses(browser.post(admin_url(Protocol, "add"), data), f"Step 1: {window_message(3.35, 2.1)}")


# --- made things have stock of their own ----------------------------------------------------------


def test_separators_take_from_their_electrolyte_batch(api, people, project, electrodes):
    batch = ElectrolyteBatchFactory(project=project, yield_mg=100)
    alloy = AlloyBatchFactory(project=project)
    client = api(people["writer"])
    payload = {"project": project.name, "kind": "cathode_half", "separator_batch": batch.human_id,
               "separator_mass_mg": 60,
               "parts": [{"role": "positive", "electrode": electrodes["nco"].human_id},
                         {"role": "negative", "alloy_batch": alloy.human_id, "mass_mg": 40}]}
    assert client.post("/api/v1/cells/", payload, format="json").status_code == 201
    assert client.get(f"/api/v1/electrolyte-batches/{batch.human_id}/").json()["remaining_mg"] == 40
    assert client.get(f"/api/v1/alloy-batches/{alloy.human_id}/").json()["remaining_mg"] == 960
    payload["parts"][0]["electrode"] = electrodes["nco2"].human_id
    response = client.post("/api/v1/cells/", payload, format="json")
    api_refuses(response, "separator_mass_mg",
                f"{batch.human_id} (Na4(B12H12)(B10H10)) has 40 mg left; this new cell asks for 60 mg.")



# --- a row others depend on stays -----------------------------------------------------------------


def test_a_channel_with_runs_cannot_be_left_out_of_its_cycler(api, people, project, manager):
    from tests.factories import CyclingRunFactory

    run = CyclingRunFactory(project=project)
    cycler = run.channel.cycler
    lab_manager = people["lab_manager"]
    response = api(lab_manager).patch(f"/api/v1/cyclers/{cycler.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        cell_services.cycler_update(user=manager, cycler=cycler, channels=[])
    assert refused.value.message_dict == {"channels": [
        f"{run.channel} cannot be removed: it is used by {run}."]}
    assert cycler.channels.count() == 1
