"""Reading the results: per-cycle summaries, the cell's metrics, the data of a cycle range."""
import pytest

from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingested(demo_lab, upload):
    response = upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    return response.json()["dataset"]


def test_per_cycle_summary(api, demo_user, ingested):
    body = api(demo_user).get(f"/api/v1/datasets/{ingested}/cycles/", {"complete": "true"}).json()
    assert body["count"] == 5
    first = body["results"][0]
    assert first["cycle_number"] == 1
    assert first["coulombic_efficiency"] == pytest.approx(first["discharge_capacity_mah"] / first["charge_capacity_mah"])
    assert first["energy_efficiency"] == pytest.approx(first["discharge_energy_mwh"] / first["charge_energy_mwh"])


def test_cell_metrics(api, demo_user, demo_lab, ingested):
    cell = demo_lab["cells"]["nco95_70mpa"]
    body = api(demo_user).get(f"/api/v1/cells/{cell.human_id}/metrics/").json()
    assert body["dataset"] == ingested
    summary = api(demo_user).get(f"/api/v1/datasets/{ingested}/cycles/").json()["results"]
    assert body["first_cycle_efficiency"] == pytest.approx(summary[0]["coulombic_efficiency"])
    assert body["values"]["first_cycle_efficiency"]["definition"]
    # 0.053 mAh on 7.9 mg NaCrO2 is far below 120 mAh/g: the loading check flags the cell.
    assert body["loading_check"] == "suspect"
    other = demo_lab["cells"]["sn_half"]
    missing = api(demo_user).get(f"/api/v1/cells/{other.human_id}/metrics/")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (f"{other.human_id} has no metrics yet: no cycling dataset of it has "
                                        "been processed.")


def test_cycle_data_down_sampled(api, demo_user, ingested):
    client = api(demo_user)
    body = client.get(f"/api/v1/datasets/{ingested}/data/",
                      {"cycles": "2-3", "points": 100, "columns": "test_time_s,voltage_v"}).json()
    assert body["points"] <= 100 < body["rows"]
    assert set(body["columns"]) == {"test_time_s", "voltage_v", "cycle_number"}
    assert set(body["columns"]["cycle_number"]) == {2, 3}
    times = body["columns"]["test_time_s"]
    assert times == sorted(times)
    everything = client.get(f"/api/v1/datasets/{ingested}/data/", {"cycles": "2"}).json()
    assert everything["points"] == everything["rows"]


def test_cycle_data_errors_name_the_parameter(api, demo_user, ingested):
    client = api(demo_user)
    wrong = client.get(f"/api/v1/datasets/{ingested}/data/", {"cycles": "7-9"})
    assert wrong.status_code == 400 and wrong.json() == {"cycles": [f"{ingested} has no cycles 7-9; it has 1-5."]}
    reversed_ = client.get(f"/api/v1/datasets/{ingested}/data/", {"cycles": "3-2"})
    assert reversed_.json() == {"cycles": ["The range 3-2 ends before it starts."]}
    column = client.get(f"/api/v1/datasets/{ingested}/data/", {"columns": "voltage_v,flux"})
    assert column.status_code == 400 and column.json()["columns"][0].startswith("Not in this dataset: flux.")
    points = client.get(f"/api/v1/datasets/{ingested}/data/", {"points": "1"})
    assert points.json() == {"points": ["Ensure this value is greater than or equal to 2."]}


def test_a_canonical_table_gone_from_storage_is_a_404_that_says_so(api, demo_user, ingested):
    from cells.models import Dataset

    dataset = Dataset.objects.get(human_id=ingested)
    dataset.parquet_file.storage.delete(dataset.parquet_file.name)
    response = api(demo_user).get(f"/api/v1/datasets/{ingested}/data/")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("upload the raw file again.")
