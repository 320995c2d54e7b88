"""Recompute a cell's summaries and metrics when what they are computed from changes:
masses and loadings, areas, materials' reference capacities, parts, protocol, run state."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cells.models import Cell, CellPart, CyclingRun, Dataset, Protocol, ProtocolStep
from samples.models import (
    Electrode,
    ElectrodeSheet,
    LoadingDisc,
    Material,
    SheetComponent,
)


def cells_affected_by(instance) -> set[int]:
    if isinstance(instance, Cell):
        return {instance.pk}
    if isinstance(instance, (CellPart, CyclingRun)):
        return {instance.cell_id}
    if isinstance(instance, Electrode):
        return set(CellPart.objects.filter(electrode=instance).values_list("cell_id", flat=True))
    if isinstance(instance, (LoadingDisc, SheetComponent)):
        sheet_ids = {instance.sheet_id}
    elif isinstance(instance, ElectrodeSheet):
        sheet_ids = {instance.pk}
    elif isinstance(instance, Material):
        sheet_ids = set(SheetComponent.objects.filter(lot__material=instance).values_list("sheet_id", flat=True))
    elif isinstance(instance, (Protocol, ProtocolStep)):
        protocol_id = instance.pk if isinstance(instance, Protocol) else instance.protocol_id
        return set(CyclingRun.objects.filter(protocol_id=protocol_id).values_list("cell_id", flat=True))
    else:
        return set()
    return set(CellPart.objects.filter(electrode__sheet_id__in=sheet_ids).values_list("cell_id", flat=True))


WATCHED = (Cell, CellPart, CyclingRun, Electrode, ElectrodeSheet, LoadingDisc, SheetComponent, Material,
           Protocol, ProtocolStep)


@receiver([post_save, post_delete])
def recompute_on_change(sender, instance, raw=False, **kwargs):
    if raw or sender not in WATCHED:
        return
    from analysis.tasks import queue_recompute

    cells = cells_affected_by(instance)
    with_data = Dataset.objects.filter(run__cell_id__in=cells).exclude(parquet_file="")
    queue_recompute(with_data.values_list("run__cell_id", flat=True).distinct())
