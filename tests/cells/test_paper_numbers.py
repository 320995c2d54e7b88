"""The paper's cells, cycled synthetically and uploaded like a cycler would, give back the
paper's numbers through the whole chain: upload, reader, cycles, summary, metrics."""
import pytest

from analysis.core import synthetic
from analysis.demo.cycling import spec_for
from analysis.models import CellMetrics

pytestmark = pytest.mark.django_db


def metrics_after_upload(demo_lab, upload, run_key, cell_key, dataset):
    run = demo_lab["runs"][run_key]
    response = upload(run, f"{run_key}.bdf.csv", synthetic.to_bdf_csv(dataset.table))
    assert response.status_code == 202
    return CellMetrics.objects.get(cell=demo_lab["cells"][cell_key]).values


def value(metrics, name):
    return metrics[name]["value"]


def test_nacro2_half_cell_first_cycle_and_retention(demo_lab, upload):
    cell = demo_lab["cells"]["nco95_70mpa"]
    data = synthetic.paper_nacro2_long_term(70.0, cell=spec_for(cell, synthetic.nacro2_half_cell(7.0, "95:2:3")))
    metrics = metrics_after_upload(demo_lab, upload, "nco95_70mpa", "nco95_70mpa", data)
    assert round(100 * value(metrics, "first_cycle_efficiency"), 1) == 95.2
    assert round(100 * value(metrics, "second_cycle_efficiency"), 1) == 99.0
    assert round(value(metrics, "initial_specific_discharge_capacity"), 0) == 118
    retention = metrics["retention"]
    assert round(100 * retention["value"], 1) == 95.6
    # cycle 102 against the first 0.5C cycle (cycle 3, after two at 0.1C)
    assert (retention["params"]["cycle"], retention["params"]["ref_cycle"]) == (102, 3)
    assert retention["details"]["reference_c_rate"] == 0.5
    assert metrics["loading_check"]["value"] == "ok"


def test_rate_capability_at_5c(demo_lab, upload):
    cell = demo_lab["cells"]["nco97_half"]
    data = synthetic.paper_nacro2_rate_test("97:1:2", cell=spec_for(cell, synthetic.nacro2_half_cell(7.7, "97:1:2")))
    metrics = metrics_after_upload(demo_lab, upload, "nco97_half", "nco97_half", data)
    table = {row["c_rate"]: row["relative_to_reference"] for row in metrics["rate_capability"]["value"]}
    assert round(100 * table[5.0], 1) == 67.4


def test_rate_capability_of_the_95_2_3_electrode(demo_lab, upload):
    cell = demo_lab["cells"]["nco95_3mpa"]
    data = synthetic.paper_nacro2_rate_test("95:2:3", cell=spec_for(cell, synthetic.nacro2_half_cell(7.0, "95:2:3")))
    metrics = metrics_after_upload(demo_lab, upload, "nco95_3mpa", "nco95_3mpa", data)
    table = {row["c_rate"]: row["relative_to_reference"] for row in metrics["rate_capability"]["value"]}
    assert round(100 * table[5.0], 1) == 57.5


def test_sn_half_cell_efficiency_is_desodiation_over_sodiation(demo_lab, upload):
    cell = demo_lab["cells"]["sn_half"]
    data = synthetic.paper_sn_half_cell(cell=spec_for(cell, synthetic.sn_half_cell()))
    metrics = metrics_after_upload(demo_lab, upload, "sn_half", "sn_half", data)
    assert round(100 * value(metrics, "first_cycle_efficiency"), 1) == 84.3
    assert round(100 * value(metrics, "second_cycle_efficiency"), 1) == 97.0
    from analysis.models import CycleSummary

    first = CycleSummary.objects.get(cycle_number=1)
    assert first.coulombic_efficiency == pytest.approx(first.charge_capacity_mah / first.discharge_capacity_mah)


def test_full_cell_energy(demo_lab, upload):
    cell = demo_lab["cells"]["full"]
    data = synthetic.paper_full_cell(cell=spec_for(cell, synthetic.full_cell()))
    metrics = metrics_after_upload(demo_lab, upload, "full", "full", data)
    assert round(100 * value(metrics, "first_cycle_efficiency"), 1) == 72.2
    assert round(100 * value(metrics, "second_cycle_efficiency"), 1) == 95.8
    from analysis.models import CycleSummary

    assert round(100 * CycleSummary.objects.get(cycle_number=2).energy_efficiency, 1) == 84.9
    assert round(value(metrics, "specific_energy_cathode_active_material")) == 282
    assert round(value(metrics, "specific_energy_both_electrode_composites")) == 222
    assert round(100 * metrics["retention"]["value"], 1) == 47.4
