"""Numbers follow the records: a corrected mass changes the specific capacities and metrics."""
import numpy as np
import pytest

from analysis.core import synthetic
from analysis.models import CellMetrics, CycleSummary
from cells.services import cycling_run_update
from samples.services import electrode_update
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
