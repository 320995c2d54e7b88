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


def taken_mg(lot: PrecursorLot) -> float:
    """What the lot's ledger has taken from it so far."""
    return StockMovement.objects.filter(lot=lot).aggregate(total=Sum("mass_mg"))["total"] or 0.0


def remaining_mg(lot: PrecursorLot) -> float:
    return lot.quantity_received_mg - taken_mg(lot)


def release_stock(sources) -> None:
    """Delete the ledger lines written for these process rows (they are being replaced)."""
    for source in sources:
        StockMovement.objects.filter(
            source_type=ContentType.objects.get_for_model(source), source_id=source.pk
        ).delete()


def stock_problems(uses, *, used_for: str, released_rows=()) -> list[str]:
    """Messages for the lots that ``uses`` [(lot, mass_mg)] would overdraw, counting as given
    back the ledger lines of ``released_rows`` (process rows being changed or deleted).

    The lots are locked (SELECT ... FOR UPDATE, in pk order) until the caller's transaction
    ends, so the answer still holds when the caller writes the ledger.
    """
    asked = defaultdict(float)
    for lot, mass in uses:
        if lot is not None and mass:
            asked[lot.pk] += mass
    if not asked:
        return []
    with transaction.atomic():
        lots = list(PrecursorLot.objects.select_for_update(of=("self",)).select_related("material")
                    .filter(pk__in=asked).order_by("pk"))
        taken = dict(StockMovement.objects.filter(lot_id__in=asked).values("lot")
                     .annotate(total=Sum("mass_mg")).values_list("lot", "total"))
        given_back = defaultdict(float)
        for row in released_rows:
            lines = StockMovement.objects.filter(
                source_type=ContentType.objects.get_for_model(row), source_id=row.pk
            ).values_list("lot_id", "mass_mg")
            for lot_id, mass in lines:
                given_back[lot_id] += mass
    problems = []
    for lot in lots:
        left = lot.quantity_received_mg - (taken.get(lot.pk) or 0.0) + given_back[lot.pk]
        if asked[lot.pk] > left + STOCK_TOLERANCE_MG:
            problems.append(
                f"{lot.human_id} ({lot.material}) has {left:g} mg left; {used_for} asks for {asked[lot.pk]:g} mg."
            )
    return problems


def take_stock(uses, *, used_for: str, user=None) -> list[StockMovement]:
    """Write a ledger line for each (lot, mass_mg, source row), refusing to overdraw a lot.

    Lots are locked for the duration of the transaction, so two processes cannot both take
    the last gram. Raises InsufficientStock naming each lot, what is left and what was asked.
    """
    uses = [(lot, mass, source) for lot, mass, source in uses if mass]
    with transaction.atomic():
        problems = stock_problems([(lot, mass) for lot, mass, _source in uses], used_for=used_for)
        if problems:
            raise InsufficientStock(problems, code="insufficient_stock")
        return [
            StockMovement.objects.create(
                lot=lot, mass_mg=mass, kind=StockMovement.Kind.USE, used_for=used_for,
                source=source, created_by=user,
            )
            for lot, mass, source in uses
        ]
