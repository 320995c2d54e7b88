"""Sections other apps add to a record's page: its alerts, the notebook entries that mention it,
its label. Each is a function of (request, record) named in ELN_RECORD_SECTIONS that returns a
``Section`` or None; a record's page shows them with ``{% record_sections record %}`` (the
``record_sections`` template library). Wired in the settings, so that the records' apps never
import the apps that add to their pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class Section:
    """A section of a record's page: its title, the template that draws it and its data."""

    key: str  # the section's id on the page (a CSS hook too)
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def sections_for(request, record) -> list[Section]:
    sections = []
    for path in settings.ELN_RECORD_SECTIONS:
        section = import_string(path)(request, record)
        if section is not None:
            sections.append(section)
    return sections
