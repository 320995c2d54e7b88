"""The tables of the cells' list pages."""
from django.urls import reverse

from cells import selectors
from cells.models import CellPart
from eln.formatting import NO_VALUE, Entered, Fixed, Significant, as_entered
from eln.tables import Column, Table, recorded_on


def cell_page(cell) -> str:
    return reverse("cells:cell-detail", args=[cell.human_id])


def part_in(role):
    def read(cell):
        part = cell.electrode_in_role(role)
        if part is None:
            return None
        if part.electrode is not None:
            return f"{part.electrode.human_id} ({part.electrode.sheet.human_id})"
        if part.alloy_batch is not None:
            return part.alloy_batch.human_id
        if part.lot is not None:
            return f"{part.lot.human_id} ({part.lot.material.name})"
        return part.description or None
    return read


def derived(name):
    """One of the cell's derived numbers, as the selector gives them (no number for absurd inputs)."""
    return lambda cell: selectors.cell_derived_numbers(cell)[name]


def voltage_window(cell) -> str:
    if cell.lower_cutoff_v is None and cell.upper_cutoff_v is None:
        return NO_VALUE
    return f"{as_entered(cell.lower_cutoff_v)}–{as_entered(cell.upper_cutoff_v, 'V')}"


cell_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=cell_page),
        Column("Name", "name", order_by="name"),
        Column("Kind", "get_kind_display", order_by="kind"),
        Column("Positive", part_in(CellPart.Role.POSITIVE)),
        Column("Negative", part_in(CellPart.Role.NEGATIVE)),
        Column("Stack pressure", "stack_pressure_mpa", format=Entered("MPa"),
               order_by="stack_pressure_mpa", numeric=True),
        Column("Temperature", "temperature_c", format=Entered("°C"), order_by="temperature_c",
               numeric=True),
        Column("Window", voltage_window, numeric=True),
        Column("1C current", derived("one_c_current_ma"), format=Significant(3, "mA"), numeric=True),
        Column("N/P", derived("np_ratio"), format=Fixed(2), numeric=True),
        Column("Assembled on", "assembled_on", order_by="assembled_on"),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)
