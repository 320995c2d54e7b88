"""The analysis results in the admin: computed, so read-only; scoped to the user's projects."""
from django.contrib import admin

from analysis.models import (
    CellDiagnosis,
    CellMetrics,
    CycleSummary,
    ElectrodeAnalysis,
    FadePrediction,
    LoadingReference,
    ProcessingStage,
    QualityFlag,
)
from analysis.services import loading_reference_set
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
    list_display = ("dataset", "cycle_number", "history_cycle_number", "cycler_cycle_index", "complete",
                    "charge_capacity_mah", "discharge_capacity_mah", "capacity_source",
                    "discharge_specific_capacity_mah_g", "coulombic_efficiency", "energy_efficiency",
                    "discharge_c_rate", "warnings")
    list_filter = ("complete", "capacity_source")
    search_fields = ("dataset__human_id",)
    list_select_related = ("dataset",)
    readonly_fields = ("flags",)

    @admin.display(description="Warnings", ordering="n_warnings")
    def warnings(self, row):
        return row.n_warnings or ""

    @admin.display(description="quality flags")
    def flags(self, row):
        flags = QualityFlag.objects.filter(dataset_id=row.dataset_id, cycle_number=row.cycle_number)
        return "\n".join(f"{flag.code}: {flag.message}" for flag in flags) or "none"


@admin.register(QualityFlag)
class QualityFlagAdmin(ResultAdmin):
    """Why a number may not be trusted, cycle by cycle: reason, size and the limit it broke."""

    project_path = "dataset__project"
    list_display = ("dataset", "cycle_number", "code", "half", "quantity", "value", "limit", "unit", "message")
    list_filter = ("code", "half", "quantity")
    search_fields = ("dataset__human_id", "message")
    list_select_related = ("dataset",)


@admin.register(LoadingReference)
class LoadingReferenceAdmin(admin.ModelAdmin):
    """The lab's loading reference per kind of cell (lab managers); none for a kind: no check."""

    list_display = ("kind", "specific_capacity_mah_g", "tolerance", "note")

    def has_add_permission(self, request, obj=None):
        return request.user.is_staff

    has_change_permission = has_delete_permission = has_add_permission

    def has_view_permission(self, request, obj=None):
        return request.user.is_active

    def save_model(self, request, obj, form, change):
        saved = loading_reference_set(user=request.user, kind=obj.kind,
                                      specific_capacity_mah_g=obj.specific_capacity_mah_g,
                                      tolerance=obj.tolerance, note=obj.note)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        loading_reference_set(user=request.user, kind=obj.kind, specific_capacity_mah_g=None)


@admin.register(CellMetrics)
class CellMetricsAdmin(ResultAdmin):
    project_path = "cell__project"
    list_display = ("cell", "dataset", "first_cycle_efficiency", "initial_specific_discharge_capacity_mah_g",
                    "loading_check", "computed_at")
    readonly_fields = ("sources", "left_out")
    list_filter = ("loading_check",)
    search_fields = ("cell__human_id",)
    list_select_related = ("cell", "dataset")


@admin.register(ElectrodeAnalysis)
class ElectrodeAnalysisAdmin(ResultAdmin):
    project_path = "dataset__project"
    list_display = ("dataset", "consistency_status", "consistency_max_abs_error_v", "modes_status",
                    "positive_reference_dataset", "negative_reference_dataset", "computed_at")
    list_filter = ("consistency_status", "modes_status")
    search_fields = ("dataset__human_id",)
    list_select_related = ("dataset", "positive_reference_dataset", "negative_reference_dataset")


@admin.register(CellDiagnosis)
class CellDiagnosisAdmin(ResultAdmin):
    project_path = "cell__project"
    list_display = ("cell", "dataset", "sentence", "dominant_mode", "overpotential_grew", "computed_at")
    list_filter = ("dominant_mode", "overpotential_grew", "modes_status")
    search_fields = ("cell__human_id", "sentence")
    list_select_related = ("cell", "dataset")


@admin.register(FadePrediction)
class FadePredictionAdmin(ResultAdmin):
    project_path = "cell__project"
    list_display = ("cell", "status", "predicted_retention", "measured_retention", "difference_pp", "cycle",
                    "computed_at")
    list_filter = ("status",)
    search_fields = ("cell__human_id", "sentence")
    list_select_related = ("cell",)


from analysis.alerts import admin as alerts_admin  # noqa: E402,F401 - registers the alerts and their rules
