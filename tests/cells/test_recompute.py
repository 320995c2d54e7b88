"""Numbers follow the records: a corrected mass changes the specific capacities and metrics."""
import pytest

from analysis.models import CellMetrics, CycleSummary
from tests.cells.conftest import shared_bytes

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
        electrode.mass_mg = foil_mg + coating_before * 2  # the coating weighed twice as much
        electrode.save()

    after = CycleSummary.objects.get(cycle_number=1)
    assert electrode.active_mass_mg == pytest.approx(2 * active_before)
    assert after.discharge_capacity_mah == pytest.approx(before.discharge_capacity_mah)  # mAh unchanged
    assert after.discharge_specific_capacity_mah_g == pytest.approx(before.discharge_specific_capacity_mah_g / 2)
    metrics = CellMetrics.objects.get(cell=cell)
    assert metrics.initial_specific_discharge_capacity_mah_g == pytest.approx(
        after.discharge_specific_capacity_mah_g)


def test_finishing_a_run_completes_its_last_cycle(demo_lab, upload, django_capture_on_commit_callbacks):
    run = demo_lab["runs"]["full_315"]  # the demo's running test
    lines = shared_bytes("biologic_mpt/gcpl.issue_149.mpt")
    upload(run, "c.mpt", lines)
    last = CycleSummary.objects.order_by("-cycle_number").first()
    assert last.complete is False
    with django_capture_on_commit_callbacks(execute=True):
        run.state = "finished"
        run.save()
    assert CycleSummary.objects.get(cycle_number=last.cycle_number).complete is True
