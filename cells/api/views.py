from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import fields, permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from cells import filtersets, models, selectors
from cells.api import serializers
from eln.api.schema import DETAIL
from eln.api.views import LabRecordViewSet, ProjectRowsViewSet, SharedLabDataViewSet
from eln.permissions import visible_projects



class CyclerViewSet(SharedLabDataViewSet):
    queryset = models.Cycler.objects.prefetch_related("channels")
    serializer_class = serializers.CyclerSerializer
    filterset_class = filtersets.CyclerFilterSet
    search_fields = ["name", "model", "serial_number"]


class ChannelViewSet(SharedLabDataViewSet):
    queryset = models.Channel.objects.select_related("cycler")
    serializer_class = serializers.ChannelSerializer
    filterset_class = filtersets.ChannelFilterSet


class ProtocolViewSet(LabRecordViewSet):
    queryset = models.Protocol.objects.select_related("project").prefetch_related("steps")
    serializer_class = serializers.ProtocolSerializer
    filterset_class = filtersets.ProtocolFilterSet
    search_fields = ["human_id", "name", "description"]


class CellViewSet(LabRecordViewSet):
    queryset = selectors.cells_with_parts()
    serializer_class = serializers.CellSerializer
    filterset_class = filtersets.CellFilterSet
    search_fields = ["human_id", "name", "notes"]


class CyclingRunViewSet(LabRecordViewSet):
    queryset = models.CyclingRun.objects.select_related("project", "cell", "protocol", "channel__cycler")
    serializer_class = serializers.CyclingRunSerializer
    filterset_class = filtersets.CyclingRunFilterSet


class RawDataFileViewSet(ProjectRowsViewSet):
    queryset = models.RawDataFile.objects.select_related("run", "uploaded_by")
    project_path = "run__project"
    serializer_class = serializers.RawDataFileSerializer
    filterset_class = filtersets.RawDataFileFilterSet

    @extend_schema(responses={(200, "application/octet-stream"): bytes,
                              410: OpenApiResponse(DETAIL, description="the file is gone from the file store; "
                                                                      "the message says how to put it back")})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file exactly as the cycler wrote it, streamed."""
        raw = self.get_object()
        try:
            handle = raw.file.open("rb")
        except FileNotFoundError:
            raise FileGone(raw.gone_message) from None
        return FileResponse(handle, as_attachment=True, filename=raw.original_name)


class FileGone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"


def _node(record) -> dict:
    return {"id": record.human_id, "type": record._meta.model_name, "label": str(record),
            "project": record.project.name}


class LineageView(APIView):
    """Where a record came from (upstream to the lots) and what was made from it (downstream to
    the cells, their runs and datasets), as edges between records by label."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=inline_serializer("Lineage", {
        "record": fields.DictField(), "records": fields.ListField(child=fields.DictField()),
        "upstream": fields.ListField(child=fields.DictField()),
        "downstream": fields.ListField(child=fields.DictField()),
    }))
    def get(self, request, human_id: str):
        record = selectors.record_by_label(human_id)
        visible = set(visible_projects(request.user).values_list("pk", flat=True))
        if record is None or record.project_id not in visible:
            raise NotFound(f"No record {human_id} in your projects.")
        lineage = selectors.record_lineage(record)

        def edges(found):
            return [{"from": e.source.human_id, "to": e.target.human_id, "relation": e.relation} for e in found
                    if e.source.project_id in visible and e.target.project_id in visible]

        return Response({
            "record": _node(lineage.record),
            "records": [_node(r) for r in lineage.records if r.project_id in visible],
            "upstream": edges(lineage.upstream),
            "downstream": edges(lineage.downstream),
        })
