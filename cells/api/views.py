from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from cells import filtersets, models, selectors
from cells.api import serializers
from eln.api.views import LabRecordViewSet, ProjectRowsViewSet, SharedLabDataViewSet



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

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file exactly as the cycler wrote it, streamed."""
        raw = self.get_object()
        return FileResponse(raw.file.open("rb"), as_attachment=True, filename=raw.original_name)
