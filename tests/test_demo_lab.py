"""The demo lab (analysis/demo/lab.py, manage.py load_demo_lab): the paper's lab in an empty database,
with the paper's numbers coming out of the records."""
import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from cells.models import (
    Cell,
    CellPart,
    Channel,
    Cycler,
    CyclingRun,
    Protocol,
    ProtocolStep,
)
from eln.models import HumanIdCounter, Project, ProjectMembership
from eln.security.models import ApiToken, hash_key
from analysis.demo import lab as demo
from samples import selectors
from samples.models import (
    AlloyBatch,
    AlloyBatchInput,
    ConductivityMeasurement,
    Electrode,
    ElectrodeSheet,
    ElectrolyteBatch,
    ElectrolyteBatchInput,
    ElectrolyteBatchStep,
    InfiltratedElectrode,
    InfiltrationDryingStep,
    InfiltrationRun,
    InfiltrationSolution,
    InfiltrationSolutionInput,
    LotInput,
    LoadingDisc,
    LotTreatment,
    PrecursorLot,
    SheetComponent,
    StockMovement,
)

EXPECTED_COUNTS = {
    Project: 1, ProjectMembership: 1, ApiToken: 1,
    PrecursorLot: 11, LotTreatment: 1,
    ElectrolyteBatch: 1, ElectrolyteBatchInput: 2, ElectrolyteBatchStep: 3, ConductivityMeasurement: 4,
    InfiltrationSolution: 1, InfiltrationSolutionInput: 2,
    ElectrodeSheet: 4, SheetComponent: 12, LoadingDisc: 16, Electrode: 15,
    InfiltrationRun: 2, InfiltrationDryingStep: 6, InfiltratedElectrode: 14,
    AlloyBatch: 1, AlloyBatchInput: 2,
    Cycler: 2, Channel: 16, Protocol: 8, ProtocolStep: 18,
    Cell: 10, CellPart: 21, CyclingRun: 11,
    # NaCrO2 synthesis 2, electrolyte batch 3, solution 3, sheets 4 × 4, alloy 2, Na cell parts 2;
    # from what the lab made: the pellet 1, separators 9, dips 2, Na-Sn parts 6
    StockMovement: 46,
}


@pytest.fixture
def lab(db):
    return demo.load_demo_lab()


def _sheet(composition, active_loading):
    for sheet in ElectrodeSheet.objects.all():
        if sheet.composition_label == composition and abs(sheet.active_loading_mg_cm2 - active_loading) < 0.1:
            return sheet
    raise AssertionError(f"no {composition} sheet at {active_loading} mg/cm²")


def test_load_creates_each_kind_of_record(lab):
    assert {model.__name__: model.objects.count() for model in EXPECTED_COUNTS} == {
        model.__name__: count for model, count in EXPECTED_COUNTS.items()
    }
    kinds = sorted(Cell.objects.values_list("kind", flat=True))
    assert kinds == sorted(["cathode_half"] * 4 + ["anode_half"] * 2 + ["full", "full", "three_electrode",
                            "liquid_reference"])
    # every project record is in the demo project and made by the demo user
    project = Project.objects.get(name=demo.PROJECT_NAME)
    for model in apps.get_models():
        if "project" in [f.name for f in model._meta.fields] and model is not ProjectMembership:
            assert set(model.objects.values_list("project", flat=True)) <= {project.pk}, model.__name__
    assert set(PrecursorLot.objects.values_list("created_by__username", flat=True)) == {"demo"}
    # the load went into the history with its author
    assert PrecursorLot.history.filter(history_user__username="demo").count() == 11


def test_demo_user_is_a_superuser_and_manager_of_the_project(lab):
    user = get_user_model().objects.get(username="demo")
    assert user.is_superuser and user.is_staff and user.check_password("demo")
    membership = ProjectMembership.objects.get(user=user)
    assert membership.project.name == "Closo-borate infiltration (demo)"
    assert membership.role == ProjectMembership.Role.MANAGER
    assert ApiToken.objects.get(user=user) == lab["token"]
    assert lab["token"].key_hash == hash_key(lab["token_key"])


def test_lots_record_suppliers_states_and_the_drying_of_na2b10h10(lab):
    lots = lab["lots"]
    assert (lots["Na2B12H12"].supplier, lots["Na2B12H12"].state) == ("Katchem", "as_received")
    assert (lots["Na2B10H10"].supplier, lots["Na2B10H10"].state) == ("Katchem", "dried")
    drying = lots["Na2B10H10"].treatments.get()
    assert (drying.temperature_c, drying.duration_h, drying.pressure_mbar) == (180, 6, 1e-3)
    assert lots["NaCrO2"].supplier == "in-house" and "900 °C" in lots["NaCrO2"].notes
    assert lots["Sn"].supplier == "Sigma-Aldrich" and lots["Sn"].purity_percent == 99
    assert lots["PVDF"].supplier == "Kureha"
    assert all(lot.lot_number and lot.storage_place for lot in lots.values())


def test_full_cell_is_balanced_to_np_1_20_on_the_measured_basis(lab):
    full = Cell.objects.get(kind=Cell.Kind.FULL, upper_cutoff_v=3.3)
    assert full.np_basis == Cell.NpBasis.MEASURED
    assert (full.negative_capacity_for_np_mah_g, full.positive_capacity_for_np_mah_g) == (634, 113)
    assert round(full.np_ratio, 2) == 1.20
    # its electrodes are the paper's 5.6 mg/cm² NaCrO2 97:1:2 and 1.2 mg/cm² Sn 90:5:5
    positive = full.electrode_in_role(CellPart.Role.POSITIVE).electrode
    negative = full.electrode_in_role(CellPart.Role.NEGATIVE).electrode
    assert positive.sheet.composition_label == "97:1:2" and round(positive.active_loading_mg_cm2, 1) == 5.6
    assert negative.sheet.composition_label == "90:5:5" and round(negative.active_loading_mg_cm2, 1) == 1.2
    for cell in Cell.objects.filter(kind__in=[Cell.Kind.FULL, Cell.Kind.THREE_ELECTRODE]):
        assert round(cell.np_ratio, 2) == 1.20, cell.name


def test_sheet_loadings_and_the_current_density_at_0_1c(lab):
    sheet = _sheet("95:2:3", 7.0)
    assert sheet.active_loading_mg_cm2 == pytest.approx(7.0, abs=0.01)
    assert sheet.loading_discs.count() == 4
    assert _sheet("97:1:2", 7.7).active_loading_mg_cm2 == pytest.approx(7.7, abs=0.01)
    assert _sheet("97:1:2", 5.6).active_loading_mg_cm2 == pytest.approx(5.6, abs=0.01)
    assert _sheet("90:5:5", 1.2).active_loading_mg_cm2 == pytest.approx(1.2, abs=0.01)

    half_cell = Cell.objects.get(kind=Cell.Kind.CATHODE_HALF, stack_pressure_mpa=70,
                                 parts__electrode__sheet=sheet)
    assert round(0.1 * half_cell.one_c_current_density_ma_cm2, 3) == 0.084  # paper: 0.084 mA/cm² at 0.1C


def test_casting_porosities_are_near_80_percent(lab):
    porosities = [sheet.casting_porosity for sheet in ElectrodeSheet.objects.all()]
    assert len(porosities) == 4
    assert all(0.75 <= p <= 0.85 for p in porosities), porosities


def test_infiltration_uptakes_and_remaining_porosities(lab):
    infiltrated = list(InfiltratedElectrode.objects.select_related("electrode__sheet", "run__solution"))
    assert len(infiltrated) == 14
    uptakes = [i.measured_uptake_fraction for i in infiltrated]
    remaining = [i.remaining_porosity for i in infiltrated]
    assert all(0.15 <= u <= 0.17 for u in uptakes), uptakes
    assert all(0.30 <= p <= 0.38 for p in remaining), remaining
    # measured above the pore-filling estimate: salt also coats the surface (paper, section 2)
    assert all(i.measured_uptake_fraction > i.expected_uptake_fraction for i in infiltrated)
    assert all(i.pressing_pressure_mpa == 350 for i in infiltrated)
    # every solid-state cell's cast electrodes went through an infiltration run; the coin cell's did not
    for part in CellPart.objects.filter(electrode__isnull=False).select_related("cell"):
        infiltrated_before = part.electrode.infiltrations.exists()
        assert infiltrated_before == (part.cell.kind != Cell.Kind.LIQUID_REFERENCE), part.cell.name


def test_electrolyte_batch_conductivity_and_solution_concentration(lab):
    batch = ElectrolyteBatch.objects.get()
    assert batch.route == "solution" and batch.xrd_phase == "fcc"
    assert [(i.lot.material.name, i.mass_mg) for i in batch.inputs.order_by("id")] == [
        ("Na2B12H12", 533.6), ("Na2B10H10", 466.4)]
    assert batch.solvent_volume_ml == 20
    assert batch.conductivity_at(25.0) == pytest.approx(1.0e-3, rel=0.01)
    assert batch.conductivity_measurements.count() >= 4
    assert 0.2 < batch.activation_energy.activation_energy_ev < 0.5
    assert InfiltrationSolution.objects.get().concentration_mg_ml == pytest.approx(100.0)


def left(holder):
    return selectors.stock_of(holder)[1]


def test_lot_stock_is_received_minus_what_the_processes_took(lab):
    lots = lab["lots"]
    # by hand: 533.6 mg into the electrolyte batch and 533.6 mg into the infiltration solution
    assert left(lots["Na2B12H12"]) == pytest.approx(5000 - 533.6 - 533.6)
    assert left(lots["Na2B10H10"]) == pytest.approx(2000 - 466.4 - 466.4)
    assert selectors.is_low(lots["Na2B10H10"]) and not selectors.is_low(lots["Na2B12H12"])
    assert left(lots["Sn"]) == pytest.approx(25000 - 900 - 632.5)  # Sn sheet + Na-Sn alloy
    assert left(lots["Na"]) == pytest.approx(10000 - 367.5 - 40 - 10)  # alloy, coin cell, reference
    assert left(lots["Isopropanol"]) == pytest.approx(786000 - (20 + 10) * 786)

    # every process row that takes from a lot has its ledger line with its mass
    rows = [*ElectrolyteBatchInput.objects.all(), *InfiltrationSolutionInput.objects.all(),
            *AlloyBatchInput.objects.all(), *SheetComponent.objects.all(), *LotInput.objects.all()]
    for row in rows:
        line = StockMovement.objects.get(source_id=row.pk, source_type__model=row._meta.model_name)
        assert (line.lot_id, line.quantity) == (row.lot_id, row.mass_mg)
        assert line.used_for == row.parent_record.human_id
    # and the ledger of the lots holds nothing else than what the processes took
    taken = {}
    for row in rows:
        taken[row.lot_id] = taken.get(row.lot_id, 0) + row.mass_mg
    for solvent_user in [*ElectrolyteBatch.objects.all(), *InfiltrationSolution.objects.all()]:
        lot = solvent_user.solvent_lot
        taken[lot.pk] = taken.get(lot.pk, 0) + solvent_user.solvent_volume_ml * lot.material.density_g_cm3 * 1000
    for part in CellPart.objects.filter(lot__isnull=False):
        taken[part.lot_id] = taken.get(part.lot_id, 0) + part.mass_mg
    nmp = lots["NMP"]
    nmp_lines = StockMovement.objects.filter(lot=nmp)
    assert nmp_lines.count() == 4 and all(line.source in ElectrodeSheet.objects.all() for line in nmp_lines)
    taken[nmp.pk] = sum(sheet.slurry_solvent_volume_ml * 1028 for sheet in ElectrodeSheet.objects.all())
    for lot in PrecursorLot.objects.all():
        assert left(lot) == pytest.approx(lot.quantity_received_mg - taken.get(lot.pk, 0)), lot.material.name
        assert left(lot) > 0
    assert all(line.source is not None and line.kind == "use" for line in StockMovement.objects.all())


def test_what_the_lab_made_has_stock_of_its_own(lab):
    # 962 mg of electrolyte: a 62 mg conductivity pellet and nine 55 mg separators
    batch = lab["electrolyte_batch"]
    assert left(batch) == pytest.approx(962 - 62 - 9 * 55)
    # 10 mL of solution: two dips of 2 mL
    assert left(lab["solution"]) == pytest.approx(10 - 2 * 2)
    # 1000 mg of Na-Sn alloy (its metals): six 40 mg counter electrodes
    assert lab["alloy"].yield_mg == pytest.approx(367.5 + 632.5)
    assert left(lab["alloy"]) == pytest.approx(1000 - 6 * 40)


def test_cells_runs_and_protocols(lab):
    runs = CyclingRun.objects.select_related("cell", "channel", "protocol")
    assert all(run.channel and run.protocol for run in runs)
    assert set(Cell.objects.values_list("pk", flat=True)) == {run.cell_id for run in runs}
    assert sorted(runs.values_list("state", flat=True)) == ["finished"] * 10 + ["running"]
    for run in runs:
        steps = list(run.protocol.steps.all())
        if run.cell.kind != Cell.Kind.LIQUID_REFERENCE:
            assert run.cell.separator_batch and run.cell.assembly_pressure_mpa == 350
        assert (run.cell.lower_cutoff_v, run.cell.upper_cutoff_v) == (
            min(s.lower_cutoff_v for s in steps), max(s.upper_cutoff_v for s in steps))
        assert run.started_at < (run.finished_at or run.started_at.max.replace(tzinfo=run.started_at.tzinfo))
    windows = {(c.kind, c.lower_cutoff_v, c.upper_cutoff_v) for c in Cell.objects.all()}
    assert {("cathode_half", 2.10, 3.35), ("anode_half", 0.01, 2.00), ("full", 1.5, 3.3),
            ("full", 1.5, 3.15)} <= windows
    assert Protocol.objects.get(name__startswith="2 × 0.1C then 100 × 0.5C").cycle_count == 102
    spring = Cell.objects.get(kind=Cell.Kind.CATHODE_HALF, stack_pressure_mpa=3)
    assert spring.electrode_in_role("negative").alloy_batch == lab["alloy"]
    three = Cell.objects.get(kind=Cell.Kind.THREE_ELECTRODE)
    assert three.electrode_in_role("reference").description == "Na metal reference"
    coin = Cell.objects.get(kind=Cell.Kind.LIQUID_REFERENCE)
    assert (coin.hardware, coin.liquid_electrolyte, coin.separator_batch) == ("coin_2032", "1 M NaClO4 in PC", None)
    alloy_inputs = {i.lot.material.name: i.mass_mg for i in lab["alloy"].inputs.all()}
    assert alloy_inputs == {"Na": 367.5, "Sn": 632.5}


def _snapshot():
    models = [*EXPECTED_COUNTS, HumanIdCounter, get_user_model(), PrecursorLot.history.model]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["counters"] = sorted(HumanIdCounter.objects.values_list("prefix", "last_number"))
    return counts


def test_second_run_changes_nothing(db):
    call_command("load_demo_lab", stdout=StringIO())
    before = _snapshot()
    assert before["Cell"] == 10
    out = StringIO()
    call_command("load_demo_lab", stdout=out)
    assert "already exists" in out.getvalue()
    assert _snapshot() == before
    assert demo.load_demo_lab() == {}
    assert _snapshot() == before


def test_command_output_names_the_login_and_the_token(db):
    out = StringIO()
    call_command("load_demo_lab", username="alice", password="s3cret-demo", stdout=out)
    text = out.getvalue()
    user = get_user_model().objects.get(username="alice")
    assert user.is_superuser and user.is_staff and user.check_password("s3cret-demo")
    assert "Log in at http://127.0.0.1:8000/ " in text  # the pages; the admin is for lab managers
    assert "alice" in text and "s3cret-demo" in text
    key = re.search(r"API token of alice \(shown this once\): (\S+)", text).group(1)
    assert ApiToken.objects.get(user=user).key_hash == hash_key(key)
    assert ProjectMembership.objects.get(project__name=demo.PROJECT_NAME).user == user


def test_a_failing_load_leaves_nothing_behind(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("cell assembly failed")

    monkeypatch.setattr(demo, "_cells", broken)
    with pytest.raises(RuntimeError):
        demo.load_demo_lab()
    assert not Project.objects.exists()
    assert not PrecursorLot.objects.exists() and not StockMovement.objects.exists()
    assert not get_user_model().objects.exists()
