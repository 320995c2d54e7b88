"""The pages of what the lab holds and makes, besides the lots (samples/views.py): materials,
electrolyte batches, infiltration solutions, electrode sheets, electrodes, infiltration runs
and alloy batches. Each has a list (search, the API's filter set, sortable columns, pages,
export) and a page with its derived numbers, its rows, its stock and ledger when it holds
stock, and its lineage.

The reads are the small functions at the top; each makes a fixed number of queries whatever
the number of rows.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from eln.formatting import NO_VALUE, Entered, Fixed, Percent, Significant, as_entered
from eln.pages import RecordListView, in_project, lineage_graph
from eln.permissions import visible_records
from eln.record_pages import admin_change_url, derived_numbers, edit_controls, ledger_lines
from eln.tables import Column, Table, recorded_on
from samples import filtersets, selectors
from samples.api.views import MaterialViewSet
from samples.models import (
    AlloyBatch,
    Electrode,
    ElectrodeSheet,
    ElectrolyteBatch,
    InfiltrationRun,
    InfiltrationSolution,
    Material,
)

SHEET_PREFETCH = ("components__lot__material", "loading_discs")

# The derived numbers each record's page (and its form, as you type) shows.
SHEET_NUMBERS = ("composite_density_g_cm3", "areal_loading_mg_cm2", "areal_loading_spread_mg_cm2",
                 "active_loading_mg_cm2", "casting_porosity", "active_mass_fraction", "composition_label")
ELECTRODE_NUMBERS = ("area_cm2", "coating_mass_mg", "active_mass_mg", "active_loading_mg_cm2",
                     "reference_capacity_mah")
INFILTRATED_NUMBERS = ("coating_mass_before_mg", "electrolyte_mass_mg", "measured_uptake_fraction",
                       "expected_uptake_fraction", "remaining_porosity")


def page_of(url_name: str):
    return lambda record: reverse(url_name, args=[record.human_id])


def linked(path: str, url_name: str):
    """A link to the page of the record at ``path`` (e.g. "sheet"), from a row."""
    def url(row):
        target = row
        for step in path.split("."):
            target = getattr(target, step, None)
            if target is None:
                return None
        return reverse(url_name, args=[target.human_id])
    return url


def number(name: str):
    """A derived number of the row, read safely (a dash for absurd inputs)."""
    return lambda row: derived_numbers(row, [name])[name]


def _names(rows, label) -> str:
    return ", ".join(label(row) for row in rows) or NO_VALUE


# -- reads ------------------------------------------------------------------------------------

def materials_for_list(user, project) -> QuerySet:
    return Material.objects.all()


def batches_for_list(user, project) -> QuerySet:
    batches = ElectrolyteBatch.objects.select_related("product", "solvent_lot").prefetch_related(
        "inputs__lot", "conductivity_measurements")
    return selectors.with_stock(in_project(visible_records(user, batches), project))


def solutions_for_list(user, project) -> QuerySet:
    solutions = InfiltrationSolution.objects.select_related("product", "solvent_lot").prefetch_related("inputs__lot")
    return selectors.with_stock(in_project(visible_records(user, solutions), project))


def sheets_for_list(user, project) -> QuerySet:
    sheets = ElectrodeSheet.objects.prefetch_related(*SHEET_PREFETCH).annotate(electrode_count=Count("electrodes"))
    return in_project(visible_records(user, sheets), project)


def electrodes_for_list(user, project) -> QuerySet:
    electrodes = Electrode.objects.select_related("sheet").prefetch_related(
        *(f"sheet__{p}" for p in SHEET_PREFETCH), "cell_parts__cell")
    return in_project(visible_records(user, electrodes), project)


def infiltration_runs_for_list(user, project) -> QuerySet:
    runs = InfiltrationRun.objects.select_related("solution__product").prefetch_related(
        "solution__inputs", "electrodes__electrode__sheet",
        *(f"electrodes__electrode__sheet__{p}" for p in SHEET_PREFETCH))
    return in_project(visible_records(user, runs), project)


def alloys_for_list(user, project) -> QuerySet:
    alloys = AlloyBatch.objects.prefetch_related("inputs__lot__material")
    return selectors.with_stock(in_project(visible_records(user, alloys), project))


def _one(queryset, label: str):
    return get_object_or_404(queryset, human_id=label)


def holder_ledger(holder):
    return ledger_lines(holder, selectors.ledger_of(holder))


# -- tables -----------------------------------------------------------------------------------

mass = Fixed(1, "mg")
fine_mass = Fixed(2, "mg")  # electrodes: the balance's resolution
volume = Fixed(2, "mL")


def _sigma_25(batch):
    try:
        return batch.conductivity_at(25.0)
    except (ValueError, ArithmeticError):
        return None


material_table = Table(
    columns=[
        Column("Name", "name", order_by="name", link=lambda m: reverse("samples:material-detail", args=[m.name])),
        Column("Formula", "formula", order_by="formula"),
        Column("Kind", "get_kind_display", order_by="kind"),
        Column("Density", "density_g_cm3", format=Entered("g/cm³"), order_by="density_g_cm3", numeric=True),
        Column("Molar mass", "molar_mass_g_mol", format=Entered("g/mol"), order_by="molar_mass_g_mol", numeric=True),
        Column("Reference capacity", "reference_specific_capacity_mah_g", format=Entered("mAh/g"),
               order_by="reference_specific_capacity_mah_g", numeric=True),
        Column("Theoretical capacity", number("theoretical_specific_capacity_mah_g"), format=Fixed(0, "mAh/g"),
               numeric=True),
    ],
    default_ordering="name",
    stable_ordering=("pk",),
)

batch_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:batch-detail")),
        Column("Name", "name", order_by="name"),
        Column("Product", "product.name", order_by="product__name"),
        Column("Route", "get_route_display", order_by="route"),
        Column("Precursors", lambda b: _names(b.inputs.all(), lambda i: f"{i.lot.human_id} {as_entered(i.mass_mg, 'mg')}")),
        Column("XRD phase", "get_xrd_phase_display", order_by="xrd_phase"),
        Column("σ at 25 °C", _sigma_25, format=Significant(3, "S/cm"), numeric=True),
        Column("Yield", "yield_mg", format=Entered("mg"), order_by="yield_mg", numeric=True),
        Column("Remaining", "remaining", format=mass, order_by="remaining", numeric=True),
        Column("Prepared on", "prepared_on", order_by="prepared_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

solution_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:solution-detail")),
        Column("Name", "name", order_by="name"),
        Column("Crystallises into", "product.name", order_by="product__name"),
        Column("Salts", lambda s: _names(s.inputs.all(), lambda i: f"{i.lot.human_id} {as_entered(i.mass_mg, 'mg')}")),
        Column("Solvent", "solvent_lot.human_id", order_by="solvent_lot__human_id",
               link=linked("solvent_lot", "samples:lot-detail")),
        Column("Volume", "solvent_volume_ml", format=Entered("mL"), order_by="solvent_volume_ml", numeric=True),
        Column("Concentration", number("concentration_mg_ml"), format=Fixed(1, "mg/mL"), numeric=True),
        Column("Remaining", "remaining", format=volume, order_by="remaining", numeric=True),
        Column("Prepared on", "prepared_on", order_by="prepared_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

sheet_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:sheet-detail")),
        Column("Name", "name", order_by="name"),
        Column("Active material", lambda s: getattr(s.active_material, "name", None)),
        Column("Composition", "composition_label"),
        Column("Areal loading", number("areal_loading_mg_cm2"), format=Fixed(2, "mg/cm²"), numeric=True),
        Column("Active loading", number("active_loading_mg_cm2"), format=Fixed(2, "mg/cm²"), numeric=True),
        Column("Thickness", "coating_thickness_um", format=Entered("µm"), order_by="coating_thickness_um",
               numeric=True),
        Column("Casting porosity", number("casting_porosity"), format=Percent(1), numeric=True),
        Column("Electrodes", "electrode_count", format=Entered(), order_by="electrode_count", numeric=True),
        Column("Cast on", "cast_on", order_by="cast_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)


def _cell_of(electrode):
    parts = list(electrode.cell_parts.all())
    return parts[0].cell if parts else None


electrode_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:electrode-detail")),
        Column("Sheet", "sheet.human_id", order_by="sheet__human_id", link=linked("sheet", "samples:sheet-detail")),
        Column("Material", lambda e: getattr(e.sheet.active_material, "name", None)),
        Column("Diameter", "diameter_mm", format=Entered("mm"), order_by="diameter_mm", numeric=True),
        Column("Mass", "mass_mg", format=fine_mass, order_by="mass_mg", numeric=True),
        Column("Active mass", number("active_mass_mg"), format=fine_mass, numeric=True),
        Column("Active loading", number("active_loading_mg_cm2"), format=Fixed(2, "mg/cm²"), numeric=True),
        Column("1C", number("reference_capacity_mah"), format=Significant(3, "mA"), numeric=True),
        Column("In cell", lambda e: getattr(_cell_of(e), "human_id", None),
               link=lambda e: reverse("cells:cell-detail", args=[_cell_of(e).human_id]) if _cell_of(e) else None),
        Column("Punched on", "punched_on", order_by="punched_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)


def _mean_uptake(run):
    values = [derived_numbers(row, ["measured_uptake_fraction"])["measured_uptake_fraction"]
              for row in run.electrodes.all()]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


infiltration_run_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:infiltration-detail")),
        Column("Solution", "solution.human_id", order_by="solution__human_id",
               link=linked("solution", "samples:solution-detail")),
        Column("Electrodes", lambda r: _names(r.electrodes.all(), lambda row: row.electrode.human_id)),
        Column("Solution used", "solution_volume_ml", format=Entered("mL"), order_by="solution_volume_ml",
               numeric=True),
        Column("Dip time", "dip_time_min", format=Entered("min"), order_by="dip_time_min", numeric=True),
        Column("Mean measured uptake", _mean_uptake, format=Percent(1), numeric=True),
        Column("Performed on", "performed_on", order_by="performed_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

alloy_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("samples:alloy-detail")),
        Column("Name", "name", order_by="name"),
        Column("Metals", lambda a: _names(a.inputs.all(),
                                          lambda i: f"{i.lot.human_id} {i.lot.material.name} {as_entered(i.mass_mg, 'mg')}")),
        Column("Yield", "yield_mg", format=Entered("mg"), order_by="yield_mg", numeric=True),
        Column("Remaining", "remaining", format=mass, order_by="remaining", numeric=True),
        Column("Prepared on", "prepared_on", order_by="prepared_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)


# -- list pages -------------------------------------------------------------------------------

class WriterListView(RecordListView):
    """A list whose writers get a button to record a new one (``new_url``, ``new_text``)."""

    new_url = ""
    new_text = ""

    def writer_actions(self, request):
        return [(self.new_text, reverse(self.new_url))] if self.new_url else []


class MaterialListView(RecordListView):
    title = "Materials"
    section = "materials"
    table = material_table
    filterset_class = filtersets.MaterialFilterSet
    search_fields = tuple(MaterialViewSet.search_fields)
    search_placeholder = "name or formula"
    filter_fields = ("kind", "name__icontains")
    filter_labels = {"kind": "Kind", "name__icontains": "Name contains"}

    def rows(self, user, project):
        return materials_for_list(user, project)

    def writer_actions(self, request):
        return [("Materials in the admin", reverse("admin:samples_material_changelist"))] if request.user.is_staff else []


class BatchListView(WriterListView):
    title = "Electrolyte batches"
    section = "batches"
    table = batch_table
    filterset_class = filtersets.ElectrolyteBatchFilterSet
    filter_fields = ("product", "route", "xrd_phase", "uses_lot")
    filter_labels = {"product": "Product", "route": "Route", "xrd_phase": "XRD phase", "uses_lot": "Uses lot"}
    new_url, new_text = "samples:batch-new", "Record a batch"

    def rows(self, user, project):
        return batches_for_list(user, project)


class SolutionListView(WriterListView):
    title = "Infiltration solutions"
    section = "solutions"
    table = solution_table
    filterset_class = filtersets.InfiltrationSolutionFilterSet
    filter_fields = ("uses_lot",)
    filter_labels = {"uses_lot": "Uses lot"}
    new_url, new_text = "samples:solution-new", "Prepare a solution"

    def rows(self, user, project):
        return solutions_for_list(user, project)


class SheetListView(WriterListView):
    title = "Electrode sheets"
    section = "sheets"
    table = sheet_table
    filterset_class = filtersets.ElectrodeSheetFilterSet
    filter_fields = ("active_material", "uses_lot", "current_collector")
    filter_labels = {"active_material": "Material of a component", "uses_lot": "Uses lot",
                     "current_collector": "Current collector"}
    new_url, new_text = "samples:sheet-new", "Cast a sheet"

    def rows(self, user, project):
        return sheets_for_list(user, project)


class ElectrodeListView(WriterListView):
    title = "Electrodes"
    section = "electrodes"
    table = electrode_table
    filterset_class = filtersets.ElectrodeFilterSet
    filter_fields = ("sheet",)
    filter_labels = {"sheet": "Sheet"}
    new_url, new_text = "samples:electrode-punch", "Punch electrodes"

    def rows(self, user, project):
        return electrodes_for_list(user, project)


class InfiltrationRunListView(WriterListView):
    title = "Infiltration runs"
    section = "infiltration"
    table = infiltration_run_table
    filterset_class = filtersets.InfiltrationRunFilterSet
    filter_fields = ("solution", "electrode")
    filter_labels = {"solution": "Solution", "electrode": "Electrode"}
    new_url, new_text = "samples:infiltration-new", "Record an infiltration run"

    def rows(self, user, project):
        return infiltration_runs_for_list(user, project)


class AlloyListView(WriterListView):
    title = "Alloy batches"
    section = "alloys"
    table = alloy_table
    filterset_class = filtersets.AlloyBatchFilterSet
    filter_fields = ("uses_lot",)
    filter_labels = {"uses_lot": "Uses lot"}
    new_url, new_text = "samples:alloy-new", "Prepare an alloy"

    def rows(self, user, project):
        return alloys_for_list(user, project)


# -- detail pages -----------------------------------------------------------------------------

def _record_page(request, template, record, section, edit_url_name, **context):
    return render(request, template, {
        "title": record.human_id, "section": section, "record": record,
        "lineage": lineage_graph(record),
        "edit_controls": edit_controls(request.user, record, reverse(edit_url_name, args=[record.human_id]),
                                       admin_change_url(record)),
        **context,
    })


@login_required
def material_detail(request, name: str):
    material = get_object_or_404(Material, name=name)
    lots = selectors.with_stock(visible_records(request.user, material.lots.all())).order_by("-created_at", "-pk")
    return render(request, "samples/material_detail.html", {
        "title": material.name, "section": "materials", "material": material, "lots": list(lots),
        "theoretical": derived_numbers(material, ["theoretical_specific_capacity_mah_g"]),
        "edit_controls": [("Edit in the admin", reverse("admin:samples_material_change", args=[material.pk]))]
        if request.user.is_staff else [],
    })


def batch_for_page(user, label):
    batches = ElectrolyteBatch.objects.select_related(
        "product", "solvent_lot__material", "project", "created_by", "modified_by").prefetch_related(
        "inputs__lot__material", "steps", "conductivity_measurements")
    return _one(selectors.with_stock(visible_records(user, batches)), label)


def batch_numbers(batch) -> dict:
    """σ at 25 °C and the Arrhenius fit, from the batch's conductivity measurements."""
    try:
        sigma = batch.conductivity_at(25.0)
    except (ValueError, ArithmeticError):
        sigma = None
    try:
        fit = batch.activation_energy
    except (ValueError, ArithmeticError):
        fit = None
    measurements = []
    for m in batch.conductivity_measurements.all():
        measurements.append((m, derived_numbers(m, ["conductivity_s_cm"])["conductivity_s_cm"]))
    return {"sigma_25": sigma, "fit": fit, "measurements": measurements}


@login_required
def batch_detail(request, label: str):
    batch = batch_for_page(request.user, label)
    return _record_page(request, "samples/batch_detail.html", batch, "batches", "samples:batch-edit",
                        batch=batch, numbers=batch_numbers(batch), ledger=holder_ledger(batch),
                        inputs=list(batch.inputs.all()), steps=list(batch.steps.all()))


def solution_for_page(user, label):
    solutions = InfiltrationSolution.objects.select_related(
        "product", "solvent_lot__material", "project", "created_by", "modified_by").prefetch_related(
        "inputs__lot__material")
    return _one(selectors.with_stock(visible_records(user, solutions)), label)


@login_required
def solution_detail(request, label: str):
    solution = solution_for_page(request.user, label)
    return _record_page(request, "samples/solution_detail.html", solution, "solutions", "samples:solution-edit",
                        solution=solution, inputs=list(solution.inputs.all()), ledger=holder_ledger(solution),
                        numbers=derived_numbers(solution, ["concentration_mg_ml"]))


def sheet_for_page(user, label):
    sheets = ElectrodeSheet.objects.select_related(
        "slurry_solvent_lot__material", "project", "created_by", "modified_by").prefetch_related(*SHEET_PREFETCH)
    return _one(visible_records(user, sheets), label)


def sheet_electrodes(sheet) -> list:
    return list(sheet.electrodes.prefetch_related("cell_parts__cell").order_by("human_id"))


@login_required
def sheet_detail(request, label: str):
    sheet = sheet_for_page(request.user, label)
    electrodes = sheet_electrodes(sheet)
    for electrode in electrodes:
        electrode.sheet = sheet  # its numbers read the sheet's prefetched components and discs
        electrode.numbers = derived_numbers(electrode, ELECTRODE_NUMBERS)
        electrode.cell = _cell_of(electrode)
    discs = []
    for disc in sheet.loading_discs.all():
        disc.sheet = sheet
        discs.append((disc, derived_numbers(disc, ["area_cm2", "coating_loading_mg_cm2"])))
    return _record_page(request, "samples/sheet_detail.html", sheet, "sheets", "samples:sheet-edit",
                        sheet=sheet, derived=derived_numbers(sheet, SHEET_NUMBERS),
                        components=list(sheet.components.all()), discs=discs, electrodes=electrodes,
                        punch_url=reverse("samples:electrode-punch") + f"?sheet={sheet.human_id}")


def electrode_for_page(user, label):
    electrodes = Electrode.objects.select_related("sheet", "project", "created_by", "modified_by").prefetch_related(
        *(f"sheet__{p}" for p in SHEET_PREFETCH), "cell_parts__cell")
    return _one(visible_records(user, electrodes), label)


def electrode_infiltrations(electrode) -> list:
    rows = list(electrode.infiltrations.select_related("run__solution__product").prefetch_related(
        "run__solution__inputs").order_by("run__created_at"))
    for row in rows:
        row.electrode = electrode
        row.numbers = derived_numbers(row, INFILTRATED_NUMBERS)
    return rows


@login_required
def electrode_detail(request, label: str):
    electrode = electrode_for_page(request.user, label)
    parts = list(electrode.cell_parts.all())
    return _record_page(request, "samples/electrode_detail.html", electrode, "electrodes", "samples:electrode-edit",
                        electrode=electrode, derived=derived_numbers(electrode, ELECTRODE_NUMBERS),
                        sheet_numbers=derived_numbers(electrode.sheet, SHEET_NUMBERS),
                        infiltrations=electrode_infiltrations(electrode), parts=parts)


def infiltration_run_for_page(user, label):
    runs = InfiltrationRun.objects.select_related(
        "solution__product", "project", "created_by", "modified_by").prefetch_related(
        "drying_steps", "solution__inputs", "electrodes__electrode__sheet",
        *(f"electrodes__electrode__sheet__{p}" for p in SHEET_PREFETCH))
    return _one(visible_records(user, runs), label)


def infiltrated_rows(run) -> list:
    rows = list(run.electrodes.all())
    for row in rows:
        row.run = run
        row.numbers = derived_numbers(row, INFILTRATED_NUMBERS)
    return rows


@login_required
def infiltration_run_detail(request, label: str):
    run = infiltration_run_for_page(request.user, label)
    return _record_page(request, "samples/infiltration_run_detail.html", run, "infiltration",
                        "samples:infiltration-edit", run=run, rows=infiltrated_rows(run),
                        steps=list(run.drying_steps.all()),
                        concentration=derived_numbers(run.solution, ["concentration_mg_ml"])["concentration_mg_ml"])


def alloy_for_page(user, label):
    alloys = AlloyBatch.objects.select_related("project", "created_by", "modified_by").prefetch_related(
        "inputs__lot__material")
    return _one(selectors.with_stock(visible_records(user, alloys)), label)


@login_required
def alloy_detail(request, label: str):
    alloy = alloy_for_page(request.user, label)
    return _record_page(request, "samples/alloy_detail.html", alloy, "alloys", "samples:alloy-edit",
                        alloy=alloy, inputs=list(alloy.inputs.all()), ledger=holder_ledger(alloy))

