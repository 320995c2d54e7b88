"""A dataset's page: its processing, its file and its per-cycle table (exported as CSV or
Excel with ``?export=``), read in a fixed number of queries whatever the number of cycles.

Its processing is also a fragment of its own, shown after a browser upload and on the dataset's
page: while the dataset is queued or running it asks for itself again every few seconds (htmx),
and once finished it tells the page (the ``dataset-processed`` event), whose tables of datasets
and cycles then fetch themselves again. A failed ingestion offers writers a retry."""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from analysis import services
from analysis.models import CycleSummary, ProcessingStage
from cells.models import Dataset
from eln.export import FORMATS, export_response
from eln.formatting import Entered, Fixed, Percent, Significant
from eln.pages import lineage_graph
from eln.permissions import can_write, visible_records
from eln.tables import Column, Table

POLL_SECONDS = 2  # how often a page asks again while a dataset is queued or running
FINISHED = (Dataset.State.DONE, Dataset.State.DONE_WITH_WARNINGS, Dataset.State.FAILED)

capacity = Significant(4, "mAh")
specific = Fixed(1, "mAh/g")
volts = Fixed(3, "V")

cycle_table = Table(
    columns=[
        Column("Cycle", "cycle_number", format=Entered(), numeric=True),
        Column("Complete", lambda c: "yes" if c.complete else "no"),
        Column("Charge", "charge_capacity_mah", format=capacity, numeric=True),
        Column("Discharge", "discharge_capacity_mah", format=capacity, numeric=True),
        Column("Specific charge", "charge_specific_capacity_mah_g", format=specific, numeric=True),
        Column("Specific discharge", "discharge_specific_capacity_mah_g", format=specific, numeric=True),
        Column("Coulombic efficiency", "coulombic_efficiency", format=Percent(2), numeric=True),
        Column("Energy efficiency", "energy_efficiency", format=Percent(1), numeric=True),
        Column("Mean charge voltage", "mean_charge_voltage_v", format=volts, numeric=True),
        Column("Mean discharge voltage", "mean_discharge_voltage_v", format=volts, numeric=True),
        Column("Discharge energy", "discharge_energy_mwh", format=Significant(4, "mWh"), numeric=True),
        Column("Charge C-rate", "charge_c_rate", format=Significant(2, "C"), numeric=True),
        Column("Discharge C-rate", "discharge_c_rate", format=Significant(2, "C"), numeric=True),
        Column("Duration", lambda c: c.duration_s / 3600.0 if c.duration_s is not None else None,
               format=Fixed(2, "h"), numeric=True),
    ],
    default_ordering="cycle_number",
)


def dataset_for_page(user, label: str) -> Dataset:
    datasets = Dataset.objects.select_related("run__cell", "run__channel__cycler", "raw_file", "project",
                                              "created_by", "modified_by")
    return get_object_or_404(visible_records(user, datasets), human_id=label)


def cycles_of(dataset):
    return CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number")


def stages_of(dataset) -> list[ProcessingStage]:
    order = {name: i for i, name in enumerate(ProcessingStage.ORDER)}
    return sorted(ProcessingStage.objects.filter(dataset=dataset), key=lambda s: order.get(s.name, 99))


def processing_of(user, dataset, stages, cycle_count: int | None) -> dict:
    """What the processing fragment shows (analysis/_dataset_processing.html)."""
    return {"dataset": dataset, "stages": stages, "cycle_count": cycle_count,
            "polling": dataset.state not in FINISHED, "poll_seconds": POLL_SECONDS,
            "may_retry": dataset.state == Dataset.State.FAILED and can_write(user, dataset.project)}


@login_required
def dataset_detail(request, label: str):
    dataset = dataset_for_page(request.user, label)
    cycles = cycles_of(dataset)
    if request.GET.get("export") in FORMATS:
        return export_response(cycle_table, cycles, request.GET["export"], f"{dataset.human_id} cycles")
    cycles = list(cycles)
    stages = stages_of(dataset)
    return render(request, "analysis/dataset_detail.html", {
        "title": dataset.human_id, "section": "datasets", "record": dataset, "dataset": dataset,
        "stages": stages, "headers": [c for c in cycle_table.columns],
        "rows": cycle_table.rows(cycles), "cycle_count": len(cycles), "lineage": lineage_graph(dataset),
        "edit_controls": [], "cycles_api": reverse("dataset-cycles", kwargs={"human_id": dataset.human_id}),
        "processing": processing_of(request.user, dataset, stages, len(cycles)),
    })


def processing_fragment(request, dataset, refusal: str = ""):
    finished = dataset.state in FINISHED
    cycle_count = CycleSummary.objects.filter(dataset=dataset).count() if finished else None
    context = processing_of(request.user, dataset, stages_of(dataset), cycle_count)
    response = render(request, "analysis/_dataset_processing.html", {"processing": context, "refusal": refusal})
    if finished and request.headers.get("HX-Request"):
        response["HX-Trigger"] = json.dumps({"dataset-processed": {"dataset": dataset.human_id}})
    return response


@login_required
def dataset_processing(request, label: str):
    """The processing fragment of a dataset (polled while it is queued or running)."""
    return processing_fragment(request, dataset_for_page(request.user, label))


@login_required
@require_POST
def dataset_retry(request, label: str):
    """Retry a failed ingestion (writers of its project): the fragment again, or back to the page."""
    dataset = dataset_for_page(request.user, label)
    if not can_write(request.user, dataset.project):
        raise PermissionDenied("You are a reader of this project; only members with write rights retry an ingestion.")
    refusal = ""
    try:
        dataset = services.dataset_retry(user=request.user, dataset=dataset)
    except ValidationError as error:
        refusal = " ".join(error.messages)
    if request.headers.get("HX-Request"):
        return processing_fragment(request, dataset_for_page(request.user, label), refusal)
    if refusal:
        messages.error(request, refusal)
    return HttpResponseRedirect(reverse("analysis:dataset-detail", args=[label]))
