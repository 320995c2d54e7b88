"""Reads of the analysis results: datasets with their per-cycle summaries and canonical data,
and cell metrics."""
import numpy as np
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.api.serializers import (
    CellMetricsSerializer,
    CycleDataQuerySerializer,
    CycleSummarySerializer,
)
from analysis.core.downsample import min_max_indices
from analysis.models import CellMetrics, CycleSummary
from analysis.services import StageFailed, canonical_columns, read_canonical
from cells import filtersets
from cells.api.serializers import DatasetSerializer
from cells.models import Cell, Dataset
from eln.api.views import LabRecordViewSet
from eln.permissions import visible_records

# Beyond this many rows a JSON answer gets too large to be useful; plots ask for points.
MAX_ROWS_WITHOUT_POINTS = 100_000


def cycle_summaries(dataset, request):
    rows = CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number")
    if request.query_params.get("complete") in ("true", "1"):
        rows = rows.filter(complete=True)
    return Response({"dataset": dataset.human_id, "count": rows.count(),
                     "results": CycleSummarySerializer(rows, many=True).data})


def cycle_data(dataset, request):
    query = CycleDataQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    if not dataset.parquet_file:
        raise NotFound(f"{dataset.human_id} has no canonical data yet (state: {dataset.state}).")
    try:
        available = canonical_columns(dataset)
    except StageFailed as error:
        raise NotFound(str(error)) from None
    wanted = query.validated_data.get("columns")
    names = [c.strip() for c in wanted.split(",")] if wanted else available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValidationError({"columns": [f"Not in this dataset: {', '.join(unknown)}. "
                                           f"It has: {', '.join(available)}."]})
    # Only the columns asked for (and the voltage the down-sampling keeps the shape of).
    shape_column = "voltage_v" if "voltage_v" in available else names[0]
    table = read_canonical(dataset, columns=list(dict.fromkeys([*names, shape_column])))
    start, stop, cycle_of_row = 0, table.num_rows, None
    summaries = list(CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number")
                     .values_list("cycle_number", "start_row", "end_row"))
    if "cycles" in query.validated_data:
        first, last = query.validated_data["cycles"]
        chosen = [s for s in summaries if first <= s[0] <= last]
        if not chosen:
            raise ValidationError({"cycles": [f"{dataset.human_id} has no cycles {first}-{last}; it has "
                                              f"{summaries[0][0]}-{summaries[-1][0]}." if summaries
                                              else f"{dataset.human_id} has no cycles."]})
        start, stop = chosen[0][1], chosen[-1][2] + 1
    if summaries:
        cycle_of_row = np.full(table.num_rows, -1)
        for number, first_row, last_row in summaries:
            cycle_of_row[first_row:last_row + 1] = number
    part = table.slice(start, stop - start)
    index = np.arange(part.num_rows)
    if "points" not in query.validated_data and part.num_rows > MAX_ROWS_WITHOUT_POINTS:
        raise ValidationError({"points": [f"These cycles hold {part.num_rows} rows; ask for at most "
                                          f"{MAX_ROWS_WITHOUT_POINTS} with points=, or a shorter cycle range."]})
    if "points" in query.validated_data:
        index = min_max_indices(part[shape_column].to_numpy(zero_copy_only=False), query.validated_data["points"])
    picked = part.take(index)
    columns = {name: [None if isinstance(v, float) and v != v else v for v in picked[name].to_pylist()]
               for name in names}
    if cycle_of_row is not None:
        columns["cycle_number"] = cycle_of_row[start:stop][index].tolist()
    return Response({"dataset": dataset.human_id, "rows": int(stop - start), "points": len(index), "columns": columns})



class DatasetViewSet(LabRecordViewSet):
    """The datasets read from the cyclers' files, with what was computed from them."""

    queryset = Dataset.objects.select_related("project", "run", "raw_file__run", "raw_file__uploaded_by")
    serializer_class = DatasetSerializer
    filterset_class = filtersets.DatasetFilterSet
    http_method_names = ["get", "head", "options", "delete"]

    @extend_schema(responses=CycleSummarySerializer(many=True),
                   parameters=[OpenApiParameter("complete", bool, description="only complete cycles")])
    @action(detail=True, methods=["get"])
    def cycles(self, request, human_id=None):
        """The per-cycle summary of the dataset."""
        return cycle_summaries(self.get_object(), request)

    @extend_schema(parameters=[
        OpenApiParameter("cycles", str, description="one cycle (3) or a range (2-5)"),
        OpenApiParameter("points", int, description="down-sample to at most this many points"),
        OpenApiParameter("columns", str, description="comma-separated canonical columns"),
    ])
    @action(detail=True, methods=["get"])
    def data(self, request, human_id=None):
        """The canonical data of a cycle range, down-sampled on request, as columns."""
        return cycle_data(self.get_object(), request)


class CellMetricsView(APIView):
    """What a researcher reports for the cell, from its processed cycling data."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=CellMetricsSerializer)
    def get(self, request, human_id: str):
        cell = get_object_or_404(visible_records(request.user, Cell.objects.all()), human_id=human_id)
        metrics = CellMetrics.objects.filter(cell=cell).select_related("cell", "dataset").first()
        if metrics is None:
            raise NotFound(f"{cell.human_id} has no metrics yet: no dataset of it has been processed.")
        return Response(CellMetricsSerializer(metrics).data)
