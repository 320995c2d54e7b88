"""Reads that reach across records, up to the cells and what was measured on them: a cell's
electrodes and derived numbers, its datasets, the cells a change affects, and the lineage of
any record (upstream to the lots, downstream to the cells and datasets). The API, the admin
and the pages read through these; the number of queries never depends on the number of rows.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from django.db.models import QuerySet

from cells.models import Cell, CellPart, CyclingRun, Dataset, Protocol
from eln.models import LabRecord
from samples import models as sm

# What a cell's derived numbers read: parts → electrodes → sheets → components and discs.
SHEET_PREFETCH = ("components__lot__material", "loading_discs")
CELL_PREFETCH = (
    *(f"parts__electrode__sheet__{path}" for path in SHEET_PREFETCH),
    "parts__alloy_batch",
    "parts__lot__material",
)


def cells_with_parts(queryset: QuerySet | None = None) -> QuerySet:
    """Cells with everything their derived numbers need, fetched in a fixed number of queries."""
    queryset = Cell.objects.all() if queryset is None else queryset
    return queryset.select_related("project", "separator_batch", "created_by", "modified_by").prefetch_related(
        *CELL_PREFETCH)


def cell_electrodes(cell: Cell) -> dict[str, CellPart]:
    """The cell's parts by role (from a prefetch when the cell came from ``cells_with_parts``)."""
    return {part.role: part for part in cell.parts.all()}


def cell_derived_numbers(cell: Cell) -> dict[str, float | str | None]:
    """What the records give for the cell before any cycling: its 1C current and N/P ratio."""
    def safely(attribute):
        try:
            return getattr(cell, attribute)
        except (ValueError, ArithmeticError):  # absurd inputs: no number rather than an error
            return None

    return {name: safely(name) for name in (
        "first_half_cycle", "area_cm2", "reference_specific_capacity_mah_g", "one_c_current_ma",
        "one_c_current_density_ma_cm2", "np_ratio")}


def cell_datasets(cell: Cell) -> QuerySet:
    """The cell's datasets over all its runs, in the order they were measured."""
    return (Dataset.objects.filter(run__cell=cell).select_related("run", "raw_file")
            .order_by("run__started_at", "run__created_at", "created_at"))


def cells_using(record) -> set[int]:
    """Ids of the cells whose numbers are computed from ``record`` (an electrode, its sheet, a
    material, a protocol, a cell or its run)."""
    if isinstance(record, Cell):
        return {record.pk}
    if isinstance(record, (CellPart, CyclingRun)):
        return {record.cell_id}
    if isinstance(record, Dataset):
        return {record.run.cell_id}
    if isinstance(record, sm.Electrode):
        return set(CellPart.objects.filter(electrode=record).values_list("cell_id", flat=True))
    if isinstance(record, sm.ElectrodeSheet):
        sheets = {record.pk}
    elif isinstance(record, sm.Material):
        sheets = set(sm.SheetComponent.objects.filter(lot__material=record).values_list("sheet_id", flat=True))
    elif isinstance(record, Protocol):
        return set(CyclingRun.objects.filter(protocol=record).values_list("cell_id", flat=True))
    else:
        return set()
    return set(CellPart.objects.filter(electrode__sheet_id__in=sheets).values_list("cell_id", flat=True))


# --- lineage ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Edge:
    """``source`` went into ``target``: a lot into a batch, a sheet into an electrode, ..."""

    source: LabRecord
    target: LabRecord
    relation: str


@dataclasses.dataclass
class Lineage:
    record: LabRecord
    upstream: list[Edge]
    downstream: list[Edge]

    @property
    def records(self) -> list[LabRecord]:
        """Every record in the lineage, the record itself first."""
        seen = {(type(self.record), self.record.pk): self.record}
        for edge in self.upstream + self.downstream:
            for node in (edge.source, edge.target):
                seen.setdefault((type(node), node.pk), node)
        return list(seen.values())


# (model that is made, lookup from it to what went in, the model of what went in, relation)
# One query per relation and level; the levels are few (a lot is at most seven steps from a dataset).
MADE_FROM = [
    (sm.PrecursorLot, "inputs__lot", sm.PrecursorLot, "made from"),
    (sm.ElectrolyteBatch, "inputs__lot", sm.PrecursorLot, "precursor"),
    (sm.ElectrolyteBatch, "solvent_lot", sm.PrecursorLot, "solvent"),
    (sm.InfiltrationSolution, "inputs__lot", sm.PrecursorLot, "salt"),
    (sm.InfiltrationSolution, "solvent_lot", sm.PrecursorLot, "solvent"),
    (sm.ElectrodeSheet, "components__lot", sm.PrecursorLot, "slurry component"),
    (sm.ElectrodeSheet, "slurry_solvent_lot", sm.PrecursorLot, "slurry solvent"),
    (sm.AlloyBatch, "inputs__lot", sm.PrecursorLot, "metal"),
    (sm.Electrode, "sheet", sm.ElectrodeSheet, "punched from"),
    (sm.Electrode, "infiltrations__run", sm.InfiltrationRun, "infiltrated in"),
    (sm.InfiltrationRun, "solution", sm.InfiltrationSolution, "solution"),
    (Cell, "parts__electrode", sm.Electrode, "electrode"),
    (Cell, "parts__alloy_batch", sm.AlloyBatch, "counter electrode"),
    (Cell, "parts__lot", sm.PrecursorLot, "metal part"),
    (Cell, "separator_batch", sm.ElectrolyteBatch, "separator"),
    (CyclingRun, "cell", Cell, "cycled"),
    (CyclingRun, "protocol", Protocol, "protocol"),
    (Dataset, "run", CyclingRun, "measured in"),
]
MAX_LEVELS = 12
# What a record's label (str) reads beyond the record: fetched with it, not once per record.
LABEL_NEEDS = {sm.PrecursorLot: ("material",)}


def _walk(record, *, downstream: bool) -> list[tuple]:
    """(input model, input pk, made model, made pk, relation) for each edge reached."""
    edges, frontier, seen = [], {type(record): [record.pk]}, {(type(record), record.pk)}
    for _level in range(MAX_LEVELS):
        found = defaultdict(list)
        for made_model, lookup, input_model, relation in MADE_FROM:
            nodes = frontier.get(input_model if downstream else made_model)
            if not nodes:
                continue
            if downstream:
                rows = made_model.objects.filter(**{f"{lookup}__in": nodes})
            else:
                # filter, not exclude: on a to-many lookup (a cell's parts) exclude drops the record when
                # any one row is empty (the alloy part of a half cell has no electrode).
                rows = made_model.objects.filter(pk__in=nodes, **{f"{lookup}__isnull": False})
            for made_pk, input_pk in rows.order_by().values_list("pk", lookup).distinct():
                edges.append((input_model, input_pk, made_model, made_pk, relation))
                reached = (made_model, made_pk) if downstream else (input_model, input_pk)
                if reached not in seen:
                    seen.add(reached)
                    found[reached[0]].append(reached[1])
        if not found:
            break
        frontier = found
    return edges


def record_lineage(record: LabRecord) -> Lineage:
    """Where ``record`` came from (up to the lots) and what was made from it (down to the cells,
    their runs and datasets), as edges between records."""
    raw = [("up", edge) for edge in _walk(record, downstream=False)] + [
        ("down", edge) for edge in _walk(record, downstream=True)]
    wanted = defaultdict(set)
    for _direction, (input_model, input_pk, made_model, made_pk, _relation) in raw:
        wanted[input_model].add(input_pk)
        wanted[made_model].add(made_pk)
    wanted[type(record)].add(record.pk)
    objects = {}
    for model, pks in wanted.items():
        for obj in model.objects.filter(pk__in=pks).select_related("project", *LABEL_NEEDS.get(model, ())):
            objects[(model, obj.pk)] = obj
    upstream, downstream = [], []
    for direction, (input_model, input_pk, made_model, made_pk, relation) in raw:
        edge = Edge(objects[(input_model, input_pk)], objects[(made_model, made_pk)], relation)
        (upstream if direction == "up" else downstream).append(edge)
    return Lineage(record=objects[(type(record), record.pk)], upstream=_unique(upstream),
                   downstream=_unique(downstream))


def record_by_label(human_id: str) -> LabRecord | None:
    """The lab record a label names (LOT-0007, CELL-0042), of whichever type, or None."""
    prefix = human_id.partition("-")[0].upper()
    for model in _record_models():
        if model.HUMAN_ID_PREFIX == prefix:
            return model.objects.select_related("project").filter(human_id__iexact=human_id).first()
    return None


def _record_models():
    from django.apps import apps

    return [model for model in apps.get_models() if issubclass(model, LabRecord) and model.HUMAN_ID_PREFIX]


def _unique(edges: list[Edge]) -> list[Edge]:
    seen, out = set(), []
    for edge in edges:
        key = (type(edge.source), edge.source.pk, type(edge.target), edge.target.pk, edge.relation)
        if key not in seen:
            seen.add(key)
            out.append(edge)
    return out
