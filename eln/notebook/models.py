"""Notebook entries, the records they mention and their attachments. Imported by eln/models.py."""
import re

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from eln.models import LabRecord


class NotebookEntry(LabRecord):
    """What a researcher did and saw, written in Markdown. Labels of records typed in the text
    (CELL-0042, LOT-0007) link to them; the entry shows on their pages."""

    HUMAN_ID_PREFIX = "NB"

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown; labels such as CELL-0042 become links, "
                                                  "![](attachment:photo.jpg) shows an attached image")
    history = HistoricalRecords()

    class Meta(LabRecord.Meta):
        verbose_name = "notebook entry"
        verbose_name_plural = "notebook entries"

    def __str__(self):
        return f"{self.human_id} {self.title}"

    @property
    def name(self):  # what record lists and the lineage show beside a label
        return self.title


class NotebookMention(models.Model):
    """A record the entry's text names, by its label (any kind of record: kept as text). Written
    by the entry's service from the text."""

    entry = models.ForeignKey(NotebookEntry, on_delete=models.CASCADE, related_name="mentions")
    label = models.CharField(max_length=20, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["entry", "label"]
        constraints = [models.UniqueConstraint(fields=["entry", "label"], name="one_mention_per_label")]

    def __str__(self):
        return f"{self.entry.human_id} mentions {self.label}"


def attachment_path(instance: "NotebookAttachment", filename: str) -> str:
    return f"notebook/{instance.entry.human_id}/{instance.sha256[:12]}/{filename}"


class NotebookAttachment(models.Model):
    """A file attached to an entry, kept through Django's storage API. Images (PNG, JPEG, GIF,
    WebP, told by their first bytes) are shown inline; any other file is offered for download."""

    entry = models.ForeignKey(NotebookEntry, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    is_image = models.BooleanField(default=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["entry", "pk"]
        constraints = [models.UniqueConstraint(fields=["entry", "original_name"], name="one_attachment_per_name")]

    def __str__(self):
        return f"{self.original_name} ({self.entry.human_id})"


LABEL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_-])([A-Z]{1,6}-\d{1,9})(?![A-Za-z0-9_-])")
