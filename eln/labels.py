"""Printable labels with a QR code made on the server (segno, as inline SVG) for any record with a
label id: lots, sheets, electrodes, cells, ... The code holds the absolute address of the record's
page (ELN_SITE_URL, or the address the labels were asked at), so a phone opens it. One label per
label-printer page (62 × 29 mm) or a sheet of A4 labels (3 × 7, 63.5 × 38.1 mm); the print
stylesheet (static/eln/labels.css) leaves out everything but the labels."""
from __future__ import annotations

import re
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from eln.labelled import find_records, model_for, record_address
from eln.models import LabRecord
from eln.record_sections import Section

LAYOUTS = {"sheet": "A4 sheet, 3 × 7 labels of 63.5 × 38.1 mm", "single": "one 62 × 29 mm label a page (label printer)"}
MAX_LABELS = 500
MAX_COPIES = 50
LABELS_IN_QUERY = re.compile(r"[A-Za-z]{1,6}-\d{1,9}")


def absolute_address(request, path: str) -> str:
    base = getattr(settings, "ELN_SITE_URL", "")
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


def qr_svg(text: str) -> SafeString:
    """The QR code of ``text`` as inline SVG (no script, no style: only a path)."""
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=1, border=4, svgclass="qr-code", lineclass=None, omitsize=True, title=text)
    # square modules, never smoothed into grey, so a scanner reads a small print too
    return mark_safe(svg.replace("<svg ", '<svg shape-rendering="crispEdges" ', 1))  # noqa: S308


@dataclass
class PrintedLabel:
    record: LabRecord
    kind: str
    name: str
    url: str
    qr: SafeString


def label_of(request, record) -> PrintedLabel:
    url = absolute_address(request, record_address(record.human_id) or "/")
    name = getattr(record, "name", "") or getattr(record, "title", "") or ""
    return PrintedLabel(record, str(record._meta.verbose_name), name, url, qr_svg(url))


def labels_page_url(labels, layout: str = "single") -> str:
    return f"{reverse('labels')}?records={'+'.join(labels)}&layout={layout}"


@login_required
def labels(request):
    """/labels/?records=CELL-0042+CELL-0043&layout=sheet&copies=2"""
    asked = list(dict.fromkeys(label.upper() for label in LABELS_IN_QUERY.findall(request.GET.get("records", ""))))
    layout = request.GET.get("layout") if request.GET.get("layout") in LAYOUTS else "single"
    try:
        copies = min(max(int(request.GET.get("copies", "1")), 1), MAX_COPIES)
    except ValueError:
        copies = 1
    problems = []
    if len(asked) > MAX_LABELS:
        problems.append(f"At most {MAX_LABELS} records a time; the first {MAX_LABELS} are shown.")
        asked = asked[:MAX_LABELS]
    found = find_records(asked, user=request.user)
    unknown = [label for label in asked if label not in found]
    if unknown:
        kinds = [label for label in unknown if model_for(label) is None]
        problems.append("No record you may see has the label " + ", ".join(unknown) + "." +
                        (f" ({', '.join(kinds)}: no kind of record has that prefix.)" if kinds else ""))
    printed = [label_of(request, found[label]) for label in asked if label in found]
    return render(request, "eln/labels.html", {
        "title": "Labels", "section": "labels", "labels": [label for label in printed for _ in range(copies)],
        "records": " ".join(asked), "layout": layout, "layouts": LAYOUTS, "copies": copies, "problems": problems,
    })


def label_section(request, record) -> Section | None:
    """A record's label on its page, with a link to print it."""
    if not isinstance(record, LabRecord):
        return None
    printed = label_of(request, record)
    return Section("label", "Label", "eln/_section_label.html", {
        "label": printed, "print_url": labels_page_url([record.human_id]),
        "sheet_url": labels_page_url([record.human_id], "sheet"),
    })
