"""The cells' pages: cells (list and page) and their dashboard panels.

The reads are the small functions at the top (``cells_for_list``, ``cell_for_page``, ...): the
only place these pages touch the database, each with a fixed number of queries whatever the
number of rows.
"""
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cells import filtersets
from cells.api.views import CellViewSet
from cells.models import Cell, CellPart, CyclingRun, Dataset
from cells.tables import cell_table
from eln.pages import Panel, RecordListView, in_project, record_url
from eln.permissions import can_write, visible_records
from samples.models import SheetComponent

# Down-sampled on the server: enough points for the eye, whatever the length of the test.
PLOT_POINTS = 2000


# -- reads ----------------------------------------------------------------------------------------

def cell_build():
    """What the derived numbers of a cell read: its parts, their electrodes, sheets and lots."""
    return (
        Prefetch("parts", queryset=CellPart.objects.select_related("electrode__sheet", "alloy_batch")),
        Prefetch("parts__electrode__sheet__components", queryset=SheetComponent.objects.select_related("lot__material")),
        "parts__electrode__sheet__loading_discs",
    )


def cells_for_list(user, project) -> QuerySet:
    return in_project(visible_records(user, Cell.objects.prefetch_related(*cell_build())), project)


def cell_for_page(user, label: str) -> Cell:
    cells = Cell.objects.select_related("project", "separator_batch", "created_by", "modified_by").prefetch_related(
        *cell_build(),
        Prefetch("runs", queryset=CyclingRun.objects.select_related("channel__cycler", "protocol")
                 .order_by("-created_at", "-pk")),
        "runs__protocol__steps",
        Prefetch("runs__datasets", queryset=Dataset.objects.select_related("raw_file").order_by("-created_at", "-pk")),
    )
    return get_object_or_404(visible_records(user, cells), human_id=label)


def running_runs(user, project, limit: int) -> tuple[list[CyclingRun], int]:
    runs = in_project(visible_records(user, CyclingRun.objects.filter(state=CyclingRun.State.RUNNING)), project)
    shown = runs.select_related("cell", "channel__cycler", "protocol").order_by("-started_at", "-pk")[:limit]
    return list(shown), runs.count()


def failed_datasets(user, project, limit: int) -> tuple[list[Dataset], int]:
    datasets = in_project(visible_records(user, Dataset.objects.filter(state=Dataset.State.FAILED)), project)
    shown = datasets.select_related("run__cell").order_by("-modified_at", "-pk")[:limit]
    return list(shown), datasets.count()


# -- pages ----------------------------------------------------------------------------------------

class CellListView(RecordListView):
    title = "Cells"
    section = "cells"
    table = cell_table
    filterset_class = filtersets.CellFilterSet
    search_fields = tuple(CellViewSet.search_fields)
    search_placeholder = "label, name or notes"
    filter_fields = ("kind", "sheet", "electrode", "separator_batch", "stack_pressure_mpa__gte",
                     "stack_pressure_mpa__lte", "temperature_c", "hardware")
    filter_labels = {
        "kind": "Kind",
        "sheet": "Electrode sheet",
        "electrode": "Electrode",
        "separator_batch": "Separator batch",
        "stack_pressure_mpa__gte": "Stack pressure from (MPa)",
        "stack_pressure_mpa__lte": "Stack pressure up to (MPa)",
        "temperature_c": "Temperature (°C)",
        "hardware": "Hardware",
    }

    def rows(self, user, project):
        return cells_for_list(user, project)

    def writer_actions(self, request):
        actions = [("New cell in the API form", reverse("cell-list"))]
        if request.user.is_staff:
            actions.append(("Cells in the admin", reverse("admin:cells_cell_changelist")))
        return actions


def node(record, kind: str, label: str = "", current: bool = False) -> dict:
    return {"id": record.human_id, "label": f"{record.human_id} {label}".strip(), "kind": kind,
            "url": record_url(record.human_id), "current": current}


def build_of_cell(cell) -> dict:
    """The cell and what it was built from (electrodes, their sheets and the sheets' lots; the
    separator's electrolyte batch; the alloy), as the lineage graph draws them."""
    nodes, edges = {cell.human_id: node(cell, "cell", cell.name, current=True)}, []

    def link(source, target):
        if {"source": source, "target": target} not in edges:
            edges.append({"source": source, "target": target})

    for part in cell.parts.all():
        if part.electrode is not None:
            electrode, sheet = part.electrode, part.electrode.sheet
            nodes[electrode.human_id] = node(electrode, "electrode", f"({part.get_role_display()})")
            material = sheet.active_material
            nodes[sheet.human_id] = node(sheet, "electrode sheet",
                                         f"{material.name if material else ''} {sheet.composition_label}")
            link(electrode.human_id, cell.human_id)
            link(sheet.human_id, electrode.human_id)
            for component in sheet.components.all():
                nodes[component.lot.human_id] = node(component.lot, "precursor lot", component.lot.material.name)
                link(component.lot.human_id, sheet.human_id)
        elif part.alloy_batch is not None:
            nodes[part.alloy_batch.human_id] = node(part.alloy_batch, "alloy batch", part.alloy_batch.name)
            link(part.alloy_batch.human_id, cell.human_id)
    if cell.separator_batch is not None:
        nodes[cell.separator_batch.human_id] = node(cell.separator_batch, "electrolyte batch", "(separator)")
        link(cell.separator_batch.human_id, cell.human_id)
    return {"nodes": list(nodes.values()), "edges": edges}


def plot_of(runs) -> dict | None:
    """Voltage against time of the newest dataset with canonical data, read by the page's plot."""
    newest = max((d for run in runs for d in run.datasets.all() if d.parquet_file),
                 key=lambda d: (d.created_at, d.pk), default=None)
    if newest is None:
        return None
    url = reverse("dataset-data", kwargs={"human_id": newest.human_id})
    return {"dataset": newest, "url": f"{url}?points={PLOT_POINTS}&columns=test_time_s,voltage_v"}


@login_required
def cell_detail(request, label: str):
    cell = cell_for_page(request.user, label)
    runs = list(cell.runs.all())
    edit_controls = []
    if can_write(request.user, cell.project):
        edit_controls.append(("Edit in the API form", reverse("cell-detail", kwargs={"human_id": cell.human_id})))
        if request.user.is_staff:
            edit_controls.append(("Edit in the admin", reverse("admin:cells_cell_change", args=[cell.pk])))
    return render(request, "cells/cell_detail.html", {
        "title": cell.human_id,
        "section": "cells",
        "cell": cell,
        "parts": list(cell.parts.all()),
        "runs": runs,
        "plot": plot_of(runs),
        "lineage": build_of_cell(cell),
        "metrics_url": reverse("cell-metrics", args=[cell.human_id]),
        "edit_controls": edit_controls,
    })


# -- dashboard panels -----------------------------------------------------------------------------

def running_tests_panel(user, project) -> Panel:
    runs, count = running_runs(user, project, limit=10)
    return Panel("Running tests", "cells/_panel_running_tests.html", {"runs": runs, "count": count})


def failed_datasets_panel(user, project) -> Panel:
    datasets, count = failed_datasets(user, project, limit=10)
    return Panel("Failed ingestions", "cells/_panel_failed_datasets.html", {"datasets": datasets, "count": count})


def recent_cells_panel(user, project) -> Panel:
    cells = list(in_project(visible_records(user, Cell.objects.all()), project).order_by("-created_at", "-pk")[:6])
    return Panel("Cells recorded last", "cells/_panel_recent_cells.html", {"cells": cells},
                 link=("All cells", reverse("cells:cell-list")))
