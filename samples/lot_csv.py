"""CSV export and import of precursor lots (the inventory as a spreadsheet).

No admin code here: the admin's export action, export button and import page call these two
functions, and an API endpoint or a page can call them the same way.

Columns (export writes all of them in this order; import needs a header row naming the
columns it brings, in any order):

    id, project, material, supplier, lot_number, received_on, purity_percent,
    quantity_received_mg, remaining_mg, low_stock_threshold_mg, storage_place,
    storage_detail, state, hazards, notes

- ``id`` is the lot's label id (LOT-0007): a row with an id updates that lot, a row with an
  empty id adds a new lot. ``remaining_mg`` is written on export and ignored on import: what
  is left is always derived from the lot's ledger.
- ``project`` and ``material`` by name (case-insensitive); ``received_on`` as YYYY-MM-DD;
  ``storage_place`` and ``state`` by their value (``argon_glovebox``) or label
  (``argon glovebox``).
- A column left out of the file leaves that field of updated lots as it is; an empty cell
  clears it (a required value cannot be cleared; an empty storage place or state of a new lot
  takes the default; an empty low-stock mark is 0).

Import is all or nothing: every row is checked first, and when any row has a problem nothing
is saved and every problem is reported as "line N, column X: message". The file may be UTF-8
with or without a byte-order mark, with commas or semicolons between cells (with semicolons a
decimal comma is accepted, as spreadsheet programs in many locales write it).
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from eln.permissions import visible_projects, writable_projects
from samples import selectors, services
from samples.models import Material, PrecursorLot

COLUMNS = (
    "id", "project", "material", "supplier", "lot_number", "received_on", "purity_percent",
    "quantity_received_mg", "remaining_mg", "low_stock_threshold_mg", "storage_place",
    "storage_detail", "state", "hazards", "notes",
)
EXPORT_ONLY = ("remaining_mg",)
REQUIRED = ("project", "material", "supplier", "quantity_received_mg")
TEXT_COLUMNS = ("supplier", "lot_number", "storage_detail", "hazards", "notes")
NUMBER_COLUMNS = ("purity_percent", "quantity_received_mg", "low_stock_threshold_mg")
CHOICE_COLUMNS = {
    "storage_place": (PrecursorLot.Storage, "storage place"),
    "state": (PrecursorLot.State, "state"),
}
# The lot's own fields the import writes (compared to tell an update from an unchanged row).
LOT_FIELDS = (
    "project_id", "material_id", "supplier", "lot_number", "received_on", "purity_percent",
    "quantity_received_mg", "low_stock_threshold_mg", "storage_place", "storage_detail", "state",
    "hazards", "notes",
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class RowError:
    """One problem of an import: ``line`` is the file's line (the header is line 1)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    """Lots created and updated by an import, or (and then nothing was saved) its errors."""

    created: list[PrecursorLot] = field(default_factory=list)
    updated: list[PrecursorLot] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unchanged: list[PrecursorLot] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- export -----------------------------------------------------------------------------------


def format_number(value) -> str:
    """A number as it round-trips: 1000 not 1000.0, 533.6 not 533.60000000000002; None empty."""
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def export_lots(queryset, file_like, *, bom: bool = True) -> int:
    """Write the lots of ``queryset`` as CSV to a text stream; returns the number of lots.

    ``file_like`` takes ``str`` (an HttpResponse, io.StringIO, or a file opened with
    ``newline=""``). A byte-order mark is written first so spreadsheet programs read the file
    as UTF-8 (µ, °, formulas with subscripts); ``import_lots`` reads it back either way.
    """
    if "remaining" not in queryset.query.annotations:
        queryset = selectors.with_stock(queryset)
    queryset = queryset.select_related("project", "material")
    if bom:
        file_like.write("\ufeff")
    writer = csv.writer(file_like)
    writer.writerow(COLUMNS)
    count = 0
    for lot in queryset:
        writer.writerow([
            lot.human_id,
            lot.project.name,
            lot.material.name,
            lot.supplier,
            lot.lot_number,
            lot.received_on.isoformat() if lot.received_on else "",
            format_number(lot.purity_percent),
            format_number(lot.quantity_received_mg),
            format_number(round(lot.remaining, 3)),
            format_number(lot.low_stock_threshold_mg),
            lot.storage_place,
            lot.storage_detail,
            lot.state,
            lot.hazards,
            lot.notes,
        ])
        count += 1
    return count


# --- import -----------------------------------------------------------------------------------


class _Problems(Exception):
    """Raised inside the import's transaction to roll it back when rows have errors."""


def _read_text(file_like) -> str:
    data = file_like.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"the file is not UTF-8 text (byte {error.start + 1}); save it as 'CSV UTF-8'"
            ) from None
    return data.removeprefix("\ufeff")


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def parse_number(text: str, *, decimal_comma: bool) -> float:
    value = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if decimal_comma and value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    if not _NUMBER.fullmatch(value):
        hint = "; write decimals with a point" if "," in text and not decimal_comma else ""
        raise ValueError(f"{text!r} is not a number{hint}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def parse_date(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date") from None


def parse_choice(text: str, choices, what: str) -> str:
    key = " ".join(text.lower().split())
    for value, label in choices.choices:
        if key in (value.lower(), label.lower(), value.lower().replace("_", " ")):
            return value
    known = ", ".join(value for value, _label in choices.choices)
    raise ValueError(f"unknown {what} {text!r}; use one of: {known}")


def _rows(text: str, errors: list[RowError]):
    """(header names, [(line, {column: cell})]) with empty rows skipped."""
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        errors.append(RowError(1, None, "the file is empty"))
        return [], [], delimiter
    except csv.Error as error:
        errors.append(RowError(1, None, f"the header cannot be read ({error})"))
        return [], [], delimiter
    names = [name.strip().lower() for name in header]
    for index, name in enumerate(names):
        if not name:
            continue
        if name not in COLUMNS:
            errors.append(RowError(1, name, f"unknown column; the columns are: {', '.join(COLUMNS)}"))
        elif name in names[:index]:
            errors.append(RowError(1, name, "the column appears twice"))
    rows = []
    previous = reader.line_num
    try:
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            extra = [cell for cell in cells[len(names):] if cell.strip()]
            if extra:
                errors.append(RowError(
                    line, None, f"the row has {len(cells)} cells but the header names {len(names)} columns"
                ))
                continue
            record = {
                name: (cells[index].strip() if index < len(cells) else "")
                for index, name in enumerate(names)
                if name in COLUMNS and name not in EXPORT_ONLY
            }
            rows.append((line, record))
    except csv.Error as error:
        errors.append(RowError(reader.line_num, None, f"the file cannot be read from here on ({error})"))
    return names, rows, delimiter


def import_lots(file_like, user) -> ImportResult:
    """Create and update lots from CSV (bytes or text); all or nothing.

    ``user`` is who imports: lots are added to and changed in projects they may write to, and
    they are recorded as creator/modifier and in the history. Returns an ImportResult whose
    ``errors`` list every problem ("line N, column X: message"); when there are any, nothing
    was saved.
    """
    result = ImportResult()
    try:
        text = _read_text(file_like)
    except ValueError as error:
        result.errors.append(RowError(1, None, str(error)))
        return result
    names, rows, delimiter = _rows(text, result.errors)
    if not names:
        return result
    if not rows and not result.errors:
        result.errors.append(RowError(1, None, "the file has a header but no lots"))
        return result
    if any(not record.get("id") for _line, record in rows):
        for column in REQUIRED:
            if column not in names:
                result.errors.append(RowError(
                    1, column, "the column is missing; rows with an empty id add new lots, which need it"
                ))
    try:
        with transaction.atomic():
            _Importer(user, delimiter == ";", result).run(rows)
            if result.errors:
                raise _Problems
    except _Problems:
        result.created, result.updated, result.unchanged = [], [], []
    return result


class _Importer:
    def __init__(self, user, decimal_comma: bool, result: ImportResult):
        self.user = user
        self.decimal_comma = decimal_comma
        self.result = result
        self.visible = {p.name.lower(): p for p in visible_projects(user)}
        self.writable = set(writable_projects(user).values_list("pk", flat=True))
        self.materials = {m.name.lower(): m for m in Material.objects.all()}

    def run(self, rows):
        ids = {record["id"].upper() for _line, record in rows if record.get("id")}
        lots = PrecursorLot.objects.select_related("project", "material")
        self.existing = {
            lot.human_id: lot for lot in lots.filter(human_id__in=ids, project__in=self.visible.values())
        }
        self.seen: dict[str, int] = {}
        planned = [plan for line, record in rows if (plan := self.check_row(line, record))]
        # Every lot through the same services as the API and the admin, their rules and
        # messages reported by line and column; a row whose cells could not all be read is
        # still checked for the others (the transaction is rolled back when anything failed).
        for line, lot, fields, failed in planned:
            try:
                if lot is None:
                    saved = services.lot_receive(user=self.user, **fields)
                    self.result.created.append(saved)
                elif not any(getattr(lot, name) != value for name, value in fields.items()):
                    self.result.unchanged.append(lot)
                else:
                    self.result.updated.append(services.lot_update(user=self.user, lot=lot, reason="CSV import",
                                                                   **fields))
            except ValidationError as refused:
                for name, messages in refused.message_dict.items():
                    if name in failed:
                        continue  # already reported as the cell that could not be read
                    for message in messages:
                        self.error(line, name if name in COLUMNS else None, message)

    def error(self, line, column, message):
        self.result.errors.append(RowError(line, column, message))

    def check_row(self, line: int, record: dict):
        """(line, existing lot or None, the fields the row gives, the columns that could not be
        read), or None when the row cannot be checked further."""
        human_id = record.get("id", "").upper()
        lot = None
        if human_id:
            lot = self.existing.get(human_id)
            if lot is None:
                self.error(line, "id", f"there is no lot {human_id} (leave id empty to add a new lot)")
                return None
            if human_id in self.seen:
                self.error(line, "id", f"{human_id} is also on line {self.seen[human_id]}")
                return None
            self.seen[human_id] = line
            if lot.project_id not in self.writable:
                self.error(line, "id", f"you may not change lots of project {lot.project.name!r}")
                return None
        fields: dict = {}
        failed = set()
        for column in COLUMNS:
            if column in ("id", *EXPORT_ONLY) or column not in record:
                continue
            try:
                self.apply(fields, lot, column, record[column])
            except ValueError as problem:
                failed.add(column)
                self.error(line, column, str(problem))
        if lot is None:
            failed.update(c for c in REQUIRED if c not in record)  # reported once, at the header
        if "project" in failed or (lot is None and "project" not in fields):
            return None  # nothing to check a lot against
        return line, lot, fields, failed

    def apply(self, fields: dict, lot: PrecursorLot | None, column: str, value: str):
        """The field a cell gives, into ``fields``; ValueError with the message for the user."""
        new = lot is None
        if column in REQUIRED and not value:
            raise ValueError("missing required value")
        if "\x00" in value:
            raise ValueError("contains a NUL character (is this a text file?)")
        if column == "project":
            project = self.visible.get(value.lower())
            if project is None:
                raise ValueError(f"unknown project {value!r}")
            if project.pk not in self.writable:
                raise ValueError(f"you are a reader of project {project.name!r} and cannot add or change its lots")
            fields["project"] = project
        elif column == "material":
            material = self.materials.get(value.lower())
            if material is None:
                raise ValueError(f"unknown material {value!r} (add it under Materials first)")
            fields["material"] = material
        elif column in TEXT_COLUMNS:
            limit = PrecursorLot._meta.get_field(column).max_length
            if limit and len(value) > limit:
                raise ValueError(f"longer than the {limit} characters this column holds")
            fields[column] = value
        elif column in NUMBER_COLUMNS:
            if not value:
                fields[column] = 0.0 if column == "low_stock_threshold_mg" else None
            else:
                fields[column] = parse_number(value, decimal_comma=self.decimal_comma)
        elif column == "received_on":
            fields["received_on"] = parse_date(value) if value else None
        elif column in CHOICE_COLUMNS:
            choices, what = CHOICE_COLUMNS[column]
            if not value:
                if not new:
                    raise ValueError("missing required value")
                fields[column] = PrecursorLot._meta.get_field(column).default
            else:
                fields[column] = parse_choice(value, choices, what)
