"""The API's promises, tested for every record type from one entry each in RECORD_TYPES:
create (201, and the record holds what was sent), read (200), update (the change shown and
kept in the record's history with who made it), a refused delete (409 naming the record that
depends on it), a delete (204, and the stock the record took given back), non-members (404 on
read, 403 on create), readers (403 on every write) and a validation message (400, with the
field and the rule's own words).

A new record type gets these tests from one more entry in RECORD_TYPES.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pytest

from eln.models import LabRecord, Project, ProjectMembership
from samples.models import StockMovement
from samples.selectors import stock_of
from tests import factories as f

pytestmark = pytest.mark.django_db


@dataclasses.dataclass
class Lab:
    """What a payload is built in: the project (members from the ``people`` fixture)."""

    project: Project
    people: dict

    def elsewhere(self) -> Project:
        """Another project, in which the project's writer is only a reader."""
        other = f.ProjectFactory(name="Sulfide cells")
        f.member(other, self.people["writer"], ProjectMembership.Role.READER)
        return other


@dataclasses.dataclass(frozen=True)
class RecordType:
    """One record type of the API and the data its tests need.

    ``access``: "project" for a project's records (members read, writers write), "lab" for the
    lab's shared data (everybody reads, lab managers write), "projects" for the projects
    themselves (members read, anybody makes one).
    ``factory`` makes a record (in ``project=`` for project records); ``create`` gives the
    payload of a POST (the project is added), ``update`` the body of a PATCH; ``dependent``
    makes a record that keeps the given one from being deleted; ``invalid`` gives a payload the
    lab's rules refuse, with the ``field`` named and the ``message`` (formatted with the
    payload). ``takes_stock``: the factory's record takes from lots or made batches.
    """

    endpoint: str
    factory: Any
    access: str = "project"
    create: Callable[[Lab], dict] | None = None
    update: dict | None = None
    dependent: Callable[[Any], Any] | None = None
    invalid: Callable[[Lab], dict] | None = None
    field: str = ""
    message: str = ""
    takes_stock: bool = False
    deletable: bool = True

    def __str__(self):
        return self.endpoint


def label(record) -> str:
    return record.human_id


def lot(lab, name, quantity_mg=50_000.0):
    return label(f.lot(lab.project, name, quantity_mg))


def cell_with(project, **part):
    """A NaCrO2 half cell whose negative (or positive) part is the one given."""
    role = part.pop("role", "negative")
    parts = {"positive": {"role": "positive", "electrode": f.ElectrodeFactory(project=project)},
             "negative": {"role": "negative", "description": "Na-Sn 3:1 powder"}}
    parts[role] = {"role": role, **part}
    return f.CellFactory(project=project, parts=list(parts.values()))


RECORD_TYPES = [
    RecordType(
        "projects", f.ProjectFactory, access="projects", deletable=False,
        create=lambda lab: {"name": "Sulfide cells", "description": "Li6PS5Cl references"},
        invalid=lambda lab: {"name": lab.project.name}, field="name",
        message="project with this name already exists.",
    ),
    RecordType(
        "materials", f.MaterialFactory, access="lab",
        create=lambda lab: {"name": "Na3V2(PO4)3", "formula": "Na3V2(PO4)3", "kind": "cathode_active",
                            "density_g_cm3": 3.2, "molar_mass_g_mol": 455.8, "electrons_per_formula_unit": 2.0,
                            "reference_specific_capacity_mah_g": 110.0},
        update={"reference_specific_capacity_mah_g": 112.0},
        dependent=lambda material: f.LotFactory(material=material),
        invalid=lambda lab: {"name": "NVP", "kind": "cathode_active", "density_g_cm3": -3.2}, field="density_g_cm3",
        message="Ensure this value is at least 1e-09 g/cm³.",
    ),
    RecordType(
        "cyclers", f.CyclerFactory, access="lab",
        create=lambda lab: {"name": "BCS-805", "vendor": "biologic", "model": "BCS-805", "serial_number": "0421",
                            "location": "glovebox 2"},
        update={"location": "glovebox 3"},
        dependent=lambda cycler: f.CyclingRunFactory(channel=cycler.channels.first()),
        invalid=lambda lab: {"name": f.CyclerFactory().name, "vendor": "biologic"}, field="name",
        message="cycler with this name already exists.",
    ),
    RecordType(
        "channels", f.ChannelFactory, access="lab",
        create=lambda lab: {"cycler": f.CyclerFactory(channels=[]).name, "number": "C09"},
        update={"number": "C10"},
        dependent=lambda channel: f.CyclingRunFactory(channel=channel),
        invalid=lambda lab: {"cycler": (channel := f.ChannelFactory()).cycler.name, "number": channel.number},
        field="non_field_errors", message="The fields cycler, number must make a unique set.",
    ),
    RecordType(
        "lots", f.LotFactory,
        create=lambda lab: {"material": "Na2B10H10", "supplier": "Katchem", "lot_number": "K-2207",
                            "received_on": "2026-10-01", "purity_percent": 99.0, "quantity_received_mg": 5000.0,
                            "low_stock_threshold_mg": 500.0, "storage_place": "argon_glovebox",
                            "treatments": [{"description": "drying", "temperature_c": 180.0, "duration_h": 6.0,
                                            "atmosphere": "vacuum", "pressure_mbar": 0.001}]},
        update={"state": "dried"},
        dependent=lambda lot: f.ElectrolyteBatchFactory(project=lot.project, inputs=[{"lot": lot, "mass_mg": 10.0}]),
        invalid=lambda lab: {"material": "NaCrO2", "supplier": "in house", "quantity_received_mg": 1000.0,
                             "inputs": [{"lot": lot(lab, "Cr2O3", 500.0), "mass_mg": 720.0}]},
        field="inputs", message="{inputs[0][lot]} (Cr2O3) has 500 mg left; this new precursor lot asks for 720 mg.",
    ),
    RecordType(
        "electrolyte-batches", f.ElectrolyteBatchFactory, takes_stock=True,
        create=lambda lab: {"name": "1 g batch", "product": "Na4(B12H12)(B10H10)", "route": "solution",
                            "solvent_lot": lot(lab, "Isopropanol", 100_000.0), "solvent_volume_ml": 20.0,
                            "yield_mg": 962.0, "pellet_mass_mg": 60.0, "xrd_phase": "fcc",
                            "inputs": [{"lot": lot(lab, "Na2B12H12"), "mass_mg": 533.6},
                                       {"lot": lot(lab, "Na2B10H10"), "mass_mg": 466.4}],
                            "steps": [{"order": 1, "description": "Schlenk line", "temperature_c": 60.0,
                                       "duration_h": 12.0, "pressure_mbar": 0.001}],
                            "conductivity_measurements": [{"temperature_c": 25.0, "pellet_thickness_mm": 0.5,
                                                           "pellet_area_cm2": 0.5, "resistance_ohm": 100.0}]},
        update={"xrd_phase": "mixed"},
        dependent=lambda batch: f.CellFactory(project=batch.project, separator_batch=batch),
        invalid=lambda lab: {"product": "Na4(B12H12)(B10H10)",
                             "inputs": [{"lot": lot(lab, "Na2B12H12", 500.0), "mass_mg": 533.6}]},
        field="inputs",
        message="{inputs[0][lot]} (Na2B12H12) has 500 mg left; this new electrolyte batch asks for 533.6 mg.",
    ),
    RecordType(
        "infiltration-solutions", f.InfiltrationSolutionFactory, takes_stock=True,
        create=lambda lab: {"name": "100 mg/mL", "product": "Na4(B12H12)(B10H10)",
                            "solvent_lot": lot(lab, "Isopropanol", 100_000.0), "solvent_volume_ml": 10.0,
                            "prepared_on": "2026-10-03",
                            "inputs": [{"lot": lot(lab, "Na2B12H12"), "mass_mg": 533.6},
                                       {"lot": lot(lab, "Na2B10H10"), "mass_mg": 466.4}]},
        update={"name": "closo-borates 100 mg/mL"},
        dependent=lambda solution: f.InfiltrationRunFactory(project=solution.project, solution=solution),
        invalid=lambda lab: {"product": "Na4(B12H12)(B10H10)", "solvent_lot": lot(lab, "Isopropanol"),
                             "solvent_volume_ml": 10.0, "inputs": [{"lot": lot(lab, "Na"), "mass_mg": 100.0}]},
        field="inputs",
        message="{inputs[0][lot]} is Na, a metal (counter/reference electrode); a salt must be an electrolyte "
                "precursor.",
    ),
    RecordType(
        "alloy-batches", f.AlloyBatchFactory, takes_stock=True,
        create=lambda lab: {"name": "Na-Sn 3:1", "prepared_on": "2026-10-02",
                            "inputs": [{"lot": lot(lab, "Na"), "mass_mg": 367.5},
                                       {"lot": lot(lab, "Sn"), "mass_mg": 632.5}]},
        update={"prepared_on": "2026-10-04"},
        dependent=lambda alloy: cell_with(alloy.project, alloy_batch=alloy, mass_mg=40.0),
        invalid=lambda lab: {"inputs": [{"lot": lot(lab, "Na", 300.0), "mass_mg": 367.5}]}, field="inputs",
        message="{inputs[0][lot]} (Na) has 300 mg left; this new alloy batch asks for 367.5 mg.",
    ),
    RecordType(
        "electrode-sheets", f.ElectrodeSheetFactory,
        create=lambda lab: {"name": "NaCrO2 95:2:3", "current_collector": "Al foil",
                            "current_collector_areal_mass_mg_cm2": 4.05, "coating_thickness_um": 80.0,
                            "cast_on": "2026-10-05", "drying_temperature_c": 120.0,
                            "components": [{"lot": lot(lab, "NaCrO2"), "role": "active", "mass_fraction_percent": 95.0},
                                           {"lot": lot(lab, "PVDF"), "role": "binder", "mass_fraction_percent": 2.0},
                                           {"lot": lot(lab, "Super P"), "role": "conductive_carbon",
                                            "mass_fraction_percent": 3.0}],
                            "loading_discs": [{"diameter_mm": 12.0, "mass_mg": 12.91}] * 4},
        update={"coating_thickness_um": 82.0},
        dependent=lambda sheet: f.ElectrodeFactory(project=sheet.project, sheet=sheet),
        invalid=lambda lab: {"components": [
            {"lot": lot(lab, "NaCrO2"), "role": "active", "mass_fraction_percent": 95.0},
            {"lot": lot(lab, "PVDF"), "role": "binder", "mass_fraction_percent": 2.0},
            {"lot": lot(lab, "Super P"), "role": "conductive_carbon", "mass_fraction_percent": 2.0}]},
        field="components", message="The mass fractions of the components must sum to 100 %; they sum to 99 %.",
    ),
    RecordType(
        "electrodes", f.ElectrodeFactory,
        create=lambda lab: {"sheet": label(f.ElectrodeSheetFactory(project=lab.project)), "diameter_mm": 12.0,
                            "mass_mg": 12.91, "punched_on": "2026-10-06"},
        update={"mass_mg": 13.05},
        dependent=lambda electrode: cell_with(electrode.project, role="positive", electrode=electrode),
        invalid=lambda lab: {"sheet": label(f.ElectrodeSheetFactory(project=lab.elsewhere()))}, field="sheet",
        message="{sheet} belongs to project 'Sulfide cells'; records of project '{project}' can only use records "
                "of their own project.",
    ),
    RecordType(
        "infiltration-runs", f.InfiltrationRunFactory, takes_stock=True,
        create=lambda lab: {"solution": label(f.InfiltrationSolutionFactory(project=lab.project)),
                            "solution_volume_ml": 2.0, "performed_on": "2026-10-07", "dip_time_min": 10.0,
                            "drying_steps": [{"order": 1, "description": "vacuum", "temperature_c": 180.0,
                                              "duration_h": 4.0}],
                            "electrodes": [{"electrode": label(f.ElectrodeFactory(project=lab.project)),
                                            "mass_before_mg": 12.91, "mass_after_mg": 14.25,
                                            "pressed_thickness_um": 40.0, "pressed_mass_mg": 14.2}]},
        update={"dip_time_min": 15.0},
        invalid=lambda lab: {"solution": label(f.InfiltrationSolutionFactory(project=lab.project)),
                             "electrodes": [{"electrode": label(f.ElectrodeFactory(project=lab.project)),
                                             "mass_before_mg": 12.91, "mass_after_mg": 12.5}]},
        field="electrodes", message="{electrodes[0][electrode]}: the mass after (12.5 mg) is below the mass before "
                                    "(12.91 mg); infiltration adds electrolyte.",
    ),
    RecordType(
        "protocols", f.ProtocolFactory,
        create=lambda lab: {"name": "rate test", "description": "3 cycles per rate",
                            "steps": [{"order": 1, "cycle_count": 3, "charge_c_rate": 0.1, "discharge_c_rate": 0.1,
                                       "lower_cutoff_v": 2.1, "upper_cutoff_v": 3.35, "rest_min": 10.0},
                                      {"order": 2, "cycle_count": 3, "charge_c_rate": 0.2, "discharge_c_rate": 0.2,
                                       "lower_cutoff_v": 2.1, "upper_cutoff_v": 3.35, "rest_min": 10.0}]},
        update={"description": "3 cycles per rate, 10 min rests"},
        dependent=lambda protocol: f.CyclingRunFactory(project=protocol.project, protocol=protocol),
        invalid=lambda lab: {"name": "upside down", "steps": [
            {"order": 1, "charge_c_rate": 0.1, "discharge_c_rate": 0.1, "lower_cutoff_v": 3.35,
             "upper_cutoff_v": 2.1}]},
        field="steps", message="Step 1: The lower cut-off (3.35 V) must be below the upper cut-off (2.1 V).",
    ),
    RecordType(
        "cells", f.CellFactory, takes_stock=True,
        create=lambda lab: {"name": "NCO half cell", "kind": "cathode_half", "assembled_on": "2026-10-08",
                            "separator_batch": label(f.ElectrolyteBatchFactory(project=lab.project)),
                            "separator_mass_mg": 55.0, "stack_pressure_mpa": 70.0, "lower_cutoff_v": 2.1,
                            "upper_cutoff_v": 3.35,
                            "parts": [{"role": "positive", "electrode": label(f.ElectrodeFactory(project=lab.project))},
                                      {"role": "negative",
                                       "alloy_batch": label(f.AlloyBatchFactory(project=lab.project)),
                                       "mass_mg": 40.0, "description": "Na-Sn 3:1 powder"}]},
        update={"stack_pressure_mpa": 3.0},
        dependent=lambda cell: f.CyclingRunFactory(project=cell.project, cell=cell),
        invalid=lambda lab: {"kind": "full", "parts": [
            {"role": role, "electrode": label(f.ElectrodeFactory(project=lab.project, mass_mg=6.23, sheet=sheet))}
            for sheet in [f.ElectrodeSheetFactory(project=lab.project, tin=True)]
            for role in ("positive", "negative")]},
        field="parts",
        message="{parts[0][electrode]} is a Sn electrode (anode active material); the positive electrode of this "
                "full cell (NaCrO2 | Sn) is of a cathode active material.",
    ),
    RecordType(
        "cycling-runs", f.CyclingRunFactory,
        create=lambda lab: {"cell": label(f.CellFactory(project=lab.project)),
                            "protocol": label(f.ProtocolFactory(project=lab.project)),
                            "channel": f.ChannelFactory().pk, "state": "running",
                            "started_at": "2026-11-01T17:00:00Z"},
        update={"state": "finished", "finished_at": "2026-11-20T09:30:00Z"},
        dependent=lambda run: f.DatasetFactory(run=run),
        invalid=lambda lab: {"cell": label(f.CellFactory(project=lab.elsewhere()))}, field="cell",
        message="{cell} belongs to project 'Sulfide cells'; records of project '{project}' can only use records "
                "of their own project.",
    ),
    RecordType(
        "notebook-entries", f.NotebookEntryFactory,
        create=lambda lab: {"title": "Infiltrated and pressed", "body": "Dipped for 10 min, dried at 180 °C, "
                                                                        "pressed at 350 MPa.", "notes": "glovebox 2"},
        update={"body": "Dipped for 15 min."},
        invalid=lambda lab: {"title": "x" * 201}, field="title",
        message="Ensure this field has no more than 200 characters.",
    ),
    RecordType("alerts", f.AlertFactory, deletable=False),
    RecordType("datasets", f.DatasetFactory),
    RecordType("raw-files", f.RawFileFactory, deletable=False),
    RecordType("stock-movements", f.StockCorrectionFactory, deletable=False),
]


def of(*needs: str):
    """The record types that have every one of ``needs`` (entries' fields), as parameters."""
    return pytest.mark.parametrize("kind", [kind for kind in RECORD_TYPES if all(getattr(kind, n) for n in needs)],
                                   ids=str)


def access(*kinds: str):
    return [kind for kind in RECORD_TYPES if kind.access in kinds]


@pytest.fixture
def lab(people, project):
    return Lab(project=project, people=people)


def make(kind: RecordType, lab: Lab):
    return kind.factory(project=lab.project) if kind.access == "project" else kind.factory()


def url(kind: RecordType, record=None) -> str:
    if record is None:
        return f"/api/v1/{kind.endpoint}/"
    return f"/api/v1/{kind.endpoint}/{record.human_id if isinstance(record, LabRecord) else record.pk}/"


def author(kind: RecordType, lab: Lab):
    """Who writes records of this type: the project's writer, or a lab manager for shared data."""
    return lab.people["lab_manager"] if kind.access == "lab" else lab.people["writer"]


def payload(kind: RecordType, lab: Lab, build) -> dict:
    body = build(lab)
    return {"project": lab.project.name, **body} if kind.access == "project" else body


def assert_holds(actual, expected, where="") -> None:
    """``actual`` (an answer) holds everything in ``expected`` (what was sent); child rows in
    any order, each with at least the fields sent."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r}"
        for name, value in expected.items():
            assert name in actual, f"{where}.{name} missing from {actual!r}"
            assert_holds(actual[name], value, f"{where}.{name}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        unmatched = list(actual)
        for row in expected:
            for candidate in unmatched:
                try:
                    assert_holds(candidate, row, where)
                except AssertionError:
                    continue
                unmatched.remove(candidate)
                break
            else:
                raise AssertionError(f"{where}: no row holds {row!r} in {actual!r}")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-12), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


# --- the tests -----------------------------------------------------------------------------


@of("create")
def test_create_answers_201_and_stores_what_was_sent(api, lab, kind):
    client = api(author(kind, lab))
    sent = payload(kind, lab, kind.create)
    response = client.post(url(kind), sent, format="json")
    assert response.status_code == 201, response.json()
    assert_holds(response.json(), sent)
    stored = client.get(f"{url(kind)}{response.json()['id']}/")
    assert stored.status_code == 200
    assert_holds(stored.json(), sent)


@of("factory")
def test_members_read_a_record(api, lab, kind):
    record = make(kind, lab)
    reader = lab.people["reader"] if kind.access == "project" else lab.people["outsider"]
    if kind.access == "projects":
        f.member(record, reader, ProjectMembership.Role.READER)
    response = api(reader).get(url(kind, record))
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == (record.human_id if isinstance(record, LabRecord) else record.pk)


@of("update")
def test_update_is_shown_and_kept_in_the_history(api, lab, kind):
    record = make(kind, lab)
    who = author(kind, lab)
    response = api(who).patch(url(kind, record), kind.update, format="json")
    assert response.status_code == 200, response.json()
    assert_holds(response.json(), kind.update)
    assert_holds(api(who).get(url(kind, record)).json(), kind.update)
    stored = type(record).objects.get(pk=record.pk)
    newest = record.history.order_by("-history_date", "-history_id").first()
    assert (newest.history_type, newest.history_user) == ("~", who)
    assert {name: getattr(newest, name) for name in kind.update} == {
        name: getattr(stored, name) for name in kind.update}
    assert {name: getattr(newest.prev_record, name) for name in kind.update} == {
        name: getattr(record, name) for name in kind.update}


@of("dependent")
def test_delete_is_refused_while_another_record_depends_on_it(api, lab, kind):
    record = make(kind, lab)
    dependent = kind.dependent(record)
    response = api(author(kind, lab)).delete(url(kind, record))
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["detail"] == "This record cannot be deleted because other records depend on it."
    name = dependent.human_id if isinstance(dependent, LabRecord) else str(dependent)
    assert any(name in text for text in body["dependents"]), body["dependents"]
    assert type(record).objects.filter(pk=record.pk).exists()


@of("deletable")
def test_delete_answers_204_and_gives_back_the_stock_the_record_took(api, lab, kind):
    record = make(kind, lab)
    label_id = getattr(record, "human_id", None)
    lines = list(StockMovement.objects.filter(used_for=label_id)) if label_id else []
    assert bool(lines) == kind.takes_stock, lines
    holders = {(type(line.holder), line.holder.pk): line.holder for line in lines}
    taken_before = {key: stock_of(type(holder).objects.get(pk=holder.pk))[0] for key, holder in holders.items()}
    response = api(author(kind, lab)).delete(url(kind, record))
    assert response.status_code == 204, response.content
    assert not type(record).objects.filter(pk=record.pk).exists()
    assert not StockMovement.objects.filter(used_for=label_id).exists() if label_id else True
    for key, holder in holders.items():
        given_back = sum(line.quantity for line in lines if (type(line.holder), line.holder.pk) == key)
        taken_after = stock_of(type(holder).objects.get(pk=holder.pk))[0]
        assert taken_after == pytest.approx(taken_before[key] - given_back), holder


@pytest.mark.parametrize("kind", access("project", "projects"), ids=str)
def test_non_members_get_404_for_a_record_and_403_creating_in_the_project(api, lab, kind):
    outsider = api(lab.people["outsider"])
    record = lab.project if kind.access == "projects" else make(kind, lab)
    assert outsider.get(url(kind, record)).status_code == 404
    if kind.create and kind.access == "project":
        response = outsider.post(url(kind), payload(kind, lab, kind.create), format="json")
        assert response.status_code == 403, response.json()
        assert response.json()["detail"] == f"You are not a member of project {lab.project.name!r}."


@pytest.mark.parametrize("kind", [kind for kind in access("project") if kind.create or kind.deletable], ids=str)
def test_readers_get_403_for_every_write(api, lab, kind):
    reader = api(lab.people["reader"])
    record = make(kind, lab)
    changed = "You are a reader of this project; only members with write rights can change its records."
    if kind.update:
        response = reader.patch(url(kind, record), kind.update, format="json")
        assert response.status_code == 403 and response.json()["detail"] == changed
    if kind.deletable:
        response = reader.delete(url(kind, record))
        assert response.status_code == 403 and response.json()["detail"] == changed
        assert type(record).objects.filter(pk=record.pk).exists()
    if kind.create:
        response = reader.post(url(kind), payload(kind, lab, kind.create), format="json")
        assert response.status_code == 403
        assert response.json()["detail"] == (f"You are a reader of project {lab.project.name!r}; only members with "
                                              "write rights add records.")


@pytest.mark.parametrize("kind", access("lab"), ids=str)
def test_researchers_read_shared_lab_data_and_only_lab_managers_write_it(api, lab, kind):
    researcher = api(lab.people["writer"])
    record = make(kind, lab)
    assert researcher.get(url(kind, record)).status_code == 200
    refused = "Only lab managers (staff) can change shared lab data such as materials and cyclers."
    for response in (researcher.post(url(kind), payload(kind, lab, kind.create), format="json"),
                     researcher.patch(url(kind, record), kind.update, format="json"),
                     researcher.delete(url(kind, record))):
        assert response.status_code == 403 and response.json()["detail"] == refused


@of("invalid")
def test_refused_payload_answers_400_with_the_field_and_the_rules_message(api, lab, kind):
    sent = payload(kind, lab, kind.invalid)
    model = kind.factory._meta.model
    before = model.objects.count()
    response = api(author(kind, lab)).post(url(kind), sent, format="json")
    assert response.status_code == 400, response.content
    assert response.json()[kind.field] == [kind.message.format(**sent)], response.json()
    assert model.objects.count() == before


def test_every_record_type_of_the_api_has_an_entry():
    from eln.api.urls import router

    assert sorted(prefix for prefix, _viewset, _basename in router.registry) == sorted(
        kind.endpoint for kind in RECORD_TYPES)
