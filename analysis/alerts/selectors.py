"""Reads of alerts and rules: what a member sees, the rules a project watches with."""
from django.db.models import QuerySet

from analysis.alerts.models import Alert, AlertRules
from analysis.core.alerts import WatchRules
from eln.permissions import visible_projects


def watch_rules_of(project) -> WatchRules:
    """The project's rules, or the defaults when it has set none."""
    rules = AlertRules.objects.filter(project=project).first()
    return rules.as_watch_rules() if rules else WatchRules()


def rules_record_of(project) -> AlertRules:
    """The project's rules as a record to show or edit (unsaved, with the defaults, if none)."""
    return AlertRules.objects.filter(project=project).first() or AlertRules(project=project)


def visible_alerts(user, project=None) -> QuerySet[Alert]:
    """Alerts of the user's projects (or of one of them), with their run, cell and dataset."""
    alerts = Alert.objects.filter(project__in=visible_projects(user))
    if project is not None:
        alerts = alerts.filter(project=project)
    return alerts.select_related("project", "run__cell", "run__channel__cycler", "dataset", "acknowledged_by")


def open_alerts(user, project=None) -> QuerySet[Alert]:
    return visible_alerts(user, project).filter(acknowledged_at__isnull=True)


def alerts_of_cell(cell) -> QuerySet[Alert]:
    """Every alert of the cell's runs, open ones first, newest first."""
    return (Alert.objects.filter(run__cell=cell)
            .select_related("run__channel__cycler", "dataset", "acknowledged_by")
            .order_by("acknowledged_at", "-raised_at", "-pk"))
