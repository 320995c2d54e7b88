"""The alerts' pages: the list, acknowledging, a project's rules; the dashboard panel and the
section of a cell's page. Reads through analysis.alerts.selectors, writes through its services."""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from analysis.alerts import selectors, services
from analysis.alerts.models import Alert, AlertRules
from cells.models import Cell
from eln.pages import Panel, current_project
from eln.permissions import can_write, visible_projects, writable_projects
from eln.record_sections import Section

STATES = {"open": "open", "acknowledged": "acknowledged", "all": "all"}
LIST_LIMIT = 200


def _writable_ids(user) -> set[int]:
    return set(writable_projects(user).values_list("pk", flat=True))


def _with_write_rights(alerts, user) -> list[Alert]:
    writable = _writable_ids(user)
    alerts = list(alerts)
    for alert in alerts:
        alert.may_acknowledge = alert.project_id in writable
    return alerts


# -- the dashboard and a cell's page ------------------------------------------------------------

def alerts_panel(user, project) -> Panel:
    alerts = selectors.open_alerts(user, project)
    shown = _with_write_rights(alerts.order_by("-raised_at", "-pk")[:8], user)
    return Panel("Alerts", "analysis/_panel_alerts.html", {"alerts": shown, "count": alerts.count()},
                 link=("All alerts", reverse("alerts:alert-list")))


def alerts_section(request, record) -> Section | None:
    if not isinstance(record, Cell):
        return None
    alerts = _with_write_rights(selectors.alerts_of_cell(record)[:50], request.user)
    return Section("alerts", "Alerts", "analysis/_section_alerts.html", {
        "alerts": alerts, "open": sum(a.is_open for a in alerts), "rules_url": reverse("alerts:alert-rules"),
    })


# -- pages ------------------------------------------------------------------------------------------

@login_required
def alert_list(request):
    state = STATES.get(request.GET.get("state", "open"), "open")
    rule = request.GET.get("rule", "")
    alerts = selectors.visible_alerts(request.user, current_project(request))
    if state == "open":
        alerts = alerts.filter(acknowledged_at__isnull=True)
    elif state == "acknowledged":
        alerts = alerts.filter(acknowledged_at__isnull=False)
    if rule in Alert.Rule.values:
        alerts = alerts.filter(rule=rule)
    count = alerts.count()
    return render(request, "analysis/alert_list.html", {
        "title": "Alerts", "section": "alerts", "state": state, "rule": rule, "rules": Alert.Rule.choices,
        "alerts": _with_write_rights(alerts.order_by("-raised_at", "-pk")[:LIST_LIMIT], request.user),
        "count": count, "limit": LIST_LIMIT,
    })


def _back(request, fallback: str) -> str:
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return back
    return fallback


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    alert = get_object_or_404(selectors.visible_alerts(request.user), pk=pk)
    if not can_write(request.user, alert.project):
        raise PermissionDenied("You are a reader of this project; only members with write rights acknowledge alerts.")
    try:
        services.alert_acknowledge(user=request.user, alert=alert, note=request.POST.get("note", "")[:2000])
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, f"Acknowledged: {alert}.")
    return HttpResponseRedirect(_back(request, reverse("alerts:alert-list")))


class AlertRulesForm(forms.ModelForm):
    class Meta:
        model = AlertRules
        fields = ["efficiency_watched", "efficiency_floor_percent", "formation_cycles", "collapse_watched",
                  "collapse_drop_v", "collapse_baseline_cycles", "retention_watched", "retention_floor_percent",
                  "silence_watched", "silence_h"]


@login_required
def alert_rules(request):
    """The rules of one project: the one chosen in the switcher, or ?project=<id>."""
    projects = visible_projects(request.user).distinct()
    chosen = request.GET.get("project") or request.POST.get("project")
    project = projects.filter(pk=chosen).first() if str(chosen or "").isdigit() else current_project(request)
    if project is None and len(projects) == 1:
        project = projects[0]
    if project is None:
        return render(request, "analysis/alert_rules.html", {
            "title": "Alert rules", "section": "alerts", "projects": projects})
    writable = can_write(request.user, project)
    rules = selectors.rules_record_of(project)
    form = AlertRulesForm(request.POST if request.method == "POST" else None, instance=rules)
    if request.method == "POST":
        if not writable:
            raise PermissionDenied("You are a reader of this project; only members with write rights change its rules.")
        if form.is_valid():
            try:
                services.alert_rules_update(user=request.user, rules=form.instance)
            except ValidationError as refusal:
                for field, texts in (refusal.message_dict if hasattr(refusal, "error_dict")
                                     else {None: refusal.messages}).items():
                    form.add_error(field if field in form.fields else None, texts)
            else:
                messages.success(request, f"The alert rules of “{project.name}” are saved.")
                return HttpResponseRedirect(f"{reverse('alerts:alert-rules')}?project={project.pk}")
    if not writable:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "analysis/alert_rules.html", {
        "title": "Alert rules", "section": "alerts", "project": project, "projects": projects, "form": form,
        "writable": writable, "saved": rules.pk is not None,
    })
