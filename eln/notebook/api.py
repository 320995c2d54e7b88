"""Notebook entries in the API: `/api/v1/notebook-entries/` (the text as written and as rendered
for you, the records it mentions, its attachments), `…/NB-0001/history/`, and attachments added
(`POST …/NB-0001/attachments/`, multipart `file`) and removed (`DELETE …/attachments/<id>/`)."""
import django_filters as filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import fields, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from eln.api.serializers import LabRecordSerializer
from eln.api.views import LabRecordViewSet
from eln.notebook import selectors, services
from eln.notebook.models import NotebookAttachment, NotebookEntry
from eln.permissions import can_write


class NotebookEntryFilterSet(filters.FilterSet):
    project = filters.CharFilter(field_name="project__name")
    mentions = filters.CharFilter(field_name="mentions__label", distinct=True)
    created_by = filters.CharFilter(field_name="created_by__username")

    class Meta:
        model = NotebookEntry
        fields = []


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    url = serializers.SerializerMethodField()
    uploaded_by = serializers.StringRelatedField()

    class Meta:
        model = NotebookAttachment
        fields = ("id", "name", "content_type", "is_image", "size_bytes", "sha256", "uploaded_at", "uploaded_by", "url")
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        request = self.context.get("request")
        url = selectors.attachment_url(attachment)
        return request.build_absolute_uri(url) if request else url


class EntryListSerializer(serializers.ListSerializer):
    """Renders the entries of a page together: their links resolved once for all of them."""

    def to_representation(self, data):
        entries = list(data.all() if hasattr(data, "all") else data)
        request = self.context.get("request")
        self.child._shown = {s.entry.pk: s for s in selectors.shown_entries(entries, request.user)} if request else {}
        return super().to_representation(entries)


class NotebookEntrySerializer(LabRecordSerializer):
    body_html = serializers.SerializerMethodField(help_text="the text rendered and sanitised, links for your projects")
    mentions = serializers.SlugRelatedField(slug_field="label", many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    create_service = staticmethod(services.notebook_entry_write)
    update_service = staticmethod(services.notebook_entry_update)
    record_kwarg = "entry"

    class Meta:
        model = NotebookEntry
        fields = LabRecordSerializer.base_fields + ("title", "body", "body_html", "mentions", "attachments")
        list_serializer_class = EntryListSerializer

    def get_body_html(self, entry) -> str:
        shown = getattr(self, "_shown", {}).get(entry.pk)
        if shown is None:
            shown = selectors.shown_entries([entry], self.context["request"].user)[0]
        return str(shown.html)


class NotebookEntryViewSet(LabRecordViewSet):
    queryset = NotebookEntry.objects.all()
    serializer_class = NotebookEntrySerializer
    filterset_class = NotebookEntryFilterSet
    search_fields = ["human_id", "title", "body", "notes"]

    def get_queryset(self):
        return selectors.visible_entries(self.request.user)

    def perform_destroy(self, instance):
        services.notebook_entry_delete(user=self.request.user, entry=instance)

    @extend_schema(responses=inline_serializer("NotebookEntryHistory", {
        "entry": fields.CharField(), "history": fields.ListField(child=fields.DictField())}))
    @action(detail=True, methods=["get"])
    def history(self, request, human_id=None):
        """Every change of the entry and its attachments, newest first: when, who, what, the text then."""
        entry = self.get_object()
        return Response({"entry": entry.human_id, "history": [
            {"when": v.when, "who": v.who, "what": v.what, "title": v.title, "body": v.body}
            for v in selectors.entry_history(entry)]})

    def _writable(self, entry):
        if not can_write(self.request.user, entry.project):
            raise PermissionDenied("You are a reader of this project; only members with write rights change its entries.")

    @extend_schema(request={"multipart/form-data": inline_serializer("AttachmentUpload", {"file": fields.FileField()})},
                   responses={201: AttachmentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[parsers.MultiPartParser])
    def attachments(self, request, human_id=None):
        """Attach a file (an image is shown in the entry)."""
        entry = self.get_object()
        self._writable(entry)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise ValidationError({"file": ["Send the file as multipart form data in the field 'file'."]})
        try:
            attachment = services.notebook_attachment_add(user=request.user, entry=entry, uploaded=uploaded)
        except DjangoValidationError as refusal:
            raise ValidationError(refusal.message_dict if hasattr(refusal, "error_dict") else refusal.messages) from None
        return Response(AttachmentSerializer(attachment, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @attachments.mapping.delete
    def remove_attachment(self, request, human_id=None):
        """Remove an attachment: DELETE …/attachments/?id=<attachment id>."""
        entry = self.get_object()
        self._writable(entry)
        attachment = entry.attachments.filter(pk=request.query_params.get("id") or 0).first()
        if attachment is None:
            raise ValidationError({"id": [f"{entry.human_id} has no attachment with id {request.query_params.get('id')!r}."]})
        services.notebook_attachment_remove(user=request.user, attachment=attachment)
        return Response(status=status.HTTP_204_NO_CONTENT)
