"""Test factories for every record type, built the way the lab makes things: each one is
written through its service, so a factory's record obeys every rule (stock taken from its lots,
parts of the right material, references within the project).

A factory's related records come from the same project: ``CellFactory(project=p)`` makes the
sheets, electrodes, lots and alloy it needs in ``p``. Pass ``user=`` to record who made it.
"""
import datetime as dt
import hashlib
import math

import factory
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import services as analysis_services
from analysis.alerts import services as alert_services
from analysis.alerts.models import Alert, AlertRules
from analysis.core import synthetic
from analysis.core import synthetic_three_electrode
from analysis.models import LoadingReference
from cells import models as cm
from cells import services as cell_services
from eln import services as eln_services
from eln.models import NotebookAttachment, NotebookEntry, Project, ProjectMembership
from eln.notebook import services as notebook_services
from eln.security import services as security_services
from eln.security.models import ApiToken, LoginFailure
from samples import models as sm
from samples import services as sample_services


def material(name: str) -> sm.Material:
    return sm.Material.objects.get(name=name)


class ServiceFactory(factory.django.DjangoModelFactory):
    """Creates through ``SERVICES[model]``; ``user`` (optional) is who does it."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = kwargs.pop("user", None)
        return SERVICES[model_class](user=user, **kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"researcher{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@lab.example")
    password = factory.django.Password("pw")


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project with a manager (made by eln.services.project_create)."""

    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    description = ""

    @classmethod
    def _create(cls, model_class, *args, manager=None, **kwargs):
        return eln_services.project_create(user=manager or UserFactory(), **kwargs)


def member(project: Project, user, role: str = ProjectMembership.Role.WRITER, *, by=None) -> ProjectMembership:
    """``user`` made a member of ``project`` in ``role`` (eln.services.project_update)."""
    rows = [{"user": m.user, "role": m.role} for m in project.memberships.select_related("user") if m.user != user]
    eln_services.project_update(user=by, project=project, memberships=[*rows, {"user": user, "role": role}])
    return ProjectMembership.objects.get(project=project, user=user)


class MaterialFactory(ServiceFactory):
    class Meta:
        model = sm.Material

    name = factory.Sequence(lambda n: f"Material {n}")
    kind = sm.Material.Kind.OTHER


class LotFactory(ServiceFactory):
    class Meta:
        model = sm.PrecursorLot

    project = factory.SubFactory(ProjectFactory)
    material = factory.LazyFunction(lambda: material("Na2B12H12"))
    supplier = "Katchem"
    lot_number = factory.Sequence(lambda n: f"K-{n:04d}")
    quantity_received_mg = 5000.0


def lot(project, name: str, quantity_mg: float = 50_000.0, **extra) -> sm.PrecursorLot:
    return LotFactory(project=project, material=material(name), quantity_received_mg=quantity_mg, **extra)


class ElectrolyteBatchFactory(ServiceFactory):
    """1 g of Na4(B12H12)(B10H10) from equimolar precursors in 20 mL isopropanol."""

    class Meta:
        model = sm.ElectrolyteBatch

    project = factory.SubFactory(ProjectFactory)
    name = "1 g batch"
    product = factory.LazyFunction(lambda: material("Na4(B12H12)(B10H10)"))
    solvent_lot = factory.LazyAttribute(lambda o: lot(o.project, "Isopropanol", 100_000))
    solvent_volume_ml = 20.0
    yield_mg = 962.0
    inputs = factory.LazyAttribute(lambda o: [
        {"lot": lot(o.project, "Na2B12H12"), "mass_mg": 533.6},
        {"lot": lot(o.project, "Na2B10H10"), "mass_mg": 466.4},
    ])
    steps = factory.LazyFunction(lambda: [{"order": 1, "description": "Schlenk line", "temperature_c": 60}])


class InfiltrationSolutionFactory(ServiceFactory):
    """The equimolar closo-borates, 100 mg/mL in isopropanol."""

    class Meta:
        model = sm.InfiltrationSolution

    project = factory.SubFactory(ProjectFactory)
    product = factory.LazyFunction(lambda: material("Na4(B12H12)(B10H10)"))
    solvent_lot = factory.LazyAttribute(lambda o: lot(o.project, "Isopropanol", 100_000))
    solvent_volume_ml = 10.0
    inputs = factory.LazyAttribute(lambda o: [
        {"lot": lot(o.project, "Na2B12H12"), "mass_mg": 533.6},
        {"lot": lot(o.project, "Na2B10H10"), "mass_mg": 466.4},
    ])


def sheet_components(project, active: str = "NaCrO2", fractions=(95, 2, 3)):
    roles = (sm.SheetComponent.Role.ACTIVE, sm.SheetComponent.Role.BINDER, sm.SheetComponent.Role.CONDUCTIVE_CARBON)
    return [{"lot": lot(project, name), "role": role, "mass_fraction_percent": fraction}
            for name, role, fraction in zip((active, "PVDF", "Super P"), roles, fractions)]


class ElectrodeSheetFactory(ServiceFactory):
    """A NaCrO2 95:2:3 sheet on 4.05 mg/cm² Al foil with four 12 mm loading discs
    (7.37 mg/cm² of coating, 7.0 mg/cm² of NaCrO2)."""

    class Meta:
        model = sm.ElectrodeSheet

    project = factory.SubFactory(ProjectFactory)
    name = "NaCrO2 95:2:3"
    current_collector_areal_mass_mg_cm2 = 4.05
    coating_thickness_um = 80.0
    components = factory.LazyAttribute(lambda o: sheet_components(o.project))
    loading_discs = factory.LazyFunction(lambda: [{"diameter_mm": 12.0, "mass_mg": 12.91} for _ in range(4)])

    class Params:
        tin = factory.Trait(
            name="Sn 90:5:5",
            components=factory.LazyAttribute(lambda o: sheet_components(o.project, "Sn", (90, 5, 5))),
            loading_discs=[{"diameter_mm": 12.0, "mass_mg": 6.23} for _ in range(4)],
        )


class ElectrodeFactory(ServiceFactory):
    class Meta:
        model = sm.Electrode

    project = factory.SubFactory(ProjectFactory)
    sheet = factory.LazyAttribute(lambda o: ElectrodeSheetFactory(project=o.project))
    diameter_mm = 12.0
    mass_mg = 12.91


class InfiltrationRunFactory(ServiceFactory):
    class Meta:
        model = sm.InfiltrationRun

    project = factory.SubFactory(ProjectFactory)
    solution = factory.LazyAttribute(lambda o: InfiltrationSolutionFactory(project=o.project))
    solution_volume_ml = 2.0
    drying_steps = factory.LazyFunction(lambda: [{"order": 1, "description": "vacuum", "temperature_c": 180,
                                                  "duration_h": 4}])
    electrodes = factory.LazyAttribute(lambda o: [{
        "electrode": ElectrodeFactory(project=o.project), "mass_before_mg": 12.91, "mass_after_mg": 14.25,
        "pressed_thickness_um": 40.0, "pressed_mass_mg": 14.2,
    }])


class AlloyBatchFactory(ServiceFactory):
    """Na-Sn 3:1: 367.5 mg Na ground with 632.5 mg Sn."""

    class Meta:
        model = sm.AlloyBatch

    project = factory.SubFactory(ProjectFactory)
    name = "Na-Sn 3:1"
    inputs = factory.LazyAttribute(lambda o: [{"lot": lot(o.project, "Na"), "mass_mg": 367.5},
                                              {"lot": lot(o.project, "Sn"), "mass_mg": 632.5}])


class CyclerFactory(ServiceFactory):
    class Meta:
        model = cm.Cycler

    name = factory.Sequence(lambda n: f"VMP3-{n}")
    vendor = cm.Cycler.Vendor.BIOLOGIC
    channels = factory.LazyFunction(lambda: [{"number": str(n)} for n in range(1, 5)])


class ChannelFactory(ServiceFactory):
    class Meta:
        model = cm.Channel

    cycler = factory.SubFactory(CyclerFactory, channels=[])
    number = factory.Sequence(lambda n: str(n))


class ProtocolFactory(ServiceFactory):
    """2 × 0.1C then 100 × 0.5C between 2.10 and 3.35 V."""

    class Meta:
        model = cm.Protocol

    project = factory.SubFactory(ProjectFactory)
    name = "2 × 0.1C then 100 × 0.5C"
    steps = factory.LazyFunction(lambda: [
        {"order": 1, "cycle_count": 2, "charge_c_rate": 0.1, "discharge_c_rate": 0.1, "lower_cutoff_v": 2.1,
         "upper_cutoff_v": 3.35},
        {"order": 2, "cycle_count": 100, "charge_c_rate": 0.5, "discharge_c_rate": 0.5, "lower_cutoff_v": 2.1,
         "upper_cutoff_v": 3.35},
    ])


class CellFactory(ServiceFactory):
    """A NaCrO2 half cell against Na-Sn, its separator from an electrolyte batch."""

    class Meta:
        model = cm.Cell

    project = factory.SubFactory(ProjectFactory)
    kind = cm.Cell.Kind.CATHODE_HALF
    separator_batch = factory.LazyAttribute(lambda o: ElectrolyteBatchFactory(project=o.project))
    separator_mass_mg = 55.0
    lower_cutoff_v = 2.1
    upper_cutoff_v = 3.35
    parts = factory.LazyAttribute(lambda o: [
        {"role": "positive", "electrode": ElectrodeFactory(project=o.project)},
        {"role": "negative", "alloy_batch": AlloyBatchFactory(project=o.project), "mass_mg": 40.0,
         "description": "Na-Sn 3:1 powder"},
    ])

    class Params:
        full = factory.Trait(
            kind=cm.Cell.Kind.FULL, lower_cutoff_v=1.5, upper_cutoff_v=3.3,
            parts=factory.LazyAttribute(lambda o: [
                {"role": "positive", "electrode": ElectrodeFactory(project=o.project)},
                {"role": "negative", "electrode": ElectrodeFactory(
                    project=o.project, mass_mg=6.23, sheet=ElectrodeSheetFactory(project=o.project, tin=True))},
            ]),
        )


class CyclingRunFactory(ServiceFactory):
    class Meta:
        model = cm.CyclingRun

    project = factory.SubFactory(ProjectFactory)
    cell = factory.LazyAttribute(lambda o: CellFactory(project=o.project))
    protocol = factory.LazyAttribute(lambda o: ProtocolFactory(project=o.project))
    channel = factory.LazyAttribute(lambda o: ChannelFactory())
    state = cm.CyclingRun.State.RUNNING
    started_at = factory.LazyFunction(lambda: dt.datetime(2026, 11, 1, 17, tzinfo=dt.timezone.utc))


def cycler_token(cycler=None, *, label="cycler PC", user=None):
    """(token, key) for a cycler PC."""
    return cell_services.cycler_token_issue(user=user, cycler=cycler or CyclerFactory(), label=label)


class CyclerTokenFactory(factory.django.DjangoModelFactory):
    """A cycler PC's upload token (cells.services.cycler_token_issue); the key, shown once, is
    on the token as ``key``."""

    class Meta:
        model = cm.CyclerToken

    cycler = factory.SubFactory(CyclerFactory)
    label = "cycler PC"

    @classmethod
    def _create(cls, model_class, *args, user=None, **kwargs):
        token, key = cell_services.cycler_token_issue(user=user, **kwargs)
        token.key = key
        return token


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A person's API token (eln.security.services.api_token_issue); the key, shown once, is on
    the token as ``key``."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    label = "analysis notebook"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token, key = security_services.api_token_issue(**kwargs)
        token.key = key
        return token


class LoginFailureFactory(factory.django.DjangoModelFactory):
    """One failed login counted towards the lockout (eln.security.services.login_failure_record)."""

    class Meta:
        model = LoginFailure

    username = "wei"
    address = "192.0.2.7"

    @classmethod
    def _create(cls, model_class, *args, username, address):
        security_services.login_failure_record(username=username, address=address)
        return LoginFailure.objects.filter(username=username).latest("at")


class LoadingReferenceFactory(factory.django.DjangoModelFactory):
    """The lab's loading reference for a kind of cell (analysis.services.loading_reference_set)."""

    class Meta:
        model = LoadingReference

    kind = cm.Cell.Kind.FULL
    specific_capacity_mah_g = 113.0
    note = "NaCrO2's measured reversible capacity in its half cells at 0.1C"

    @classmethod
    def _create(cls, model_class, *args, user=None, **kwargs):
        return analysis_services.loading_reference_set(user=user, **kwargs)


class StockCorrectionFactory(factory.django.DjangoModelFactory):
    """A correction (or disposal) in a holder's ledger (samples.services.stock_correct)."""

    class Meta:
        model = sm.StockMovement

    class Params:
        project = None  # the holder's project (a new one when not given)

    holder = factory.LazyAttribute(lambda o: LotFactory(**({"project": o.project} if o.project else {})))
    quantity = 100.0
    kind = sm.StockMovement.Kind.CORRECTION
    note = "weighed again"

    @classmethod
    def _create(cls, model_class, *args, user=None, **kwargs):
        return sample_services.stock_correct(user=user, **kwargs)


def cycling_file(cycles: int = 2) -> bytes:
    """A small Battery Data Format CSV of a NaCrO2 half cell at 0.1C (the first cycles of the
    paper's long-term test: 118.0 mAh/g at 95.2 %, then 117.6 mAh/g at 99.0 %), 20 points a step."""
    targets = []
    for number in range(cycles):
        discharge, efficiency = (118.0, 0.952) if number == 0 else (117.6, 0.990)
        targets.append(synthetic.CycleTarget(0.1, discharge / efficiency, discharge, 3.05 if number == 0 else 3.035,
                                             2.955))
    table = synthetic.generate(synthetic.nacro2_half_cell(), targets, sample_interval_s=math.inf,
                               min_points_per_step=20).table
    return synthetic.to_bdf_csv(table)


def uploaded_file(name: str, content: bytes) -> SimpleUploadedFile:
    """A file as the upload API hands it to the service: with its SHA-256."""
    uploaded = SimpleUploadedFile(name, content)
    uploaded.sha256 = hashlib.sha256(content).hexdigest()
    return uploaded


class RawFileFactory(factory.django.DjangoModelFactory):
    """A cycler's file received for a run (analysis.services.raw_file_receive), which makes
    its dataset; ``ingested=True`` also reads and analyses it, in process."""

    class Meta:
        model = cm.RawDataFile

    class Params:
        project = None  # the run's project (a new one when not given)

    run = factory.LazyAttribute(lambda o: CyclingRunFactory(**({"project": o.project} if o.project else {})))
    name = factory.Sequence(lambda n: f"cell{n}.bdf.csv")
    content = factory.LazyFunction(cycling_file)
    ingested = False

    @classmethod
    def _create(cls, model_class, *args, run, name, content, ingested=False, user=None, cycler_token=None):
        received = analysis_services.raw_file_receive(run=run, uploaded=uploaded_file(name, content), user=user,
                                                      cycler_token=cycler_token)
        if ingested:
            analysis_services.ingest(received.dataset.pk, received.raw_file.pk)
        return received.raw_file


class DatasetFactory(RawFileFactory):
    """The dataset of a received file (see RawFileFactory)."""

    class Meta:
        model = cm.Dataset

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw = super()._create(cm.RawDataFile, *args, **kwargs)
        return raw.datasets.get()


class NotebookEntryFactory(ServiceFactory):
    """A notebook entry naming a record of its project when given ``body`` with its label."""

    class Meta:
        model = NotebookEntry

    project = factory.SubFactory(ProjectFactory)
    title = "Pressed at 350 MPa"
    body = "Separator cold-pressed at 70 MPa, then the stack at 350 MPa for 5 min."


class NotebookAttachmentFactory(factory.django.DjangoModelFactory):
    """A file attached to an entry (eln.notebook.services.notebook_attachment_add)."""

    class Meta:
        model = NotebookAttachment

    entry = factory.SubFactory(NotebookEntryFactory)
    name = factory.Sequence(lambda n: f"balance-{n}.txt")
    content = b"12.91 mg\n"

    @classmethod
    def _create(cls, model_class, *args, entry, name, content, user=None):
        return notebook_services.notebook_attachment_add(user=user, entry=entry,
                                                         uploaded=SimpleUploadedFile(name, content))


class AlertRulesFactory(ServiceFactory):
    class Meta:
        model = AlertRules

    project = factory.SubFactory(ProjectFactory)
    efficiency_floor_percent = 99.0


class AlertFactory(factory.django.DjangoModelFactory):
    """An alert raised by the watch of running tests: a run started ``hours_silent`` ago that
    never sent a file (analysis.alerts.services.watch_silent_runs)."""

    class Meta:
        model = Alert

    class Params:
        project = None

    run = factory.LazyAttribute(lambda o: CyclingRunFactory(**({"project": o.project} if o.project else {})))
    hours_silent = 10.0

    @classmethod
    def _create(cls, model_class, *args, run, hours_silent, user=None):
        from django.utils import timezone

        run = cell_services.cycling_run_update(user=user, run=run,
                                               started_at=timezone.now() - dt.timedelta(hours=hours_silent))
        return next(alert for alert in alert_services.watch_silent_runs() if alert.run_id == run.pk)


SERVICES = {
    sm.Material: sample_services.material_add,
    sm.PrecursorLot: sample_services.lot_receive,
    sm.ElectrolyteBatch: sample_services.electrolyte_batch_record,
    sm.InfiltrationSolution: sample_services.infiltration_solution_prepare,
    sm.ElectrodeSheet: sample_services.electrode_sheet_cast,
    sm.Electrode: sample_services.electrode_punch,
    sm.InfiltrationRun: sample_services.infiltration_run_record,
    sm.AlloyBatch: sample_services.alloy_batch_prepare,
    cm.Cycler: cell_services.cycler_register,
    cm.Channel: cell_services.channel_add,
    cm.Protocol: cell_services.protocol_define,
    cm.Cell: cell_services.cell_build,
    cm.CyclingRun: cell_services.cycling_run_start,
    NotebookEntry: notebook_services.notebook_entry_write,
    AlertRules: alert_services.alert_rules_set,
}


def three_electrode_dataset(*, project=None, user=None, cycles: int = 2) -> cm.Dataset:
    """A three-electrode cell (NaCrO2 | Sn with a Na reference, its separator from a batch) and
    the dataset of a synthetic EC-Lab export of ``cycles`` cycles, ingested (analysed per
    electrode, without reference curves: no half cell was built from its sheets)."""
    project = project or ProjectFactory(manager=user)
    tin = ElectrodeSheetFactory(user=user, project=project, tin=True)
    cell = CellFactory(user=user, project=project, kind=cm.Cell.Kind.THREE_ELECTRODE, lower_cutoff_v=1.5,
                       upper_cutoff_v=3.3, parts=[
                           {"role": "positive", "electrode": ElectrodeFactory(user=user, project=project)},
                           {"role": "negative", "electrode": ElectrodeFactory(user=user, project=project, sheet=tin,
                                                                              mass_mg=6.23)},
                           {"role": "reference", "description": "Na metal reference"}])
    run = CyclingRunFactory(user=user, project=project, cell=cell)
    content = synthetic_three_electrode.simulate(n_cycles=cycles, sample_interval_s=600.0).to_mpt()
    return DatasetFactory(run=run, user=user, name="three-electrode.mpt", content=content, ingested=True)
