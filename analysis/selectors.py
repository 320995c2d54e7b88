"""Reads of what was measured on cells across records: the compare page reads its cells'
metrics, cycle histories and quality flags here, in a number of queries that does not depend
on the number of cells."""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from django.db.models import Count, QuerySet

from analysis.models import CellMetrics, CycleSummary, QualityFlag
from cells.models import Cell
from cells.selectors import CELL_PREFETCH


@dataclasses.dataclass
class CellForComparison:
    """What the compare page reads of a cell: the cell (with its parts, sheets, runs and
    metrics), its cycle history and the quality flags of the datasets in it."""

    cell: Cell
    metrics: CellMetrics | None
    cycles: list[dict]  # complete cycles of its history, in order: history_cycle_number and the columns asked
    flags: dict[str, int]  # quality-flag code -> number of flags in the datasets of its history


COMPARISON_PREFETCH = (*CELL_PREFETCH, "parts__electrode__infiltrations__run__solution", "runs__protocol")
COMPARISON_COLUMNS = ("discharge_capacity_mah", "charge_capacity_mah", "coulombic_efficiency", "discharge_c_rate")
NOT_SUSPECT_FLAGS = ("incomplete",)  # a running or partial cycle: left out of the curves, not a doubt


def cells_for_comparison(queryset: QuerySet) -> list[CellForComparison]:
    """The cells of ``queryset`` with what a comparison reads, in a fixed number of queries."""
    cells = list(queryset.select_related("project", "separator_batch").prefetch_related(*COMPARISON_PREFETCH))
    ids = [cell.pk for cell in cells]
    metrics = {m.cell_id: m for m in CellMetrics.objects.filter(cell_id__in=ids)}
    cycles = defaultdict(list)
    for row in (CycleSummary.objects
                .filter(dataset__run__cell_id__in=ids, history_cycle_number__isnull=False, complete=True)
                .order_by("history_cycle_number")
                .values("dataset__run__cell_id", "history_cycle_number", *COMPARISON_COLUMNS)):
        cycles[row.pop("dataset__run__cell_id")].append(row)
    flags = defaultdict(dict)
    for cell_id, code, count in (QualityFlag.objects
                                 .filter(dataset__run__cell_id__in=ids, dataset__excluded_from_history=False)
                                 .exclude(code__in=NOT_SUSPECT_FLAGS)
                                 .values_list("dataset__run__cell_id", "code").annotate(n=Count("id"))
                                 .order_by("dataset__run__cell_id", "code")):
        flags[cell_id][code] = count
    return [CellForComparison(cell, metrics.get(cell.pk), cycles[cell.pk], flags[cell.pk]) for cell in cells]
