"""The plots on a cell's page and a dataset's page: a record section (ELN_RECORD_SECTIONS)
whose plots fetch their down-sampled data from the API (analysis.api.plots) and are drawn by
uPlot (eln/static/eln/plots.js). A cell's page plots its newest cycling dataset, with a choice of
its others."""
from __future__ import annotations

from django.urls import reverse

from analysis.api.plots import DEFAULT_POINTS, MAX_CYCLES
from cells.models import Cell, Dataset
from eln.record_sections import Section

PLOTTED_KINDS = ("", Dataset.MeasurementKind.CYCLING)  # "": not told yet, read as cycling


def plotted_datasets(cell: Cell) -> list[Dataset]:
    """The cell's datasets with canonical data, newest first."""
    return list(Dataset.objects.filter(run__cell=cell, measurement_kind__in=PLOTTED_KINDS)
                .exclude(parquet_file="").order_by("-created_at", "-pk").only("human_id", "source_name"))


def plots_section(request, record) -> Section | None:
    if isinstance(record, Cell):
        cell, datasets = record, plotted_datasets(record)
    elif isinstance(record, Dataset):
        cell = record.run.cell
        datasets = [record] if record.parquet_file and record.measurement_kind in PLOTTED_KINDS else []
    else:
        return None
    if not datasets:
        return None
    choices = [(d.human_id, d.source_name, reverse("dataset-plot-voltage", args=[d.human_id]).removesuffix("voltage/"))
               for d in datasets]
    return Section("plots", "Plots", "analysis/_section_plots.html", {
        "datasets": choices, "base": choices[0][2], "points": DEFAULT_POINTS, "max_cycles": MAX_CYCLES,
        "three_electrode": cell.kind == Cell.Kind.THREE_ELECTRODE, "on_cell": isinstance(record, Cell),
    })
