"""Tables of records on the list pages: which columns, how each value is written, which
columns sort and by what. The templates only lay out what a table hands them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from django.http import QueryDict
from django.utils import timezone

from eln.formatting import NO_VALUE


def attribute(path: str) -> Callable[[Any], Any]:
    """A reader of a dotted attribute path ("material.name"); None where a step is None."""
    steps = path.split(".")

    def read(row):
        value = row
        for step in steps:
            value = getattr(value, step, None)
            if value is None:
                return None
        return value() if callable(value) else value

    return read


def recorded_on(record):
    """The day a record was made, in the lab's time zone."""
    return timezone.localtime(record.created_at).date()


@dataclass(frozen=True)
class Column:
    header: str
    value: str | Callable[[Any], Any]
    format: Callable[[Any], str] | None = None
    order_by: str | None = None  # the queryset field this column sorts by, or not sortable
    link: Callable[[Any], str | None] | None = None
    numeric: bool = False
    css: Callable[[Any], str] | None = None  # a class for the cell, e.g. a badge

    @property
    def ordering_key(self) -> str | None:
        """The name in ?ordering=: the queryset field, as the API's ordering names it."""
        return self.order_by

    def read(self, row):
        reader = attribute(self.value) if isinstance(self.value, str) else self.value
        return reader(row)

    def text(self, row) -> str:
        value = self.read(row)
        if self.format is not None:
            return self.format(value)
        return NO_VALUE if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    url: str | None
    numeric: bool
    css: str = ""


@dataclass(frozen=True)
class Header:
    text: str
    numeric: bool
    url: str | None = None  # None: not sortable
    direction: str = ""  # "ascending", "descending" or "" for the column the table is sorted by


@dataclass
class Table:
    columns: list[Column]
    default_ordering: str  # e.g. "-created" (a column's ordering key, "-" for descending)
    # Tie-breaker so that pages of a sorted list never overlap.
    stable_ordering: tuple[str, ...] = field(default=("-pk",))

    def _by_key(self) -> dict[str, Column]:
        return {c.ordering_key: c for c in self.columns if c.ordering_key}

    def ordering(self, requested: str | None) -> str:
        """The ordering asked for if a column sorts by it, else the table's default."""
        key = (requested or "").strip()
        return key if key.lstrip("-") in self._by_key() else self.default_ordering

    def order(self, queryset, ordering: str):
        column = self._by_key()[ordering.lstrip("-")]
        descending = ordering.startswith("-")
        expression = column.order_by
        return queryset.order_by(f"-{expression}" if descending else expression, *self.stable_ordering)

    def headers(self, ordering: str, params: QueryDict) -> list[Header]:
        headers = []
        for column in self.columns:
            key = column.ordering_key
            if not key:
                headers.append(Header(column.header, column.numeric))
                continue
            direction = ""
            if ordering.lstrip("-") == key:
                direction = "descending" if ordering.startswith("-") else "ascending"
            query = params.copy()
            query["ordering"] = f"-{key}" if direction == "ascending" else key
            query.pop("page", None)
            headers.append(Header(column.header, column.numeric, f"?{query.urlencode()}", direction))
        return headers

    def rows(self, records) -> list[list[Cell]]:
        return [
            [Cell(c.text(record), c.link(record) if c.link else None, c.numeric, c.css(record) if c.css else "")
             for c in self.columns]
            for record in records
        ]
