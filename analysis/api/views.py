"""Reads of the analysis results: datasets with their per-cycle summaries (and quality flags),
canonical data and impedance spectra; a cell's cycle history and metrics. Leaving a dataset out
of its cell's history (and taking it back) and retrying a failed ingestion are the writes here."""
import math
from collections import defaultdict

import numpy as np
from django.core.exceptions import ValidationError as ModelValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.api.serializers import (
    CellMetricsSerializer,
    CycleDataQuerySerializer,
    CycleSummarySerializer,
    HistoryCycleSerializer,
    LeaveOutSerializer,
    QualityFlagSerializer,
)
from analysis.api.uploads import dataset_status
from analysis.core.downsample import min_max_indices
from analysis.models import CellMetrics, CycleSummary, QualityFlag
from analysis.services import (
    StageFailed,
    canonical_columns,
    dataset_include,
    dataset_leave_out,
    dataset_retry,
    read_canonical,
    spectrum_of,
)
from cells import filtersets
from cells.api.serializers import DatasetSerializer
from cells.models import Cell, Dataset
from eln.api.views import LabRecordViewSet
from eln.permissions import visible_records

# Beyond this many rows a JSON answer gets too large to be useful; plots ask for points.
MAX_ROWS_WITHOUT_POINTS = 100_000


def flags_by_cycle(datasets) -> dict:
    """Quality flags by (dataset id, cycle number), in one query."""
    flags = defaultdict(list)
    for flag in QualityFlag.objects.filter(dataset__in=datasets).order_by("id"):
        flags[(flag.dataset_id, flag.cycle_number)].append(flag)
    return flags


def cycle_summaries(dataset, request):
    rows = CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number")
    if request.query_params.get("complete") in ("true", "1"):
        rows = rows.filter(complete=True)
    if request.query_params.get("flagged") in ("true", "1"):
        rows = rows.filter(n_warnings__gt=0)
    flags = flags_by_cycle([dataset])
    return Response({
        "dataset": dataset.human_id, "state": dataset.state, "message": dataset.message,
        "measurement_kind": dataset.measurement_kind, "warnings": dataset.warning_count,
        "count": rows.count(),
        "dataset_flags": QualityFlagSerializer(flags.get((dataset.pk, None), []), many=True).data,
        "results": CycleSummarySerializer(rows, many=True, context={"flags": flags}).data})


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
    columns = {name: [None if isinstance(v, float) and not math.isfinite(v) else v
                      for v in picked[name].to_pylist()]
               for name in names}
    if cycle_of_row is not None:
        columns["cycle_number"] = cycle_of_row[start:stop][index].tolist()
    return Response({"dataset": dataset.human_id, "rows": int(stop - start), "points": len(index), "columns": columns})



class DatasetViewSet(LabRecordViewSet):
    """The datasets read from the cyclers' files, with what was computed from them."""

    queryset = Dataset.objects.select_related("project", "run", "raw_file__run", "raw_file__uploaded_by")
    serializer_class = DatasetSerializer
    filterset_class = filtersets.DatasetFilterSet
    http_method_names = ["get", "head", "options", "delete", "post"]

    @extend_schema(exclude=True)  # not an operation: it says where datasets come from
    def create(self, request, *args, **kwargs):
        raise MethodNotAllowed("POST", detail="Datasets are made by uploading a raw file to a run: "
                                              "POST /api/v1/cycling-runs/<run>/raw-files/.")

    @extend_schema(responses=CycleSummarySerializer(many=True),
                   parameters=[OpenApiParameter("complete", bool, description="only complete cycles"),
                               OpenApiParameter("flagged", bool, description="only cycles with quality flags")])
    @action(detail=True, methods=["get"])
    def cycles(self, request, human_id=None):
        """The per-cycle summary of the dataset."""
        return cycle_summaries(self.get_object(), request)

    @extend_schema(responses={200: OpenApiResponse(description="the spectrum, one entry per sweep")})
    @action(detail=True, methods=["get"])
    def spectrum(self, request, human_id=None):
        """The impedance spectrum of an impedance dataset: per sweep, frequency, Re Z, −Im Z, |Z|
        and the phase."""
        dataset = self.get_object()
        sweeps = spectrum_of(dataset)
        if not sweeps:
            kind = dataset.get_measurement_kind_display() or "not read yet"
            hint = (" The spectrum is in a companion file of the cycler (a Maccor .EDA file, say); "
                    "upload that file." if dataset.measurement_kind == Dataset.MeasurementKind.IMPEDANCE
                    else "")
            raise NotFound(f"{dataset.human_id} holds no impedance spectrum (it is {kind}).{hint}")
        return Response({"dataset": dataset.human_id, "measurement_kind": dataset.measurement_kind,
                         "units": {"freq_hz": "Hz", "re_z_ohm": "Ω", "minus_im_z_ohm": "Ω",
                                   "abs_z_ohm": "Ω", "phase_z_deg": "°"},
                         "sweeps": sweeps})

    @extend_schema(request=LeaveOutSerializer, responses=DatasetSerializer)
    @action(detail=True, methods=["post"], url_path="leave-out")
    def leave_out(self, request, human_id=None):
        """Leave the dataset out of its cell's cycle history and metrics, with the reason."""
        dataset = self.get_object()
        body = LeaveOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            dataset = dataset_leave_out(user=request.user, dataset=dataset, reason=body.validated_data["reason"])
        except ModelValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(DatasetSerializer(dataset, context={"request": request}).data)

    @extend_schema(request=None, responses=DatasetSerializer)
    @action(detail=True, methods=["post"])
    def include(self, request, human_id=None):
        """Take a dataset left out back into its cell's history."""
        dataset = dataset_include(user=request.user, dataset=self.get_object())
        return Response(DatasetSerializer(dataset, context={"request": request}).data)

    @extend_schema(request=None, responses={202: OpenApiResponse(description="queued again: the dataset's status")})
    @action(detail=True, methods=["post"])
    def retry(self, request, human_id=None):
        """Queue a failed ingestion again from the stored raw file (writers of its project)."""
        dataset = dataset_retry(user=request.user, dataset=self.get_object())
        body = dataset_status(request, Dataset.objects.select_related("run", "raw_file")
                              .prefetch_related("stages").get(pk=dataset.pk))
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})

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
            raise NotFound(f"{cell.human_id} has no metrics yet: no cycling dataset of it has been processed.")
        return Response(CellMetricsSerializer(metrics).data)


class CellCyclesView(APIView):
    """The cell's cycle history: every cycle of its cycling datasets not left out, in time
    order, numbered on across runs, with the dataset each comes from and its flags."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=HistoryCycleSerializer(many=True),
                   parameters=[OpenApiParameter("complete", bool, description="only complete cycles")])
    def get(self, request, human_id: str):
        cell = get_object_or_404(visible_records(request.user, Cell.objects.all()), human_id=human_id)
        rows = (CycleSummary.objects.filter(dataset__run__cell=cell, history_cycle_number__isnull=False)
                .select_related("dataset__run").order_by("history_cycle_number"))
        if request.query_params.get("complete") in ("true", "1"):
            rows = rows.filter(complete=True)
        metrics = CellMetrics.objects.filter(cell=cell).first()
        datasets = {row.dataset_id for row in rows}
        return Response({
            "cell": cell.human_id, "count": len(rows),
            "sources": metrics.sources if metrics else [], "left_out": metrics.left_out if metrics else [],
            "results": HistoryCycleSerializer(rows, many=True, context={"flags": flags_by_cycle(datasets)}).data})
