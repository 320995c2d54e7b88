from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action

from analysis.api import views as analysis_views
from analysis.api.serializers import CellMetricsSerializer, CycleSummarySerializer

from cells import filtersets, models
from cells.api import serializers
from eln.api.views import LabRecordViewSet, ProjectRowsViewSet, SharedLabDataViewSet

CELL_PREFETCH = (
    "parts__electrode__sheet__components__lot__material",
    "parts__electrode__sheet__loading_discs",
    "parts__alloy_batch",
)


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
    queryset = models.Cell.objects.select_related("project", "separator_batch").prefetch_related(*CELL_PREFETCH)
    serializer_class = serializers.CellSerializer
    filterset_class = filtersets.CellFilterSet
    search_fields = ["human_id", "name", "notes"]

    @extend_schema(responses=CellMetricsSerializer)
    @action(detail=True, methods=["get"])
    def metrics(self, request, human_id=None):
        """What a researcher reports for the cell, from its newest processed dataset."""
        return analysis_views.cell_metrics(self.get_object())


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


class DatasetViewSet(LabRecordViewSet):
    queryset = models.Dataset.objects.select_related("project", "run", "raw_file__run")
    serializer_class = serializers.DatasetSerializer
    filterset_class = filtersets.DatasetFilterSet
    http_method_names = ["get", "head", "options", "delete"]

    @extend_schema(responses=CycleSummarySerializer(many=True),
                   parameters=[OpenApiParameter("complete", bool, description="only complete cycles")])
    @action(detail=True, methods=["get"])
    def cycles(self, request, human_id=None):
        """The per-cycle summary of the dataset."""
        return analysis_views.cycle_summaries(self.get_object(), request)

    @extend_schema(parameters=[
        OpenApiParameter("cycles", str, description="one cycle (3) or a range (2-5)"),
        OpenApiParameter("points", int, description="down-sample to at most this many points"),
        OpenApiParameter("columns", str, description="comma-separated canonical columns"),
    ])
    @action(detail=True, methods=["get"])
    def data(self, request, human_id=None):
        """The canonical data of a cycle range, down-sampled on request, as columns."""
        return analysis_views.cycle_data(self.get_object(), request)
