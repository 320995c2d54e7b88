"""The diagnoses and fade predictions are recomputed when a dataset or record they read changes,
and only then: counted as the tasks sent to the broker (one per cell and kind of result), then
run here as a worker would, to see the stored result follow."""
import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from analysis.core import synthetic
from analysis.core import synthetic_three_electrode as s3
from analysis.demo.cycling import spec_for
from analysis.demo.three_electrode import REFERENCE_C_RATE
from analysis.models import CellDiagnosis, ElectrodeAnalysis, FadePrediction
from analysis.services import dataset_leave_out
from cells.models import Dataset
from cells.services import cell_update
from samples.services import electrode_update, lot_update
from tests.cells.three_electrode_lab import ingest, labelled, run_queued, upload_not_ingested

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(demo_lab, django_capture_on_commit_callbacks):
    from analysis.demo.cycling import load_demo_cycling_data

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_cycling_data(demo_lab)
    return demo_lab


def labels(lab, *keys):
    return [lab["cells"][key].human_id for key in keys]


def test_a_linked_half_cells_data_recompute_what_reads_it(lab, api, broker, sent_to_broker,
                                                         django_capture_on_commit_callbacks):
    full, three, full_315, sn_half = labels(lab, "full", "three_electrode", "full_315", "sn_half")
    what_reads_the_sn_half_cell = sorted([
        # every balanced cell whose prediction may read it, and the three-electrode cell built from
        # its sheet (its data are candidates for the Sn reference curve): once each
        ("recompute_diagnosis", three), ("recompute_fade_prediction", full),
        ("recompute_fade_prediction", three), ("recompute_fade_prediction", full_315)])
    before = FadePrediction.objects.get(cell=lab["cells"]["full"])
    assert (before.cycle, round(before.predicted_retention, 3)) == (52, 0.625)
    run = lab["runs"]["sn_half"]
    # the Sn half cell's data left out of its history: its summaries and metrics are recomputed ...
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        dataset_leave_out(user=lab["user"], dataset=Dataset.objects.get(run=run), reason="the press leaked")
    assert labelled(queued()) == [("recompute_cell", sn_half)]
    broker.flushdb()
    # ... and what reads them after that
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        run_queued([("analysis.tasks.recompute_cell", f"({lab['cells']['sn_half'].pk},)")])
    assert labelled(queued()) == what_reads_the_sn_half_cell
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    left_out = FadePrediction.objects.get(cell=lab["cells"]["full"])
    # the Sn half cell of the same sheet cycled for the reference curve has two cycles only
    assert left_out.status == "not_predicted" and left_out.negative_half_cell == lab["cells"]["sn_reference"]
    assert "the half cells' histories end at cycle 2, before the reference cycle 3" in left_out.message
    broker.flushdb()
    # the Sn half cell's test again, as far as cycle 30
    table = synthetic.paper_sn_half_cell(cell=spec_for(run.cell, synthetic.sn_half_cell())).table
    rows = np.flatnonzero(table["cycle_index"].to_numpy() <= 30)
    dataset = upload_not_ingested(django_capture_on_commit_callbacks, api(lab["user"]), run, "sn-30.bdf.csv",
                                  synthetic.to_bdf_csv(table.slice(0, int(rows[-1]) + 1)))
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        assert ingest(dataset) == "done"
    assert labelled(queued()) == what_reads_the_sn_half_cell
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    after = FadePrediction.objects.get(cell=lab["cells"]["full"])
    assert after.status == "compared" and after.negative_dataset == dataset
    assert after.cycle == 30 and after.predicted_retention > before.predicted_retention
    assert after.sentence.startswith("At cycle 30, against cycle 3,")
    # the Sn reference curve stays the slowest cycles (C/20), not the new 0.2C data
    analysis = ElectrodeAnalysis.objects.get(dataset__run=lab["runs"]["three_electrode"])
    assert analysis.negative_reference_dataset.run == lab["runs"]["sn_reference"]


def test_new_data_of_a_reference_half_cell_recompute_the_diagnosis(lab, api, sent_to_broker,
                                                                   django_capture_on_commit_callbacks):
    run = lab["runs"]["nco_reference"]
    first = Dataset.objects.get(run=run)
    again = s3.half_cell_reference("positive", capacity_mah=first.cycles.get(cycle_number=1).charge_capacity_mah,
                                   c_rate=REFERENCE_C_RATE, n_cycles=3)
    dataset = upload_not_ingested(django_capture_on_commit_callbacks, api(lab["user"]), run, "again.mpt",
                                  again.to_mpt())
    computed = CellDiagnosis.objects.get(cell=lab["cells"]["three_electrode"]).computed_at
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        ingest(dataset)
    three, full, full_315 = labels(lab, "three_electrode", "full", "full_315")
    assert labelled(queued()) == sorted([
        ("recompute_diagnosis", three), ("recompute_fade_prediction", full),
        ("recompute_fade_prediction", three), ("recompute_fade_prediction", full_315)])
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    diagnosis = CellDiagnosis.objects.get(cell=lab["cells"]["three_electrode"])
    assert diagnosis.computed_at > computed
    analysis = ElectrodeAnalysis.objects.get(dataset__run=lab["runs"]["three_electrode"])
    assert analysis.positive_reference_dataset == dataset  # as slow: the newer
    assert diagnosis.dominant_mode == "loss_of_sodium_inventory"


def test_unrelated_changes_queue_nothing(lab, api, sent_to_broker, django_capture_on_commit_callbacks):
    user = lab["user"]
    run = lab["runs"]["liquid_reference"]
    data = synthetic.paper_nacro2_long_term(cell=spec_for(run.cell, synthetic.nacro2_half_cell(7.0, "95:2:3")))
    coin_data = upload_not_ingested(django_capture_on_commit_callbacks, api(user), run, "coin.bdf.csv",
                                    synthetic.to_bdf_csv(data.table))
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        lot_update(user=user, lot=lab["lots"]["Na2B12H12"], storage_detail="glovebox 2, shelf 1")
        cell_update(user=user, cell=lab["cells"]["full"], notes="Opened after cycling: no delamination.")
        cell_update(user=user, cell=lab["cells"]["three_electrode"], stack_pressure_mpa=60)
        # data of the liquid-electrolyte coin cell: no diagnosis or prediction reads them
        assert ingest(coin_data) == "done"
    assert queued() == []


def test_choosing_a_reference_on_the_cell_recomputes_its_diagnosis_only(lab, sent_to_broker, broker,
                                                                        django_capture_on_commit_callbacks):
    three = lab["cells"]["three_electrode"]
    reference = Dataset.objects.get(run=lab["runs"]["nco_reference"])
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        cell_update(user=lab["user"], cell=three, positive_reference_dataset=reference, positive_reference_cycle=7)
    assert labelled(queued()) == [("recompute_diagnosis", three.human_id)]
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    # a cycle the half cell does not have: said, and the modes that need that electrode not guessed
    analysis = ElectrodeAnalysis.objects.get(dataset__run=lab["runs"]["three_electrode"])
    assert analysis.modes_status == "partial" and analysis.positive_reference_dataset is None
    assert analysis.positive_reference_source == (
        f"{reference.human_id} ({reference.human_id} of {reference.run.cell.human_id}, chosen on {three.human_id}) "
        "gives no reference curve: cycle_number 7 is not a complete cycle of the half cell (complete cycles: [1, 2])")
    sentence = CellDiagnosis.objects.get(cell=three).sentence
    assert "(partial: no reference curve for the positive electrode (NaCrO2), since " in sentence
    assert analysis.positive_reference_source in sentence
    broker.flushdb()
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        cell_update(user=lab["user"], cell=three, positive_reference_cycle=1)
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    analysis.refresh_from_db()
    assert (analysis.positive_reference_dataset, analysis.positive_reference_cycle) == (reference, 1)
    assert analysis.positive_reference_source.endswith(f"chosen on {three.human_id}")
    assert analysis.modes_status == "computed"
    # the reference comes from a half cell of that electrode, and only a three-electrode cell has one
    sn_data = Dataset.objects.get(run=lab["runs"]["sn_reference"])
    with pytest.raises(ValidationError) as error:
        cell_update(user=lab["user"], cell=three, positive_reference_dataset=sn_data)
    assert error.value.message_dict["positive_reference_dataset"] == [
        f"{sn_data.human_id} was measured on {sn_data.run.cell.human_id}, an anode half cell (Sn vs Na-Sn); the "
        "positive electrode's reference curve comes from a cathode half cell (vs Na-Sn)."]
    with pytest.raises(ValidationError) as error:
        cell_update(user=lab["user"], cell=lab["cells"]["full"], negative_reference_dataset=sn_data)
    assert error.value.message_dict["negative_reference_dataset"] == [
        "Only a three-electrode cell is fitted with reference curves."]


def test_the_np_inputs_recompute_the_prediction(lab, sent_to_broker, broker, django_capture_on_commit_callbacks):
    full = lab["cells"]["full"]
    before = FadePrediction.objects.get(cell=full)
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        cell_update(user=lab["user"], cell=full, negative_capacity_for_np_mah_g=700.0)
    assert labelled(queued()) == [("recompute_fade_prediction", full.human_id)]
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    after = FadePrediction.objects.get(cell=full)
    assert after.np_ratio == pytest.approx(before.np_ratio * 700 / 634)
    # a mass of its electrode recomputes the cell's summaries, and its prediction in that same task
    broker.flushdb()
    electrode = full.electrode_in_role("negative").electrode
    with sent_to_broker() as queued, django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            electrode_update(user=lab["user"], electrode=electrode, mass_mg=electrode.mass_mg + 0.05)
            cell_update(user=lab["user"], cell=full, negative_capacity_for_np_mah_g=710.0)
    assert labelled(queued()) == [("recompute_cell", full.human_id)]
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(queued())
    assert FadePrediction.objects.get(cell=full).np_ratio > after.np_ratio * 710 / 700
