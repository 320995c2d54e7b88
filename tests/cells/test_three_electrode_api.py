"""The demo lab's three-electrode story through the API: the three-electrode cell says
anode-driven sodium loss with no overpotential build-up, and the full cell built from the same
sheets shows that diagnosis beside its own fade and the fade its half cells predict; the
per-electrode table, the modes and the dQ/dE and dE/dQ curves of a dataset."""
import pytest

from analysis.models import CellDiagnosis, FadePrediction
from cells.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab_with_data(demo_lab, django_capture_on_commit_callbacks):
    from analysis.demo.cycling import load_demo_cycling_data

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_cycling_data(demo_lab)
    return demo_lab


def test_the_demo_three_electrode_cell_tells_the_papers_story(lab_with_data, api, demo_user):
    three = lab_with_data["cells"]["three_electrode"]
    body = api(demo_user).get(f"/api/v1/cells/{three.human_id}/diagnosis/").json()
    diagnosis = body["diagnosis"]
    assert diagnosis["sentence"].startswith("Anode-driven sodium loss (at the Sn, 1.0 % of each charge) drives the "
                                            "fade: loss of sodium inventory 16.")
    assert "no overpotential build-up" in diagnosis["sentence"]
    assert diagnosis["dominant_mode"]["mode"] == "loss_of_sodium_inventory"
    assert diagnosis["dominant_mode"]["total"] == pytest.approx(0.167, abs=0.01)  # the injected 16.7 % by cycle 20
    assert diagnosis["dominant_mode"]["by_cycle"] == 20
    assert diagnosis["sodium_lost_at"] == "negative"
    assert diagnosis["overpotential"]["grew"] is False and diagnosis["overpotential"]["threshold_v"] == 0.010
    assert abs(diagnosis["overpotential"]["negative"]["rise_v"]) < 0.002
    assert diagnosis["limiting_electrode"]["charge"]["electrode"] == "positive"
    assert diagnosis["limiting_electrode"]["discharge"]["electrode"] == "negative"
    assert diagnosis["consistency_check"] == "passed" and diagnosis["modes_status"] == "computed"
    linked = {link["cell"] for link in body["linked_full_cells"]}
    assert linked == {lab_with_data["cells"]["full"].human_id, lab_with_data["cells"]["full_315"].human_id}


def test_the_full_cell_shows_the_diagnosis_beside_its_fade_and_the_prediction(lab_with_data, api, demo_user):
    full, three = lab_with_data["cells"]["full"], lab_with_data["cells"]["three_electrode"]
    body = api(demo_user).get(f"/api/v1/cells/{full.human_id}/diagnosis/").json()
    (link,) = body["linked_three_electrode_cells"]
    assert link["cell"] == three.human_id
    relations = {(item["relation"], item["record"]) for item in link["shared"]}
    positive_sheet = full.electrode_in_role("positive").electrode.sheet.human_id
    negative_sheet = full.electrode_in_role("negative").electrode.sheet.human_id
    batch = full.separator_batch.human_id
    run = lab_with_data["infiltration_runs"][1].human_id
    assert relations == {("positive electrode sheet", positive_sheet), ("negative electrode sheet", negative_sheet),
                         ("infiltration run", run), ("electrolyte batch", batch)}
    assert link["diagnosis"]["sentence"] == CellDiagnosis.objects.get(cell=three).sentence
    assert link["diagnosis"]["sentence"].startswith("Anode-driven sodium loss")

    prediction = body["fade_prediction"]
    # the paper's full cell kept 47.4 % after 50 cycles at 0.2C (cycle 52 against cycle 3); its half
    # cells' coulombic efficiencies and N/P 1.20 predict 62.5 %: 15.1 points more fade than they explain
    assert prediction["status"] == "compared"
    assert (prediction["cycle"], prediction["reference_cycle"]) == (52, 3)
    assert prediction["measured_retention"] == pytest.approx(0.474, abs=0.001)
    assert prediction["predicted_retention"] == pytest.approx(0.625, abs=0.001)
    assert prediction["difference_pp"] == pytest.approx(-15.1, abs=0.1)
    assert prediction["np_ratio"] == pytest.approx(1.20, abs=0.005) and prediction["np_basis"] == "measured"
    assert prediction["sentence"] == (
        "At cycle 52, against cycle 3, the half cells' coulombic efficiencies and N/P 1.20 predict 62.5 % retention "
        "and the full cell kept 47.4 %: the full cell faded 15.1 points more than its half cells predict (they "
        "account for 71 % of its loss).")
    half_cells = prediction["half_cells"]
    # NaCrO2: no long-cycled half cell from the full cell's sheet, one from its NaCrO2 lot; Sn: its sheet
    assert half_cells["positive"]["cell"] == lab_with_data["cells"]["nco95_70mpa"].human_id
    assert "its NaCrO2 comes from" in half_cells["positive"]["why"] and "102 cycles" in half_cells["positive"]["why"]
    assert half_cells["negative"]["cell"] == lab_with_data["cells"]["sn_half"].human_id
    assert f"built from {negative_sheet}" in half_cells["negative"]["why"]

    table = api(demo_user).get(f"/api/v1/cells/{full.human_id}/fade-prediction/").json()
    assert table["count"] == 52
    rows = {row["cycle_number"]: row for row in table["results"]}
    assert rows[3]["predicted_retention"] == pytest.approx(1.0) and rows[3]["measured_retention"] == pytest.approx(1.0)
    assert rows[1]["measured_retention"] is None  # before the reference cycle
    assert rows[52]["difference"] == pytest.approx(-0.151, abs=0.001)
    assert rows[1]["negative_coulombic_efficiency"] == pytest.approx(0.843, abs=0.001)  # the Sn's first cycle


def test_the_cell_pages_point_to_the_diagnosis(lab_with_data, client, demo_user):
    client.force_login(demo_user)
    for key in ("full", "three_electrode"):
        label = lab_with_data["cells"][key].human_id
        assert f'href="/api/v1/cells/{label}/diagnosis/"' in client.get(f"/cells/{label}/").content.decode()
    half = lab_with_data["cells"]["sn_half"].human_id
    assert "/diagnosis/" not in client.get(f"/cells/{half}/").content.decode()


def test_the_per_electrode_table_modes_and_curves_of_a_dataset(lab_with_data, api, demo_user):
    client = api(demo_user)
    dataset = Dataset.objects.get(run=lab_with_data["runs"]["three_electrode"])
    base = f"/api/v1/datasets/{dataset.human_id}"
    table = client.get(f"{base}/electrodes/").json()
    assert table["count"] == 40  # 20 cycles × 2 electrodes
    assert table["analysis"]["consistency_check"]["status"] == "passed"
    assert table["analysis"]["references"]["negative"]["dataset"] == Dataset.objects.get(
        run=lab_with_data["runs"]["sn_reference"]).human_id
    some = client.get(f"{base}/electrodes/?cycles=1,19-20&electrode=negative").json()
    assert [(r["cycle_number"], r["electrode"]) for r in some["results"]] == [
        (1, "negative"), (19, "negative"), (20, "negative")]
    assert some["results"][0]["charge_branch"] == "sodiation"
    ranges = client.get(f"{base}/electrodes/ranges/?cycles=1&electrode=positive").json()
    assert {r["range_name"] for r in ranges["results"]} == {"first_plateau", "upper_region"}

    modes = client.get(f"{base}/degradation-modes/?cycles=20").json()
    (row,) = modes["results"]
    assert modes["status"] == "computed" and modes["reference_cycle"] == 1
    assert row["loss_of_sodium_inventory"] == pytest.approx(0.167, abs=0.01)
    assert len(row["fits"]) == 4 and {f["status"] for f in row["fits"]} == {"fitted"}
    assert all(f["rmse_v"] < 0.002 and "cycle 2" in f["reference_source"] for f in row["fits"])

    curves = client.get(f"{base}/electrodes/curves/?kind=dq_de&cycles=1,20&electrodes=negative&points=100").json()
    assert curves["method"] == "potential_bins_gauss" and curves["params"]["fwhm_v"] == 0.010
    assert [(c["cycle_number"], c["half_cycle"]) for c in curves["curves"]] == [
        (1, "charge"), (1, "discharge"), (20, "charge"), (20, "discharge")]
    assert all(c["points"] <= 100 < c["rows"] and len(c["potential_v"]) == c["points"] for c in curves["curves"])
    de_dq = client.get(f"{base}/electrodes/curves/?kind=de_dq&cycles=2&step_fraction=0.01").json()
    assert {c["electrode"] for c in de_dq["curves"]} == {"positive", "negative"}
    assert de_dq["params"]["step_fraction"] == 0.01 and "capacity_mah" in de_dq["curves"][0]


def test_bad_queries_are_named_and_other_projects_are_not_found(lab_with_data, api, demo_user, people):
    client = api(demo_user)
    dataset = Dataset.objects.get(run=lab_with_data["runs"]["three_electrode"])
    base = f"/api/v1/datasets/{dataset.human_id}"
    answer = client.get(f"{base}/electrodes/curves/?kind=dq_de&step_fraction=0.01")
    assert answer.status_code == 400
    assert "step_fraction is a parameter of the other kind of curve" in answer.json()["step_fraction"][0]
    answer = client.get(f"{base}/electrodes/?cycles=3-1")
    assert answer.status_code == 400 and answer.json()["cycles"] == ["The range 3-1 ends before it starts."]
    answer = client.get(f"{base}/electrodes/curves/?electrodes=reference")
    assert answer.status_code == 400 and "not reference" in answer.json()["electrodes"][0]
    answer = client.get(f"{base}/electrodes/curves/?cycles=99")
    assert answer.status_code == 400 and answer.json()["cycles"] == [f"{dataset.human_id} has no such cycles."]
    answer = client.get(f"{base}/electrodes/curves/?kind=dq_de&fwhm_v=-1")
    assert answer.status_code == 400 and "fwhm_v must be zero or a positive number" in answer.json()["detail"][0]
    # a half cell is not diagnosed; its data are not analysed per electrode
    half = lab_with_data["cells"]["sn_half"]
    answer = client.get(f"/api/v1/cells/{half.human_id}/diagnosis/")
    assert answer.status_code == 404 and "diagnoses are made for three-electrode cells" in answer.json()["detail"]
    half_data = Dataset.objects.get(run=lab_with_data["runs"]["sn_half"])
    answer = client.get(f"/api/v1/datasets/{half_data.human_id}/electrodes/")
    assert answer.status_code == 404 and "only a three-electrode cell's data" in answer.json()["detail"]
    # outsiders see nothing
    outsider = api(people["outsider"])
    three = lab_with_data["cells"]["three_electrode"]
    for url in (f"/api/v1/cells/{three.human_id}/diagnosis/", f"{base}/electrodes/", f"{base}/degradation-modes/",
                f"{base}/electrodes/curves/", f"/api/v1/cells/{three.human_id}/fade-prediction/"):
        assert outsider.get(url).status_code == 404, url
    assert FadePrediction.objects.filter(cell=three).exists()


def test_the_schema_documents_the_three_electrode_endpoints(api, people):
    paths = api(people["reader"]).get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    documented = {path for path in paths if path.endswith(("electrodes/", "ranges/", "curves/", "degradation-modes/",
                                                           "diagnosis/", "fade-prediction/"))}
    assert documented >= {"/api/v1/datasets/{human_id}/electrodes/", "/api/v1/datasets/{human_id}/electrodes/ranges/",
                          "/api/v1/datasets/{human_id}/electrodes/curves/",
                          "/api/v1/datasets/{human_id}/degradation-modes/", "/api/v1/cells/{human_id}/diagnosis/",
                          "/api/v1/cells/{human_id}/fade-prediction/"}
    curves = paths["/api/v1/datasets/{human_id}/electrodes/curves/"]["get"]
    names = {parameter["name"] for parameter in curves["parameters"]}
    assert {"kind", "cycles", "electrodes", "points", "fwhm_v", "step_fraction"} <= names
