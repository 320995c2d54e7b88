"""Writes of alerts and their rules: raising after an ingestion of a running test, raising for a
running test gone silent (a periodic task), acknowledging, and setting a project's rules.

An alert is raised where an episode starts (the pure core finds those). While an alert of a rule
is open for a dataset, the later episodes of that rule are added to it (``later_cycles``) rather
than raised again; once it is acknowledged, an episode after the cycles it covered raises a new
one. A silence is one alert, whatever the number of times the task looks at it.
"""
from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from analysis.alerts.models import Alert, AlertRules
from analysis.alerts.selectors import watch_rules_of
from analysis.core import alerts as core
from analysis.models import CycleSummary
from cells.models import CyclingRun, Dataset
from eln.services import RecordSpec, record_save, register

log = logging.getLogger(__name__)

ALERT = register(RecordSpec(Alert))
RULES = register(RecordSpec(AlertRules))


# -- raising ------------------------------------------------------------------------------------

def _raise(*, run, dataset, finding: core.Finding, later_cycles=(), last_data_at=None, message=None) -> Alert | None:
    alert = Alert(project_id=run.project_id, run=run, dataset=dataset, rule=finding.rule, cycle_number=finding.cycle,
                  last_data_at=last_data_at, value=finding.value, threshold=finding.threshold, unit=finding.unit,
                  message=message or finding.message, details=finding.to_dict(), later_cycles=list(later_cycles))
    try:
        with transaction.atomic():
            return record_save(ALERT, user=None, record=alert, reason="raised by the watch of running tests")
    except IntegrityError:
        return None  # raised a moment ago by another worker looking at the same thing


def watch_running_test(dataset: Dataset) -> list[Alert]:
    """After an ingestion: the project's rules on the dataset's cycles, if its run is running.
    A fault here never fails the ingestion it follows; it is logged."""
    try:
        return _watch(dataset)
    except (OperationalError, InterfaceError):
        raise  # a passing fault: the task retries the whole (idempotent) ingestion
    except Exception:  # noqa: BLE001 - the dataset's numbers are done; the watch is logged
        log.exception("watching %s failed", dataset.human_id)
        return []


def _watch(dataset: Dataset) -> list[Alert]:
    run = CyclingRun.objects.select_related("project").get(pk=dataset.run_id)
    if run.state != CyclingRun.State.RUNNING:
        return []
    rules = watch_rules_of(run.project)
    rows = list(CycleSummary.objects.filter(dataset=dataset).values(*core.COLUMNS))
    findings = core.check_cycles(rows, rules)
    raised = []
    for rule in (core.LOW_EFFICIENCY, core.VOLTAGE_COLLAPSE, core.RETENTION):
        found = [f for f in findings if f.rule == rule]
        with transaction.atomic():
            Dataset.objects.select_for_update().filter(pk=dataset.pk).first()  # one watcher per dataset
            latest = Alert.objects.filter(dataset=dataset, rule=rule).order_by("-cycle_number", "-pk").first()
            if latest is not None and latest.is_open:
                later = [f.cycle for f in found if f.cycle > latest.cycle_number]
                if later != latest.later_cycles:
                    record_save(ALERT, user=None, record=latest, fields={"later_cycles": later},
                                reason="the same again in later cycles")
                continue
            covered = max([latest.cycle_number, *latest.later_cycles]) if latest is not None else 0
            new = [f for f in found if f.cycle > covered]
            if new:
                alert = _raise(run=run, dataset=dataset, finding=new[0], later_cycles=[f.cycle for f in new[1:]])
                if alert is not None:
                    raised.append(alert)
    return raised


def watch_silent_runs(now=None) -> list[Alert]:
    """Running tests whose last data (their newest raw file, or their start) is older than their
    project's limit: one alert per silence."""
    now = now or timezone.now()
    runs = list(CyclingRun.objects.filter(state=CyclingRun.State.RUNNING)
                .annotate(last_file_at=Max("raw_files__uploaded_at"))
                .select_related("project", "channel__cycler", "cell"))
    rules = {r.project_id: r.as_watch_rules() for r in AlertRules.objects.filter(project__in={r.project_id for r in runs})}
    known = set(Alert.objects.filter(rule=Alert.Rule.NO_NEW_DATA, run__in=runs).values_list("run_id", "last_data_at"))
    raised = []
    for run in runs:
        last = run.last_file_at or run.started_at or run.created_at
        if (run.pk, last) in known or last > now:
            continue
        finding = core.check_silence((now - last).total_seconds() / 3600.0, rules.get(run.project_id, core.WatchRules()))
        if finding is None:
            continue
        where = f" on {run.channel}" if run.channel else ""
        since = "its last file arrived" if run.last_file_at else "it started"
        message = (f"{run.human_id} ({run.cell.human_id}{where}): {finding.message} "
                   f"{since.capitalize()} {timezone.localtime(last):%Y-%m-%d %H:%M}.")
        alert = _raise(run=run, dataset=None, finding=finding, last_data_at=last, message=message)
        if alert is not None:
            raised.append(alert)
    return raised


# -- a person's part ------------------------------------------------------------------------------

def alert_acknowledge(*, user, alert: Alert, note: str = "") -> Alert:
    """A person has seen the alert: who and when are recorded, with their note."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.acknowledged_at is not None:
            by = alert.acknowledged_by.get_username() if alert.acknowledged_by else "someone"
            raise ValidationError(
                f"This alert was already acknowledged by {by} on {timezone.localtime(alert.acknowledged_at):%Y-%m-%d %H:%M}.")
        return record_save(ALERT, user=user, record=alert, fields={
            "acknowledged_at": timezone.now(), "acknowledged_by": user, "acknowledgement_note": note.strip()},
            reason="acknowledged")


def alert_rules_set(*, user, project, **fields) -> AlertRules:
    """Set a project's rules (the fields of ``AlertRules``); those not given keep their value."""
    rules = AlertRules.objects.filter(project=project).first() or AlertRules(project=project)
    return alert_rules_update(user=user, rules=rules, **fields)


def alert_rules_update(*, user, rules: AlertRules, **fields) -> AlertRules:
    fields.pop("project", None)
    if user is not None and getattr(user, "is_authenticated", False):
        fields["modified_by"] = user
    return record_save(RULES, user=user, record=rules, fields=fields)
