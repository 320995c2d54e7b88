"""Numbers follow the records: a corrected mass changes the specific capacities and metrics."""
import numpy as np
import pytest
from django.db import transaction

from analysis.core import synthetic
from analysis.models import CellMetrics, CycleSummary
from cells.services import cycling_run_update
from samples.services import electrode_sheet_update, electrode_update
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def test_changing_an_electrode_mass_recomputes_its_cells(demo_lab, upload, django_capture_on_commit_callbacks):
    cell = demo_lab["cells"]["nco95_70mpa"]
    upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    before = CycleSummary.objects.get(cycle_number=1)
    electrode = cell.working_electrode
    active_before = electrode.active_mass_mg

    foil_mg = electrode.sheet.current_collector_areal_mass_mg_cm2 * electrode.area_cm2
    coating_before = electrode.coating_mass_mg
    with django_capture_on_commit_callbacks(execute=True):
        # the coating weighed twice as much
        electrode = electrode_update(user=None, electrode=electrode, mass_mg=foil_mg + coating_before * 2)

    after = CycleSummary.objects.get(cycle_number=1)
    assert electrode.active_mass_mg == pytest.approx(2 * active_before)
    assert after.discharge_capacity_mah == pytest.approx(before.discharge_capacity_mah)  # mAh unchanged
    assert after.discharge_specific_capacity_mah_g == pytest.approx(before.discharge_specific_capacity_mah_g / 2)
    metrics = CellMetrics.objects.get(cell=cell)
    assert metrics.initial_specific_discharge_capacity_mah_g == pytest.approx(
        after.discharge_specific_capacity_mah_g)


def test_finishing_a_run_completes_its_last_cycle(demo_lab, upload, django_capture_on_commit_callbacks):
    run = demo_lab["runs"]["full_315"]  # the demo's running test
    table = synthetic.paper_full_cell().table
    # The file as the cycler wrote it so far: it ends during the third cycle's discharge.
    third_discharge = np.flatnonzero((table["cycle_index"].to_numpy() == 3) & (table["current_ma"].to_numpy() < 0))
    upload(run, "full.bdf.csv", synthetic.to_bdf_csv(table.slice(0, int(third_discharge[-1]) + 1)))
    last = CycleSummary.objects.order_by("-cycle_number").first()
    assert (last.cycle_number, last.complete) == (3, False)
    with django_capture_on_commit_callbacks(execute=True):
        cycling_run_update(user=None, run=run, state="finished")
    assert CycleSummary.objects.get(cycle_number=last.cycle_number).complete is True


# --- once per change, only for what results are computed from ------------------------------------

RECOMPUTE = "analysis.tasks.recompute_cell"


@pytest.fixture
def cycled(demo_lab, upload):
    """The 70 MPa NaCrO2 half cell with a processed file."""
    upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    return demo_lab["cells"]["nco95_70mpa"]


def test_one_patch_of_a_cells_two_parts_queues_one_recomputation(api, demo_user, demo_lab, cycled, sent_to_broker,
                                                                  django_capture_on_commit_callbacks):
    spare = demo_lab["electrodes"]["NCO-95-d"]  # punched from the same sheet, in no cell
    alloy = demo_lab["alloy"]
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        response = api(demo_user).patch(f"/api/v1/cells/{cycled.human_id}/", {"parts": [
            {"role": "positive", "electrode": spare.human_id},
            {"role": "negative", "alloy_batch": alloy.human_id, "mass_mg": 35, "description": "Na-Sn 3:1 powder"},
        ]}, format="json")
        assert response.status_code == 200, response.json()
    assert queued() == [(RECOMPUTE, f"({cycled.pk},)")]


def test_a_change_no_result_depends_on_queues_nothing(api, demo_user, demo_lab, cycled, sent_to_broker,
                                                      django_capture_on_commit_callbacks):
    client = api(demo_user)
    lot = demo_lab["lots"]["NaCrO2"]
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        assert client.patch(f"/api/v1/cells/{cycled.human_id}/", {"notes": "moved to chamber B"},
                            format="json").status_code == 200
        assert client.patch(f"/api/v1/lots/{lot.human_id}/", {"storage_detail": "shelf 4"},
                            format="json").status_code == 200
        negative = {"role": "negative", "alloy_batch": demo_lab["alloy"].human_id, "mass_mg": 45,
                    "description": "Na-Sn 3:1 powder"}  # a part's mass taken from stock feeds no number
        positive = {"role": "positive", "electrode": cycled.working_electrode.human_id}
        assert client.patch(f"/api/v1/cells/{cycled.human_id}/", {"parts": [positive, negative]},
                            format="json").status_code == 200
    assert queued() == []


def test_an_electrode_mass_queues_each_of_its_cells_once(api, demo_user, cycled, sent_to_broker,
                                                         django_capture_on_commit_callbacks):
    electrode = cycled.working_electrode
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():  # two changes, one transaction: one recomputation
            electrode_update(user=demo_user, electrode=electrode, mass_mg=electrode.mass_mg + 0.1)
            electrode_update(user=demo_user, electrode=electrode, mass_mg=electrode.mass_mg + 0.2)
    assert queued() == [(RECOMPUTE, f"({cycled.pk},)")]


def test_a_sheet_s_loading_discs_queue_the_cells_of_its_electrodes(demo_user, demo_lab, upload, sent_to_broker,
                                                                   django_capture_on_commit_callbacks):
    cells = [demo_lab["cells"][key] for key in ("nco95_70mpa", "nco95_3mpa")]
    for cell, key in zip(cells, ("nco95_70mpa", "nco95_3mpa")):
        upload(demo_lab["runs"][key], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    sheet = demo_lab["sheets"]["NCO-95"]
    discs = [{"diameter_mm": 12.0, "mass_mg": disc.mass_mg + 0.05} for disc in sheet.loading_discs.all()]
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        electrode_sheet_update(user=demo_user, sheet=sheet, loading_discs=discs)
    assert queued() == sorted((RECOMPUTE, f"({cell.pk},)") for cell in cells)
