"""Lineage: where a record came from and what was made from it, through every process of the lab."""
import pytest

from analysis.demo.cycling import load_demo_cycling_data
from analysis.demo.lab import load_demo_lab
from cells.selectors import record_lineage

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(django_capture_on_commit_callbacks):
    lab = load_demo_lab()
    with django_capture_on_commit_callbacks(execute=True):
        lab["datasets"] = load_demo_cycling_data(lab)
    return lab


def test_a_lot_leads_down_to_the_datasets_measured_on_its_cells(lab, django_assert_max_num_queries):
    b12 = lab["lots"]["Na2B12H12"]
    with django_assert_max_num_queries(120):  # one query per relation and level, however many records
        lineage = record_lineage(b12)
    reached = {record.human_id for record in lineage.records}
    batch, solution = lab["electrolyte_batch"], lab["solution"]
    # Na2B12H12 → electrolyte batch → separators of the cells; → solution → infiltration runs → electrodes
    assert {batch.human_id, solution.human_id} <= reached
    assert {run.human_id for run in lab["infiltration_runs"]} <= reached
    cell = lab["cells"]["nco95_70mpa"]
    assert cell.human_id in reached
    assert {dataset.human_id for dataset in lab["datasets"]} <= reached
    relations = {(e.source.human_id, e.target.human_id, e.relation) for e in lineage.downstream}
    assert (b12.human_id, batch.human_id, "precursor") in relations
    assert (batch.human_id, cell.human_id, "separator") in relations
    assert not lineage.upstream  # bought, not made


def test_a_cell_leads_up_to_its_lots(lab):
    cell = lab["cells"]["full"]
    up = {(e.source.human_id, e.target.human_id, e.relation) for e in record_lineage(cell).upstream}
    positive, negative = lab["electrodes"]["NCO-97-FC-a"], lab["electrodes"]["SN-90-b"]
    sheet = lab["sheets"]["NCO-97-FC"]
    nacro2, cr2o3 = lab["lots"]["NaCrO2"], lab["lots"]["Cr2O3"]
    assert (positive.human_id, cell.human_id, "electrode") in up
    assert (negative.human_id, cell.human_id, "electrode") in up
    assert (sheet.human_id, positive.human_id, "punched from") in up
    assert (nacro2.human_id, sheet.human_id, "slurry component") in up
    assert (cr2o3.human_id, nacro2.human_id, "made from") in up  # the in-house synthesis
    run = next(r for r in lab["infiltration_runs"] if r.electrodes.filter(electrode=positive).exists())
    assert (run.human_id, positive.human_id, "infiltrated in") in up
    assert (lab["solution"].human_id, run.human_id, "solution") in up


def test_the_lineage_api_shows_only_the_users_projects(api, lab, people):
    cell = lab["cells"]["full"]
    response = api(lab["user"]).get(f"/api/v1/lineage/{cell.human_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["record"]["id"] == cell.human_id
    assert {"from": lab["electrodes"]["SN-90-b"].human_id, "to": cell.human_id, "relation": "electrode"} in body["upstream"]
    assert any(edge["relation"] == "measured in" for edge in body["downstream"])
    assert api(people["outsider"]).get(f"/api/v1/lineage/{cell.human_id}/").status_code == 404
    assert api(lab["user"]).get("/api/v1/lineage/CELL-9999/").status_code == 404
