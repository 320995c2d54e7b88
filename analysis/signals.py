"""Results are recomputed when a service changes something they are computed from, once per
cell and transaction (``analysis.tasks.queue_recompute``), and only then.

The services announce every change with the names of the fields and child rows that changed
(``eln.signals.records_changed``); ``RESULT_INPUTS`` lists those a cell's summaries and metrics
are computed from. A change of a lot's storage place, a cell's notes or a component's mass
taken from stock queues nothing. The three-electrode diagnoses and the fade predictions read a
few more (the reference curves chosen on a cell, N/P): ``analysis.electrodes.record_changed``
decides those.
"""
from django.dispatch import receiver

from analysis import electrodes
from cells.models import Cell, CyclingRun, Dataset, Protocol
from cells.selectors import cells_using
from eln.signals import records_changed
from samples.models import Electrode, ElectrodeSheet, Material

# model -> the fields ("name") and child rows ("set.field", "set.row" when rows came or went,
# "set.*" for any change of the set) that summaries and metrics read.
RESULT_INPUTS = {
    Material: {"reference_specific_capacity_mah_g"},
    ElectrodeSheet: {"current_collector_areal_mass_mg_cm2", "components.role", "components.lot",
                     "components.mass_fraction_percent", "components.row", "loading_discs.*"},
    Electrode: {"sheet", "diameter_mm", "mass_mg"},
    Cell: {"kind", "parts.electrode", "parts.role", "parts.row"},
    CyclingRun: {"cell", "state", "started_at", "protocol"},
    Protocol: {"steps.*"},
    Dataset: {"excluded_from_history"},  # left out of (or back into) the cell's history, or deleted
}


def feeds_results(model, *, fields, children) -> bool:
    inputs = RESULT_INPUTS.get(model, set())
    if fields & inputs:
        return True
    for name, changed in children.items():
        if f"{name}.*" in inputs or any(f"{name}.{field}" in inputs for field in changed):
            return True
    return False


@receiver(records_changed)
def recompute_results(sender, record, created, deleted, fields, children, **kwargs):
    if sender not in RESULT_INPUTS or created:
        return  # a new record has no data computed from it yet
    if not deleted and not feeds_results(sender, fields=fields, children=children):
        return
    from analysis.tasks import queue_recompute

    cells = cells_using(record)
    with_data = Dataset.objects.filter(run__cell_id__in=cells).exclude(parquet_file="")
    if deleted and isinstance(record, Dataset):
        with_data = with_data.exclude(pk=record.pk)
        queue_recompute({record.run.cell_id} | set(with_data.values_list("run__cell_id", flat=True)))
        return
    queue_recompute(with_data.values_list("run__cell_id", flat=True).distinct())


@receiver(records_changed)
def recompute_three_electrode_results(sender, record, created, deleted, fields, children, **kwargs):
    """The diagnoses and fade predictions, for what only they read (analysis.electrodes)."""
    electrodes.record_changed(sender, record, created=created, deleted=deleted, fields=fields, children=children)
