"""Alerts and the rules that raise them, per project. Imported by analysis/models.py."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from analysis.core import alerts as core
from cells.models import CyclingRun, Dataset
from eln.models import Project

DEFAULTS = core.WatchRules()  # the defaults are the pure core's, stated once


class AlertRules(models.Model):
    """How a project watches its running tests. A project without its own rules is watched with
    the defaults (``analysis.core.alerts.WatchRules``)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="alert_rules")
    efficiency_watched = models.BooleanField("watch coulombic efficiency", default=True)
    efficiency_floor_percent = models.FloatField(
        "coulombic efficiency floor (%)", default=DEFAULTS.efficiency_floor * 100,
        validators=[MinValueValidator(1.0), MaxValueValidator(100.0)],
        help_text="an alert when a cycle's coulombic efficiency falls below this")
    formation_cycles = models.PositiveSmallIntegerField(
        "formation cycles not watched", default=DEFAULTS.formation_cycles, validators=[MaxValueValidator(1000)],
        help_text="the first cycles, whose efficiency is low by nature")
    collapse_watched = models.BooleanField("watch for a voltage collapse (short)", default=True)
    collapse_drop_v = models.FloatField(
        "voltage collapse (V)", default=DEFAULTS.collapse_drop_v,
        validators=[MinValueValidator(0.01), MaxValueValidator(20.0)],
        help_text="an alert when the lowest voltage of a cycle, or the end of its charge, is this far below "
                  "the cycles before it")
    collapse_baseline_cycles = models.PositiveSmallIntegerField(
        "cycles compared with", default=DEFAULTS.collapse_baseline_cycles,
        validators=[MinValueValidator(1), MaxValueValidator(100)])
    retention_watched = models.BooleanField("watch retention", default=True)
    retention_floor_percent = models.FloatField(
        "retention floor (%)", default=DEFAULTS.retention_floor * 100,
        validators=[MinValueValidator(1.0), MaxValueValidator(100.0)],
        help_text="an alert when the discharge capacity falls below this share of the first cycle at the same rate")
    silence_watched = models.BooleanField("watch for silent channels", default=True)
    silence_h = models.FloatField(
        "no new data for (h)", default=DEFAULTS.silence_h, validators=[MinValueValidator(0.1), MaxValueValidator(8760.0)],
        help_text="an alert when a running test has sent no new data for this long")
    modified_at = models.DateTimeField(auto_now=True)
    modified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "alert rules"
        verbose_name_plural = "alert rules"

    def __str__(self):
        return f"alert rules of {self.project}"

    def as_watch_rules(self) -> core.WatchRules:
        return core.WatchRules(
            efficiency_floor=self.efficiency_floor_percent / 100 if self.efficiency_watched else None,
            formation_cycles=int(self.formation_cycles),
            collapse_drop_v=self.collapse_drop_v if self.collapse_watched else None,
            collapse_baseline_cycles=int(self.collapse_baseline_cycles),
            retention_floor=self.retention_floor_percent / 100 if self.retention_watched else None,
            silence_h=self.silence_h if self.silence_watched else None,
        )


class Alert(models.Model):
    """Something a rule saw in a running test, until a person acknowledges it."""

    class Rule(models.TextChoices):
        LOW_EFFICIENCY = core.LOW_EFFICIENCY, "coulombic efficiency below the floor"
        VOLTAGE_COLLAPSE = core.VOLTAGE_COLLAPSE, "voltage collapse (a short?)"
        RETENTION = core.RETENTION, "retention below the floor"
        NO_NEW_DATA = core.NO_NEW_DATA, "no new data"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(CyclingRun, on_delete=models.CASCADE, related_name="alerts")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts",
                                help_text="the dataset whose cycles raised it (none for a silent channel)")
    rule = models.CharField(max_length=20, choices=Rule.choices)
    cycle_number = models.IntegerField(null=True, blank=True, help_text="the cycle where it started")
    last_data_at = models.DateTimeField(null=True, blank=True,
                                        help_text="for a silent channel: when its last data arrived")
    value = models.FloatField(help_text="what was measured, in the unit")
    threshold = models.FloatField(help_text="the limit it crossed, in the unit")
    unit = models.CharField(max_length=10)
    message = models.TextField()
    details = models.JSONField(default=dict, help_text="the rule's definition, parameters and numbers")
    later_cycles = models.JSONField(default=list, blank=True,
                                    help_text="cycles where it started again while this alert was open")
    raised_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledgement_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "rule", "cycle_number"], name="one_alert_per_rule_and_cycle",
                                    condition=Q(dataset__isnull=False, cycle_number__isnull=False)),
            models.UniqueConstraint(fields=["run", "last_data_at"], name="one_alert_per_silence",
                                    condition=Q(rule="no_new_data")),
        ]
        indexes = [models.Index(fields=["project", "acknowledged_at"], name="alerts_open_by_project")]

    def __str__(self):
        return f"{self.get_rule_display()}: {self.run.human_id}" + (
            f" cycle {self.cycle_number}" if self.cycle_number is not None else "")

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def full_message(self) -> str:
        if not self.later_cycles:
            return self.message
        cycles = ", ".join(str(n) for n in self.later_cycles)
        return f"{self.message} Again from cycle{'s' if len(self.later_cycles) > 1 else ''} {cycles}."
