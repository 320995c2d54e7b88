"""Writes of notebook entries: writing and changing an entry (the records its text names are
found again from the text each time), attaching and removing files. History is kept of every
change (django-simple-history, who and when)."""
from __future__ import annotations

import hashlib
import os
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from eln.labelled import find_records
from eln.notebook.markdown import labels_in
from eln.notebook.models import NotebookAttachment, NotebookEntry, NotebookMention
from eln.services import ChildSet, RecordSpec, record_delete, record_save, register

ENTRY = register(RecordSpec(NotebookEntry, children={"mentions": ChildSet(NotebookMention, "entry", key=("label",))}))
ATTACHMENT = register(RecordSpec(NotebookAttachment))

# The first bytes of the images shown inline; any other file is offered for download.
IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                    (b"GIF89a", "image/gif"))


def mentions_of(body: str) -> list[dict]:
    """The records the text names (those that exist, of any project), as mention rows."""
    labels = labels_in(body)
    found = find_records(labels)
    return [{"label": label} for label in labels if label in found]


def notebook_entry_write(*, user, project, title: str, body: str = "", attachments=(), **fields) -> NotebookEntry:
    """A new entry in ``project``, with the files in ``attachments`` (uploaded files)."""
    with transaction.atomic():
        entry = record_save(ENTRY, user=user, record=NotebookEntry(project=project),
                            fields={"title": title, "body": body, **fields}, children={"mentions": mentions_of(body)})
        for uploaded in attachments:
            notebook_attachment_add(user=user, entry=entry, uploaded=uploaded)
    return entry


def notebook_entry_update(*, user, entry: NotebookEntry, attachments=(), remove_attachments=(), **fields) -> NotebookEntry:
    """Change an entry's fields; add the files in ``attachments``; remove ``remove_attachments``."""
    fields.pop("project", None)
    # the text may come among the fields or be set on the entry already (the admin's form)
    children = {"mentions": mentions_of(fields.get("body", entry.body))}
    with transaction.atomic():
        for attachment in remove_attachments:
            notebook_attachment_remove(user=user, attachment=attachment)
        entry = record_save(ENTRY, user=user, record=entry, fields=fields, children=children)
        for uploaded in attachments:
            notebook_attachment_add(user=user, entry=entry, uploaded=uploaded)
    return entry


def notebook_entry_delete(*, user, entry: NotebookEntry) -> None:
    record_delete(user=user, record=entry)


def clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip() or "attachment"
    return re.sub(r"[^\w.\-+ ()]", "_", base)[:200]


def _kind_of(head: bytes) -> str | None:
    for signature, content_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def notebook_attachment_add(*, user, entry: NotebookEntry, uploaded) -> NotebookAttachment:
    """Keep an uploaded file with the entry (through the default storage). A file of the name of
    one already attached is refused with that name; so is one above the size limit."""
    name = clean_name(uploaded.name)
    limit = settings.ELN_NOTEBOOK_ATTACHMENT_MAX_BYTES
    if uploaded.size > limit:
        raise ValidationError({"attachments": [
            f"{name} is {uploaded.size} bytes; an attachment may have at most {limit} bytes."]})
    if entry.attachments.filter(original_name=name).exists():
        raise ValidationError({"attachments": [f"{entry.human_id} already has an attachment named {name}; "
                                               "remove it first or rename the file."]})
    digest = hashlib.sha256()
    uploaded.seek(0)
    head = uploaded.read(16)
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    content_type = _kind_of(head)
    attachment = NotebookAttachment(entry=entry, original_name=name, size_bytes=uploaded.size, sha256=digest.hexdigest(),
                                    content_type=content_type or "application/octet-stream",
                                    is_image=content_type is not None, uploaded_by=user)
    with transaction.atomic():
        attachment.file.save(name, uploaded, save=False)
        return record_save(ATTACHMENT, user=user, record=attachment, reason="attached")


def notebook_attachment_remove(*, user, attachment: NotebookAttachment) -> None:
    """Take a file off its entry. The stored file stays (the entry's history names it)."""
    record_delete(user=user, record=attachment)
