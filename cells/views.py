"""The cells' pages: cells (list and page) and their dashboard panels.

The reads are the small functions at the top (``cells_for_list``, ``cell_for_page``, ...), on
the app's selectors: each makes a fixed number of queries whatever the number of rows.
"""
from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cells import filtersets, selectors
from cells.api.views import CellViewSet
from cells.models import Cell, CyclingRun, Dataset
from cells.tables import cell_table
from eln.pages import Panel, RecordListView, in_project, lineage_graph
from eln.permissions import can_write, visible_records
from eln.record_pages import admin_change_url, edit_controls


# -- reads ----------------------------------------------------------------------------------------

def cells_for_list(user, project) -> QuerySet:
    return selectors.cells_with_parts(in_project(visible_records(user, Cell.objects.all()), project))


def cell_for_page(user, label: str) -> Cell:
    return get_object_or_404(selectors.cells_with_parts(visible_records(user, Cell.objects.all())), human_id=label)


def runs_of(cell) -> list[CyclingRun]:
    """The cell's runs, newest first, each with its datasets (newest first) in ``datasets_shown``."""
    runs = list(cell.runs.select_related("channel__cycler", "protocol").prefetch_related("protocol__steps")
                .order_by("-created_at", "-pk"))
    by_run = defaultdict(list)
    for dataset in selectors.cell_datasets(cell):
        by_run[dataset.run_id].append(dataset)
    for run in runs:
        run.datasets_shown = sorted(by_run[run.pk], key=lambda d: (d.created_at, d.pk), reverse=True)
    return runs


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
        actions = [("Build a cell", reverse("cells:cell-new"))]
        if request.user.is_staff:
            actions.append(("Cells in the admin", reverse("admin:cells_cell_changelist")))
        return actions


@login_required
def cell_detail(request, label: str):
    cell = cell_for_page(request.user, label)
    runs = runs_of(cell)
    return render(request, "cells/cell_detail.html", {
        "title": cell.human_id,
        "section": "cells",
        "cell": cell,
        "derived": selectors.cell_derived_numbers(cell),
        "parts": list(cell.parts.all()),
        "runs": runs,
        "lineage": lineage_graph(cell),
        "metrics_url": reverse("cell-metrics", args=[cell.human_id]),
        "diagnosis_url": (reverse("cell-diagnosis", args=[cell.human_id])
                          if cell.kind in (Cell.Kind.FULL, Cell.Kind.THREE_ELECTRODE) else None),
        "edit_controls": edit_controls(request.user, cell, reverse("cells:cell-edit", args=[cell.human_id]),
                                       admin_change_url(cell)),
        "start_run_url": f"{reverse('cells:run-new')}?cell={cell.human_id}",
        "may_upload": can_write(request.user, cell.project),
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
