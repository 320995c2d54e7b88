"""Stored results of the analysis: processing stages, cycles and steps, per-cycle summaries
and cell metrics. Computed by the tasks from the pure core; never edited by hand."""
import pyarrow as pa
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from analysis.core.cycling import SUMMARY_COLUMNS
from cells.models import Cell, Dataset
from eln.models import physical


class ProcessingStage(models.Model):
    """One stage of a dataset's ingestion and its state, for the UI and API to show."""

    class Name(models.TextChoices):
        READ = "read", "read the raw file into the canonical table"
        CYCLES = "cycles", "find steps and cycles"
        SUMMARY = "summary", "per-cycle summary"
        METRICS = "metrics", "cell metrics"

    State = Dataset.State  # a dataset's state sums up its stages' states

    ORDER = [Name.READ, Name.CYCLES, Name.SUMMARY, Name.METRICS]

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=10, choices=Name.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
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
