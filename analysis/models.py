"""Stored results of the analysis: processing stages, cycles and steps, per-cycle summaries
and cell metrics. Computed by the tasks from the pure core; never edited by hand."""
import pyarrow as pa
from django.db import models

from analysis.core.cycling import SUMMARY_COLUMNS
from cells.models import Cell, Dataset


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
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
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
    capacity_mah = models.FloatField()
    energy_mwh = models.FloatField()
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
    return models.FloatField(null=True, help_text=meaning)


class CycleSummary(models.Model):
    """One cycle of a dataset, in the lab's numbers.

    The columns are those of the pure core's summary table (``SUMMARY_COLUMNS``), so the two
    cannot drift apart: a new column there is a new field here (and a migration).
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="cycles")
    cycle_number = models.IntegerField()
    for _name, (_type, _meaning) in SUMMARY_COLUMNS.items():
        if _name != "cycle_number":
            locals()[_name] = _summary_field(_type, _meaning)
    del _name, _type, _meaning

    class Meta:
        ordering = ["dataset", "cycle_number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "cycle_number"], name="one_summary_per_cycle")]


class CellMetrics(models.Model):
    """What a researcher reports for a cell, from its newest dataset; recomputed on change."""

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="metrics")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(auto_now=True)
    first_cycle_efficiency = models.FloatField(null=True)
    initial_specific_discharge_capacity_mah_g = models.FloatField(null=True)
    loading_check = models.CharField(max_length=10, blank=True, help_text="ok or suspect (±5 % rule)")
    values = models.JSONField(default=dict, help_text="every metric with its method and parameters")

    class Meta:
        verbose_name_plural = "cell metrics"
