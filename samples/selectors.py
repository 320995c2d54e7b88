"""Reads that reach across records in samples: what is left of what the lab holds.

Stock is kept in one ledger (``StockMovement``) for precursor lots and for what the lab makes
from them (electrolyte batches, infiltration solutions, alloy batches). What is left of a
holder is computed here and nowhere else: its quantity (``STOCK_FIELD``: received, yield,
volume) minus the sum of its ledger lines.
"""
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from samples.models import AlloyBatch, ElectrolyteBatch, InfiltrationSolution, PrecursorLot, StockMovement

# holder model -> its foreign key on a ledger line
HOLDER_FIELD = {
    PrecursorLot: "lot",
    ElectrolyteBatch: "electrolyte_batch",
    InfiltrationSolution: "infiltration_solution",
    AlloyBatch: "alloy_batch",
}
HOLDERS = tuple(HOLDER_FIELD)


def _taken(model):
    field = HOLDER_FIELD[model]
    lines = (StockMovement.objects.filter(**{field: OuterRef("pk")}).order_by()
             .values(field).annotate(total=Sum("quantity")).values("total"))
    return Coalesce(Subquery(lines), Value(0.0))


def with_stock(queryset):
    """Holders annotated with ``taken`` (their ledger's sum) and ``remaining`` (quantity −
    taken; null while the quantity is not recorded, e.g. a batch's yield)."""
    model = queryset.model
    return queryset.annotate(taken=_taken(model)).annotate(remaining=F(model.STOCK_FIELD) - F("taken"))


def stock_of(holder) -> tuple[float, float | None]:
    """(taken, remaining) of one holder, from the database (or from its annotation)."""
    if hasattr(holder, "taken") and hasattr(holder, "remaining"):
        return holder.taken, holder.remaining
    if holder.pk is None:
        return 0.0, getattr(holder, type(holder).STOCK_FIELD)
    row = with_stock(type(holder).objects.filter(pk=holder.pk)).values("taken", "remaining").first()
    return row["taken"], row["remaining"]


def taken_by_holder(model, pks) -> dict[int, float]:
    """What the ledger has taken from each of these holders of one model."""
    field = HOLDER_FIELD[model]
    rows = (StockMovement.objects.filter(**{f"{field}_id__in": list(pks)}).order_by().values(field)
            .annotate(total=Sum("quantity")).values_list(field, "total"))
    return dict(rows)


def is_low(lot) -> bool:
    """A lot below the low-stock mark the lab set for it."""
    _taken_mg, remaining = stock_of(lot)
    return remaining is not None and remaining < lot.low_stock_threshold_mg


def ledger_of(holder):
    """The holder's ledger, oldest line first."""
    return StockMovement.objects.filter(**{HOLDER_FIELD[type(holder)]: holder}).select_related(
        "created_by", "source_type").order_by("created_at", "id")
