"""What every record's page shares: its derived numbers read safely, its edit controls (only
for members who may change it), and the ledger of a stock holder with what was left after
each line. The apps' pages build on these; the list pages on ``eln.pages``."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from eln.permissions import can_write


def derived_numbers(record, names) -> dict:
    """``record``'s derived numbers by name (its model's properties); None where the inputs are
    missing or absurd (a disc lighter than its foil, a sheet not chosen yet in a form): a page
    shows a dash, never an error."""
    values = {}
    for name in names:
        try:
            values[name] = getattr(record, name)
        except (ValueError, ArithmeticError, TypeError, ObjectDoesNotExist):
            values[name] = None
    return values


def edit_controls(user, record, edit_url: str | None, admin_url: str | None = None) -> list[tuple[str, str]]:
    """(text, url) of the edit controls of a record's page: none for a reader."""
    if not can_write(user, record.project):
        return []
    controls = [("Edit", edit_url)] if edit_url else []
    if admin_url and user.is_staff:
        controls.append(("Edit in the admin", admin_url))
    return controls


def admin_change_url(record) -> str:
    meta = record._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[record.pk])


@dataclass
class LedgerLine:
    movement: object
    remaining: float  # what was left after this line


def ledger_lines(holder, movements) -> list[LedgerLine]:
    """A holder's ledger (oldest first) with what was left after each line: its quantity
    (received, yield, volume) minus every line so far."""
    remaining = getattr(holder, type(holder).STOCK_FIELD) or 0.0
    lines = []
    for movement in movements:
        remaining -= movement.quantity
        lines.append(LedgerLine(movement, remaining))
    return lines
