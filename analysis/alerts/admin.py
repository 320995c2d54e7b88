"""Alerts and their rules in the admin: rules edited through their service, alerts browsed and
acknowledged (an action), never edited by hand. Imported by analysis/admin.py."""
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from analysis.alerts import services
from analysis.alerts.models import Alert, AlertRules
from eln.admin import HistoryAdmin, ServiceWritesMixin
from eln.permissions import can_write


@admin.register(AlertRules)
class AlertRulesAdmin(ServiceWritesMixin, HistoryAdmin):
    create_service = staticmethod(services.alert_rules_set)
    update_service = staticmethod(services.alert_rules_update)
    record_kwarg = "rules"
    list_display = ("project", "efficiency_watched", "efficiency_floor_percent", "collapse_watched", "collapse_drop_v",
                    "retention_watched", "retention_floor_percent", "silence_watched", "silence_h", "modified_at")
    readonly_fields = ("modified_at", "modified_by")
    list_select_related = ("project",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["project"] if obj is not None else fields  # a project's rules stay its own


@admin.register(Alert)
class AlertAdmin(HistoryAdmin):
    list_display = ("raised_at", "project", "run", "rule", "cycle_number", "message", "acknowledged_at",
                    "acknowledged_by")
    list_filter = ("rule", ("acknowledged_at", admin.EmptyFieldListFilter), "project")
    search_fields = ("message", "run__human_id", "run__cell__human_id")
    list_select_related = ("project", "run", "acknowledged_by")
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False  # raised by the watch of running tests

    def has_change_permission(self, request, obj=None):
        return False  # acknowledged with the action, which records who and when

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        done = 0
        for alert in queryset.filter(acknowledged_at__isnull=True):
            if not (request.user.is_superuser or can_write(request.user, alert.project)):
                messages.error(request, f"{alert}: only members with write rights acknowledge its alerts.")
                continue
            try:
                services.alert_acknowledge(user=request.user, alert=alert)
                done += 1
            except ValidationError as refusal:
                messages.error(request, " ".join(refusal.messages))
        messages.success(request, f"{done} alert{'s' if done != 1 else ''} acknowledged.")
