"""Cells, protocols and runs through the API, with the numbers a researcher checks on them."""
import math

import pytest

from tests.api.test_records_api import make_lot

pytestmark = pytest.mark.django_db

DISC_AREA_CM2 = math.pi * 0.6**2  # 12 mm disc


def make_sheet(client, project, lots, fractions, active_loading_mg_cm2):
    """A sheet whose four loading discs give the wanted active loading (no foil mass)."""
    composite_loading = active_loading_mg_cm2 / (fractions[0] / 100)
    disc_mass = composite_loading * DISC_AREA_CM2
    response = client.post("/api/v1/electrode-sheets/", {
        "project": project.name,
        "components": [
            {"lot": lot, "role": role, "mass_fraction_percent": fraction}
            for lot, role, fraction in zip(lots, ("active", "binder", "conductive_carbon"), fractions)
        ],
        "loading_discs": [{"diameter_mm": 12, "mass_mg": disc_mass} for _ in range(4)],
    }, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def make_electrode(client, project, sheet):
    response = client.post("/api/v1/electrodes/", {"project": project.name, "sheet": sheet}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.fixture
def electrodes(api, people, project):
    """A 95:2:3 NaCrO2 electrode at 7.0 mg/cm², and the full cell's 97:1:2 5.6 and Sn 1.2 mg/cm²."""
    client = api(people["writer"])
    lot = {m: make_lot(api, people["writer"], project, material=m)["id"] for m in ("NaCrO2", "Sn", "PVDF", "Super P")}
    nco_95 = make_sheet(client, project, [lot["NaCrO2"], lot["PVDF"], lot["Super P"]], (95, 2, 3), 7.0)
    nco_97 = make_sheet(client, project, [lot["NaCrO2"], lot["PVDF"], lot["Super P"]], (97, 1, 2), 5.6)
    sn = make_sheet(client, project, [lot["Sn"], lot["PVDF"], lot["Super P"]], (90, 5, 5), 1.2)
    return {name: make_electrode(client, project, sheet) for name, sheet in
            (("nco_95", nco_95), ("nco_97", nco_97), ("sn", sn))}


def test_half_cell_shows_its_1c_current(api, people, project, electrodes):
    response = api(people["writer"]).post("/api/v1/cells/", {
        "project": project.name, "kind": "cathode_half", "stack_pressure_mpa": 70,
        "lower_cutoff_v": 2.10, "upper_cutoff_v": 3.35,
        "parts": [{"role": "positive", "electrode": electrodes["nco_95"]},
                  {"role": "negative", "description": "Na-Sn 3:1 alloy"}],
    }, format="json")
    assert response.status_code == 201, response.json()
    cell = response.json()
    assert cell["id"].startswith("CELL-")
    assert cell["first_half_cycle"] == "charge"
    # 7.0 mg/cm² × 120 mAh/g = 0.84 mA/cm² at 1C, so 0.1C is the paper's 0.084 mA/cm².
    assert 0.1 * cell["one_c_current_density_ma_cm2"] == pytest.approx(0.084, rel=1e-9)
    assert cell["one_c_current_ma"] == pytest.approx(7.0 * DISC_AREA_CM2 * 0.120, rel=1e-9)
    assert cell["np_ratio"] is None


def full_cell(electrodes, project, **extra):
    return {
        "project": project.name, "kind": "full", "lower_cutoff_v": 1.5, "upper_cutoff_v": 3.3,
        "parts": [{"role": "positive", "electrode": electrodes["nco_97"]},
                  {"role": "negative", "electrode": electrodes["sn"]}],
        **extra,
    }


def test_full_cell_np_ratio_on_its_stated_basis(api, people, project, electrodes):
    client = api(people["writer"])
    measured = client.post("/api/v1/cells/", full_cell(
        electrodes, project, np_basis="measured",
        negative_capacity_for_np_mah_g=634, positive_capacity_for_np_mah_g=113), format="json")
    assert measured.status_code == 201, measured.json()
    # 1.2 × 634 / (5.6 × 113) = 1.2023: the paper's N/P 1.20
    assert round(measured.json()["np_ratio"], 2) == 1.20
    # an electrode belongs to one cell: the same cell, restated on the reference basis
    reference = client.patch(f"/api/v1/cells/{measured.json()['id']}/", {"np_basis": "reference"}, format="json").json()
    # on the reference capacities, 1.2 × 847 / (5.6 × 120) = 1.5125
    assert reference["np_basis"] == "reference" and round(reference["np_ratio"], 2) == 1.51


def test_cell_validation_names_the_field(api, people, project, electrodes):
    client = api(people["writer"])
    response = client.post("/api/v1/cells/", full_cell(electrodes, project, np_basis="measured"), format="json")
    assert response.status_code == 400
    required = ["Required when the N/P basis is 'measured': the half cell's reversible capacity."]
    assert response.json() == {"negative_capacity_for_np_mah_g": required, "positive_capacity_for_np_mah_g": required}

    payload = full_cell(electrodes, project, kind="three_electrode")
    response = client.post("/api/v1/cells/", payload, format="json")
    assert response.json() == {"parts": ["This three-electrode full cell (Na reference) needs parts in the roles: "
                                         "reference."]}

    response = client.post("/api/v1/cells/", full_cell(electrodes, project, lower_cutoff_v=3.3, upper_cutoff_v=1.5),
                           format="json")
    assert response.json() == {"lower_cutoff_v": ["The lower cut-off (3.3 V) must be below the upper cut-off (1.5 V)."]}


def test_protocol_and_run_on_a_channel(api, people, project, electrodes):
    client = api(people["writer"])
    protocol = client.post("/api/v1/protocols/", {
        "project": project.name, "name": "2 × 0.1C then 100 × 0.5C",
        "steps": [
            {"order": 1, "cycle_count": 2, "charge_c_rate": 0.1, "discharge_c_rate": 0.1,
             "lower_cutoff_v": 2.1, "upper_cutoff_v": 3.35},
            {"order": 2, "cycle_count": 100, "charge_c_rate": 0.5, "discharge_c_rate": 0.5,
             "lower_cutoff_v": 2.1, "upper_cutoff_v": 3.35},
        ],
    }, format="json")
    assert protocol.status_code == 201, protocol.json()
    assert protocol.json()["cycle_count"] == 102

    lab = api(people["lab_manager"])
    cycler = lab.post("/api/v1/cyclers/", {"name": "VMP3-1", "vendor": "biologic"}, format="json")
    assert cycler.status_code == 201, cycler.json()
    channel = lab.post("/api/v1/channels/", {"cycler": "VMP3-1", "number": "3"}, format="json").json()
    refused = client.post("/api/v1/cyclers/", {"name": "mine", "vendor": "neware"}, format="json")
    assert refused.status_code == 403

    cell = client.post("/api/v1/cells/", full_cell(electrodes, project), format="json").json()
    run = client.post("/api/v1/cycling-runs/", {
        "project": project.name, "cell": cell["id"], "channel": channel["id"], "protocol": protocol.json()["id"],
        "state": "running",
    }, format="json")
    assert run.status_code == 201, run.json()
    assert run.json()["id"].startswith("RUN-")
    found = client.get("/api/v1/cycling-runs/", {"cycler": "VMP3-1", "state": "running"}).json()
    assert [r["id"] for r in found["results"]] == [run.json()["id"]]
    # The cell is in use by a run: it cannot be deleted.
    assert client.delete(f"/api/v1/cells/{cell['id']}/").status_code == 409


def test_protocol_needs_sensible_steps(api, people, project):
    response = api(people["writer"]).post("/api/v1/protocols/", {
        "project": project.name, "name": "bad",
        "steps": [{"order": 1, "cycle_count": 1, "charge_c_rate": 0.1, "discharge_c_rate": 0.1,
                   "lower_cutoff_v": 3.35, "upper_cutoff_v": 2.1}],
    }, format="json")
    assert response.status_code == 400
    assert response.json() == {"steps": ["Step 1: The lower cut-off (3.35 V) must be below the upper cut-off (2.1 V)."]}


def test_cells_filter_by_what_they_are_made_of(api, people, project, electrodes):
    client = api(people["writer"])
    client.post("/api/v1/cells/", full_cell(electrodes, project), format="json")
    client.post("/api/v1/cells/", {
        "project": project.name, "kind": "cathode_half", "stack_pressure_mpa": 3,
        "parts": [{"role": "positive", "electrode": electrodes["nco_95"]},
                  {"role": "negative", "description": "Na-Sn"}],
    }, format="json")
    assert client.get("/api/v1/cells/", {"electrode": electrodes["sn"]}).json()["count"] == 1
    assert client.get("/api/v1/cells/", {"stack_pressure_mpa__lte": 10}).json()["count"] == 1
    assert client.get("/api/v1/cells/", {"kind": "full"}).json()["count"] == 1
