"""Admin of cells: cyclers and channels (lab equipment), protocols, cells and their parts,
cycling runs, raw data files (read-only: never altered) and datasets (written by processing)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from cells import models, selectors, services
from eln.admin import ChildInline, HistoryAdmin, LabRecordAdmin, ReadOnlyAdminMixin, ServiceWritesMixin, derived


# --- cyclers ------------------------------------------------------------------------------------


class ChannelInline(ChildInline):
    model = models.Channel
    fields = ("number",)
    extra = 1


class CyclerTokenInline(ReadOnlyAdminMixin, ChildInline):
    """The cycler's tokens, for reference; they are made and revoked under Cycler tokens."""

    model = models.CyclerToken
    fields = ("key_prefix", "label", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "upload tokens of the cycler PC (made and revoked under Cycler tokens)"


@admin.register(models.Cycler)
class CyclerAdmin(ServiceWritesMixin, HistoryAdmin):
    project_path = None  # lab equipment shared by all projects
    create_service = staticmethod(services.cycler_register)
    update_service = staticmethod(services.cycler_update)
    record_kwarg = "cycler"
    list_display = ("name", "vendor", "model", "serial_number", "location", "channel_count")
    list_filter = ("vendor", "location")
    search_fields = ("name", "model", "serial_number", "location")
    inlines = (ChannelInline, CyclerTokenInline)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(channel_total=Count("channels"))

    @admin.display(description="channels", ordering="channel_total")
    def channel_count(self, cycler):
        return cycler.channel_total


@admin.register(models.CyclerToken)
class CyclerTokenAdmin(HistoryAdmin):
    """Upload credentials of the cycler PCs. Only the key's SHA-256 is stored: the key is shown
    once, on the page that answers "Save", and cannot be shown again (revoke and make a new one)."""

    project_path = None
    list_display = ("__str__", "cycler", "label", "key_prefix", "created_at", "created_by", "last_used_at",
                    "revoked_at")
    list_filter = ("cycler", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("cycler__name", "label", "key_prefix")
    list_select_related = ("cycler", "created_by")
    actions = ("revoke",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("cycler", "label")
        return ("cycler", "label", "key_prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # A revoked token stays revoked: revoking is an action, never a field to clear.
        return ("cycler", "key_prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            services.cycler_token_relabel(user=request.user, token=obj, label=form.cleaned_data.get("label", ""))
            return
        token, key = services.cycler_token_issue(user=request.user, cycler=form.cleaned_data["cycler"],
                                                 label=form.cleaned_data.get("label", ""))
        obj.pk, obj._state.adding, obj.key_prefix = token.pk, False, token.key_prefix
        request._new_cycler_token_key = key  # shown once by response_add, never stored

    def response_add(self, request, obj, post_url_continue=None):
        key = getattr(request, "_new_cycler_token_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered now, not redirected: the key never goes into the message store or a cookie.
        self.message_user(request, format_html(
            "The token for {} is made. Its key, shown only now: <code class=\"cycler-token-key\">{}</code> "
            "Put it in the harvester's settings on the cycler PC; it cannot be shown again.",
            obj.cycler, key,
        ), messages.WARNING)
        context = {**self.admin_site.each_context(request), "title": f"New upload token for {obj.cycler}",
                   "opts": self.opts}
        return TemplateResponse(request, "admin/base_site.html", context)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.cycler_token_revoke(user=request.user, token=token)
            count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(models.Channel)
class ChannelAdmin(ServiceWritesMixin, HistoryAdmin):
    project_path = None
    create_service = staticmethod(services.channel_add)
    update_service = staticmethod(services.channel_update)
    record_kwarg = "channel"
    list_display = ("__str__", "cycler", "number")
    list_filter = ("cycler",)
    search_fields = ("cycler__name", "number")
    list_select_related = ("cycler",)


# --- protocols -----------------------------------------------------------------------------------


class ProtocolStepInline(ChildInline):
    model = models.ProtocolStep
    fields = ("order", "cycle_count", "charge_c_rate", "discharge_c_rate", "lower_cutoff_v", "upper_cutoff_v",
              "rest_min")
    extra = 1


@admin.register(models.Protocol)
class ProtocolAdmin(LabRecordAdmin):
    create_service = staticmethod(services.protocol_define)
    update_service = staticmethod(services.protocol_update)
    record_kwarg = "protocol"
    list_display = ("human_id", "name", "cycle_count", "project")
    search_fields = ("human_id", "name", "description", "notes")
    inlines = (ProtocolStepInline,)
    derived_fields = ("cycle_count",)
    cycle_count = derived("cycle_count", "cycles")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")


@admin.register(models.ProtocolStep)
class ProtocolStepAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    project_path = "protocol__project"
    list_display = ("protocol", "order", "cycle_count", "charge_c_rate", "discharge_c_rate", "lower_cutoff_v",
                    "upper_cutoff_v")
    search_fields = ("protocol__human_id", "protocol__name")
    list_select_related = ("protocol",)


# --- cells ----------------------------------------------------------------------------------------


class CellPartInline(ChildInline):
    model = models.CellPart
    fields = ("role", "electrode", "alloy_batch", "lot", "mass_mg", "description")
    autocomplete_fields = ("electrode", "alloy_batch", "lot")
    extra = 1


@admin.register(models.Cell)
class CellAdmin(LabRecordAdmin):
    create_service = staticmethod(services.cell_build)
    update_service = staticmethod(services.cell_update)
    record_kwarg = "cell"
    list_display = ("human_id", "name", "kind", "assembled_on", "hardware", "stack_pressure_mpa",
                    "excluded_from_comparisons", "project")
    list_filter = ("kind", "hardware", "np_basis", "excluded_from_comparisons", "project")
    search_fields = ("human_id", "name", "notes")
    autocomplete_fields = ("separator_batch", "positive_reference_dataset", "negative_reference_dataset")
    inlines = (CellPartInline,)
    derived_fields = ("first_half_cycle", "area", "reference_capacity", "one_c_current", "one_c_density",
                      "np_ratio")
    first_half_cycle = derived("first_half_cycle", "first half cycle")
    area = derived("area_cm2", "electrode area", unit="cm²")
    reference_capacity = derived("reference_specific_capacity_mah_g", "reference specific capacity",
                                 unit="mAh/g")
    one_c_current = derived("one_c_current_ma", "1C current", unit="mA")
    one_c_density = derived("one_c_current_density_ma_cm2", "1C current density", unit="mA/cm²")
    np_ratio = derived("np_ratio", "N/P ratio", digits=3)

    def get_object(self, request, object_id, from_field=None):
        # The derived numbers walk parts → electrodes → sheets → components; fetch them once.
        queryset = self.get_queryset(request).prefetch_related(*selectors.CELL_PREFETCH)
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (self.model.DoesNotExist, ValueError, ValidationError):
            return None


@admin.register(models.CellPart)
class CellPartAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    project_path = "cell__project"
    list_display = ("cell", "role", "electrode", "alloy_batch", "lot", "mass_mg", "description")
    list_filter = ("role",)
    search_fields = ("cell__human_id", "electrode__human_id", "alloy_batch__human_id", "description")
    list_select_related = ("cell", "electrode", "alloy_batch", "lot")


# --- runs, raw files, datasets ---------------------------------------------------------------------


class RawDataFileInline(ReadOnlyAdminMixin, ChildInline):
    model = models.RawDataFile
    fields = ("original_name", "size_bytes", "sha256", "uploaded_at", "uploaded_by", "supersedes")
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "raw data files (as the cycler wrote them)"


@admin.register(models.CyclingRun)
class CyclingRunAdmin(LabRecordAdmin):
    create_service = staticmethod(services.cycling_run_start)
    update_service = staticmethod(services.cycling_run_update)
    record_kwarg = "run"
    list_display = ("human_id", "cell", "channel", "protocol", "state", "started_at", "finished_at", "project")
    list_filter = ("state", "channel__cycler", "project")
    search_fields = ("human_id", "notes", "cell__human_id", "cell__name")
    list_select_related = ("cell", "channel__cycler", "protocol", "project", "created_by")
    autocomplete_fields = ("cell", "protocol")
    inlines = (RawDataFileInline,)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "channel":
            kwargs["queryset"] = models.Channel.objects.select_related("cycler")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(models.RawDataFile)
class RawDataFileAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Raw files are written by the upload API and never altered or deleted: view only."""

    project_path = "run__project"
    list_display = ("original_name", "run", "size_bytes", "short_sha256", "uploaded_at", "uploaded_by",
                    "uploaded_with", "supersedes")
    list_filter = ("run__channel__cycler",)
    search_fields = ("original_name", "sha256", "run__human_id")
    list_select_related = ("run", "uploaded_by", "uploaded_with__cycler", "supersedes")
    date_hierarchy = "uploaded_at"

    @admin.display(description="SHA-256", ordering="sha256")
    def short_sha256(self, raw):
        return raw.sha256[:12]


@admin.register(models.Dataset)
class DatasetAdmin(LabRecordAdmin):
    """Datasets are made by processing an uploaded file: notes editable, the rest read-only."""

    list_display = ("human_id", "run", "source_name", "measurement_kind", "state", "message", "raw_file",
                    "excluded_from_history", "modified_at", "project")
    list_filter = ("state", "measurement_kind", "excluded_from_history", "project")
    search_fields = ("human_id", "notes", "source_name", "run__human_id")
    list_select_related = ("run", "raw_file", "project", "created_by")

    def get_readonly_fields(self, request, obj=None):
        # everything but the notes and whether it is left out of the cell's history (and why):
        # processing writes the rest
        fields = list(super().get_readonly_fields(request, obj))
        editable = ("id", "notes", "excluded_from_history", "exclusion_reason")
        return fields + [f.name for f in self.opts.concrete_fields
                         if f.name not in fields and f.name not in editable]

    def has_add_permission(self, request):
        return False
