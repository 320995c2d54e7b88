"""The pages of what is cycled, besides the cells (cells/views.py): protocols, cycling runs,
datasets (their list; a dataset's page with its cycles is analysis's) and cyclers. Each list
has search, the API's filter set, sortable columns, pages and export; each page its rows and
lineage. The reads make a fixed number of queries whatever the number of rows.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cells import filtersets, selectors
from cells.api.views import CyclerViewSet, ProtocolViewSet
from cells.models import Cell, Channel, Cycler, CyclingRun, Dataset, Protocol
from eln.formatting import NO_VALUE, Entered, as_entered
from eln.pages import RecordListView, in_project, lineage_graph, record_url
from eln.permissions import can_write, visible_projects, visible_records
from eln.record_pages import admin_change_url, edit_controls
from eln.tables import Column, Table, recorded_on


def page_of(url_name: str):
    return lambda record: reverse(url_name, args=[record.human_id])


def label_link(path: str):
    """A link to the page of the record at ``path`` of a row (by its label)."""
    def url(row):
        target = row
        for step in path.split("."):
            target = getattr(target, step, None)
            if target is None:
                return None
        return record_url(target.human_id)
    return url


def window(lower, upper) -> str:
    if lower is None and upper is None:
        return NO_VALUE
    return f"{as_entered(lower)}–{as_entered(upper, 'V')}"


def protocol_summary(protocol) -> str:
    """The blocks of a protocol as the lab says them: "2 × 0.1C, 100 × 0.5C"."""
    blocks = []
    for step in protocol.steps.all():
        rate = (f"{as_entered(step.charge_c_rate)}C" if step.charge_c_rate == step.discharge_c_rate
                else f"{as_entered(step.charge_c_rate)}C/{as_entered(step.discharge_c_rate)}C")
        blocks.append(f"{step.cycle_count} × {rate}")
    return ", ".join(blocks) or NO_VALUE


def protocol_window(protocol) -> str:
    steps = list(protocol.steps.all())
    windows = {window(s.lower_cutoff_v, s.upper_cutoff_v) for s in steps}
    return ", ".join(sorted(windows)) if steps else NO_VALUE


# -- reads ------------------------------------------------------------------------------------

def protocols_for_list(user, project) -> QuerySet:
    protocols = Protocol.objects.prefetch_related("steps").annotate(run_count=Count("runs", distinct=True))
    return in_project(visible_records(user, protocols), project)


def runs_for_list(user, project) -> QuerySet:
    runs = CyclingRun.objects.select_related("cell", "channel__cycler", "protocol").annotate(
        dataset_count=Count("datasets", distinct=True))
    return in_project(visible_records(user, runs), project)


def datasets_for_list(user, project) -> QuerySet:
    datasets = Dataset.objects.select_related("run__cell", "raw_file")
    return in_project(visible_records(user, datasets), project)


def cyclers_for_list(user, project) -> QuerySet:
    running = Q(channels__runs__state=CyclingRun.State.RUNNING,
                channels__runs__project__in=visible_projects(user))
    return Cycler.objects.annotate(channel_count=Count("channels", distinct=True),
                                   running_count=Count("channels__runs", filter=running, distinct=True))


# -- tables -----------------------------------------------------------------------------------

protocol_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("cells:protocol-detail")),
        Column("Name", "name", order_by="name"),
        Column("Blocks", protocol_summary),
        Column("Cycles", "cycle_count", format=Entered(), numeric=True),
        Column("Window", protocol_window, numeric=True),
        Column("Runs", "run_count", format=Entered(), order_by="run_count", numeric=True),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

run_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("cells:run-detail")),
        Column("Cell", "cell.human_id", order_by="cell__human_id", link=label_link("cell")),
        Column("Cycler", "channel.cycler.name", order_by="channel__cycler__name"),
        Column("Channel", "channel.number", order_by="channel__number"),
        Column("Protocol", "protocol.human_id", order_by="protocol__human_id", link=label_link("protocol")),
        Column("State", "get_state_display", order_by="state", css=lambda run: f"badge-{run.state}"),
        Column("Datasets", "dataset_count", format=Entered(), order_by="dataset_count", numeric=True),
        Column("Started", "started_at", order_by="started_at"),
        Column("Finished", "finished_at", order_by="finished_at"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

dataset_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=page_of("analysis:dataset-detail")),
        Column("Run", "run.human_id", order_by="run__human_id", link=label_link("run")),
        Column("Cell", "run.cell.human_id", order_by="run__cell__human_id", link=label_link("run.cell")),
        Column("File", "source_name", order_by="source_name"),
        Column("Processing", "get_state_display", order_by="state", css=lambda d: f"badge-{d.state}"),
        Column("Rows", "row_count", format=Entered(), order_by="row_count", numeric=True),
        Column("Read by", "reader_name", order_by="reader_name"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)

cycler_table = Table(
    columns=[
        Column("Name", "name", order_by="name", link=lambda c: reverse("cells:cycler-detail", args=[c.name])),
        Column("Vendor", "get_vendor_display", order_by="vendor"),
        Column("Model", "model", order_by="model"),
        Column("Serial number", "serial_number", order_by="serial_number"),
        Column("Location", "location", order_by="location"),
        Column("Channels", "channel_count", format=Entered(), order_by="channel_count", numeric=True),
        Column("Running tests", "running_count", format=Entered(), order_by="running_count", numeric=True),
    ],
    default_ordering="name",
    stable_ordering=("pk",),
)


# -- list pages -------------------------------------------------------------------------------

class ProtocolListView(RecordListView):
    title = "Protocols"
    section = "protocols"
    table = protocol_table
    filterset_class = filtersets.ProtocolFilterSet
    search_fields = tuple(ProtocolViewSet.search_fields)
    search_placeholder = "label, name or description"
    filter_fields = ("name",)
    filter_labels = {"name": "Name contains"}

    def rows(self, user, project):
        return protocols_for_list(user, project)

    def writer_actions(self, request):
        return [("Define a protocol", reverse("cells:protocol-new"))]


class RunListView(RecordListView):
    title = "Cycling runs"
    section = "runs"
    table = run_table
    filterset_class = filtersets.CyclingRunFilterSet
    filter_fields = ("state", "cell", "cycler", "protocol")
    filter_labels = {"state": "State", "cell": "Cell", "cycler": "Cycler", "protocol": "Protocol"}

    def rows(self, user, project):
        return runs_for_list(user, project)

    def suggestions(self, user, project):
        return {"cycler": list(Cycler.objects.order_by("name").values_list("name", flat=True))}

    def writer_actions(self, request):
        return [("Start a run", reverse("cells:run-new"))]


class DatasetListView(RecordListView):
    title = "Datasets"
    section = "datasets"
    table = dataset_table
    filterset_class = filtersets.DatasetFilterSet
    filter_fields = ("state", "run")
    filter_labels = {"state": "Processing", "run": "Run"}

    def rows(self, user, project):
        return datasets_for_list(user, project)


class CyclerListView(RecordListView):
    title = "Cyclers"
    section = "cyclers"
    table = cycler_table
    filterset_class = filtersets.CyclerFilterSet
    search_fields = tuple(CyclerViewSet.search_fields)
    search_placeholder = "name, model or serial number"
    filter_fields = ("vendor", "name__icontains", "location__icontains")
    filter_labels = {"vendor": "Vendor", "name__icontains": "Name contains", "location__icontains": "Location"}

    def rows(self, user, project):
        return cyclers_for_list(user, project)

    def writer_actions(self, request):
        return [("Cyclers in the admin", reverse("admin:cells_cycler_changelist"))] if request.user.is_staff else []


# -- detail pages -----------------------------------------------------------------------------

def protocol_for_page(user, label) -> Protocol:
    protocols = Protocol.objects.select_related("project", "created_by", "modified_by").prefetch_related("steps")
    return get_object_or_404(visible_records(user, protocols), human_id=label)


@login_required
def protocol_detail(request, label: str):
    protocol = protocol_for_page(request.user, label)
    runs = list(protocol.runs.select_related("cell", "channel__cycler").order_by("-created_at", "-pk"))
    return render(request, "cells/protocol_detail.html", {
        "title": protocol.human_id, "section": "protocols", "record": protocol, "protocol": protocol,
        "steps": list(protocol.steps.all()), "runs": runs, "lineage": lineage_graph(protocol),
        "edit_controls": edit_controls(request.user, protocol, reverse("cells:protocol-edit", args=[label]),
                                       admin_change_url(protocol)),
    })


def run_for_page(user, label) -> CyclingRun:
    runs = CyclingRun.objects.select_related("cell", "channel__cycler", "protocol", "project", "created_by",
                                             "modified_by").prefetch_related("protocol__steps")
    return get_object_or_404(visible_records(user, runs), human_id=label)


def run_currents(run) -> list[tuple]:
    """Each block of the run's protocol with its currents for this cell's 1C."""
    if run.protocol is None:
        return []
    cell = selectors.cells_with_parts(Cell.objects.filter(pk=run.cell_id)).first()
    one_c = selectors.cell_derived_numbers(cell)["one_c_current_ma"] if cell else None
    rows = []
    for step in run.protocol.steps.all():
        rows.append((step, one_c * step.charge_c_rate if one_c else None,
                     one_c * step.discharge_c_rate if one_c else None))
    return rows


@login_required
def run_detail(request, label: str):
    run = run_for_page(request.user, label)
    datasets = list(run.datasets.select_related("raw_file").order_by("-created_at", "-pk"))
    return render(request, "cells/run_detail.html", {
        "title": run.human_id, "section": "runs", "record": run, "run": run, "datasets": datasets,
        "blocks": run_currents(run), "lineage": lineage_graph(run),
        "edit_controls": edit_controls(request.user, run, reverse("cells:run-edit", args=[label]),
                                       admin_change_url(run)),
        "may_upload": can_write(request.user, run.project),
    })


def cycler_for_page(user, name) -> tuple[Cycler, list[Channel]]:
    cycler = get_object_or_404(Cycler, name=name)
    channels = list(cycler.channels.order_by("number"))
    runs = (CyclingRun.objects.filter(channel__cycler=cycler, project__in=visible_projects(user))
            .select_related("cell").order_by("-created_at", "-pk"))
    by_channel = {}
    for run in runs:
        by_channel.setdefault(run.channel_id, []).append(run)
    for channel in channels:
        channel.runs_shown = by_channel.get(channel.pk, [])
        channel.current = next((r for r in channel.runs_shown if r.state == CyclingRun.State.RUNNING), None)
    return cycler, channels


@login_required
def cycler_detail(request, name: str):
    cycler, channels = cycler_for_page(request.user, name)
    return render(request, "cells/cycler_detail.html", {
        "title": cycler.name, "section": "cyclers", "cycler": cycler, "channels": channels,
        "edit_controls": [("Edit in the admin", reverse("admin:cells_cycler_change", args=[cycler.pk]))]
        if request.user.is_staff else [],
    })

