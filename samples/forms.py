"""The samples' forms, in the lab's steps: receive a lot, record an electrolyte batch, prepare an
infiltration solution or an alloy choosing lots from stock, cast a sheet with its loading discs,
punch electrodes, record an infiltration run. Each writes through its service
(``samples.services``) on ``eln.forms.RecordFormView``; the selects offer the records of the
projects the user may write in, each lot, batch and solution with what is left of it.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import modelform_factory
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from eln.formatting import fixed
from eln.forms import RecordFormView, RowForm, RowFormSet, Rows, offer, show_refusal
from eln.permissions import can_write, visible_records, writable_projects
from eln.record_pages import derived_numbers
from samples import selectors, services
from samples.models import (
    USES,
    AlloyBatch,
    Electrode,
    ElectrodeSheet,
    ElectrolyteBatch,
    InfiltrationRun,
    InfiltrationSolution,
    Material,
    PrecursorLot,
    SheetComponent,
)
from samples.record_pages import ELECTRODE_NUMBERS, INFILTRATED_NUMBERS, SHEET_NUMBERS, SHEET_PREFETCH, batch_numbers

STEP_FIELDS = ("order", "description", "temperature_c", "duration_h", "atmosphere", "pressure_mbar")


# -- what the selects offer ---------------------------------------------------------------------

def lots_for(projects, *uses):
    """Lots of ``projects`` whose material may serve as one of ``uses`` (keys of USES), with stock."""
    kinds = {kind for use in uses for kind in USES[use]}
    lots = PrecursorLot.objects.filter(project__in=projects).select_related("material")
    if kinds:
        lots = lots.filter(material__kind__in=kinds)
    return selectors.with_stock(lots).order_by("material__name", "human_id")


def lot_label(lot) -> str:
    source = " ".join(part for part in (lot.supplier, lot.lot_number) if part)
    return f"{lot.human_id} {lot.material.name} ({source}) · {fixed(lot.remaining, 1, 'mg')} left"


def holder_label(holder, unit_decimals=1, unit="mg") -> str:
    what = getattr(holder, "name", "") or ""
    left = "no stock recorded" if holder.remaining is None else f"{fixed(holder.remaining, unit_decimals, unit)} left"
    return f"{holder.human_id} {what}".strip() + f" · {left}"


def materials_of(*kinds):
    return Material.objects.filter(kind__in=kinds).order_by("name")


def electrodes_for(projects, queryset=None):
    electrodes = queryset if queryset is not None else Electrode.objects.all()
    return (electrodes.filter(project__in=projects).select_related("sheet")
            .prefetch_related(*(f"sheet__{p}" for p in SHEET_PREFETCH)).order_by("human_id"))


def electrode_label(electrode) -> str:
    numbers = derived_numbers(electrode, ["active_mass_mg", "active_loading_mg_cm2"])
    material = electrode.sheet.active_material
    return (f"{electrode.human_id} {material.name if material else ''} {electrode.sheet.composition_label} "
            f"({electrode.sheet.human_id}) · {fixed(electrode.mass_mg, 2, 'mg')}, "
            f"{fixed(numbers['active_loading_mg_cm2'], 2, 'mg/cm²')} active")


def offer_rows(formset, field: str, queryset, label) -> None:
    formset.offer(field, queryset, label)


# -- lots -------------------------------------------------------------------------------------

class LotFormView(RecordFormView):
    model = PrecursorLot
    fields = ("material", "supplier", "lot_number", "received_on", "purity_percent", "quantity_received_mg",
              "low_stock_threshold_mg", "storage_place", "storage_detail", "state", "hazards", "notes")
    rows = {
        "treatments": Rows(("performed_on", "description", "temperature_c", "duration_h", "atmosphere",
                            "pressure_mbar"), "Treatments (drying before use)", extra=1),
        "inputs": Rows(("lot", "mass_mg"), "Made in house from these lots", extra=1),
    }
    section = "lots"
    verb, what = "Receive", "a lot"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, PrecursorLot.objects.all()), human_id=label)

    def offer_row_choices(self, name, formset, projects, record):
        if name == "inputs":
            lots = lots_for(projects)
            if record is not None:
                lots = lots.exclude(pk=record.pk)
            offer_rows(formset, "lot", lots, lot_label)

    def create(self, user, project, **fields):
        return services.lot_receive(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.lot_update(user=user, lot=record, **fields)


# -- electrolyte batches ----------------------------------------------------------------------

class BatchFormView(RecordFormView):
    model = ElectrolyteBatch
    fields = ("name", "product", "route", "solvent_lot", "solvent_volume_ml", "prepared_on", "yield_mg",
              "xrd_phase", "xrd_main_reflection_two_theta_deg", "ir_b_h_bands_present", "ir_solvent_bands_present",
              "pellet_mass_mg", "notes")
    rows = {
        "inputs": Rows(("lot", "mass_mg"), "Precursors taken from stock", extra=2),
        "steps": Rows(STEP_FIELDS, "Process steps", extra=2),
        "conductivity_measurements": Rows(("measured_on", "temperature_c", "pellet_thickness_mm", "pellet_area_cm2",
                                           "resistance_ohm"), "Conductivity of the pressed pellet", extra=1),
    }
    section = "batches"
    what = "an electrolyte batch"
    derived_template = "samples/_batch_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, ElectrolyteBatch.objects.all()), human_id=label)

    def offer_choices(self, form, projects):
        offer(form.fields["product"], materials_of(Material.Kind.SOLID_ELECTROLYTE), str)
        offer(form.fields["solvent_lot"], lots_for(projects, "solvent"), lot_label)

    def offer_row_choices(self, name, formset, projects, record):
        if name == "inputs":
            offer_rows(formset, "lot", lots_for(projects, "electrolyte precursor"), lot_label)

    def derived(self, record):
        return batch_numbers(record)

    def create(self, user, project, **fields):
        return services.electrolyte_batch_record(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.electrolyte_batch_update(user=user, batch=record, **fields)


# -- infiltration solutions --------------------------------------------------------------------

class SolutionFormView(RecordFormView):
    model = InfiltrationSolution
    fields = ("name", "product", "solvent_lot", "solvent_volume_ml", "prepared_on", "notes")
    rows = {"inputs": Rows(("lot", "mass_mg"), "Salts taken from stock", extra=2)}
    section = "solutions"
    verb, what = "Prepare", "an infiltration solution"
    derived_template = "samples/_solution_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, InfiltrationSolution.objects.all()), human_id=label)

    def offer_choices(self, form, projects):
        offer(form.fields["product"], materials_of(Material.Kind.SOLID_ELECTROLYTE), str)
        offer(form.fields["solvent_lot"], lots_for(projects, "solvent"), lot_label)

    def offer_row_choices(self, name, formset, projects, record):
        offer_rows(formset, "lot", lots_for(projects, "salt"), lot_label)

    def derived(self, record):
        return derived_numbers(record, ["concentration_mg_ml", "solvent_volume_ml"])

    def create(self, user, project, **fields):
        return services.infiltration_solution_prepare(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.infiltration_solution_update(user=user, solution=record, **fields)


# -- electrode sheets --------------------------------------------------------------------------

class SheetFormView(RecordFormView):
    model = ElectrodeSheet
    fields = ("name", "slurry_solvent_lot", "slurry_solvent_volume_ml", "current_collector",
              "current_collector_areal_mass_mg_cm2", "cast_on", "drying_temperature_c", "drying_duration_h",
              "drying_atmosphere", "coating_thickness_um", "notes")
    rows = {
        "components": Rows(("lot", "role", "mass_fraction_percent", "mass_mg"), "Slurry components", extra=3),
        "loading_discs": Rows(("diameter_mm", "mass_mg"), "Loading discs (weighed with their foil)", extra=4),
    }
    section = "sheets"
    verb, what = "Cast", "an electrode sheet"
    derived_template = "samples/_sheet_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, ElectrodeSheet.objects.all()), human_id=label)

    def offer_choices(self, form, projects):
        offer(form.fields["slurry_solvent_lot"], lots_for(projects, "solvent"), lot_label)

    def offer_row_choices(self, name, formset, projects, record):
        if name == "components":
            uses = [SheetComponent.ROLE_USES[role] for role in SheetComponent.ROLE_USES]
            offer_rows(formset, "lot", lots_for(projects, *uses), lot_label)

    def derived(self, record):
        return derived_numbers(record, SHEET_NUMBERS)

    def create(self, user, project, **fields):
        return services.electrode_sheet_cast(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.electrode_sheet_update(user=user, sheet=record, **fields)


# -- electrodes ---------------------------------------------------------------------------------

def sheets_for(projects):
    return ElectrodeSheet.objects.filter(project__in=projects).prefetch_related(*SHEET_PREFETCH).order_by("-created_at")


def sheet_label(sheet) -> str:
    material = sheet.active_material
    loading = derived_numbers(sheet, ["active_loading_mg_cm2"])["active_loading_mg_cm2"]
    return (f"{sheet.human_id} {sheet.name or (material.name if material else '')} {sheet.composition_label} · "
            f"{fixed(loading, 2, 'mg/cm²')} active")


class ElectrodeFormView(RecordFormView):
    """Change one electrode (several are punched at once on the punch page)."""

    model = Electrode
    fields = ("sheet", "diameter_mm", "mass_mg", "punched_on", "notes")
    section = "electrodes"
    verb, what = "Punch", "an electrode"
    derived_template = "samples/_electrode_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, Electrode.objects.all()), human_id=label)

    def offer_choices(self, form, projects):
        offer(form.fields["sheet"], sheets_for(projects), sheet_label)

    def derived(self, record):
        return derived_numbers(record, ELECTRODE_NUMBERS)

    def create(self, user, project, **fields):
        return services.electrode_punch(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.electrode_update(user=user, electrode=record, **fields)


class PunchForm(forms.Form):
    sheet = forms.ModelChoiceField(queryset=ElectrodeSheet.objects.none(), label="Sheet")
    diameter_mm = Electrode._meta.get_field("diameter_mm").formfield()
    punched_on = forms.DateField(required=False, label="Punched on",
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


PunchedRow = modelform_factory(Electrode, form=RowForm, fields=("mass_mg", "notes"),
                               widgets={"notes": forms.TextInput})
PunchedRows = forms.formset_factory(PunchedRow, formset=RowFormSet, extra=4, can_delete=False)
PunchedRows.title = "Electrodes punched (one row each)"


class PunchView(LoginRequiredMixin, View):
    """Punch electrodes from a sheet: one record per row, all saved or none."""

    template_name = "samples/punch_form.html"

    def projects(self, request):
        projects = list(writable_projects(request.user))
        if not projects:
            raise PermissionDenied("You are a reader of your projects; only members with write rights add records.")
        return projects

    def build(self, request, projects, data=None):
        initial = {"diameter_mm": 12.0}
        label = request.GET.get("sheet")
        sheets = sheets_for(projects)
        if label:
            chosen = sheets.filter(human_id=label).first()
            if chosen is not None:
                initial["sheet"] = chosen.pk
        form = PunchForm(data=data, initial=initial)
        form.label_suffix = ""
        offer(form.fields["sheet"], sheets, sheet_label)
        rows = PunchedRows(data=data, prefix="electrodes")
        return form, rows

    def electrodes(self, form, rows):
        """The electrodes as typed, unsaved, for their numbers."""
        data = getattr(form, "cleaned_data", {})
        sheet = data.get("sheet")
        made = []
        for row in rows.kept_forms():
            electrode = Electrode(sheet=sheet, diameter_mm=data.get("diameter_mm") or 12.0,
                                  mass_mg=row.cleaned_data.get("mass_mg"))
            made.append((electrode, derived_numbers(electrode, ELECTRODE_NUMBERS) if sheet else {}))
        return made

    def page(self, request, form, rows):
        return render(request, self.template_name, {
            "title": "Punch electrodes", "section": "electrodes", "form": form, "formsets": [rows],
            "derived_template": "samples/_punched_derived.html",
            "derived": {"electrodes": self.electrodes(form, rows)},
        })

    def get(self, request):
        form, rows = self.build(request, self.projects(request))
        return self.page(request, form, rows)

    def post(self, request):
        projects = self.projects(request)
        form, rows = self.build(request, projects, data=request.POST)
        valid = form.is_valid()
        valid = rows.is_valid() and valid
        if request.POST.get("preview"):
            return render(request, "samples/_punched_derived.html",
                          {"derived": {"electrodes": self.electrodes(form, rows)}})
        if valid:
            kept = list(rows.kept_forms())
            if not kept:
                rows.add_refusal(["Give the mass of at least one electrode (or leave it empty and add a note)."])
            else:
                made = self.punch(request.user, form, kept)
                if made:
                    messages.success(request, f"{', '.join(e.human_id for e in made)} punched from "
                                              f"{form.cleaned_data['sheet'].human_id}.")
                    return HttpResponseRedirect(reverse("samples:sheet-detail",
                                                        args=[form.cleaned_data["sheet"].human_id]))
        return self.page(request, form, rows)

    def punch(self, user, form, kept) -> list[Electrode]:
        sheet = form.cleaned_data["sheet"]
        if not can_write(user, sheet.project):
            raise PermissionDenied(f"You are a reader of project {sheet.project.name!r}.")
        made, refused = [], False
        try:
            with transaction.atomic():
                for row in kept:
                    try:
                        made.append(services.electrode_punch(
                            user=user, project=sheet.project, sheet=sheet, diameter_mm=form.cleaned_data["diameter_mm"],
                            punched_on=form.cleaned_data.get("punched_on"), mass_mg=row.cleaned_data.get("mass_mg"),
                            notes=row.cleaned_data.get("notes") or ""))
                    except ValidationError as refusal:
                        refused = True
                        mine = {k: v for k, v in _messages(refusal).items() if k in row.fields}
                        theirs = {k: v for k, v in _messages(refusal).items() if k not in row.fields}
                        if mine:
                            show_refusal(ValidationError(mine), row, {})
                        if theirs:
                            show_refusal(ValidationError(theirs), form, {})
                if refused:
                    raise _NothingSaved
        except _NothingSaved:
            return []
        return made


class _NothingSaved(Exception):
    """One row was refused: every electrode of the form is rolled back."""


def _messages(refusal):
    return refusal.message_dict if hasattr(refusal, "error_dict") else {"__all__": refusal.messages}


# -- infiltration runs ------------------------------------------------------------------------

def solutions_for(projects):
    return selectors.with_stock(InfiltrationSolution.objects.filter(project__in=projects).select_related(
        "product").prefetch_related("inputs")).order_by("-created_at")


def solution_label(solution) -> str:
    concentration = derived_numbers(solution, ["concentration_mg_ml"])["concentration_mg_ml"]
    return f"{holder_label(solution, 2, 'mL')} · {fixed(concentration, 1, 'mg/mL')}"


class InfiltrationRunFormView(RecordFormView):
    model = InfiltrationRun
    fields = ("solution", "solution_volume_ml", "dip_time_min", "performed_on", "notes")
    rows = {
        "electrodes": Rows(("electrode", "mass_before_mg", "mass_after_mg", "pressing_pressure_mpa",
                            "pressed_thickness_um", "pressed_mass_mg"), "Electrodes dipped", extra=3),
        "drying_steps": Rows(STEP_FIELDS, "Drying steps", extra=1),
    }
    section = "infiltration"
    what = "an infiltration run"
    derived_template = "samples/_infiltration_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, InfiltrationRun.objects.all()), human_id=label)

    def initial_rows(self, request):
        # The paper's drying after the 10 min dip: under argon at 80 °C, then 4 h at 180 °C in vacuum.
        return {"drying_steps": [
            {"order": 1, "description": "dry under argon", "temperature_c": 80, "atmosphere": "argon"},
            {"order": 2, "description": "heat treatment", "temperature_c": 180, "duration_h": 4,
             "atmosphere": "vacuum"},
        ]}

    def offer_choices(self, form, projects):
        offer(form.fields["solution"], solutions_for(projects), solution_label)

    def offer_row_choices(self, name, formset, projects, record):
        if name == "electrodes":
            offer_rows(formset, "electrode", electrodes_for(projects), electrode_label)

    def derived(self, record):
        rows = []
        for row in record.electrodes.all():
            if row.electrode_id is None or row.mass_before_mg is None or row.mass_after_mg is None:
                continue
            rows.append((row, derived_numbers(row, INFILTRATED_NUMBERS)))
        concentration = None
        if record.solution_id:
            concentration = derived_numbers(record.solution, ["concentration_mg_ml"])["concentration_mg_ml"]
        return {"rows": rows, "concentration": concentration}

    def create(self, user, project, **fields):
        return services.infiltration_run_record(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.infiltration_run_update(user=user, run=record, **fields)


# -- alloy batches -----------------------------------------------------------------------------

class AlloyFormView(RecordFormView):
    model = AlloyBatch
    fields = ("name", "prepared_on", "yield_mg", "notes")
    rows = {"inputs": Rows(("lot", "mass_mg"), "Metals taken from stock", extra=2)}
    section = "alloys"
    verb, what = "Prepare", "an alloy batch"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, AlloyBatch.objects.all()), human_id=label)

    def offer_row_choices(self, name, formset, projects, record):
        offer_rows(formset, "lot", lots_for(projects, "alloy metal"), lot_label)

    def create(self, user, project, **fields):
        return services.alloy_batch_prepare(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.alloy_batch_update(user=user, batch=record, **fields)
