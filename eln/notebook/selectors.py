"""Reads of notebook entries: those a member sees, those that mention a record, and entries
rendered for a reader (the links in them resolved once for all the entries shown)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from eln.labelled import find_records, record_address
from eln.notebook.markdown import labels_in, render
from eln.notebook.models import NotebookAttachment, NotebookEntry
from eln.permissions import visible_records


def visible_entries(user, project=None) -> QuerySet[NotebookEntry]:
    entries = visible_records(user, NotebookEntry.objects.all())
    if project is not None:
        entries = entries.filter(project=project)
    return entries.select_related("project", "created_by", "modified_by").prefetch_related(
        Prefetch("attachments", queryset=NotebookAttachment.objects.select_related("uploaded_by").order_by("pk")), "mentions")


def entries_mentioning(user, label: str) -> QuerySet[NotebookEntry]:
    return visible_entries(user).filter(mentions__label=label).order_by("-created_at", "-pk")


def attachment_url(attachment: NotebookAttachment) -> str:
    return reverse("notebook:attachment", args=[attachment.entry.human_id, attachment.pk, attachment.original_name])


def _placed(body: str, attachment) -> bool:
    """Whether the text shows the image itself (then it is not shown again below it)."""
    return f"attachment:{attachment.original_name}" in body or f"attachment:{quote(attachment.original_name)}" in body


@dataclass
class ShownEntry:
    entry: NotebookEntry
    html: SafeString
    mentions: list[tuple[str, str | None]]  # (label, address for this reader, or None)
    images: list[tuple[NotebookAttachment, str]]
    files: list[tuple[NotebookAttachment, str]]


def shown_entries(entries, user) -> list[ShownEntry]:
    """The entries rendered for ``user``: a label links to a record only if ``user`` may see it.
    One query per kind of record named, for all the entries together."""
    entries = list(entries)
    labels = {label for entry in entries for label in labels_in(entry.body)}
    links = {label: record_address(label) for label in find_records(labels, user=user)}
    links = {label: url for label, url in links.items() if url}
    shown = []
    for entry in entries:
        attached = [(a, attachment_url(a)) for a in entry.attachments.all()]
        html = render(entry.body, links=links, attachments={a.original_name: url for a, url in attached})
        mentioned = [(m.label, links.get(m.label)) for m in entry.mentions.all()]
        shown.append(ShownEntry(entry, mark_safe(html), mentioned,  # noqa: S308 - sanitised by render()
                                [(a, url) for a, url in attached if a.is_image and not _placed(entry.body, a)],
                                [(a, url) for a, url in attached if not a.is_image]))
    return shown


@dataclass
class Version:
    when: object
    who: str
    what: str
    title: str = ""
    body: str = ""


def entry_history(entry: NotebookEntry) -> list[Version]:
    """Every change of the entry and of its attachments, newest first: who, when and what."""
    versions = []
    rows = list(entry.history.select_related("history_user").order_by("history_date", "history_id"))
    previous = None
    for row in rows:
        if previous is None:
            what = "written"
        elif row.history_type == "-":
            what = "deleted"
        else:
            changed = [name for name in ("title", "body", "notes") if getattr(row, name) != getattr(previous, name)]
            what = "changed " + ", ".join(changed) if changed else "saved again"
        versions.append(Version(row.history_date, row.history_user.get_username() if row.history_user else "—",
                                what, row.title, row.body))
        previous = row
    attachment_rows = NotebookAttachment.history.filter(entry_id=entry.pk).select_related("history_user")
    for row in attachment_rows:
        what = {"+": "attached", "-": "removed", "~": "changed"}[row.history_type]
        versions.append(Version(row.history_date, row.history_user.get_username() if row.history_user else "—",
                                f"{what} {row.original_name}"))
    return sorted(versions, key=lambda v: v.when, reverse=True)
