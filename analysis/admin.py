"""The analysis results in the admin: computed, so read-only; scoped to the user's projects."""
from django.contrib import admin

from analysis.models import CellMetrics, CycleSummary, ProcessingStage
from eln.admin import ProjectScopedMixin, ReadOnlyAdminMixin


class ResultAdmin(ReadOnlyAdminMixin, ProjectScopedMixin, admin.ModelAdmin):
    """Computed rows: recomputed by the tasks, never edited or deleted by hand."""


@admin.register(ProcessingStage)
class ProcessingStageAdmin(ResultAdmin):
    project_path = "dataset__project"
    list_display = ("dataset", "name", "state", "attempts", "started_at", "finished_at", "message")
    list_filter = ("name", "state")
    search_fields = ("dataset__human_id", "message")
    list_select_related = ("dataset",)


@admin.register(CycleSummary)
class CycleSummaryAdmin(ResultAdmin):
    project_path = "dataset__project"
    list_display = ("dataset", "cycle_number", "complete", "charge_capacity_mah", "discharge_capacity_mah",
                    "discharge_specific_capacity_mah_g", "coulombic_efficiency", "energy_efficiency",
                    "discharge_c_rate")
    list_filter = ("complete",)
    search_fields = ("dataset__human_id",)
    list_select_related = ("dataset",)


@admin.register(CellMetrics)
class CellMetricsAdmin(ResultAdmin):
    project_path = "cell__project"
    list_display = ("cell", "dataset", "first_cycle_efficiency", "initial_specific_discharge_capacity_mah_g",
                    "loading_check", "computed_at")
    list_filter = ("loading_check",)
    search_fields = ("cell__human_id",)
    list_select_related = ("cell", "dataset")
