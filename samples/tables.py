"""The tables of the samples' list pages."""
from django.urls import reverse

from eln.formatting import Fixed
from eln.tables import Column, Table, recorded_on
from samples import selectors


def lot_page(lot) -> str:
    return reverse("samples:lot-detail", args=[lot.human_id])


mass_mg = Fixed(1, "mg")  # a lot's balance


def low(lot) -> bool:
    return selectors.is_low(lot)  # from the list's stock annotation


lot_table = Table(
    columns=[
        Column("ID", "human_id", order_by="human_id", link=lot_page),
        Column("Material", "material.name", order_by="material__name"),
        Column("Supplier", "supplier", order_by="supplier"),
        Column("Lot number", "lot_number", order_by="lot_number"),
        Column("State", "get_state_display", order_by="state"),
        Column("Storage", "get_storage_place_display", order_by="storage_place"),
        Column("Received on", "received_on", order_by="received_on"),
        Column("Received", "quantity_received_mg", format=mass_mg, order_by="quantity_received_mg", numeric=True),
        Column("Remaining", "remaining", format=mass_mg, order_by="remaining", numeric=True),
        Column("Stock", lambda lot: "low" if low(lot) else "", css=lambda lot: "badge-low" if low(lot) else ""),
        Column("Recorded", recorded_on, order_by="created_at"),
    ],
    default_ordering="-created_at",
)
