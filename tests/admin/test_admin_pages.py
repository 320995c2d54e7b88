"""Every admin page a lab manager opens renders; derived numbers show (or say why not); the
record's who/when is filled in; history is kept; read-only things stay read-only."""
import math
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from analysis.models import (
    Alert,
    CellDiagnosis,
    CellMetrics,
    CycleSummary,
    ElectrodeAnalysis,
    FadePrediction,
    ProcessingStage,
    QualityFlag,
)
from cells.models import (
    Cell,
    CellPart,
    Cycler,
    CyclerToken,
    Dataset,
    Protocol,
    ProtocolStep,
    RawDataFile,
)
from cells import services as cell_services
from eln.models import ApiToken, HumanIdCounter, LoginFailure, NotebookAttachment, NotebookMention, ProjectMembership
from eln.notebook.services import notebook_entry_write
from eln.security import services as security_services
from django.core.files.uploadedfile import SimpleUploadedFile
from samples import services as sample_services
from samples.models import (
    AlloyBatchInput,
    ConductivityMeasurement,
    Electrode,
    ElectrodeSheet,
    ElectrolyteBatch,
    ElectrolyteBatchInput,
    ElectrolyteBatchStep,
    InfiltratedElectrode,
    InfiltrationDryingStep,
    InfiltrationSolutionInput,
    LoadingDisc,
    LotInput,
    LotTreatment,
    PrecursorLot,
    SheetComponent,
    StockMovement,
)
from tests.factories import ProjectFactory, lot, material

OUR_APPS = {"eln", "samples", "cells"}
# Models the admin shows but does not let anyone add: counters, files the upload API writes,
# datasets processing writes, and rows that take stock (added on their record's page).
NO_ADD_PAGE = {HumanIdCounter, RawDataFile, Dataset, ProcessingStage, CycleSummary, CellMetrics, QualityFlag,
               ElectrodeAnalysis, CellDiagnosis, FadePrediction,
               LotTreatment, LotInput, ElectrolyteBatchInput, ElectrolyteBatchStep, ConductivityMeasurement,
               InfiltrationSolutionInput, SheetComponent, LoadingDisc, InfiltrationDryingStep, InfiltratedElectrode,
               AlloyBatchInput, ProtocolStep, CellPart, ProjectMembership, Alert,
               NotebookMention, NotebookAttachment, ApiToken, LoginFailure}





@pytest.fixture
def world(project, manager):
    """One of everything, from the lots to a cycling dataset, made through the services as the
    paper's lab makes them."""
    lots = {
        "b12": lot(project, "Na2B12H12", 2000, lot_number="K-12"),
        "b10": lot(project, "Na2B10H10", 2000, lot_number="K-10", state="dried",
                   treatments=[dict(temperature_c=180, duration_h=6, atmosphere="vacuum", pressure_mbar=1e-3)]),
        "ipa": lot(project, "Isopropanol", 100_000, supplier="Sigma-Aldrich"),
        "na2co3": lot(project, "Na2CO3", 50_000, supplier="Sigma-Aldrich"),
        "pvdf": lot(project, "PVDF", 5000, supplier="Kureha"),
        "cr2o3": lot(project, "Cr2O3", 50_000, supplier="Sigma-Aldrich"),
        "sp": lot(project, "Super P", 5000, supplier="Imerys"),
        "na": lot(project, "Na", 5000, supplier="Sigma-Aldrich"),
        "sn": lot(project, "Sn", 5000, supplier="Sigma-Aldrich"),
    }
    lots["nacro2"] = lot(project, "NaCrO2", 5000, supplier="in-house", inputs=[
        dict(lot=lots["cr2o3"], mass_mg=3552.0), dict(lot=lots["na2co3"], mass_mg=2477.0)])
    batch = sample_services.electrolyte_batch_record(
        user=manager, project=project, name="1 g batch", product=material("Na4(B12H12)(B10H10)"),
        solvent_lot=lots["ipa"], solvent_volume_ml=20, xrd_phase="fcc", yield_mg=962,
        inputs=[dict(lot=lots["b12"], mass_mg=533.6), dict(lot=lots["b10"], mass_mg=466.4)],
        steps=[dict(order=1, description="Schlenk line", temperature_c=60, pressure_mbar=1e-3)],
        conductivity_measurements=[dict(temperature_c=t, pellet_thickness_mm=1.0, pellet_area_cm2=0.785,
                                        resistance_ohm=r) for t, r in ((25, 127.0), (60, 20.0))],
    )
    solution = sample_services.infiltration_solution_prepare(
        user=manager, project=project, product=material("Na4(B12H12)(B10H10)"), solvent_lot=lots["ipa"],
        solvent_volume_ml=5, inputs=[dict(lot=lots["b12"], mass_mg=266.8), dict(lot=lots["b10"], mass_mg=233.2)],
    )
    sheet = sample_services.electrode_sheet_cast(
        user=manager, project=project, name="NCO 95:2:3", current_collector_areal_mass_mg_cm2=4.3,
        coating_thickness_um=60,
        components=[dict(lot=lots[key], role=role, mass_fraction_percent=fraction, mass_mg=mass)
                    for key, role, fraction, mass in (("nacro2", "active", 95, 950), ("pvdf", "binder", 2, 20),
                                                      ("sp", "conductive_carbon", 3, 30))],
        loading_discs=[dict(mass_mg=mass) for mass in (12.7, 12.8, 12.9, 12.75)],
    )
    electrode = sample_services.electrode_punch(user=manager, project=project, sheet=sheet, mass_mg=12.8)
    run = sample_services.infiltration_run_record(
        user=manager, project=project, solution=solution,
        drying_steps=[dict(order=1, description="vacuum", temperature_c=180, duration_h=4)],
        electrodes=[dict(electrode=electrode, mass_before_mg=12.8, mass_after_mg=14.0, pressed_thickness_um=40,
                         pressed_mass_mg=14.0)],
    )
    alloy = sample_services.alloy_batch_prepare(
        user=manager, project=project, inputs=[dict(lot=lots["na"], mass_mg=367.5), dict(lot=lots["sn"], mass_mg=632.5)])
    cycler = cell_services.cycler_register(user=manager, name="VMP-300", vendor="biologic", channels=[dict(number="3")])
    cell_services.cycler_token_issue(user=manager, cycler=cycler, label="cycler PC")
    security_services.api_token_issue(user=manager, label="nightly export")
    security_services.login_failure_record(username="mara", address="192.0.2.1")
    protocol = cell_services.protocol_define(
        user=manager, project=project, name="2 × 0.1C then 100 × 0.5C",
        steps=[dict(order=1, cycle_count=2, charge_c_rate=0.1, discharge_c_rate=0.1, lower_cutoff_v=2.1,
                    upper_cutoff_v=3.35)])
    cell = cell_services.cell_build(
        user=manager, project=project, kind="cathode_half", separator_batch=batch,
        parts=[dict(role="positive", electrode=electrode), dict(role="negative", alloy_batch=alloy, mass_mg=30)])
    cycling = cell_services.cycling_run_start(user=manager, project=project, cell=cell,
                                              channel=cycler.channels.get(), protocol=protocol)
    raw = RawDataFile.objects.create(run=cycling, file="raw/RUN-0001/abc/cell.mpr", original_name="cell.mpr",
                                     sha256="a" * 64, size_bytes=1234)  # as an upload stores it
    Dataset.objects.create(project=project, run=cycling, raw_file=raw, source_name="cell.mpr")
    notebook_entry_write(user=manager, project=project, title="built", body=f"{cell.human_id} pressed at 350 MPa",
                         attachments=[SimpleUploadedFile("press.txt", b"350 MPa")])
    Group.objects.create(name="lab managers")
    return {"lots": lots, "batch": batch, "sheet": sheet, "electrode": electrode, "cell": cell, "run": run}


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_is_registered_with_history():
    from django.apps import apps
    from simple_history.admin import SimpleHistoryAdmin
    from simple_history.models import HistoricalChanges

    ours = [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()
            if not issubclass(model, HistoricalChanges)]
    assert len(ours) > 30
    for model in ours:
        assert model in admin.site._registry, model
        if hasattr(model, "history"):
            assert isinstance(admin.site._registry[model], SimpleHistoryAdmin), model


def test_every_changelist_renders(browser, world):
    for model in admin.site._registry:
        response = browser.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model


def test_every_add_page_renders_or_is_refused_on_purpose(browser, world):
    refused = set()
    for model in admin.site._registry:
        response = browser.get(admin_url(model, "add"))
        if response.status_code == 403:
            refused.add(model)
        else:
            assert response.status_code == 200, model
    assert refused == NO_ADD_PAGE


def test_every_change_and_history_page_of_our_models_renders(browser, world):
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        obj = model.objects.first()
        assert obj is not None, f"the world fixture has no {model.__name__}"
        assert browser.get(admin_url(model, "change", obj.pk)).status_code == 200, model
        if model is not HumanIdCounter:
            assert browser.get(admin_url(model, "history", obj.pk)).status_code == 200, model


def test_lab_record_lists_start_with_the_label_id(browser, world):
    for model, model_admin in admin.site._registry.items():
        if hasattr(model, "HUMAN_ID_PREFIX"):
            request = browser.get(admin_url(model, "changelist")).wsgi_request
            assert model_admin.get_list_display(request)[0] == "human_id", model
            assert {"human_id", "notes"} <= set(model_admin.search_fields), model


def test_search_by_label_id(browser, world):
    batch = world["batch"]
    response = browser.get(admin_url(ElectrolyteBatch, "changelist"), {"q": batch.human_id})
    assert list(response.context["cl"].result_list) == [batch]
    response = browser.get(admin_url(ElectrolyteBatch, "changelist"), {"q": "EB-9999"})
    assert list(response.context["cl"].result_list) == []


def test_sheet_page_shows_derived_numbers(browser, world):
    sheet = world["sheet"]
    response = browser.get(admin_url(ElectrodeSheet, "change", sheet.pk))
    page = response.content.decode()
    density = 1 / (0.95 / 4.4 + 0.02 / 1.78 + 0.03 / 1.9)  # NaCrO2, PVDF, Super P: 4.116 g/cm³
    loading = sum(m / (math.pi * 0.6**2) for m in (12.7, 12.8, 12.9, 12.75)) / 4 - 4.3  # 7.02 mg/cm²
    porosity = 1 - (loading / 1000) / (60e-4) / density
    assert "Derived numbers" in page
    assert f"{density:.4g} g/cm³" in page
    assert f"{loading:.4g} mg/cm²" in page
    assert f"{porosity * 100:.1f} %" in page
    assert "95:3:2" in page or "95:2:3" in page


def test_inconsistent_inputs_show_a_dash_and_the_reason_not_an_error_page(browser, world):
    sheet = world["sheet"]
    sample_services.electrode_sheet_update(user=None, sheet=sheet, loading_discs=[dict(mass_mg=3.0)])  # lighter than its 4.86 mg of foil
    response = browser.get(admin_url(ElectrodeSheet, "change", sheet.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "coating_mass_mg must be &gt; 0" in page or "coating_mass_mg must be > 0" in page
    response = browser.get(admin_url(Electrode, "change", world["electrode"].pk))
    assert response.status_code == 200


def test_cell_page_shows_the_1c_current(browser, world):
    cell = Cell.objects.get(pk=world["cell"].pk)
    expected = cell.one_c_current_ma
    assert expected and expected > 0
    page = browser.get(admin_url(Cell, "change", cell.pk)).content.decode()
    assert f"{expected:.4g} mA" in page
    assert "1C current" in page


def test_add_sets_created_by_and_modified_by(browser, manager, project):
    response = browser.post(admin_url(Protocol, "add"), {
        "project": project.pk, "name": "rate test", "description": "", "notes": "",
        "steps-TOTAL_FORMS": 1, "steps-INITIAL_FORMS": 0, "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
        "steps-0-order": 1, "steps-0-cycle_count": 5, "steps-0-charge_c_rate": 0.1, "steps-0-discharge_c_rate": 0.1,
        "steps-0-lower_cutoff_v": 2.1, "steps-0-upper_cutoff_v": 3.35, "steps-0-rest_min": 0,
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    protocol = Protocol.objects.get(name="rate test")
    assert protocol.human_id.startswith("PR-")
    assert protocol.created_by == manager and protocol.modified_by == manager
    assert protocol.steps.get().cycle_count == 5
    assert protocol.history.first().history_user == manager


def test_protocol_step_with_inverted_cut_offs_is_refused(browser, project):
    response = browser.post(admin_url(Protocol, "add"), {
        "project": project.pk, "name": "bad window", "description": "", "notes": "",
        "steps-TOTAL_FORMS": 1, "steps-INITIAL_FORMS": 0, "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
        "steps-0-order": 1, "steps-0-cycle_count": 5, "steps-0-charge_c_rate": 0.1, "steps-0-discharge_c_rate": 0.1,
        "steps-0-lower_cutoff_v": 3.35, "steps-0-upper_cutoff_v": 2.1, "steps-0-rest_min": 0,
    })
    assert response.status_code == 200
    assert "Step 1: The lower cut-off (3.35 V) must be below the upper cut-off (2.1 V)." in response.content.decode()
    assert not Protocol.objects.filter(name="bad window").exists()


def test_cycler_with_channels(browser):
    response = browser.post(admin_url(Cycler, "add"), {
        "name": "BTS-4000", "vendor": "neware", "model": "", "serial_number": "", "location": "lab 2",
        "csv_column_mapping": "{}",
        "tokens-TOTAL_FORMS": 0, "tokens-INITIAL_FORMS": 0, "tokens-MIN_NUM_FORMS": 0, "tokens-MAX_NUM_FORMS": 1000,
        "channels-TOTAL_FORMS": 2, "channels-INITIAL_FORMS": 0, "channels-MIN_NUM_FORMS": 0,
        "channels-MAX_NUM_FORMS": 1000, "channels-0-number": "1", "channels-1-number": "2",
    })
    assert response.status_code == 302
    cycler = Cycler.objects.get(name="BTS-4000")
    assert sorted(cycler.channels.values_list("number", flat=True)) == ["1", "2"]
    page = browser.get(admin_url(Cycler, "change", cycler.pk)).content.decode()
    assert 'name="channels-0-number"' in page


def test_history_names_who_changed_a_lot(browser, manager, world):
    b12 = world["lots"]["b12"]
    response = browser.get(admin_url(PrecursorLot, "change", b12.pk))
    data = {k: v for k, v in response.context["adminform"].form.initial.items()}
    assert data  # the page has the lot's values
    sample_services.lot_update(user=manager, lot=b12, storage_detail="box 3")
    page = browser.get(admin_url(PrecursorLot, "history", b12.pk)).content.decode()
    assert manager.username in page
    assert "box 3" in page


def test_process_ledger_lines_cannot_be_reverted_from_history(browser, world):
    line = StockMovement.objects.filter(kind="use").first()
    version = line.history.first()
    url = reverse("admin:samples_stockmovement_simple_history", args=[line.pk, version.history_id])
    response = browser.post(url, {"lot": line.lot_id, "kind": "correction", "quantity": 1, "note": ""})
    assert response.status_code == 403
    line.refresh_from_db()
    assert line.kind == "use"


def test_a_member_sees_only_their_projects_and_a_reader_cannot_change(client, people, project, world):
    from django.contrib.auth.models import Permission

    other = ProjectFactory(name="Sulfide cells")
    hidden = lot(other, "Na2B12H12", 100)
    reader = people["reader"]  # reader of `project`
    reader.is_staff = True
    reader.save()
    reader.user_permissions.set(Permission.objects.filter(content_type__app_label="samples"))
    client.force_login(reader)
    response = client.get(admin_url(PrecursorLot, "changelist"))
    shown = set(response.context["cl"].result_list)
    assert world["lots"]["b12"] in shown and hidden not in shown
    assert client.get(admin_url(PrecursorLot, "change", hidden.pk)).status_code == 302  # "does not exist"
    b12 = world["lots"]["b12"]
    page = client.get(admin_url(PrecursorLot, "change", b12.pk))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    ProjectMembership.objects.filter(user=reader).update(role="writer")
    assert client.get(admin_url(PrecursorLot, "change", b12.pk)).context["has_change_permission"]


def test_batch_page_shows_conductivity_and_activation_energy(browser, world):
    batch = world["batch"]
    page = browser.get(admin_url(ElectrolyteBatch, "change", batch.pk)).content.decode()
    sigma_25 = 0.1 / (127.0 * 0.785)  # thickness 1 mm = 0.1 cm, R = 127 Ω, A = 0.785 cm²
    assert f"{sigma_25 * 1000:.3g} mS/cm" in page
    assert f"{batch.activation_energy.activation_energy_ev:.3g} eV" in page
    row = batch.inputs.first()
    assert f'name="inputs-0-mass_mg" value="{row.mass_mg}"' in page


def test_lot_fields_pick_lots_by_search(browser, world):
    response = browser.get(reverse("admin:autocomplete"), {
        "app_label": "samples", "model_name": "electrolytebatchinput", "field_name": "lot", "term": "K-12",
    })
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(world["lots"]["b12"].pk)]


def test_a_new_cycler_token_shows_its_key_once(browser, manager, world):
    cycler = Cycler.objects.get(name="VMP-300")
    response = browser.post(admin_url(CyclerToken, "add"), {"cycler": cycler.pk, "label": "PC in lab 2"})
    assert response.status_code == 200
    match = re.search(r'<code class="cycler-token-key">([^<]+)</code>', response.content.decode())
    assert match, "the key is shown on the page answering Save"
    token = CyclerToken.objects.get(label="PC in lab 2")
    assert token.key_hash == CyclerToken.hash_key(match.group(1)) and token.created_by == manager
    assert match.group(1).startswith(token.key_prefix)
    page = browser.get(admin_url(CyclerToken, "change", token.pk)).content.decode()
    assert match.group(1) not in page and token.key_hash not in page
    browser.post(admin_url(CyclerToken, "changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_cycler_mapping_that_cannot_work_is_refused_when_saved(world):
    from django.core.exceptions import ValidationError

    cycler = Cycler.objects.first()
    cycler.csv_column_mapping = {"test_time_s": {"column": "Time"}}
    with pytest.raises(ValidationError) as refused:
        cycler.full_clean()
    assert refused.value.message_dict["csv_column_mapping"] == ["the column mapping has no entry for current_ma, voltage_v"]
