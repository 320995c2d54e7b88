"""Many rows fast, for the query-count tests.

One record is made through its factory (so it is a real one, made by its service); the other
rows are copies of it written with ``bulk_create``: no service, no rules, no history, no stock,
only what a list or a detail endpoint reads. A copy keeps every field of its seed except its
primary key, its label id and what ``vary`` changes (unique fields).
"""
from __future__ import annotations

import itertools
from typing import Callable

from django.db import models

from eln.models import LabRecord

# Label ids of copies start far above what a test's services hand out.
_numbers = itertools.count(100_000)

Vary = Callable[[models.Model, int], None]


def _copy(row: models.Model) -> models.Model:
    model = type(row)
    return model(**{field.attname: getattr(row, field.attname)
                    for field in model._meta.concrete_fields if not field.primary_key})


def copies(seed: models.Model, n: int, *, vary: Vary | None = None,
           children: dict[str, Vary | None] | None = None) -> list[models.Model]:
    """``n`` copies of ``seed`` with copies of the child rows named in ``children`` (the
    reverse relation's name, e.g. "components"; its value varies each row copy, or None)."""
    model = type(seed)
    made = []
    for i in range(n):
        copy = _copy(seed)
        if isinstance(seed, LabRecord):
            copy.human_id = f"{model.HUMAN_ID_PREFIX}-{next(_numbers)}"
        if vary is not None:
            vary(copy, i)
        made.append(copy)
    model._default_manager.bulk_create(made, batch_size=1000)
    for name, vary_row in (children or {}).items():
        relation = model._meta.get_field(name)
        rows = list(relation.related_model._default_manager.filter(**{relation.field.name: seed}).order_by("pk"))
        row_copies = []
        for i, parent in enumerate(made):
            for row in rows:
                copy = _copy(row)
                setattr(copy, relation.field.attname, parent.pk)
                if vary_row is not None:
                    vary_row(copy, i)
                row_copies.append(copy)
        relation.related_model._default_manager.bulk_create(row_copies, batch_size=1000)
    return made


def more_rows(parent: models.Model, name: str, n: int, *, vary: Vary | None = None) -> None:
    """Give ``parent`` ``n`` rows in its child set ``name``: copies of its first row."""
    relation = type(parent)._meta.get_field(name)
    manager = relation.related_model._default_manager
    rows = manager.filter(**{relation.field.name: parent}).order_by("pk")
    first, have = rows.first(), rows.count()
    assert first is not None, f"{parent} has no {name} to copy"
    extra = []
    for i in range(have, n):
        copy = _copy(first)
        if vary is not None:
            vary(copy, i)
        extra.append(copy)
    manager.bulk_create(extra, batch_size=1000)
