"""What is built and measured: cells and their parts, cyclers, protocols, cycling runs and
the raw files the cyclers write."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from analysis.core import definitions, process
from analysis.core.readers import ReaderError
from analysis.core.readers.mapped_csv import mapped_csv_reader
from eln.models import LabRecord, RulesInClean, physical
from eln.security.models import KEY_PREFIX_LENGTH, hash_key, new_key
from samples.models import (
    AlloyBatch,
    Electrode,
    ElectrolyteBatch,
    Material,
    PrecursorLot,
    lot_use_problem,
    material_use_problem,
    with_article,
)



def cutoff_problem(lower_v: float | None, upper_v: float | None) -> str | None:
    """The voltage window's one rule: the lower cut-off is below the upper one."""
    if lower_v is not None and upper_v is not None and lower_v >= upper_v:
        return f"The lower cut-off ({lower_v:g} V) must be below the upper cut-off ({upper_v:g} V)."
    return None


def cutoffs_ordered() -> Q:
    return Q(lower_cutoff_v__isnull=True) | Q(upper_cutoff_v__isnull=True) | Q(lower_cutoff_v__lt=F("upper_cutoff_v"))


class Cycler(models.Model):
    """A battery cycler (potentiostat) and its channels: lab equipment shared by all projects."""

    class Vendor(models.TextChoices):
        BIOLOGIC = "biologic", "BioLogic"
        NEWARE = "neware", "Neware"
        ARBIN = "arbin", "Arbin"
        MACCOR = "maccor", "Maccor"
        OTHER = "other", "other"

    name = models.CharField(max_length=100, unique=True)
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    model = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    csv_column_mapping = models.JSONField(
        default=dict, blank=True,
        help_text="for a CSV no reader recognises: which column holds what, e.g. "
                  '{"test_time_s": {"column": "Time(h)", "scale": 3600}, "current_ma": {"column": "I/A", '
                  '"scale": 1000}, "voltage_v": {"column": "U/V"}, "delimiter": ";", "decimal": ","}',
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.csv_column_mapping:
            try:
                mapped_csv_reader(self.csv_column_mapping)
            except ReaderError as error:
                raise ValidationError({"csv_column_mapping": error.reason}) from None


class Channel(models.Model):
    cycler = models.ForeignKey(Cycler, on_delete=models.CASCADE, related_name="channels")
    number = models.CharField(max_length=20, help_text="the channel's label on the cycler, e.g. 3 or C09")
    history = HistoricalRecords()

    class Meta:
        ordering = ["cycler__name", "number"]
        constraints = [models.UniqueConstraint(fields=["cycler", "number"], name="channel_number_per_cycler")]

    def __str__(self):
        return f"{self.cycler.name} channel {self.number}"


class Protocol(LabRecord):
    """A cycling programme as blocks of identical cycles, e.g. 2 × 0.1C then 100 × 0.5C."""

    HUMAN_ID_PREFIX = "PR"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    @property
    def cycle_count(self) -> int:
        return sum(step.cycle_count for step in self.steps.all())

    def nominal_c_rates(self) -> list[tuple[float, float]]:
        """(charge, discharge) C-rate of each cycle in order, as the protocol plans them."""
        rates = []
        for step in self.steps.all():
            rates.extend([(step.charge_c_rate, step.discharge_c_rate)] * step.cycle_count)
        return rates


class ProtocolStep(RulesInClean, models.Model):
    RULES_IN_CLEAN = ("protocol_step_cutoffs_ordered",)

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=1)
    cycle_count = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    charge_c_rate = models.FloatField("charge C-rate", validators=physical("c_rate"))
    discharge_c_rate = models.FloatField("discharge C-rate", validators=physical("c_rate"))
    lower_cutoff_v = models.FloatField("lower cut-off (V)", null=True, blank=True, validators=physical("voltage"))
    upper_cutoff_v = models.FloatField("upper cut-off (V)", null=True, blank=True, validators=physical("voltage"))
    rest_min = models.FloatField("rest between half cycles (min)", default=0, validators=physical("minutes"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order"], name="step_order_once_per_protocol"),
            models.CheckConstraint(condition=cutoffs_ordered(), name="protocol_step_cutoffs_ordered",
                                   violation_error_message="The lower cut-off must be below the upper cut-off."),
        ]

    def clean(self):
        problem = cutoff_problem(self.lower_cutoff_v, self.upper_cutoff_v)
        if problem:
            raise ValidationError({"lower_cutoff_v": f"Step {self.order}: {problem}"})


class Cell(RulesInClean, LabRecord):
    """A pressed cell (or a liquid-electrolyte reference coin cell) with its electrodes by role."""

    HUMAN_ID_PREFIX = "CELL"

    class Kind(models.TextChoices):
        CATHODE_HALF = "cathode_half", "cathode half cell (vs Na-Sn)"
        ANODE_HALF = "anode_half", "anode half cell (Sn vs Na-Sn)"
        FULL = "full", "full cell (NaCrO2 | Sn)"
        THREE_ELECTRODE = "three_electrode", "three-electrode full cell (Na reference)"
        LIQUID_REFERENCE = "liquid_reference", "liquid-electrolyte reference coin cell"

    class Hardware(models.TextChoices):
        PEEK_MOLD = "peek_mold_ti", "PEEK mold, Ti current collectors"
        COIN_2032 = "coin_2032", "2032 coin cell"
        OTHER = "other", "other"

    class NpBasis(models.TextChoices):
        REFERENCE = "reference", "materials' reference specific capacities"
        MEASURED = "measured", "measured reversible capacities of the half cells"

    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    assembled_on = models.DateField(null=True, blank=True)
    separator_batch = models.ForeignKey(
        ElectrolyteBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="separator_cells",
        help_text="solid electrolyte powder cold-pressed into the separator layer",
    )
    separator_mass_mg = models.FloatField("separator mass (mg)", null=True, blank=True, validators=physical("mass"))
    separator_pressure_mpa = models.FloatField("separator pressing (MPa)", null=True, blank=True, default=70,
        validators=physical("pressure_mpa"))
    liquid_electrolyte = models.CharField(max_length=100, blank=True, help_text="e.g. 1 M NaClO4 in PC")
    assembly_pressure_mpa = models.FloatField("assembly pressure (MPa)", null=True, blank=True, default=350,
        validators=physical("pressure_mpa"))
    stack_pressure_mpa = models.FloatField("stack pressure while cycling (MPa)", null=True, blank=True, default=70,
        validators=physical("pressure_mpa"))
    hardware = models.CharField(max_length=20, choices=Hardware.choices, default=Hardware.PEEK_MOLD)
    temperature_c = models.FloatField("cycling temperature (°C)", default=30, validators=physical("temperature"))
    lower_cutoff_v = models.FloatField("lower cut-off (V)", null=True, blank=True, validators=physical("voltage"))
    upper_cutoff_v = models.FloatField("upper cut-off (V)", null=True, blank=True, validators=physical("voltage"))
    np_basis = models.CharField("N/P basis", max_length=10, choices=NpBasis.choices, default=NpBasis.REFERENCE)
    negative_capacity_for_np_mah_g = models.FloatField(
        "negative specific capacity for N/P (mAh/g)", null=True, blank=True, validators=physical("specific_capacity"),
        help_text="the measured reversible capacity when the basis is 'measured'",
    )
    positive_capacity_for_np_mah_g = models.FloatField(
        "positive specific capacity for N/P (mAh/g)", null=True, blank=True, validators=physical("specific_capacity"),
    )
    excluded_from_comparisons = models.BooleanField(
        null=True, blank=True,
        help_text="empty: decided by the ±5 % loading check; yes/no: a person's decision",
    )
    # A three-electrode cell's electrodes are fitted with slow half-cell cycles of the same
    # electrodes; empty: the slowest cycle of a half cell built from the same sheet.
    positive_reference_dataset = models.ForeignKey(
        "Dataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="three-electrode cells: the dataset of a cathode half cell whose slow cycle is the NaCrO2 "
                  "reference curve; empty: the slowest cycle of a cathode half cell built from the same sheet",
    )
    positive_reference_cycle = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="the cycle of that dataset; empty: its slowest complete cycle")
    negative_reference_dataset = models.ForeignKey(
        "Dataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="three-electrode cells: the dataset of a Sn half cell whose slow cycle is the Sn reference "
                  "curve; empty: the slowest cycle of a Sn half cell built from the same sheet",
    )
    negative_reference_cycle = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="the cycle of that dataset; empty: its slowest complete cycle")
    history = HistoricalRecords()

    #: role -> the kind of half cell its reference curve comes from
    REFERENCE_HALF_CELL_KINDS = {"positive": Kind.CATHODE_HALF, "negative": Kind.ANODE_HALF}
    BALANCED_KINDS = (Kind.FULL, Kind.THREE_ELECTRODE)
    RULES_IN_CLEAN = ("cell_cutoffs_ordered",)

    class Meta(LabRecord.Meta):
        constraints = [
            models.CheckConstraint(condition=cutoffs_ordered(), name="cell_cutoffs_ordered",
                                   violation_error_message="The lower cut-off must be below the upper cut-off."),
        ]

    def clean(self):
        errors = {}
        problem = cutoff_problem(self.lower_cutoff_v, self.upper_cutoff_v)
        if problem:
            errors["lower_cutoff_v"] = problem
        if self.np_basis == self.NpBasis.MEASURED and self.kind in self.BALANCED_KINDS:
            for field in ("negative_capacity_for_np_mah_g", "positive_capacity_for_np_mah_g"):
                if getattr(self, field) is None:
                    errors[field] = "Required when the N/P basis is 'measured': the half cell's reversible capacity."
        errors.update(self.reference_problems())
        if self.separator_batch_id:
            problem = material_use_problem(self.separator_batch.product, "solid electrolyte",
                                           what=self.separator_batch.human_id)
            if problem:
                errors["separator_batch"] = problem
        if errors:
            raise ValidationError(errors)

    def reference_problems(self) -> dict[str, str]:
        """The rules of the chosen reference curves: a three-electrode cell's only, each from a
        half cell of its electrode, a cycle only with its dataset."""
        problems = {}
        for role, kind in self.REFERENCE_HALF_CELL_KINDS.items():
            dataset_field, cycle_field = f"{role}_reference_dataset", f"{role}_reference_cycle"
            dataset = getattr(self, dataset_field) if getattr(self, f"{dataset_field}_id") else None
            if dataset is None:
                if getattr(self, cycle_field) is not None:
                    problems[cycle_field] = f"Choose the dataset the {role} reference cycle belongs to."
                continue
            if self.kind != self.Kind.THREE_ELECTRODE:
                problems[dataset_field] = "Only a three-electrode cell is fitted with reference curves."
                continue
            source = dataset.run.cell
            if source.kind != kind:
                def a(label):
                    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"

                problems[dataset_field] = (
                    f"{dataset.human_id} was measured on {source.human_id}, {a(source.get_kind_display())}; the "
                    f"{role} electrode's reference curve comes from {a(self.Kind(kind).label)}.")
        return problems

    def electrode_in_role(self, role: str):
        return next((part for part in self.parts.all() if part.role == role), None)

    @property
    def first_half_cycle(self) -> str:
        """A Sn half cell starts with sodiation (a discharge); every other cell with charge
        (the lab's definitions per kind, ``analysis.core.definitions``)."""
        return definitions.for_kind(self.kind).first_half_cycle if self.kind else "charge"

    @property
    def working_electrode(self) -> Electrode | None:
        """The cast electrode whose active mass the specific capacity is reported against."""
        part = self.electrode_in_role(CellPart.Role.POSITIVE)
        return part.electrode if part else None

    @property
    def area_cm2(self) -> float | None:
        electrode = self.working_electrode
        return electrode.area_cm2 if electrode else None

    @property
    def reference_specific_capacity_mah_g(self) -> float | None:
        electrode = self.working_electrode
        material = electrode.sheet.active_material if electrode else None
        return material.reference_specific_capacity_mah_g if material else None

    @property
    def one_c_current_ma(self) -> float | None:
        electrode = self.working_electrode
        return electrode.reference_capacity_mah if electrode else None

    @property
    def one_c_current_density_ma_cm2(self) -> float | None:
        current, area = self.one_c_current_ma, self.area_cm2
        return process.current_density_ma_cm2(current, area) if current is not None and area else None

    @property
    def np_ratio(self) -> float | None:
        """Negative ÷ positive areal capacity, on the basis stored in ``np_basis``."""
        if self.kind not in (self.Kind.FULL, self.Kind.THREE_ELECTRODE):
            return None
        pos, neg = self.electrode_in_role(CellPart.Role.POSITIVE), self.electrode_in_role(CellPart.Role.NEGATIVE)
        if not (pos and neg and pos.electrode and neg.electrode):
            return None
        if self.np_basis == self.NpBasis.MEASURED:
            q_neg, q_pos = self.negative_capacity_for_np_mah_g, self.positive_capacity_for_np_mah_g
        else:
            materials = (neg.electrode.sheet.active_material, pos.electrode.sheet.active_material)
            if None in materials:
                return None
            q_neg, q_pos = (m.reference_specific_capacity_mah_g for m in materials)
        loadings = (neg.electrode.active_loading_mg_cm2, pos.electrode.active_loading_mg_cm2)
        if None in (q_neg, q_pos, *loadings):
            return None
        return process.np_ratio(loadings[0], q_neg, loadings[1], q_pos)


class CellPart(RulesInClean, models.Model):
    """An electrode of a cell in its role: a cast electrode, an alloy, or a metal foil."""

    RULES_IN_CLEAN = ("electrode_in_one_cell", "part_is_something", "electrode_part_is_only_the_electrode")

    class Role(models.TextChoices):
        POSITIVE = "positive", "positive"
        NEGATIVE = "negative", "negative"
        REFERENCE = "reference", "reference"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="parts")
    role = models.CharField(max_length=10, choices=Role.choices)
    electrode = models.ForeignKey(
        Electrode, null=True, blank=True, on_delete=models.PROTECT, related_name="cell_parts"
    )
    alloy_batch = models.ForeignKey(
        AlloyBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="cell_parts"
    )
    lot = models.ForeignKey(
        PrecursorLot, null=True, blank=True, on_delete=models.PROTECT, related_name="cell_parts",
        help_text="the lot a metal part (e.g. Na foil) was cut from",
    )
    mass_mg = models.FloatField("mass (mg)", null=True, blank=True, validators=physical("mass"),
                                help_text="for an alloy or metal part; taken from the alloy batch's or the lot's stock")
    description = models.CharField(max_length=100, blank=True, help_text="e.g. Na metal foil")
    history = HistoricalRecords()

    class Meta:
        ordering = ["cell", "role"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "role"], name="one_part_per_role"),
            models.UniqueConstraint(fields=["electrode"], condition=Q(electrode__isnull=False),
                                    name="electrode_in_one_cell",
                                    violation_error_message="An electrode belongs to at most one cell."),
            models.CheckConstraint(
                condition=Q(electrode__isnull=False) | Q(alloy_batch__isnull=False) | Q(lot__isnull=False)
                | ~Q(description=""),
                name="part_is_something",
                violation_error_message="A part needs an electrode, an alloy batch, a lot or a description.",
            ),
            models.CheckConstraint(
                condition=Q(electrode__isnull=True) | (Q(alloy_batch__isnull=True) & Q(lot__isnull=True)),
                name="electrode_part_is_only_the_electrode",
                violation_error_message="A part is an electrode, or an alloy or metal piece, not both.",
            ),
        ]

    def __str__(self):
        what = self.electrode or self.alloy_batch or self.lot or self.description
        return f"{self.get_role_display()}: {what}"

    def clean(self):
        errors = {}
        if not (self.electrode_id or self.alloy_batch_id or self.lot_id or self.description):
            errors["electrode"] = (f"The {self.role} part needs an electrode, an alloy batch, a lot or a description "
                                   "(e.g. Na metal foil).")
        elif self.electrode_id and (self.alloy_batch_id or self.lot_id):
            errors["electrode"] = f"The {self.role} part is an electrode or an alloy or metal piece, not both."
        if self.alloy_batch_id and self.lot_id:
            errors["lot"] = f"The {self.role} part comes from an alloy batch or from a lot, not both."
        problem = lot_use_problem(self.lot if self.lot_id else None, "metal electrode")
        if problem:
            errors["lot"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def electrode_material(self) -> Material | None:
        return self.electrode.sheet.active_material if self.electrode_id else None


# What the cell's kind asks of its parts: the roles it needs, and the active material of the
# cast electrode in a role (None: no cast electrode asked for, anything described will do).
PART_RULES = {
    Cell.Kind.CATHODE_HALF: {"positive": Material.Kind.CATHODE_ACTIVE, "negative": None},
    Cell.Kind.ANODE_HALF: {"positive": Material.Kind.ANODE_ACTIVE, "negative": None},
    Cell.Kind.FULL: {"positive": Material.Kind.CATHODE_ACTIVE, "negative": Material.Kind.ANODE_ACTIVE},
    Cell.Kind.THREE_ELECTRODE: {"positive": Material.Kind.CATHODE_ACTIVE, "negative": Material.Kind.ANODE_ACTIVE,
                                "reference": None},
    Cell.Kind.LIQUID_REFERENCE: {"positive": Material.Kind.CATHODE_ACTIVE, "negative": None},
}


def part_problems(kind: str, parts: list[CellPart]) -> list[str]:
    """What is wrong with a cell's parts for its kind: the roles it needs, and a cast electrode
    of the right active material in each role that asks for one (in a full cell NaCrO2 is the
    positive, Sn the negative; a Sn half cell's Sn electrode is its positive)."""
    rules = PART_RULES.get(kind, {})
    label = Cell.Kind(kind).label if kind in Cell.Kind.values else kind
    problems = []
    roles = {part.role for part in parts}
    missing = [role for role in rules if role not in roles]
    if missing:
        problems.append(f"This {label} needs parts in the roles: {', '.join(missing)}.")
    for part in parts:
        if part.role not in rules:
            problems.append(f"This {label} has no {part.role} part.")
            continue
        wanted = rules[part.role]
        if wanted is None:
            continue
        if not part.electrode_id:
            problems.append(f"The {part.role} part of this {label} is a cast electrode of "
                            f"{with_article(str(Material.Kind(wanted).label))}.")
            continue
        material = part.electrode_material
        if material is not None and material.kind != wanted:
            problems.append(
                f"{part.electrode.human_id} is a {material.name} electrode ({material.get_kind_display()}); "
                f"the {part.role} electrode of this {label} is of {with_article(str(Material.Kind(wanted).label))}."
            )
    return problems


class CyclingRun(LabRecord):
    """A cell on a cycler channel running a protocol."""

    HUMAN_ID_PREFIX = "RUN"

    class State(models.TextChoices):
        PLANNED = "planned", "planned"
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"
        ABORTED = "aborted", "aborted"

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="runs")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    protocol = models.ForeignKey(Protocol, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta(LabRecord.Meta):
        verbose_name = "cycling run"


def raw_file_path(instance: "RawDataFile", filename: str) -> str:
    return f"raw/{instance.run.human_id}/{instance.sha256[:12]}/{filename}"


class RawDataFile(models.Model):
    """A file exactly as the cycler wrote it; never altered, never deleted by processing."""

    run = models.ForeignKey(CyclingRun, on_delete=models.PROTECT, related_name="raw_files")
    file = models.FileField(upload_to=raw_file_path, max_length=500)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    uploaded_with = models.ForeignKey(
        "CyclerToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads",
        help_text="the cycler token that sent it, when a cycler PC uploaded it",
    )
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by",
        help_text="the earlier, shorter version of the same growing file",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-uploaded_at"]
        constraints = [models.UniqueConstraint(fields=["run", "sha256"], name="same_bytes_once_per_run")]

    def __str__(self):
        return f"{self.original_name} ({self.run.human_id})"

    @property
    def gone_message(self) -> str:
        """What a person reads when the stored file has gone (a restore without it, a cleanup)."""
        return (f"The raw file {self.original_name} of {self.run.human_id} is no longer in the file store "
                f"(a restore without it, or a cleanup). Send the same file again (SHA-256 {self.sha256}) "
                "to put it back; the numbers already computed from it are kept.")


class Dataset(LabRecord):
    """The cycling data of a run as read from its newest raw file: what analysis works on."""

    HUMAN_ID_PREFIX = "DS"

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        # stored, but the task queue did not answer: the sweep queues it when the queue is back
        WAITING_FOR_QUEUE = "waiting_for_queue", "waiting for the queue"
        RUNNING = "running", "running"
        DONE = "done", "done"
        DONE_WITH_WARNINGS = "done_with_warnings", "done with warnings"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"  # a stage not run: an earlier one failed, or not cycling data

    class MeasurementKind(models.TextChoices):
        CYCLING = "cycling", "cycling (charge and discharge)"
        IMPEDANCE = "impedance", "impedance spectroscopy"
        VOLTAMMETRY = "voltammetry", "cyclic or linear-sweep voltammetry"
        OPEN_CIRCUIT = "open_circuit", "open-circuit voltage"
        PULSE = "pulse", "current or potential pulses"
        COMPANION = "companion", "settings of another file (a companion file)"

    run = models.ForeignKey(CyclingRun, on_delete=models.PROTECT, related_name="datasets")
    raw_file = models.ForeignKey(RawDataFile, on_delete=models.PROTECT, related_name="datasets")
    source_name = models.CharField(max_length=255, help_text="the cycler's file name; a grown file keeps it")
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    message = models.TextField(blank=True, help_text="what went wrong, in words a person can act on")
    measurement_kind = models.CharField(
        max_length=20, choices=MeasurementKind.choices, blank=True,
        help_text="what the file holds, from its technique header or its signal; only cycling data "
                  "gets cycles and feeds the cell's metrics")
    warning_count = models.PositiveIntegerField(default=0, help_text="quality flags of its cycles")
    data_started_at = models.DateTimeField(null=True, blank=True,
                                           help_text="when the data begins, as the file says: orders the cell's history")
    excluded_from_history = models.BooleanField(
        "left out of the cell's history", default=False,
        help_text="its cycles stay stored but do not feed the cell's cycle history and metrics")
    exclusion_reason = models.TextField("why it is left out", blank=True)
    parquet_file = models.FileField(max_length=500, blank=True, help_text="the canonical table, beside the raw file")
    reader_name = models.CharField(max_length=50, blank=True)
    reader_version = models.CharField(max_length=20, blank=True)
    row_count = models.PositiveBigIntegerField(null=True, blank=True)
    file_metadata = models.JSONField(default=dict, blank=True, help_text="what the file says about itself")
    history = HistoricalRecords(excluded_fields=["file_metadata"])

    class Meta(LabRecord.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "source_name"], name="one_dataset_per_source_file")]

    def clean(self):
        super().clean()
        if self.excluded_from_history and not self.exclusion_reason.strip():
            raise ValidationError({"exclusion_reason": "Say why the dataset is left out of the cell's history."})


class CyclerToken(models.Model):
    """A cycler PC's credential: uploads to that cycler's channels and nothing else.

    Only the SHA-256 of the key is stored; the key itself is shown once, when it is made.
    """

    KEY_PREFIX_LENGTH = KEY_PREFIX_LENGTH

    cycler = models.ForeignKey(Cycler, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=100, blank=True, help_text="e.g. the PC it is installed on")
    key_prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, editable=False,
                                  help_text="the first characters of the key, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["cycler__name", "-created_at"]

    def __str__(self):
        state = "revoked" if self.revoked_at else "active"
        return f"{self.cycler.name} token {self.key_prefix}… ({state})"

    hash_key = staticmethod(hash_key)  # as a person's API tokens (eln.security)

    def set_new_key(self) -> str:
        """Give the token a fresh key; returns the key, which is not stored and cannot be shown again."""
        key, self.key_prefix, self.key_hash = new_key()
        return key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def clean(self):
        if self.pk and self.revoked_at is None:
            stored = CyclerToken.objects.filter(pk=self.pk).values_list("revoked_at", flat=True).first()
            if stored is not None:
                raise ValidationError({"revoked_at": "A revoked token stays revoked; make a new token instead."})
