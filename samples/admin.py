"""Admin of samples: the inventory (precursor lots and their stock ledger) and the records of
what is made from it.

Stock: rows that take mass from a lot (electrolyte batch inputs, infiltration solution inputs,
sheet components with a mass, alloy inputs) are edited on their record's page. Their inline
formset checks, with the lots locked, that no lot is overdrawn (the message is the one
``samples.services.take_stock`` gives, shown on the page; nothing is saved), and on save gives
back the ledger lines of changed and deleted rows (``release_stock``) and writes new ones
(``take_stock``) in the same transaction as the record. On their own pages these rows are
read-only, so the ledger cannot be bypassed.

The lot's page shows its ledger, where the lab manager adds corrections and disposals;
lines written by processes are read-only there.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from eln.admin import NO_VALUE, ChildInline, HistoryAdmin, LabRecordAdmin, ReadOnlyAdminMixin, derived
from samples import lot_csv, models, services
from samples.filtersets import with_remaining_stock

TOLERANCE = services.STOCK_TOLERANCE_MG
StockMovement = models.StockMovement
MANUAL_KINDS = [(kind.value, kind.label) for kind in (StockMovement.Kind.CORRECTION, StockMovement.Kind.DISPOSAL)]
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


class StockTakingFormSet(BaseInlineFormSet):
    """Inline rows with ``lot`` and ``mass_mg`` that take stock: checked in clean(), written
    to the ledger in save() (old lines of changed and deleted rows given back first)."""

    def _touched(self):
        """(existing rows being changed or deleted, forms of rows to save)."""
        released, saving = [], []
        for form in self.forms:
            if not hasattr(form, "cleaned_data"):
                continue
            deleted = self.can_delete and self._should_delete_form(form)
            if form.instance.pk is not None and (deleted or form.has_changed()):
                released.append(form.instance)
            if not deleted and form.has_changed():
                saving.append(form)
        return released, saving

    def used_for_label(self) -> str:
        return self.instance.human_id or f"this new {self.instance._meta.verbose_name}"

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        released, saving = self._touched()
        uses = [(form.cleaned_data.get("lot"), form.cleaned_data.get("mass_mg")) for form in saving]
        problems = services.stock_problems(uses, used_for=self.used_for_label(), released_rows=released)
        if problems:
            raise ValidationError(problems, code="insufficient_stock")

    def save(self, commit=True):
        if not commit:  # the caller saves the rows and must write the ledger itself
            return super().save(commit=False)
        released = [
            form.instance for form in self.initial_forms
            if form.instance.pk is not None and (form in self.deleted_forms or form.has_changed())
        ]
        services.release_stock(released)
        saved = super().save()
        services.take_stock(
            [(row.lot, row.mass_mg, row) for row in saved],
            used_for=self.instance.human_id, user=getattr(self, "request_user", None),
        )
        return saved


class SheetComponentFormSet(StockTakingFormSet):
    """Components: fractions sum to 100 %, exactly one active material (as the API checks)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = [
            form.cleaned_data for form in self.forms
            if getattr(form, "cleaned_data", None) and not self._should_delete_form(form)
        ]
        if not rows:
            return
        problems = models.composition_problems([(row["role"], row["mass_fraction_percent"]) for row in rows])
        if problems:
            raise ValidationError(problems)


class LotUseInline(ChildInline):
    formset = StockTakingFormSet
    fields = ("lot", "mass_mg")
    autocomplete_fields = ("lot",)
    extra = 1


class StockTakingAdmin(LabRecordAdmin):
    """A record whose child rows (``stock_children``) take stock from lots.

    Deleting the record gives its ledger lines back to the lots (samples.signals: the record
    was wrong); a mass really used up can be recorded on the lot as a correction.
    """

    stock_children: tuple[str, ...] = ()

    def get_deleted_objects(self, objs, request):
        # The stock rows are read-only on their own pages but go with their record (and give
        # their stock back, below): their admin's "no delete" must not block the record's delete.
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        rows = {str(self.opts.get_field(name).related_model._meta.verbose_name) for name in self.stock_children}
        return to_delete, model_count, {name for name in perms_needed if str(name) not in rows}, protected



class ReadOnlyStockRowAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """A stock-taking row on its own page: browse and history only; edit it on its record's
    page, which keeps the ledger right."""

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
class MaterialAdmin(HistoryAdmin):
    project_path = None  # lab-wide data
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
        if "remaining_stock_mg" not in queryset.query.annotations:
            queryset = with_remaining_stock(queryset)
        left = "remaining_stock_mg"
        if self.value() == "empty":
            return queryset.filter(**{f"{left}__lte": TOLERANCE})
        if self.value() == "low":
            return queryset.filter(**{f"{left}__gt": TOLERANCE, f"{left}__lt": F("low_stock_threshold_mg")})
        if self.value() == "ok":
            return queryset.filter(**{f"{left}__gt": TOLERANCE, f"{left}__gte": F("low_stock_threshold_mg")})
        return queryset


def is_process_line(line: StockMovement) -> bool:
    return line.pk is not None and (line.kind == StockMovement.Kind.USE or line.source_type_id is not None)


class LedgerLineForm(forms.ModelForm):
    """A ledger line: corrections and disposals are the lab manager's; process lines read-only."""

    class Meta:
        model = StockMovement
        fields = ("kind", "mass_mg", "note")
        help_texts = {"mass_mg": "taken out of the lot; a negative correction puts mass back"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if is_process_line(self.instance):
            for field in self.fields.values():
                field.disabled = True
        else:
            self.fields["kind"].choices = MANUAL_KINDS
            if self.instance.pk is None:
                self.initial["kind"] = StockMovement.Kind.CORRECTION

    def clean(self):
        data = super().clean()
        if is_process_line(self.instance):
            return data
        mass = data.get("mass_mg")
        if mass is not None:
            if mass == 0:
                self.add_error("mass_mg", "Enter the mass taken out (positive) or put back (negative).")
            elif data.get("kind") == StockMovement.Kind.DISPOSAL and mass < 0:
                self.add_error("mass_mg", "A disposal takes mass out of the lot: enter a positive mass.")
        return data


def ledger_problem(lot, quantity_mg, replaced_line_ids, new_masses) -> str | None:
    """Why the ledger change would leave the lot below zero, or None. Locks the lot."""
    if quantity_mg is None:
        return None
    with transaction.atomic():
        taken = old = 0.0
        if lot.pk:
            list(models.PrecursorLot.objects.select_for_update(of=("self",)).filter(pk=lot.pk).values_list("pk"))
            lines = StockMovement.objects.filter(lot=lot)
            taken = lines.aggregate(total=Sum("mass_mg"))["total"] or 0.0
            old = lines.filter(pk__in=[pk for pk in replaced_line_ids if pk]).aggregate(
                total=Sum("mass_mg"))["total"] or 0.0
    total = taken - old + sum(new_masses)
    left = quantity_mg - total
    if left < -TOLERANCE:
        name = lot.human_id or "This lot"
        return (f"{name} would have {left:g} mg left: its ledger would take {total:g} mg "
                f"of the {quantity_mg:g} mg received.")
    return None


class LedgerFormSet(BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if DELETION_FIELD_NAME in form.fields and is_process_line(form.instance):
            form.fields[DELETION_FIELD_NAME].disabled = True

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        lot = self.instance
        touched = [form for form in self.forms if hasattr(form, "cleaned_data")
                   and (form.has_changed() or self._should_delete_form(form))]
        stored = models.PrecursorLot.objects.filter(pk=lot.pk).values_list(
            "quantity_received_mg", flat=True).first() if lot.pk else None
        if not touched and stored == lot.quantity_received_mg:
            return
        problem = ledger_problem(
            lot, lot.quantity_received_mg,
            [form.instance.pk for form in touched],
            [form.cleaned_data["mass_mg"] for form in touched
             if not self._should_delete_form(form) and form.cleaned_data.get("mass_mg") is not None],
        )
        if problem:
            raise ValidationError(problem)


class LedgerInline(ChildInline):
    """The lot's ledger: every mass taken or given back, newest last."""

    model = StockMovement
    form = LedgerLineForm
    formset = LedgerFormSet
    fields = ("created_at", "kind", "mass_mg", "used_for_link", "note", "created_by")
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


class LotTreatmentInline(ChildInline):
    model = models.LotTreatment
    fields = ("performed_on", "description", "temperature_c", "duration_h", "atmosphere", "pressure_mbar")
    verbose_name_plural = "treatments (drying history)"


class PrecursorLotForm(forms.ModelForm):
    class Meta:
        model = models.PrecursorLot
        fields = "__all__"

    def clean_quantity_received_mg(self):
        quantity = self.cleaned_data.get("quantity_received_mg")
        if quantity is not None and self.instance.pk:
            taken = services.taken_mg(self.instance)
            if quantity < taken - TOLERANCE:
                raise ValidationError(
                    f"The ledger has already taken {taken:g} mg from this lot; "
                    "the quantity received cannot be less."
                )
        return quantity


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
    form = PrecursorLotForm
    list_display = ("human_id", "material", "supplier", "lot_number", "remaining", "storage", "state",
                    "stock_marker", "project")
    list_filter = (("material__kind", MaterialKindFilter), "material", "storage_place", "state", StockFilter,
                   "project")
    search_fields = ("human_id", "lot_number", "supplier", "material__name", "notes")
    list_select_related = ("material", "project", "created_by")
    date_hierarchy = None
    ordering = ("-created_at",)  # explicit: the ledger aggregate drops Meta.ordering
    derived_fields = ("remaining_detail", "consumed", "stock_state")
    inlines = (LotTreatmentInline, LedgerInline)
    actions = ("export_csv",)

    def get_queryset(self, request):
        return with_remaining_stock(super().get_queryset(request))

    # --- columns and derived numbers

    @admin.display(description="remaining", ordering="remaining_stock_mg")
    def remaining(self, lot):
        return format_mass(lot.remaining_stock_mg)

    @admin.display(description="storage place", ordering="storage_place")
    def storage(self, lot):
        place = lot.get_storage_place_display()
        return f"{place}, {lot.storage_detail}" if lot.storage_detail else place

    @admin.display(description="low stock")
    def stock_marker(self, lot):
        left = lot.remaining_stock_mg
        if left <= TOLERANCE:
            return badge("EMPTY", "#555", "empty")
        if left < lot.low_stock_threshold_mg:
            return badge("LOW", "#ba2121", "low")
        return ""

    @admin.display(description="remaining (from the ledger)")
    def remaining_detail(self, lot):
        return format_mass(lot.remaining_mg) if lot and lot.pk else NO_VALUE

    @admin.display(description="taken so far")
    def consumed(self, lot):
        return format_mass(lot.consumed_mg) if lot and lot.pk else NO_VALUE

    @admin.display(description="stock")
    def stock_state(self, lot):
        if not lot or not lot.pk:
            return NO_VALUE
        left = lot.remaining_mg
        if left <= TOLERANCE:
            return badge("EMPTY", "#555", "empty")
        if left < lot.low_stock_threshold_mg:
            return format_html("{} below the mark of {}", badge("LOW", "#ba2121", "low"),
                               format_mass(lot.low_stock_threshold_mg))
        return "ok"

    def delete_queryset(self, request, queryset):
        # The list's queryset carries the ledger aggregate; delete through a plain one.
        super().delete_queryset(request, models.PrecursorLot.objects.filter(pk__in=[lot.pk for lot in queryset]))

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
class LotTreatmentAdmin(HistoryAdmin):
    project_path = "lot__project"
    parent_field = "lot"
    list_display = ("lot", "performed_on", "description", "temperature_c", "duration_h", "atmosphere",
                    "pressure_mbar")
    list_filter = ("atmosphere",)
    search_fields = ("lot__human_id", "lot__material__name", "description")
    list_select_related = ("lot__material",)
    autocomplete_fields = ("lot",)


class StockMovementForm(LedgerLineForm):
    class Meta(LedgerLineForm.Meta):
        fields = ("lot", "kind", "mass_mg", "note")

    def clean(self):
        data = super().clean()
        lot, mass = data.get("lot"), data.get("mass_mg")
        if not self.errors and lot is not None and mass is not None and not is_process_line(self.instance):
            if self.instance.pk and self.instance.lot_id != lot.pk:
                self.add_error("lot", "A ledger line stays on its lot; add a new line on the other lot.")
            else:
                problem = ledger_problem(lot, lot.quantity_received_mg, [self.instance.pk], [mass])
                if problem:
                    raise ValidationError(problem)
        return data


@admin.register(models.StockMovement)
class StockMovementAdmin(HistoryAdmin):
    """The ledger of all lots. Add corrections and disposals here or on the lot's page."""

    project_path = "lot__project"
    parent_field = "lot"
    form = StockMovementForm
    list_display = ("created_at", "lot", "kind", "mass_mg", "used_for", "note", "created_by")
    list_filter = ("kind", "lot__material__kind", "lot__material")
    search_fields = ("lot__human_id", "lot__material__name", "used_for", "note")
    list_select_related = ("lot__material", "created_by")
    readonly_fields = ("used_for", "created_at", "created_by")
    autocomplete_fields = ("lot",)
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj is not None and is_process_line(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and is_process_line(obj))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


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


@admin.register(models.ElectrolyteBatch)
class ElectrolyteBatchAdmin(StockTakingAdmin):
    list_display = ("human_id", "name", "product", "route", "prepared_on", "xrd_phase", "conductivity_25c",
                    "project")
    list_filter = ("route", "xrd_phase", "product", "project")
    search_fields = ("human_id", "name", "notes")
    list_select_related = ("product", "project", "created_by")
    autocomplete_fields = ("solvent_lot",)
    inlines = (ElectrolyteBatchInputInline, ElectrolyteBatchStepInline, ConductivityMeasurementInline)
    stock_children = ("inputs",)
    derived_fields = ("conductivity_25c", "activation_energy")
    conductivity_25c = derived(_conductivity_25c, "ionic conductivity at 25 °C", fmt=_millisiemens)
    activation_energy = derived("activation_energy", "activation energy (Arrhenius)", fmt=_arrhenius)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("conductivity_measurements")


@admin.register(models.ElectrolyteBatchInput)
class ElectrolyteBatchInputAdmin(ReadOnlyStockRowAdmin):
    project_path = "batch__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("batch__human_id", "lot__human_id", "lot__material__name")


@admin.register(models.ElectrolyteBatchStep)
class ElectrolyteBatchStepAdmin(HistoryAdmin):
    project_path = "batch__project"
    parent_field = "batch"
    list_display = ("batch", "order", "description", "temperature_c", "duration_h", "atmosphere")
    search_fields = ("batch__human_id", "description")
    list_select_related = ("batch",)
    autocomplete_fields = ("batch",)


@admin.register(models.ConductivityMeasurement)
class ConductivityMeasurementAdmin(HistoryAdmin):
    project_path = "batch__project"
    parent_field = "batch"
    list_display = ("batch", "measured_on", "temperature_c", "resistance_ohm", "conductivity")
    search_fields = ("batch__human_id",)
    list_select_related = ("batch",)
    autocomplete_fields = ("batch",)
    derived_fields = ("conductivity",)
    conductivity = derived("conductivity_s_cm", "ionic conductivity", fmt=_millisiemens)


# --- infiltration solutions --------------------------------------------------------------------------


class InfiltrationSolutionInputInline(LotUseInline):
    model = models.InfiltrationSolutionInput
    verbose_name_plural = "dissolved salts (taken from the lots' stock)"


@admin.register(models.InfiltrationSolution)
class InfiltrationSolutionAdmin(StockTakingAdmin):
    list_display = ("human_id", "name", "product", "solvent_lot", "solvent_volume_ml", "concentration",
                    "prepared_on", "project")
    list_filter = ("product", "project")
    search_fields = ("human_id", "name", "notes")
    list_select_related = ("product", "solvent_lot__material", "project", "created_by")
    autocomplete_fields = ("solvent_lot",)
    inlines = (InfiltrationSolutionInputInline,)
    stock_children = ("inputs",)
    derived_fields = ("concentration",)
    concentration = derived("concentration_mg_ml", "concentration", unit="mg/mL")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("inputs")


@admin.register(models.InfiltrationSolutionInput)
class InfiltrationSolutionInputAdmin(ReadOnlyStockRowAdmin):
    project_path = "solution__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("solution__human_id", "lot__human_id", "lot__material__name")


# --- electrode sheets and electrodes ------------------------------------------------------------------


class SheetComponentInline(ChildInline):
    model = models.SheetComponent
    formset = SheetComponentFormSet
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
class ElectrodeSheetAdmin(StockTakingAdmin):
    list_display = ("human_id", "name", "composition", "areal_loading", "casting_porosity", "cast_on", "project")
    list_filter = ("current_collector", "project")
    search_fields = ("human_id", "name", "notes")
    autocomplete_fields = ("slurry_solvent_lot",)
    inlines = (SheetComponentInline, LoadingDiscInline)
    stock_children = ("components",)
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
class SheetComponentAdmin(ReadOnlyStockRowAdmin):
    project_path = "sheet__project"
    list_display = ("record", "lot_link", "role", "mass_fraction_percent", "mass_mg")
    list_filter = ("role", "lot__material")
    search_fields = ("sheet__human_id", "lot__human_id", "lot__material__name")


@admin.register(models.LoadingDisc)
class LoadingDiscAdmin(HistoryAdmin):
    project_path = "sheet__project"
    parent_field = "sheet"
    list_display = ("sheet", "diameter_mm", "mass_mg", "loading")
    search_fields = ("sheet__human_id",)
    list_select_related = ("sheet",)
    autocomplete_fields = ("sheet",)
    derived_fields = ("loading",)
    loading = derived("coating_loading_mg_cm2", "coating loading", unit="mg/cm²")


@admin.register(models.Electrode)
class ElectrodeAdmin(LabRecordAdmin):
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


class InfiltratedElectrodeForm(forms.ModelForm):
    class Meta:
        model = models.InfiltratedElectrode
        fields = "__all__"

    def clean(self):
        data = super().clean()
        before, after = data.get("mass_before_mg"), data.get("mass_after_mg")
        if before is not None and after is not None and after < before:
            self.add_error("mass_after_mg", f"The mass after ({after:g} mg) is below the mass before "
                                            f"({before:g} mg); infiltration adds electrolyte.")
        return data


class InfiltratedElectrodeInline(ChildInline):
    model = models.InfiltratedElectrode
    form = InfiltratedElectrodeForm
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
    list_display = ("human_id", "solution", "performed_on", "dip_time_min", "project")
    list_filter = ("project",)
    search_fields = ("human_id", "notes", "solution__human_id")
    list_select_related = ("solution", "project", "created_by")
    autocomplete_fields = ("solution",)
    inlines = (InfiltrationDryingStepInline, InfiltratedElectrodeInline)


@admin.register(models.InfiltrationDryingStep)
class InfiltrationDryingStepAdmin(HistoryAdmin):
    project_path = "run__project"
    parent_field = "run"
    list_display = ("run", "order", "description", "temperature_c", "duration_h", "atmosphere")
    search_fields = ("run__human_id", "description")
    list_select_related = ("run",)
    autocomplete_fields = ("run",)


@admin.register(models.InfiltratedElectrode)
class InfiltratedElectrodeAdmin(HistoryAdmin):
    project_path = "run__project"
    parent_field = "run"
    form = InfiltratedElectrodeForm
    list_display = ("run", "electrode", "mass_before_mg", "mass_after_mg", "measured_uptake", "remaining_porosity")
    search_fields = ("run__human_id", "electrode__human_id")
    list_select_related = ("run", "electrode")
    autocomplete_fields = ("run", "electrode")
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
class AlloyBatchAdmin(StockTakingAdmin):
    list_display = ("human_id", "name", "prepared_on", "project")
    list_filter = ("project",)
    search_fields = ("human_id", "name", "notes")
    inlines = (AlloyBatchInputInline,)
    stock_children = ("inputs",)


@admin.register(models.AlloyBatchInput)
class AlloyBatchInputAdmin(ReadOnlyStockRowAdmin):
    project_path = "batch__project"
    list_display = ("record", "lot_link", "mass_mg")
    list_filter = ("lot__material",)
    search_fields = ("batch__human_id", "lot__human_id", "lot__material__name")
