"""Writes that touch several records: taking stock from lots when a process uses them."""
from collections import defaultdict

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from samples.models import PrecursorLot, StockMovement

# Stock is compared in mg; a thousandth of a milligram is below any balance's resolution.
STOCK_TOLERANCE_MG = 1e-3


class InsufficientStock(ValidationError):
    pass


def remaining_mg(lot: PrecursorLot) -> float:
    consumed = StockMovement.objects.filter(lot=lot).aggregate(total=Sum("mass_mg"))["total"] or 0.0
    return lot.quantity_received_mg - consumed


def release_stock(sources) -> None:
    """Delete the ledger lines written for these process rows (they are being replaced)."""
    for source in sources:
        StockMovement.objects.filter(
            source_type=ContentType.objects.get_for_model(source), source_id=source.pk
        ).delete()


def take_stock(uses, *, used_for: str, user=None) -> list[StockMovement]:
    """Write a ledger line for each (lot, mass_mg, source row), refusing to overdraw a lot.

    Lots are locked for the duration of the transaction, so two processes cannot both take
    the last gram. Raises InsufficientStock naming the lot, what is left and what was asked.
    """
    uses = [(lot, mass, source) for lot, mass, source in uses if mass]
    asked = defaultdict(float)
    for lot, mass, _source in uses:
        asked[lot.pk] += mass
    with transaction.atomic():
        locked = {lot.pk: lot for lot in PrecursorLot.objects.select_for_update().filter(pk__in=asked)}
        for pk, mass in asked.items():
            left = remaining_mg(locked[pk])
            if mass > left + STOCK_TOLERANCE_MG:
                lot = locked[pk]
                raise InsufficientStock(
                    f"{lot.human_id} ({lot.material}) has {left:g} mg left; {used_for} asks for {mass:g} mg.",
                    code="insufficient_stock",
                )
        return [
            StockMovement.objects.create(
                lot=lot, mass_mg=mass, kind=StockMovement.Kind.USE, used_for=used_for,
                source=source, created_by=user,
            )
            for lot, mass, source in uses
        ]
