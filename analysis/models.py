"""Stored results of the analysis: processing stages, cycles and steps, per-cycle summaries,
cell metrics, and the three-electrode results (per-electrode cycles, degradation modes,
diagnoses and fade predictions). Computed by the tasks from the pure core; never edited
by hand."""
import pyarrow as pa
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from analysis.core.cycling import SUMMARY_COLUMNS
from analysis.core.electrodes.cycles import ELECTRODE_CYCLE_COLUMNS, POTENTIAL_RANGE_COLUMNS
from analysis.core.electrodes.dma import FIT_COLUMNS, MODE_COLUMNS
from analysis.core.electrodes.fade import PREDICTION_COLUMNS
from cells.models import Cell, Dataset
from eln.models import physical


class ProcessingStage(models.Model):
    """One stage of a dataset's ingestion and its state, for the UI and API to show."""

    class Name(models.TextChoices):
        READ = "read", "read the raw file into the canonical table"
        CYCLES = "cycles", "find steps and cycles"
        SUMMARY = "summary", "per-cycle summary"
        METRICS = "metrics", "cell metrics"
        ELECTRODES = "electrodes", "three-electrode analysis"

    State = Dataset.State  # a dataset's state sums up its stages' states

    ORDER = [Name.READ, Name.CYCLES, Name.SUMMARY, Name.METRICS, Name.ELECTRODES]
    #: every dataset's stages; ELECTRODES is a three-electrode cell's cycling datasets' only
    INGESTION = ORDER[:4]

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=10, choices=Name.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requeues = models.PositiveIntegerField(
        default=0, help_text="times the sweep queued the dataset again with this stage unfinished "
                             "(its worker stopped, or the queue was away)")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="when it was last queued")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="one_stage_of_each_name")]

    def __str__(self):
        return f"{self.dataset.human_id} {self.name}: {self.state}"


class CycleStep(models.Model):
    """A step found from current and voltage: charge, discharge, rest or constant voltage."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="steps")
    step_number = models.PositiveIntegerField()
    cycle_number = models.IntegerField(null=True, help_text="null for steps outside any cycle")
    kind = models.CharField(max_length=16)
    start_row = models.BigIntegerField()
    end_row = models.BigIntegerField()
    start_time_s = models.FloatField()
    end_time_s = models.FloatField()
    duration_s = models.FloatField()
    capacity_mah = models.FloatField(help_text="from the cycler's counter where the file has one, else the integral")
    energy_mwh = models.FloatField()
    counter_capacity_mah = models.FloatField(null=True, help_text="the cycler's counter over the step")
    integral_capacity_mah = models.FloatField(null=True, help_text="∫|I|dt of the logged rows")
    role = models.CharField(max_length=8, blank=True, help_text="in, out, pulse or rest")
    half_cycle = models.IntegerField(null=True, help_text="its half cycle (pulses are half cycles of their own)")
    cycler_step = models.IntegerField(null=True, help_text="the cycler's step number at its first row")
    mean_current_ma = models.FloatField()
    start_voltage_v = models.FloatField(null=True)
    end_voltage_v = models.FloatField(null=True)

    class Meta:
        ordering = ["dataset", "step_number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "step_number"], name="one_row_per_step")]


def _summary_field(arrow_type: pa.DataType, meaning: str) -> models.Field:
    if pa.types.is_boolean(arrow_type):
        return models.BooleanField(default=True, help_text=meaning)
    if pa.types.is_integer(arrow_type):
        return models.BigIntegerField(null=True, help_text=meaning)
    if pa.types.is_string(arrow_type):
        return models.CharField(max_length=20, blank=True, help_text=meaning)
    return models.FloatField(null=True, help_text=meaning)


#: summary columns stored elsewhere: the flags are QualityFlag rows
NOT_SUMMARY_FIELDS = ("cycle_number", "flags")


class CycleSummary(models.Model):
    """One cycle of a dataset, in the lab's numbers.

    The columns are those of the pure core's summary table (``SUMMARY_COLUMNS``), so the two
    cannot drift apart: a new column there is a new field here (and a migration).
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="cycles")
    cycle_number = models.IntegerField(help_text="the cycle's number in its dataset")
    history_cycle_number = models.IntegerField(
        null=True, blank=True,
        help_text="its number in the cell's history over all its datasets (null: left out, or "
                  "the remainder of a cycle begun in the dataset before)")
    for _name, (_type, _meaning) in SUMMARY_COLUMNS.items():
        if _name not in NOT_SUMMARY_FIELDS:
            locals()[_name] = _summary_field(_type, _meaning)
    del _name, _type, _meaning

    class Meta:
        ordering = ["dataset", "cycle_number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number"], name="one_summary_per_cycle")]


class QualityFlag(models.Model):
    """Why a number of a dataset may not be trusted: its code, the half cycle and quantity it
    concerns, its size and the limit it was checked against, and a message saying it all."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="quality_flags")
    cycle_number = models.IntegerField(null=True, blank=True, help_text="null: the dataset as a whole")
    code = models.CharField(max_length=40)
    half = models.CharField(max_length=10, blank=True)
    quantity = models.CharField(max_length=10, blank=True)
    value = models.FloatField(null=True, help_text="its size, in unit")
    limit = models.FloatField(null=True, help_text="what it was checked against, in unit")
    unit = models.CharField(max_length=10, blank=True)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dataset", "cycle_number", "id"]
        indexes = [models.Index(fields=["dataset", "cycle_number"])]

    def __str__(self):
        where = f"cycle {self.cycle_number}" if self.cycle_number is not None else "dataset"
        return f"{self.dataset.human_id} {where}: {self.message}"


class LoadingReference(models.Model):
    """The lab's reference capacity for the ±5 % loading check of a kind of cell other than a
    cathode half cell (which is checked against its active material's practical reference).
    Without one the check does not apply to that kind."""

    kind = models.CharField(max_length=20, choices=Cell.Kind.choices, unique=True)
    specific_capacity_mah_g = models.FloatField(
        "reference specific capacity (mAh/g)", validators=[MinValueValidator(1e-6), *physical("specific_capacity")],
        help_text="of the active material the cell's capacities are given per gram of")
    tolerance = models.FloatField(default=0.05, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
                                  help_text="as a fraction: 0.05 = ±5 %")
    note = models.TextField(blank=True, help_text="where the value comes from")
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.specific_capacity_mah_g:g} mAh/g"


class CellMetrics(models.Model):
    """What a researcher reports for a cell, from its cycle history over every cycling dataset
    not left out; recomputed on change."""

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="metrics")
    dataset = models.ForeignKey(Dataset, on_delete=models.SET_NULL, null=True, related_name="+",
                                help_text="the newest dataset of the history")
    sources = models.JSONField(default=list, help_text="the datasets that feed the metrics, with their cycles")
    left_out = models.JSONField(default=list, help_text="the cell's datasets that do not, and why")
    computed_at = models.DateTimeField(auto_now=True)
    first_cycle_efficiency = models.FloatField(null=True)
    initial_specific_discharge_capacity_mah_g = models.FloatField(null=True)
    loading_check = models.CharField(max_length=12, blank=True,
                                     help_text="ok, suspect, unknown or not checked (±5 % rule)")
    values = models.JSONField(default=dict, help_text="every metric with its method and parameters")

    class Meta:
        verbose_name_plural = "cell metrics"


# --- three-electrode analysis -----------------------------------------------------------------
# One row per dataset, cycle and electrode (and range, half cycle), with the pure core's columns
# (analysis.core.electrodes: ELECTRODE_CYCLE_COLUMNS, POTENTIAL_RANGE_COLUMNS, FIT_COLUMNS,
# MODE_COLUMNS, PREDICTION_COLUMNS) as explicit fields, so the two cannot drift apart.


class ElectrodeRole(models.TextChoices):
    POSITIVE = "positive", "positive (NaCrO2)"
    NEGATIVE = "negative", "negative (Sn)"


def _column_field(arrow_type: pa.DataType, meaning: str) -> models.Field:
    if pa.types.is_boolean(arrow_type):
        return models.BooleanField(null=True, help_text=meaning)
    if pa.types.is_integer(arrow_type):
        return models.BigIntegerField(null=True, help_text=meaning)
    if pa.types.is_string(arrow_type):
        return models.TextField(blank=True, default="", help_text=meaning)
    return models.FloatField(null=True, help_text=meaning)


def _columns_as_fields(namespace: dict, columns: dict, *, skip=()) -> None:
    for name, (arrow_type, meaning) in columns.items():
        if name not in skip:
            namespace[name] = _column_field(arrow_type, meaning)


class ElectrodeAnalysis(models.Model):
    """The three-electrode analysis of one dataset: where each potential came from, the
    consistency check |V − (E₊ − E₋)|, which reference curves the electrodes were fitted with,
    and the methods and parameters of the tables stored beside it."""

    class Check(models.TextChoices):
        PASSED = "passed", "passed"
        FAILED = "failed", "failed"
        NOT_CHECKED = "not_checked", "not checked (only two of the three potentials recorded)"

    class Modes(models.TextChoices):
        COMPUTED = "computed", "computed"
        PARTIAL = "partial", "partial (one electrode or branch without a reference curve)"
        NO_REFERENCE = "no_reference", "not computed: no reference curve"

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="electrode_analysis")
    computed_at = models.DateTimeField(auto_now=True)
    working_electrode = models.CharField(max_length=10, choices=ElectrodeRole.choices,
                                         help_text="the electrode the file's Ewe belongs to")
    potential_sources = models.JSONField(default=dict,
                                         help_text="for each potential: measured (which column) or derived")
    consistency_status = models.CharField(max_length=12, choices=Check.choices)
    consistency_tolerance_v = models.FloatField()
    consistency_max_abs_error_v = models.FloatField(null=True)
    consistency_rms_error_v = models.FloatField(null=True)
    consistency_rows = models.BigIntegerField(default=0, help_text="rows with all three potentials")
    consistency_rows_over_tolerance = models.BigIntegerField(default=0)
    consistency_worst_row = models.BigIntegerField(null=True)
    consistency_message = models.TextField(blank=True)
    modes_status = models.CharField(max_length=12, choices=Modes.choices)
    modes_messages = models.JSONField(default=list, help_text="what could not be computed, and why")
    modes_reference_cycle = models.IntegerField(null=True, help_text="the cycle the modes are relative to")
    positive_reference_dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    positive_reference_cycle = models.IntegerField(null=True)
    positive_reference_source = models.TextField(blank=True, help_text="the NaCrO2 reference curve and why it was used")
    negative_reference_dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    negative_reference_cycle = models.IntegerField(null=True)
    negative_reference_source = models.TextField(blank=True, help_text="the Sn reference curve and why it was used")
    params = models.JSONField(default=dict, help_text="method, version and parameters of each table")

    class Meta:
        verbose_name_plural = "electrode analyses"


class ElectrodeCycle(models.Model):
    """What one electrode did in one cycle of a three-electrode dataset."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="electrode_cycles")
    cycle_number = models.IntegerField()
    electrode = models.CharField(max_length=10, choices=ElectrodeRole.choices)
    _columns_as_fields(locals(), ELECTRODE_CYCLE_COLUMNS, skip=("cycle_number", "electrode"))

    class Meta:
        ordering = ["dataset", "cycle_number", "-electrode"]  # positive first
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number", "electrode"],
                                               name="one_row_per_cycle_and_electrode")]


class ElectrodePotentialRange(models.Model):
    """The capacity an electrode passed in one of its characteristic potential ranges."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="electrode_ranges")
    cycle_number = models.IntegerField()
    electrode = models.CharField(max_length=10, choices=ElectrodeRole.choices)
    range_name = models.CharField(max_length=40)
    _columns_as_fields(locals(), POTENTIAL_RANGE_COLUMNS, skip=("cycle_number", "electrode", "range_name"))

    class Meta:
        ordering = ["dataset", "cycle_number", "-electrode", "low_v"]
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number", "electrode", "range_name"],
                                               name="one_row_per_cycle_electrode_and_range")]


class ElectrodeBranchFit(models.Model):
    """One electrode's half cycle fitted with its reference branch: fills, capacity, residuals."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="electrode_fits")
    cycle_number = models.IntegerField()
    electrode = models.CharField(max_length=10, choices=ElectrodeRole.choices)
    half_cycle = models.CharField(max_length=10)
    _columns_as_fields(locals(), FIT_COLUMNS, skip=("cycle_number", "electrode", "half_cycle"))

    class Meta:
        ordering = ["dataset", "cycle_number", "-electrode", "half_cycle"]
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number", "electrode", "half_cycle"],
                                               name="one_fit_per_cycle_electrode_and_half_cycle")]


class DegradationModeCycle(models.Model):
    """The degradation modes of one cycle against the reference cycle."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="degradation_modes")
    cycle_number = models.IntegerField()
    _columns_as_fields(locals(), MODE_COLUMNS, skip=("cycle_number",))

    class Meta:
        ordering = ["dataset", "cycle_number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number"], name="one_mode_row_per_cycle")]


MODE_CHOICES = [("loss_of_sodium_inventory", "loss of sodium inventory"),
                ("loss_of_positive_active_material", "loss of NaCrO2 active material"),
                ("loss_of_negative_active_material", "loss of Sn active material")]


class CellDiagnosis(models.Model):
    """A three-electrode cell's diagnosis from its newest analysed dataset: the sentence and the
    numbers behind each statement; ``numbers`` holds all of them as the pure core gives them."""

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="diagnosis")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(auto_now=True)
    sentence = models.TextField()
    charge_limited_by = models.CharField(max_length=10, choices=ElectrodeRole.choices, blank=True,
                                         help_text="the electrode that ends the charge in the last cycle")
    charge_limiting_share = models.FloatField(null=True, help_text="its share of |dE/dQ| at the end of charge")
    charge_limited_since_cycle = models.IntegerField(null=True)
    discharge_limited_by = models.CharField(max_length=10, choices=ElectrodeRole.choices, blank=True)
    discharge_limiting_share = models.FloatField(null=True)
    discharge_limited_since_cycle = models.IntegerField(null=True)
    dominant_mode = models.CharField(max_length=40, choices=MODE_CHOICES, blank=True,
                                     help_text="empty: no mode above the threshold, or none computed")
    dominant_mode_total = models.FloatField(null=True, help_text="against the reference cycle, fraction")
    dominant_mode_per_cycle = models.FloatField(null=True, help_text="fraction per cycle")
    dominant_mode_last_cycle = models.IntegerField(null=True)
    loss_of_sodium_inventory = models.FloatField(null=True, help_text="at the last fitted cycle, fraction")
    loss_of_positive_active_material = models.FloatField(null=True)
    loss_of_negative_active_material = models.FloatField(null=True)
    sodium_lost_at = models.CharField(max_length=10, choices=ElectrodeRole.choices, blank=True,
                                      help_text="the electrode whose side reactions take the sodium")
    overpotential_grew = models.BooleanField(null=True)
    overpotential_threshold_v = models.FloatField()
    positive_overpotential_rise_v = models.FloatField(null=True)
    positive_overpotential_measure = models.CharField(max_length=100, blank=True)
    negative_overpotential_rise_v = models.FloatField(null=True)
    negative_overpotential_measure = models.CharField(max_length=100, blank=True)
    modes_status = models.CharField(max_length=12, choices=ElectrodeAnalysis.Modes.choices)
    consistency_status = models.CharField(max_length=12, choices=ElectrodeAnalysis.Check.choices)
    warnings = models.JSONField(default=list)
    numbers = models.JSONField(default=dict, help_text="every statement's numbers")
    method = models.CharField(max_length=50, default="three_electrode_diagnosis")
    params = models.JSONField(default=dict, help_text="the thresholds")
    version = models.CharField(max_length=20)

    class Meta:
        verbose_name_plural = "cell diagnoses"


class FadePrediction(models.Model):
    """A full cell's fade predicted from its two half cells' coulombic efficiencies and its N/P
    ratio, set against the fade it measured."""

    class Status(models.TextChoices):
        COMPARED = "compared", "predicted and compared with the measured fade"
        PREDICTED = "predicted", "predicted; no measured fade yet"
        NOT_PREDICTED = "not_predicted", "not predicted"

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="fade_prediction")
    computed_at = models.DateTimeField(auto_now=True)
    status = models.CharField(max_length=14, choices=Status.choices)
    message = models.TextField(blank=True, help_text="why it was not predicted or compared")
    positive_half_cell = models.ForeignKey(Cell, null=True, on_delete=models.SET_NULL, related_name="+")
    positive_dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    positive_choice = models.TextField(blank=True, help_text="why this NaCrO2 half cell")
    negative_half_cell = models.ForeignKey(Cell, null=True, on_delete=models.SET_NULL, related_name="+")
    negative_dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    negative_choice = models.TextField(blank=True, help_text="why this Sn half cell")
    measured_dataset = models.ForeignKey(Dataset, null=True, on_delete=models.SET_NULL, related_name="+")
    np_ratio = models.FloatField(null=True)
    np_basis = models.CharField(max_length=10, blank=True)
    reference_cycle = models.IntegerField(null=True, help_text="retention is against this cycle")
    cycle = models.IntegerField(null=True, help_text="the last cycle both have")
    predicted_retention = models.FloatField(null=True)
    measured_retention = models.FloatField(null=True)
    difference_pp = models.FloatField(null=True, help_text="measured − predicted, percentage points")
    explained_fraction = models.FloatField(null=True, help_text="predicted loss ÷ measured loss")
    sentence = models.TextField(blank=True)
    method = models.CharField(max_length=50, default="predict_full_cell_fade")
    params = models.JSONField(default=dict)
    version = models.CharField(max_length=20, blank=True)


class FadePredictionCycle(models.Model):
    """One cycle of a fade prediction: the sodium bookkeeping and, where measured, the fade."""

    prediction = models.ForeignKey(FadePrediction, on_delete=models.CASCADE, related_name="cycles")
    cycle_number = models.IntegerField()
    _columns_as_fields(locals(), PREDICTION_COLUMNS, skip=("cycle_number",))
    measured_retention = models.FloatField(null=True, help_text="measured in the full cell (fraction)")
    difference = models.FloatField(null=True, help_text="measured − predicted (fraction)")

    class Meta:
        ordering = ["prediction", "cycle_number"]
        constraints = [models.UniqueConstraint(fields=["prediction", "cycle_number"],
                                               name="one_prediction_row_per_cycle")]


# Alerts of running tests and their rules (analysis/alerts/).
from analysis.alerts.models import Alert, AlertRules  # noqa: E402,F401
