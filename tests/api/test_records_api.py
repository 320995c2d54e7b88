"""The REST API as a script or a researcher's browser uses it: create, read, update, filter,
refused deletes, refused access, and validation messages that name the field."""
import pytest

from samples.models import Material, PrecursorLot, StockMovement

pytestmark = pytest.mark.django_db


def make_lot(api, user, project, material="Na2B12H12", quantity_mg=5000.0, **extra):
    response = api(user).post(
        "/api/v1/lots/",
        {"project": project.name, "material": material, "supplier": "Katchem", "lot_number": "K-123",
         "quantity_received_mg": quantity_mg, **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_writer_creates_a_lot_with_a_label_id_and_reads_it_back(api, people, project):
    body = make_lot(api, people["writer"], project, low_stock_threshold_mg=1000)
    assert body["id"].startswith("LOT-")
    assert body["remaining_mg"] == 5000.0
    assert body["is_low_stock"] is False
    assert body["created_by"] == "wei"

    detail = api(people["reader"]).get(f"/api/v1/lots/{body['id']}/")
    assert detail.status_code == 200
    assert detail.json()["material"] == "Na2B12H12"
    assert detail.json()["supplier"] == "Katchem"


def test_update_is_kept_in_the_history_with_who_changed_it(api, people, project):
    lot_id = make_lot(api, people["writer"], project)["id"]
    response = api(people["manager"]).patch(f"/api/v1/lots/{lot_id}/", {"state": "dried"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "dried"
    assert response.json()["modified_by"] == "mara"
    lot = PrecursorLot.objects.get(human_id=lot_id)
    changes = list(lot.history.order_by("history_date").values_list("state", "history_user__username"))
    assert changes == [("as_received", "wei"), ("dried", "mara")]


def test_list_is_paginated_and_filtered(api, people, project):
    for material in ("Na2B12H12", "Na2B10H10", "Na2B10H10"):
        make_lot(api, people["writer"], project, material=material)
    client = api(people["reader"])
    everything = client.get("/api/v1/lots/", {"limit": 2}).json()
    assert everything["count"] == 3 and len(everything["results"]) == 2 and everything["next"]
    filtered = client.get("/api/v1/lots/", {"material": "Na2B10H10"}).json()
    assert filtered["count"] == 2
    assert {row["material"] for row in filtered["results"]} == {"Na2B10H10"}


def test_non_member_sees_nothing_and_cannot_create(api, people, project):
    lot_id = make_lot(api, people["writer"], project)["id"]
    outsider = api(people["outsider"])
    assert outsider.get("/api/v1/lots/").json()["count"] == 0
    response = outsider.get(f"/api/v1/lots/{lot_id}/")
    assert response.status_code == 404
    response = outsider.post(
        "/api/v1/lots/",
        {"project": project.name, "material": "Sn", "supplier": "Sigma-Aldrich", "quantity_received_mg": 100},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "You are not a member of project 'Closo infiltration'."


def test_reader_cannot_change_records(api, people, project):
    lot_id = make_lot(api, people["writer"], project)["id"]
    response = api(people["reader"]).patch(f"/api/v1/lots/{lot_id}/", {"state": "dried"}, format="json")
    assert response.status_code == 403
    assert "only members with write rights" in response.json()["detail"]
    assert PrecursorLot.objects.get(human_id=lot_id).state == "as_received"


def test_anonymous_requests_are_refused(api):
    response = api(None).get("/api/v1/lots/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_token_authentication_for_scripts(client, people, project):
    response = client.post("/api/v1/auth/token/", {"username": "wei", "password": "pw-wei"})
    assert response.status_code == 200
    token = response.json()["token"]
    listing = client.get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listing.status_code == 200 and listing.json()["count"] == 0
    wrong = client.post("/api/v1/auth/token/", {"username": "wei", "password": "nope"})
    assert wrong.status_code == 400 and wrong.json()["detail"] == "Wrong username or password."


def test_validation_errors_name_the_field_and_the_rule(api, people, project):
    response = api(people["writer"]).post(
        "/api/v1/lots/",
        {"project": project.name, "material": "Unobtainium", "supplier": "Katchem", "quantity_received_mg": -5},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert errors["material"] == ["Object with name=Unobtainium does not exist."]
    assert errors["quantity_received_mg"] == ["Ensure this value is at least 0 mg."]


def electrolyte_batch_payload(project, lot_a, lot_b, mass_a=533.6, mass_b=466.4):
    return {
        "project": project.name, "product": "Na4(B12H12)(B10H10)", "route": "solution",
        "inputs": [{"lot": lot_a, "mass_mg": mass_a}, {"lot": lot_b, "mass_mg": mass_b}],
        "steps": [{"order": 1, "description": "Schlenk line", "temperature_c": 60, "pressure_mbar": 0.001}],
        "conductivity_measurements": [
            {"temperature_c": 25, "pellet_thickness_mm": 0.5, "pellet_area_cm2": 0.5, "resistance_ohm": 100},
        ],
    }


def test_a_batch_takes_its_precursors_from_stock(api, people, project):
    lot_a = make_lot(api, people["writer"], project, material="Na2B12H12", quantity_mg=2000)["id"]
    lot_b = make_lot(api, people["writer"], project, material="Na2B10H10", quantity_mg=2000)["id"]
    client = api(people["writer"])
    response = client.post("/api/v1/electrolyte-batches/", electrolyte_batch_payload(project, lot_a, lot_b), format="json")
    assert response.status_code == 201, response.json()
    batch = response.json()
    # σ = 0.05 cm / (100 Ω · 0.5 cm²) = 1.0e-3 S/cm
    assert batch["conductivity_25c_s_cm"] == pytest.approx(1.0e-3)
    assert client.get(f"/api/v1/lots/{lot_a}/").json()["remaining_mg"] == pytest.approx(2000 - 533.6)
    ledger = client.get("/api/v1/stock-movements/", {"holder": lot_a}).json()["results"]
    assert [(row["quantity"], row["unit"], row["used_for"]) for row in ledger] == [(533.6, "mg", batch["id"])]

    # Replacing the inputs gives the old mass back before taking the new one.
    payload = electrolyte_batch_payload(project, lot_a, lot_b, mass_a=1000, mass_b=900)
    response = client.put(f"/api/v1/electrolyte-batches/{batch['id']}/", payload, format="json")
    assert response.status_code == 200, response.json()
    assert client.get(f"/api/v1/lots/{lot_a}/").json()["remaining_mg"] == pytest.approx(1000)


def test_stock_cannot_go_negative(api, people, project):
    lot_a = make_lot(api, people["writer"], project, material="Na2B12H12", quantity_mg=500)["id"]
    lot_b = make_lot(api, people["writer"], project, material="Na2B10H10", quantity_mg=2000)["id"]
    response = api(people["writer"]).post(
        "/api/v1/electrolyte-batches/", electrolyte_batch_payload(project, lot_a, lot_b), format="json"
    )
    assert response.status_code == 400
    message = response.json()["inputs"][0]
    assert message.startswith(f"{lot_a} (Na2B12H12) has 500 mg left;") and message.endswith("asks for 533.6 mg.")
    assert StockMovement.objects.count() == 0
    assert api(people["writer"]).get("/api/v1/electrolyte-batches/").json()["count"] == 0


def sheet_payload(project, lots, fractions=(95, 2, 3)):
    roles = ("active", "binder", "conductive_carbon")
    return {
        "project": project.name, "name": "NaCrO2 95:2:3",
        "components": [{"lot": lot, "role": role, "mass_fraction_percent": f} for lot, role, f in zip(lots, roles, fractions)],
        "current_collector_areal_mass_mg_cm2": 4.0,
        "coating_thickness_um": 90,
        "loading_discs": [{"diameter_mm": 12, "mass_mg": m} for m in (13.3, 13.4, 13.2, 13.3)],
    }


@pytest.fixture
def sheet_lots(api, people, project):
    return [make_lot(api, people["writer"], project, material=m)["id"] for m in ("NaCrO2", "PVDF", "Super P")]


def test_sheet_components_must_sum_to_100_percent(api, people, project, sheet_lots):
    response = api(people["writer"]).post(
        "/api/v1/electrode-sheets/", sheet_payload(project, sheet_lots, (95, 2, 2)), format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "components": ["The mass fractions of the components must sum to 100 %; they sum to 99 %."]
    }


def test_sheet_shows_its_loading_density_and_porosity(api, people, project, sheet_lots):
    response = api(people["writer"]).post("/api/v1/electrode-sheets/", sheet_payload(project, sheet_lots), format="json")
    assert response.status_code == 201, response.json()
    sheet = response.json()
    area = 3.14159265 * 0.6**2  # 12 mm disc: 1.1310 cm²
    loading = 13.3 / area - 4.0  # mean disc mass 13.3 mg, minus 4.0 mg/cm² of foil = 7.760 mg/cm²
    assert sheet["areal_loading_mg_cm2"] == pytest.approx(loading, rel=1e-6)
    assert sheet["active_loading_mg_cm2"] == pytest.approx(0.95 * loading, rel=1e-6)
    density = 1 / (0.95 / 4.4 + 0.02 / 1.78 + 0.03 / 1.9)  # 4.0898 g/cm³
    assert sheet["composite_density_g_cm3"] == pytest.approx(density, rel=1e-9)
    # 7.760 mg/cm² over 90 µm: 0.8622 g/cm³ bulk, porosity 1 - 0.8622/4.0898 = 0.789
    assert sheet["casting_porosity"] == pytest.approx(1 - (loading / 1000 / 0.009) / density, rel=1e-6)
    assert sheet["composition"] == "95:2:3"


def test_deleting_a_record_others_depend_on_is_refused(api, people, project, sheet_lots):
    client = api(people["writer"])
    sheet = client.post("/api/v1/electrode-sheets/", sheet_payload(project, sheet_lots), format="json").json()
    electrode = client.post("/api/v1/electrodes/", {"project": project.name, "sheet": sheet["id"]}, format="json")
    assert electrode.status_code == 201, electrode.json()
    response = client.delete(f"/api/v1/electrode-sheets/{sheet['id']}/")
    assert response.status_code == 409
    assert response.json()["detail"] == "This record cannot be deleted because other records depend on it."
    assert any(electrode.json()["id"] in text for text in response.json()["dependents"])
    # A lot used by the sheet cannot go either; an unused record can.
    assert client.delete(f"/api/v1/lots/{sheet_lots[0]}/").status_code == 409
    assert client.delete(f"/api/v1/electrodes/{electrode.json()['id']}/").status_code == 204


def test_references_to_another_projects_records_are_refused(api, people, project):
    from eln.models import Project, ProjectMembership

    other = Project.objects.create(name="Other group")
    ProjectMembership.objects.create(project=other, user=people["outsider"], role="writer")
    foreign_lot = make_lot(api, people["outsider"], other, material="NaCrO2")["id"]
    lots = [foreign_lot] + [make_lot(api, people["writer"], project, material=m)["id"] for m in ("PVDF", "Super P")]
    response = api(people["writer"]).post("/api/v1/electrode-sheets/", sheet_payload(project, lots), format="json")
    assert response.status_code == 400
    assert response.json()["components"]["0"]["lot"] == [f"Object with human_id={foreign_lot} does not exist."]


def test_materials_are_seeded_and_only_lab_managers_change_them(api, people):
    nacro2 = api(people["reader"]).get("/api/v1/materials/", {"name": "NaCrO2"}).json()["results"][0]
    assert nacro2["density_g_cm3"] == 4.4
    assert nacro2["reference_specific_capacity_mah_g"] == 120.0
    assert nacro2["theoretical_specific_capacity_mah_g"] == pytest.approx(125.3, abs=0.05)
    sn = Material.objects.get(name="Sn")
    assert sn.theoretical_specific_capacity_mah_g == pytest.approx(847, abs=0.5)
    refused = api(people["writer"]).patch(f"/api/v1/materials/{nacro2['id']}/", {"density_g_cm3": 5}, format="json")
    assert refused.status_code == 403
    allowed = api(people["lab_manager"]).patch(f"/api/v1/materials/{nacro2['id']}/", {"density_g_cm3": 4.36}, format="json")
    assert allowed.status_code == 200 and allowed.json()["density_g_cm3"] == 4.36


def test_openapi_schema_and_its_documentation_are_served(api, people, client):
    schema = api(people["reader"]).get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/lots/", "/api/v1/cells/{human_id}/", "/api/v1/electrode-sheets/", "/api/v1/cycling-runs/"):
        assert path in paths
    client.force_login(people["reader"])
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content and b"https://" not in docs.content.split(b"<body")[0]


def test_deleting_a_batch_gives_its_stock_back(api, people, project):
    lot_a = make_lot(api, people["writer"], project, material="Na2B12H12", quantity_mg=2000)["id"]
    lot_b = make_lot(api, people["writer"], project, material="Na2B10H10", quantity_mg=2000)["id"]
    client = api(people["writer"])
    batch = client.post("/api/v1/electrolyte-batches/", electrolyte_batch_payload(project, lot_a, lot_b),
                        format="json").json()
    assert client.get(f"/api/v1/lots/{lot_a}/").json()["remaining_mg"] == pytest.approx(2000 - 533.6)
    assert client.delete(f"/api/v1/electrolyte-batches/{batch['id']}/").status_code == 204
    assert client.get(f"/api/v1/lots/{lot_a}/").json()["remaining_mg"] == 2000
    assert StockMovement.objects.count() == 0


def test_infiltration_run_shows_uptake_and_remaining_porosity_worked_by_hand(api, people, project, sheet_lots):
    client = api(people["writer"])
    sheet = client.post("/api/v1/electrode-sheets/", sheet_payload(project, sheet_lots), format="json").json()
    electrode = client.post("/api/v1/electrodes/", {"project": project.name, "sheet": sheet["id"]},
                            format="json").json()["id"]
    salts = [make_lot(api, people["writer"], project, material=m)["id"] for m in ("Na2B12H12", "Na2B10H10")]
    solvent = make_lot(api, people["writer"], project, material="Isopropanol", quantity_mg=500_000)["id"]
    solution = client.post("/api/v1/infiltration-solutions/", {
        "project": project.name, "product": "Na4(B12H12)(B10H10)", "solvent_lot": solvent, "solvent_volume_ml": 10,
        "inputs": [{"lot": salts[0], "mass_mg": 533.6}, {"lot": salts[1], "mass_mg": 466.4}],
    }, format="json").json()
    assert solution["concentration_mg_ml"] == pytest.approx(100.0)
    run = client.post("/api/v1/infiltration-runs/", {
        "project": project.name, "solution": solution["id"],
        "electrodes": [{"electrode": electrode, "mass_before_mg": 13.30, "mass_after_mg": 14.70,
                        "pressed_thickness_um": 45}],
    }, format="json")
    assert run.status_code == 201, run.json()
    row = run.json()["electrodes"][0]
    # 12 mm disc, 1.1310 cm² with 4.0 mg/cm² of foil (4.524 mg): coating 8.776 mg before, 1.40 mg taken up.
    assert row["electrolyte_mass_mg"] == pytest.approx(1.40)
    assert row["measured_uptake_fraction"] == pytest.approx(0.1595, abs=5e-4)  # 1.40 / 8.776
    # Sheet: ρ = 4.1163 g/cm³ (95:2:3), ε = 0.7905 (7.760 mg/cm² over 90 µm); at 100 mg/mL
    # ε·c / ((1 − ε)·ρ) = 0.07905 / 0.8622 = 0.0917
    assert row["expected_uptake_fraction"] == pytest.approx(0.0917, abs=5e-4)
    # Pressed to 45 µm: 10.176 mg in 1.1310 cm² × 45 µm = 1.9995 g/cm³ against the pore-free mixture
    # 1 / (0.8624/4.1163 + 0.1376/1.17) = 3.0572 g/cm³: 34.6 % porosity left.
    assert row["remaining_porosity"] == pytest.approx(0.346, abs=1e-3)


def test_an_address_the_api_does_not_have_answers_json(api, people):
    client = api(people["writer"])
    for path in ("/api/v1/nothing-here/", "/api/v1/lots/not-a-label/", "/api/v1/lots/LOT-1/%0A/"):
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert response.json()["detail"].startswith("There is no /api/v1/")
    assert "end with a slash" in client.get("/api/v1/lots").json()["detail"]


def test_the_schema_declares_the_refusals_of_every_operation(api, people):
    schema = api(people["writer"]).get("/api/v1/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path != "/api/v1/auth/token/":
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "put", "patch"):
                assert "400" in codes, (method, path)
            if method == "delete":
                assert "409" in codes, (method, path)
