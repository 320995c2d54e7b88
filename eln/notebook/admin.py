"""Notebook entries in the admin, written through their service; what they mention and their
attachments shown read-only (attachments are added on the entry's page or through the API).
Imported by eln/admin.py."""
from django.contrib import admin
from django.utils.html import format_html_join

from eln.admin import HistoryAdmin, LabRecordAdmin, ReadOnlyAdminMixin
from eln.notebook import services
from eln.notebook.models import NotebookAttachment, NotebookEntry, NotebookMention


@admin.register(NotebookEntry)
class NotebookEntryAdmin(LabRecordAdmin):
    create_service = staticmethod(services.notebook_entry_write)
    update_service = staticmethod(services.notebook_entry_update)
    record_kwarg = "entry"
    list_display = ("human_id", "title", "project", "created_at", "created_by")
    search_fields = ("human_id", "title", "body", "notes")
    readonly_fields = LabRecordAdmin.readonly_fields + ("mentioned", "attached")

    @admin.display(description="records it mentions")
    def mentioned(self, entry):
        return ", ".join(entry.mentions.values_list("label", flat=True)) or "—"

    @admin.display(description="attachments")
    def attached(self, entry):
        rows = entry.attachments.values_list("original_name", "size_bytes")
        return format_html_join(", ", "{} ({} bytes)", rows) or "—"


@admin.register(NotebookMention)
class NotebookMentionAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    project_path = "entry__project"
    list_display = ("entry", "label")
    search_fields = ("label", "entry__human_id")
    list_select_related = ("entry",)


@admin.register(NotebookAttachment)
class NotebookAttachmentAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    project_path = "entry__project"
    list_display = ("original_name", "entry", "content_type", "size_bytes", "uploaded_at", "uploaded_by")
    search_fields = ("original_name", "entry__human_id")
    list_select_related = ("entry", "uploaded_by")
