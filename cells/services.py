"""Every write of cells: cyclers and their tokens, protocols, cells and their parts, cycling
runs. Keyword-only services named for what the lab does, on the engine of ``eln.services``;
the rules of a single record are the models' ``clean`` methods, the ones over a cell's parts
are here. Raw files and datasets are written by ``analysis.services`` (ingestion).
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cells.models import (
    Cell,
    CellPart,
    Channel,
    Cycler,
    CyclerToken,
    CyclingRun,
    Protocol,
    ProtocolStep,
    part_problems,
)
from eln.services import ChildSet, RecordSpec, Use, record_save, register
from samples.services import LEDGER

# --- cyclers (lab equipment shared by all projects) ---------------------------------------------

CYCLER = register(RecordSpec(Cycler, children={"channels": ChildSet(Channel, "cycler", key=("number",))}))
CHANNEL = register(RecordSpec(Channel))


def cycler_register(*, user, **fields) -> Cycler:
    """A cycler and its ``channels`` (by number)."""
    return record_save(CYCLER, user=user, record=Cycler(), fields=fields)


def cycler_update(*, user, cycler: Cycler, **fields) -> Cycler:
    return record_save(CYCLER, user=user, record=cycler, fields=fields)


def channel_add(*, user, **fields) -> Channel:
    return record_save(CHANNEL, user=user, record=Channel(), fields=fields)


def channel_update(*, user, channel: Channel, **fields) -> Channel:
    return record_save(CHANNEL, user=user, record=channel, fields=fields)


@transaction.atomic
def cycler_token_issue(*, user, cycler: Cycler, label: str = "") -> tuple[CyclerToken, str]:
    """A new upload token for a cycler PC; returns it with its key, which is not stored."""
    token = CyclerToken(cycler=cycler, label=label, created_by=user if user and user.is_authenticated else None)
    key = token.set_new_key()
    if user is not None and user.is_authenticated:
        token._history_user = user
    token.save()
    return token, key


@transaction.atomic
def cycler_token_revoke(*, user, token: CyclerToken) -> CyclerToken:
    """Revoke a token for good: it uploads nothing more, and nothing un-revokes it."""
    token = CyclerToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        if user is not None and user.is_authenticated:
            token._history_user = user
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def cycler_token_relabel(*, user, token: CyclerToken, label: str) -> CyclerToken:
    """The only change a token takes: its label (which PC it is on)."""
    token = CyclerToken.objects.select_for_update().get(pk=token.pk)
    token.label = label
    if user is not None and user.is_authenticated:
        token._history_user = user
    token.save(update_fields=["label"])
    return token


# --- protocols ---------------------------------------------------------------------------------

PROTOCOL = register(RecordSpec(
    Protocol,
    children={"steps": ChildSet(ProtocolStep, "protocol", key=("order",))},
    rules=lambda protocol, rows: {} if rows["steps"] else {"steps": ["A protocol needs at least one step."]},
))


def protocol_define(*, user, project, **fields) -> Protocol:
    """A cycling programme as blocks of identical cycles (``steps``, by their order)."""
    return record_save(PROTOCOL, user=user, record=Protocol(project=project), fields=fields)


def protocol_update(*, user, protocol: Protocol, **fields) -> Protocol:
    return record_save(PROTOCOL, user=user, record=protocol, fields=fields)


# --- cells -------------------------------------------------------------------------------------


def _cell_rules(cell: Cell, rows) -> dict[str, list[str]]:
    parts = rows["parts"]
    messages = part_problems(cell.kind, parts)
    electrodes = [part.electrode_id for part in parts if part.electrode_id]
    if len(set(electrodes)) < len(electrodes):
        messages.append("One electrode cannot take two roles in a cell.")
    elsewhere = (CellPart.objects.filter(electrode_id__in=electrodes).exclude(cell_id=cell.pk)
                 .select_related("cell", "electrode"))
    for other in elsewhere:
        messages.append(f"{other.electrode.human_id} is already the {other.role} electrode of {other.cell.human_id}; "
                        "an electrode belongs to at most one cell.")
    return {"parts": messages} if messages else {}


def _cell_uses(cell: Cell, rows) -> list[Use]:
    uses = []
    if cell.separator_batch_id and cell.separator_mass_mg:
        uses.append(Use(cell.separator_batch, cell.separator_mass_mg, cell, "separator_mass_mg"))
    for part in rows["parts"]:
        holder = part.alloy_batch if part.alloy_batch_id else part.lot if part.lot_id else None
        if holder is not None and part.mass_mg:
            uses.append(Use(holder, part.mass_mg, part, "parts"))
    return uses


CELL = register(RecordSpec(
    Cell,
    children={"parts": ChildSet(CellPart, "cell", key=("role",))},
    rules=_cell_rules,
    uses=_cell_uses,
    ledger=LEDGER,
))


def cell_build(*, user, project, **fields) -> Cell:
    """A cell pressed from its ``parts`` (by role: positive, negative, reference); the
    separator's powder is taken from its electrolyte batch, alloy and metal parts from their stock."""
    return record_save(CELL, user=user, record=Cell(project=project), fields=fields)


def cell_update(*, user, cell: Cell, **fields) -> Cell:
    return record_save(CELL, user=user, record=cell, fields=fields)


# --- cycling runs ------------------------------------------------------------------------------

CYCLING_RUN = register(RecordSpec(CyclingRun))


def cycling_run_start(*, user, project, **fields) -> CyclingRun:
    """A cell put on a cycler channel under a protocol."""
    return record_save(CYCLING_RUN, user=user, record=CyclingRun(project=project), fields=fields)


def cycling_run_update(*, user, run: CyclingRun, **fields) -> CyclingRun:
    return record_save(CYCLING_RUN, user=user, record=run, fields=fields)
