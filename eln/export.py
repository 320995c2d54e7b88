"""Lists and per-cycle tables as files: CSV and Excel, with the rows, filters and order of the
page they are exported from.

Each column is written as its table shows it, in the same units: a number as a number with
every digit the record holds (a page rounds to the digits that mean something; a file leaves
that to its reader), its unit in the header ("Remaining (mg)") and, in Excel, a number format
that shows the page's digits; a date as a date; text as text; no value as an empty cell.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from eln.formatting import NO_VALUE, NumberFormat
from eln.tables import Column, Table

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 2000  # rows fetched (with their prefetches) at a time


def header(column: Column) -> str:
    unit = getattr(column.format, "unit", "")
    return f"{column.header} ({unit})" if unit else column.header


def value(column: Column, row):
    """The value of ``column`` in ``row`` as a file holds it."""
    if isinstance(column.format, NumberFormat):
        return column.format.number(column.read(row))
    raw = column.read(row)
    if isinstance(raw, dt.datetime):
        return timezone.localtime(raw).replace(tzinfo=None) if timezone.is_aware(raw) else raw
    if isinstance(raw, (dt.date, bool)) or raw is None:
        return raw
    text = column.text(row)
    return "" if text == NO_VALUE else text


def _rows(records):
    if hasattr(records, "iterator"):
        return records.iterator(chunk_size=CHUNK)
    return iter(records)


def _filename(name: str, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "records"
    return f"{slug}-{timezone.localdate().isoformat()}.{extension}"


def _csv_text(item) -> str:
    if item is None:
        return ""
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, dt.datetime):
        return item.isoformat(sep=" ", timespec="seconds")
    if isinstance(item, dt.date):
        return item.isoformat()
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() and abs(item) < 1e15 else repr(item)
    return str(item)


class _Echo:
    def write(self, text):
        return text


def csv_response(table: Table, records, name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # spreadsheets read the file as UTF-8 (°C, µm, cm²)
        yield writer.writerow([header(c) for c in table.columns])
        for row in _rows(records):
            yield writer.writerow([_csv_text(value(c, row)) for c in table.columns])

    response = StreamingHttpResponse(lines(), content_type=FORMATS["csv"])
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "csv")}"'
    return response


def xlsx_response(table: Table, records, name: str) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", name)[:31] or "records")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=header(column))
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    formats = []
    for column in table.columns:
        if isinstance(column.format, NumberFormat):
            formats.append(column.format.excel)
        else:
            formats.append(None)
    for row in _rows(records):
        cells = []
        for column, number_format in zip(table.columns, formats):
            item = value(column, row)
            cell = WriteOnlyCell(sheet, value=item)
            if number_format and item is not None:
                cell.number_format = number_format
            elif isinstance(item, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(item, dt.date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=FORMATS["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "xlsx")}"'
    return response


def export_response(table: Table, records, fmt: str, name: str):
    """The rows of ``records`` in ``table``'s columns as a CSV or Excel file."""
    if fmt == "xlsx":
        return xlsx_response(table, records, name)
    return csv_response(table, records, name)
