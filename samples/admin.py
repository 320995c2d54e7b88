"""Admin of samples: the inventory (precursor lots and the ledger of everything the lab holds)
and the records of what is made from it.

Every save goes through the record's service (samples.services), with the rows of the page's
inlines: taking stock, the rules over the rows and their messages are the service's, the same
as in the API and the CSV import. Child rows are read-only on their own pages; they are edited
on their record's page, where the service checks them together.

The lot's page shows its ledger, where the lab manager adds corrections and disposals
(``stock_correct``); lines written by processes are read-only there. Made batches show their
own ledger (what separators, pellets, dips and cell parts took from them), read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.forms.formsets import DELETION_FIELD_NAME
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from eln.admin import (
    NO_VALUE,
    ChildInline,
    HistoryAdmin,
    LabRecordAdmin,
    ReadOnlyAdminMixin,
    RefusalShownMixin,
    ServiceRowsFormSet,
    ServiceWritesMixin,
    derived,
)
from eln.permissions import can_write, visible_projects
from samples import lot_csv, models, selectors, services

TOLERANCE = services.STOCK_TOLERANCE
StockMovement = models.StockMovement
MANUAL_KINDS = [(kind.value, kind.label) for kind in StockMovement.MANUAL_KINDS]
CSV_MAX_BYTES = 10 * 1024 * 1024


def format_mass(mg):
    """A mass in mg; from a gram on, also in g."""
    if mg is None:
        return NO_VALUE
    text = f"{mg:.1f} mg"
    if abs(mg) >= 1000:
        return format_html('{} <span style="color:#666">({})</span>', text, f"{mg / 1000:.2f} g")
    return text


def badge(text: str, colour: str, css: str):
    return format_html(
        '<span class="stock-badge stock-{}" style="background:{};color:#fff;padding:1px 6px;'
        'border-radius:3px;font-weight:bold;letter-spacing:.05em">{}</span>',
        css, colour, text,
    )


def admin_link(obj, text=None):
    """A link to the object's change page in this admin, or its text when it has none."""
    if obj is None:
        return NO_VALUE
    opts = obj._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(text or obj)
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


class LotUseInline(ChildInline):
    """Rows that take a mass from a lot; the record's service writes their ledger lines."""

    fields = ("lot", "mass_mg")
    autocomplete_fields = ("lot",)
    extra = 1


class ReadOnlyRowAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """A child row on its own page: browse and history only."""

    list_select_related = True
    autocomplete_fields = ()

    @admin.display(description="record")
    def record(self, row):
        return admin_link(row.parent_record)

    @admin.display(description="lot")
    def lot_link(self, row):
        return admin_link(row.lot)


# --- materials ----------------------------------------------------------------------------------


@admin.register(models.Material)
class MaterialAdmin(ServiceWritesMixin, HistoryAdmin):
    project_path = None  # lab-wide data
    create_service = staticmethod(services.material_add)
    update_service = staticmethod(services.material_update)
    record_kwarg = "material"
    list_display = ("name", "formula", "kind", "density_g_cm3", "molar_mass_g_mol",
                    "reference_specific_capacity_mah_g", "theoretical_capacity")
    list_filter = ("kind",)
    search_fields = ("name", "formula", "notes")
    derived_fields = ("theoretical_capacity",)
    theoretical_capacity = derived("theoretical_specific_capacity_mah_g", "theoretical specific capacity",
                                   unit="mAh/g")


# --- lots: the inventory ------------------------------------------------------------------------


class MaterialKindFilter(admin.ChoicesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "material kind"


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", "low (below its mark)"), ("ok", "ok"), ("empty", "empty")]

    def queryset(self, request, queryset):
        if "remaining" not in queryset.query.annotations:
            queryset = selectors.with_stock(queryset)
        left = "remaining"
        if self.value() == "empty":
            return queryset.filter(**{f"{left}__lte": TOLERANCE})
        if self.value() == "low":
            return queryset.filter(**{f"{left}__gt": TOLERANCE, f"{left}__lt": F("low_stock_threshold_mg")})
        if self.value() == "ok":
            return queryset.filter(**{f"{left}__gt": TOLERANCE, f"{left}__gte": F("low_stock_threshold_mg")})
        return queryset


class LedgerLineForm(forms.ModelForm):
    """A ledger line: corrections and disposals are the lab manager's; process lines read-only."""

    class Meta:
        model = StockMovement
        fields = ("kind", "quantity", "note")
        help_texts = {"quantity": "taken out of the stock; a negative correction puts back"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.is_process_line:
            for field in self.fields.values():
                field.disabled = True
        else:
            self.fields["kind"].choices = MANUAL_KINDS
            if self.instance.pk is None:
                self.initial["kind"] = StockMovement.Kind.CORRECTION


class LedgerFormSet(ServiceRowsFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if DELETION_FIELD_NAME in form.fields and form.instance.pk and form.instance.is_process_line:
            form.fields[DELETION_FIELD_NAME].disabled = True


def save_ledger_formset(request, holder, formset) -> None:
    """The lab manager's corrections and disposals, each through ``stock_correct``."""
    for form in formset.forms:
        line = form.instance
        data = getattr(form, "cleaned_data", None)
        if not data or (line.pk and line.is_process_line):
            continue
        if formset._should_delete_form(form):
            if line.pk:
                services.stock_correction_remove(user=request.user, line=line)
        elif line.pk is None and form.has_changed():
            services.stock_correct(user=request.user, holder=holder, quantity=data["quantity"], kind=data["kind"],
                                   note=data.get("note", ""))
        elif line.pk and form.has_changed():
            services.stock_correct(user=request.user, holder=holder, quantity=data["quantity"], kind=data["kind"],
                                   note=data.get("note", ""), line=line)


class LedgerInline(ChildInline):
    """The lot's ledger: every quantity taken or given back, newest last."""

    model = StockMovement
    fk_name = "lot"
    form = LedgerLineForm
    formset = LedgerFormSet
    fields = ("created_at", "kind", "quantity", "used_for_link", "note", "created_by")
    readonly_fields = ("created_at", "used_for_link", "created_by")
    verbose_name = "ledger line"
    verbose_name_plural = "ledger (add corrections and disposals here; lines written by processes are read-only)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "source_type")

    @admin.display(description="used for")
    def used_for_link(self, line):
        if line is None or line.pk is None:
            return ""
        source = line.source if line.source_type_id else None
        if source is None:
            return line.used_for or ""
        record = getattr(source, "parent_record", source)
        return admin_link(record, line.used_for or None)


class MadeStockLedgerInline(ReadOnlyAdminMixin, ChildInline):
    """What was taken from a made batch (separators, pellets, dips, cell parts), read-only."""

    model = StockMovement
    fields = ("created_at", "kind", "quantity", "used_for", "note", "created_by")
    readonly_fields = fields
    verbose_name = "ledger line"
    verbose_name_plural = "ledger (what was taken from it)"


def ledger_inline(holder_field: str):
    return type(f"{holder_field.title().replace('_', '')}LedgerInline", (MadeStockLedgerInline,),
                {"fk_name": holder_field})


class MadeStockAdmin(LabRecordAdmin):
    """A made batch: its ledger shows on its page once it exists."""

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        return inlines if obj is not None else [i for i in inlines if not issubclass(i, MadeStockLedgerInline)]


class LotTreatmentInline(ChildInline):
    model = models.LotTreatment
    fields = ("performed_on", "description", "temperature_c", "duration_h", "atmosphere", "pressure_mbar")
    verbose_name_plural = "treatments (drying history)"


class LotInputInline(LotUseInline):
    model = models.LotInput
    fk_name = "made_lot"
    extra = 0
    verbose_name_plural = "made from (for a lot made in house; taken from those lots' stock)"


class LotImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 (with or without BOM), comma or semicolon between cells, a header row naming the columns",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB.")
        return upload


@admin.register(models.PrecursorLot)
class PrecursorLotAdmin(LabRecordAdmin):
    create_service = staticmethod(services.lot_receive)
    update_service = staticmethod(services.lot_update)
    record_kwarg = "lot"
    list_display = ("human_id", "material", "supplier", "lot_number", "remaining", "storage", "state",
                    "stock_marker", "project")
    list_filter = (("material__kind", MaterialKindFilter), "material", "storage_place", "state", StockFilter,
                   "project")
    search_fields = ("human_id", "lot_number", "supplier", "material__name", "notes")
    list_select_related = ("material", "project", "created_by")
    date_hierarchy = None
    ordering = ("-created_at",)  # explicit: the ledger aggregate drops Meta.ordering
    derived_fields = ("remaining_detail", "consumed", "stock_state")
    inlines = (LotTreatmentInline, LotInputInline, LedgerInline)
    actions = ("export_csv",)

    def get_queryset(self, request):
        return selectors.with_stock(super().get_queryset(request))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            if formset.model is StockMovement:
                save_ledger_formset(request, form.instance, formset)

    # --- columns and derived numbers

    @admin.display(description="remaining", ordering="remaining")
    def remaining(self, lot):
        return format_mass(lot.remaining)

    @admin.display(description="storage place", ordering="storage_place")
    def storage(self, lot):
        place = lot.get_storage_place_display()
        return f"{place}, {lot.storage_detail}" if lot.storage_detail else place

    @admin.display(description="low stock")
    def stock_marker(self, lot):
        left = lot.remaining
        if left <= TOLERANCE:
            return badge("EMPTY", "#555", "empty")
        if left < lot.low_stock_threshold_mg:
            return badge("LOW", "#ba2121", "low")
        return ""

    @admin.display(description="remaining (from the ledger)")
    def remaining_detail(self, lot):
        return format_mass(selectors.stock_of(lot)[1]) if lot and lot.pk else NO_VALUE

    @admin.display(description="taken so far")
    def consumed(self, lot):
        return format_mass(selectors.stock_of(lot)[0]) if lot and lot.pk else NO_VALUE

    @admin.display(description="stock")
    def stock_state(self, lot):
        if not lot or not lot.pk:
            return NO_VALUE
        left = selectors.stock_of(lot)[1]
        if left <= TOLERANCE:
            return badge("EMPTY", "#555", "empty")
        if left < lot.low_stock_threshold_mg:
            return format_html("{} below the mark of {}", badge("LOW", "#ba2121", "low"),
                               format_mass(lot.low_stock_threshold_mg))
        return "ok"

    # --- CSV export and import (the logic lives in samples.lot_csv)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
            path("import/", self.admin_site.admin_view(self.import_view), name="%s_%s_import" % info),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        may_import = self.has_add_permission(request) and self.has_change_permission(request)
        return super().changelist_view(request, {"may_import": may_import, **(extra_context or {})})

    def csv_response(self, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="lots-{timezone.localdate():%Y-%m-%d}.csv"'
        lot_csv.export_lots(queryset, response)
        return response

    @admin.action(description="Export selected lots as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return self.csv_response(queryset)

    def export_view(self, request):
        """All lots of the list as filtered, searched and sorted (the list's query string)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:samples_precursorlot_changelist") + "?e=1")
        return self.csv_response(changelist.get_queryset(request))

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = LotImportForm(request.POST, request.FILES)
            if form.is_valid():
                result = lot_csv.import_lots(form.cleaned_data["file"], request.user)
                if result.ok:
                    for lot in result.created:
                        self.log_addition(request, lot, [{"added": {}}])
                    for lot in result.updated:
                        self.log_change(request, lot, "Changed by CSV import.")
                    self.message_user(
                        request,
                        f"Imported {form.cleaned_data['file'].name}: {len(result.created)} lots added, "
                        f"{len(result.updated)} updated, {len(result.unchanged)} unchanged.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:samples_precursorlot_changelist"))
        else:
            form = LotImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import lots from CSV",
            "form": form,
            "result": result,
            "columns": lot_csv.COLUMNS,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/samples/precursorlot/import_lots.html", context)


@admin.register(models.LotTreatment)
class LotTreatmentAdmin(ReadOnlyRowAdmin):
    project_path = "lot__project"
    list_display = ("lot", "performed_on", "description", "temperature_c", "duration_h", "atmosphere",
                    "pressure_mbar")
    list_filter = ("atmosphere",)
    search_fields = ("lot__human_id", "lot__material__name", "description")
    list_select_related = ("lot__material",)


@admin.register(models.LotInput)
class LotInputAdmin(ReadOnlyRowAdmin):
    project_path = "made_lot__project"
    list_display = ("record", "lot_link", "mass_mg")
    search_fields = ("made_lot__human_id", "lot__human_id", "lot__material__name")


class StockMovementForm(LedgerLineForm):
    class Meta(LedgerLineForm.Meta):
        fields = ("lot", "kind", "quantity", "note")


@admin.register(models.StockMovement)
class StockMovementAdmin(RefusalShownMixin, HistoryAdmin):
    """The ledgers of everything the lab holds. Add corrections and disposals of a lot here or
    on the lot's page (through ``stock_correct``); process lines are read-only."""

    project_path = None  # scoped below: a line is visible with its holder
    parent_field = "lot"
    form = StockMovementForm
    list_display = ("created_at", "holder_link", "kind", "quantity", "unit", "used_for", "note", "created_by")
    list_filter = ("kind", "lot__material__kind", "lot__material")
    search_fields = ("lot__human_id", "lot__material__name", "electrolyte_batch__human_id",
                     "infiltration_solution__human_id", "alloy_batch__human_id", "used_for", "note")
    list_select_related = (*selectors.HOLDER_FIELD.values(), "lot__material", "created_by")
    readonly_fields = ("used_for", "created_at", "created_by")
    autocomplete_fields = ("lot",)
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        projects = visible_projects(request.user)
        visible = Q()
        for field in selectors.HOLDER_FIELD.values():
            visible |= Q(**{f"{field}__project__in": projects})
        return queryset.filter(visible)

    def project_of(self, obj):
        holder = obj.holder if obj is not None else None
        return holder.project if holder is not None else None

    def _may_write(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        project = self.project_of(obj)
        return project is None or can_write(request.user, project)

    @admin.display(description="from")
    def holder_link(self, line):
        return admin_link(line.holder)

    @admin.display(description="unit")
    def unit(self, line):
        return line.holder.STOCK_UNIT

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_process_line)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_process_line)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        line = obj if change else None
        holder = data["lot"] if not change else obj.holder
        saved = services.stock_correct(user=request.user, holder=holder, quantity=data["quantity"],
                                       kind=data["kind"], note=data.get("note", ""), line=line)
        obj.pk, obj._state.adding = saved.pk, False

    def delete_model(self, request, obj):
        services.stock_correction_remove(user=request.user, line=obj)

    def delete_queryset(self, request, queryset):
        for line in queryset:
            services.stock_correction_remove(user=request.user, line=line)


# --- electrolyte batches --------------------------------------------------------------------------


def _millisiemens(sigma_s_cm):
    return f"{sigma_s_cm * 1000:.3g} mS/cm"


class ElectrolyteBatchInputInline(LotUseInline):
    model = models.ElectrolyteBatchInput
    verbose_name_plural = "precursor inputs (taken from the lots' stock)"


class ElectrolyteBatchStepInline(ChildInline):
    model = models.ElectrolyteBatchStep
    fields = ("order", "description", "temperature_c", "duration_h", "atmosphere", "pressure_mbar")


class ConductivityMeasurementInline(ChildInline):
    model = models.ConductivityMeasurement
    fields = ("measured_on", "temperature_c", "pellet_thickness_mm", "pellet_area_cm2", "resistance_ohm",
              "conductivity")
    readonly_fields = ("conductivity",)
    conductivity = derived("conductivity_s_cm", "ionic conductivity", fmt=_millisiemens)


def _conductivity_25c(batch):
    return batch.conductivity_at(25.0)


def _arrhenius(fit):
    return f"{fit.activation_energy_ev:.3g} eV (R² {fit.r_squared:.4f})"


def _remaining(holder):
    return selectors.stock_of(holder)[1]


@admin.register(models.ElectrolyteBatch)
class ElectrolyteBatchAdmin(MadeStockAdmin):
    create_service = staticmethod(services.electrolyte_batch_record)
    update_service = staticmethod(services.electrolyte_batch_update)
    record_kwarg = "batch"
    list_display = ("human_id", "name", "product", "route", "prepared_on", "xrd_phase", "conductivity_25c",
                    "project")
    list_filter = ("route", "xrd_phase", "product", "project")
    search_fields = ("human_id", "name", "notes")
    list_select_related = ("product", "project", "created_by")
    autocomplete_fields = ("solvent_lot",)
    inlines = (ElectrolyteBatchInputInline, ElectrolyteBatchStepInline, ConductivityMeasurementInline,
               ledger_inline("electrolyte_batch"))
    derived_fields = ("remaining", "conductivity_25c", "activation_energy")
    remaining = derived(_remaining, "remaining (from its ledger)", unit="mg")
    conductivity_25c = derived(_conductivity_25c, "ionic conductivity at 25 °C", fmt=_millisiemens)
    activation_energy = derived("activation_energy", "activation energy (Arrhenius)", fmt=_arrhenius)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("conductivity_measurements")


@admin.register(models.ElectrolyteBatchInput)
class ElectrolyteBatchInputAdmin(ReadOnlyRowAdmin):
    project_path = "batch__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("batch__human_id", "lot__human_id", "lot__material__name")


@admin.register(models.ElectrolyteBatchStep)
class ElectrolyteBatchStepAdmin(ReadOnlyRowAdmin):
    project_path = "batch__project"
    list_display = ("batch", "order", "description", "temperature_c", "duration_h", "atmosphere")
    search_fields = ("batch__human_id", "description")
    list_select_related = ("batch",)


@admin.register(models.ConductivityMeasurement)
class ConductivityMeasurementAdmin(ReadOnlyRowAdmin):
    project_path = "batch__project"
    list_display = ("batch", "measured_on", "temperature_c", "resistance_ohm", "conductivity")
    search_fields = ("batch__human_id",)
    list_select_related = ("batch",)
    derived_fields = ("conductivity",)
    conductivity = derived("conductivity_s_cm", "ionic conductivity", fmt=_millisiemens)


# --- infiltration solutions --------------------------------------------------------------------------


class InfiltrationSolutionInputInline(LotUseInline):
    model = models.InfiltrationSolutionInput
    verbose_name_plural = "dissolved salts (taken from the lots' stock)"


@admin.register(models.InfiltrationSolution)
class InfiltrationSolutionAdmin(MadeStockAdmin):
    create_service = staticmethod(services.infiltration_solution_prepare)
    update_service = staticmethod(services.infiltration_solution_update)
    record_kwarg = "solution"
    list_display = ("human_id", "name", "product", "solvent_lot", "solvent_volume_ml", "concentration",
                    "prepared_on", "project")
    list_filter = ("product", "project")
    search_fields = ("human_id", "name", "notes")
    list_select_related = ("product", "solvent_lot__material", "project", "created_by")
    autocomplete_fields = ("solvent_lot",)
    inlines = (InfiltrationSolutionInputInline, ledger_inline("infiltration_solution"))
    derived_fields = ("concentration", "remaining")
    concentration = derived("concentration_mg_ml", "concentration", unit="mg/mL")
    remaining = derived(_remaining, "remaining (from its ledger)", unit="mL")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("inputs")


@admin.register(models.InfiltrationSolutionInput)
class InfiltrationSolutionInputAdmin(ReadOnlyRowAdmin):
    project_path = "solution__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("solution__human_id", "lot__human_id", "lot__material__name")


# --- electrode sheets and electrodes ------------------------------------------------------------------


class SheetComponentInline(ChildInline):
    model = models.SheetComponent
    fields = ("lot", "role", "mass_fraction_percent", "mass_mg")
    autocomplete_fields = ("lot",)
    extra = 1
    verbose_name_plural = "components (a mass taken is recorded in the lot's ledger)"


class LoadingDiscInline(ChildInline):
    model = models.LoadingDisc
    fields = ("diameter_mm", "mass_mg", "loading")
    readonly_fields = ("loading",)
    loading = derived("coating_loading_mg_cm2", "coating loading", unit="mg/cm²")


SHEET_PREFETCH = ("components__lot__material", "loading_discs")


@admin.register(models.ElectrodeSheet)
class ElectrodeSheetAdmin(LabRecordAdmin):
    create_service = staticmethod(services.electrode_sheet_cast)
    update_service = staticmethod(services.electrode_sheet_update)
    record_kwarg = "sheet"
    list_display = ("human_id", "name", "composition", "areal_loading", "casting_porosity", "cast_on", "project")
    list_filter = ("current_collector", "project")
    search_fields = ("human_id", "name", "notes")
    autocomplete_fields = ("slurry_solvent_lot",)
    inlines = (SheetComponentInline, LoadingDiscInline)
    derived_fields = ("composition", "composite_density", "areal_loading", "areal_loading_spread",
                      "active_loading", "casting_porosity")
    composition = derived("composition_label", "composition (mass %)")
    composite_density = derived("composite_density_g_cm3", "composite density (pore-free)", unit="g/cm³")
    areal_loading = derived("areal_loading_mg_cm2", "areal loading (coating)", unit="mg/cm²")
    areal_loading_spread = derived("areal_loading_spread_mg_cm2", "areal loading spread (s.d.)", unit="mg/cm²")
    active_loading = derived("active_loading_mg_cm2", "active loading", unit="mg/cm²")
    casting_porosity = derived("casting_porosity", "casting porosity", percent=True)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*SHEET_PREFETCH)


@admin.register(models.SheetComponent)
class SheetComponentAdmin(ReadOnlyRowAdmin):
    project_path = "sheet__project"
    list_display = ("record", "lot_link", "role", "mass_fraction_percent", "mass_mg")
    list_filter = ("role", "lot__material")
    search_fields = ("sheet__human_id", "lot__human_id", "lot__material__name")


@admin.register(models.LoadingDisc)
class LoadingDiscAdmin(ReadOnlyRowAdmin):
    project_path = "sheet__project"
    list_display = ("sheet", "diameter_mm", "mass_mg", "loading")
    search_fields = ("sheet__human_id",)
    list_select_related = ("sheet",)
    derived_fields = ("loading",)
    loading = derived("coating_loading_mg_cm2", "coating loading", unit="mg/cm²")


@admin.register(models.Electrode)
class ElectrodeAdmin(LabRecordAdmin):
    create_service = staticmethod(services.electrode_punch)
    update_service = staticmethod(services.electrode_update)
    record_kwarg = "electrode"
    list_display = ("human_id", "sheet", "diameter_mm", "mass_mg", "active_loading", "punched_on", "project")
    list_filter = ("project",)
    search_fields = ("human_id", "notes", "sheet__human_id", "sheet__name")
    list_select_related = ("sheet", "project", "created_by")
    autocomplete_fields = ("sheet",)
    derived_fields = ("area", "coating_mass", "active_mass", "active_loading", "one_c_current")
    area = derived("area_cm2", "area", unit="cm²")
    coating_mass = derived("coating_mass_mg", "coating mass", unit="mg")
    active_mass = derived("active_mass_mg", "active mass", unit="mg")
    active_loading = derived("active_loading_mg_cm2", "active loading", unit="mg/cm²")
    one_c_current = derived("reference_capacity_mah", "1C current (reference capacity)", unit="mA")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*(f"sheet__{p}" for p in SHEET_PREFETCH))


# --- infiltration runs --------------------------------------------------------------------------------


class InfiltrationDryingStepInline(ChildInline):
    model = models.InfiltrationDryingStep
    fields = ("order", "description", "temperature_c", "duration_h", "atmosphere", "pressure_mbar")


class InfiltratedElectrodeInline(ChildInline):
    model = models.InfiltratedElectrode
    fields = ("electrode", "mass_before_mg", "mass_after_mg", "pressing_pressure_mpa", "pressed_thickness_um",
              "pressed_mass_mg", "electrolyte_mass", "measured_uptake", "expected_uptake", "remaining_porosity")
    readonly_fields = ("electrolyte_mass", "measured_uptake", "expected_uptake", "remaining_porosity")
    autocomplete_fields = ("electrode",)
    electrolyte_mass = derived("electrolyte_mass_mg", "electrolyte mass", unit="mg")
    measured_uptake = derived("measured_uptake_fraction", "measured uptake (wt %)", percent=True)
    expected_uptake = derived("expected_uptake_fraction", "expected uptake (wt %)", percent=True)
    remaining_porosity = derived("remaining_porosity", "porosity after pressing", percent=True)


@admin.register(models.InfiltrationRun)
class InfiltrationRunAdmin(LabRecordAdmin):
    create_service = staticmethod(services.infiltration_run_record)
    update_service = staticmethod(services.infiltration_run_update)
    record_kwarg = "run"
    list_display = ("human_id", "solution", "performed_on", "dip_time_min", "project")
    list_filter = ("project",)
    search_fields = ("human_id", "notes", "solution__human_id")
    list_select_related = ("solution", "project", "created_by")
    autocomplete_fields = ("solution",)
    inlines = (InfiltrationDryingStepInline, InfiltratedElectrodeInline)


@admin.register(models.InfiltrationDryingStep)
class InfiltrationDryingStepAdmin(ReadOnlyRowAdmin):
    project_path = "run__project"
    list_display = ("run", "order", "description", "temperature_c", "duration_h", "atmosphere")
    search_fields = ("run__human_id", "description")
    list_select_related = ("run",)


@admin.register(models.InfiltratedElectrode)
class InfiltratedElectrodeAdmin(ReadOnlyRowAdmin):
    project_path = "run__project"
    list_display = ("run", "electrode", "mass_before_mg", "mass_after_mg", "measured_uptake", "remaining_porosity")
    search_fields = ("run__human_id", "electrode__human_id")
    list_select_related = ("run", "electrode")
    derived_fields = ("electrolyte_mass", "measured_uptake", "expected_uptake", "remaining_porosity")
    electrolyte_mass = InfiltratedElectrodeInline.electrolyte_mass
    measured_uptake = InfiltratedElectrodeInline.measured_uptake
    expected_uptake = InfiltratedElectrodeInline.expected_uptake
    remaining_porosity = InfiltratedElectrodeInline.remaining_porosity


# --- alloys ------------------------------------------------------------------------------------------


class AlloyBatchInputInline(LotUseInline):
    model = models.AlloyBatchInput
    verbose_name_plural = "metals (taken from the lots' stock)"


@admin.register(models.AlloyBatch)
class AlloyBatchAdmin(MadeStockAdmin):
    create_service = staticmethod(services.alloy_batch_prepare)
    update_service = staticmethod(services.alloy_batch_update)
    record_kwarg = "batch"
    list_display = ("human_id", "name", "prepared_on", "project")
    list_filter = ("project",)
    search_fields = ("human_id", "name", "notes")
    inlines = (AlloyBatchInputInline, ledger_inline("alloy_batch"))
    derived_fields = ("remaining",)
    remaining = derived(_remaining, "remaining (from its ledger)", unit="mg")


@admin.register(models.AlloyBatchInput)
class AlloyBatchInputAdmin(ReadOnlyRowAdmin):
    project_path = "batch__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("batch__human_id", "lot__human_id", "lot__material__name")
