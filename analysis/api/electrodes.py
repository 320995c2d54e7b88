"""Reads of the three-electrode results: a dataset's per-electrode cycle table, its capacity in
potential ranges, its degradation modes per cycle with the fits behind them, dQ/dE and dE/dQ
curves of chosen cycles and electrodes (down-sampled), a cell's diagnosis with its links, and a
balanced cell's fade prediction beside its measured fade. Read-only and project-scoped: a
record of another project is a 404."""
import numpy as np
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.core.downsample import min_max_indices
from analysis.core.electrodes.cycles import (
    ELECTRODE_CYCLE_COLUMNS,
    POTENTIAL_RANGE_COLUMNS,
    electrode_differential_curves,
)
from analysis.core.electrodes.differential import DE_DQ_DEFAULTS, DQ_DE_DEFAULTS
from analysis.core.electrodes.dma import FIT_COLUMNS, MODE_COLUMNS
from analysis.core.electrodes.fade import PREDICTION_COLUMNS
from analysis.core.electrodes.three_electrode import HalfCycles, table_metadata, three_electrode_from_table
from analysis.electrodes import linked_full_cells, linked_three_electrode_cells
from analysis.models import (
    CellDiagnosis,
    DegradationModeCycle,
    ElectrodeAnalysis,
    ElectrodeBranchFit,
    ElectrodeCycle,
    ElectrodePotentialRange,
    FadePrediction,
    FadePredictionCycle,
)
from analysis.services import StageFailed, read_canonical
from cells.models import Cell, Dataset
from eln.permissions import visible_records

ROLES = ("positive", "negative")
MAX_CURVE_POINTS = 200_000


def _label(record):
    return record.human_id if record is not None else None


# --- serializers ---------------------------------------------------------------------------------


class ElectrodeCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = ElectrodeCycle
        fields = tuple(ELECTRODE_CYCLE_COLUMNS)


class PotentialRangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ElectrodePotentialRange
        fields = tuple(POTENTIAL_RANGE_COLUMNS)


class BranchFitSerializer(serializers.ModelSerializer):
    class Meta:
        model = ElectrodeBranchFit
        fields = tuple(name for name in FIT_COLUMNS if name != "cycle_number")


class PredictionCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = FadePredictionCycle
        fields = (*PREDICTION_COLUMNS, "measured_retention", "difference")


def analysis_summary(analysis: ElectrodeAnalysis) -> dict:
    """Where the potentials came from, the consistency check and the reference curves used."""
    return {
        "computed_at": analysis.computed_at,
        "working_electrode": analysis.working_electrode,
        "potential_sources": analysis.potential_sources,
        "consistency_check": {
            "status": analysis.consistency_status, "message": analysis.consistency_message,
            "tolerance_v": analysis.consistency_tolerance_v, "max_abs_error_v": analysis.consistency_max_abs_error_v,
            "rms_error_v": analysis.consistency_rms_error_v, "rows": analysis.consistency_rows,
            "rows_over_tolerance": analysis.consistency_rows_over_tolerance,
            "worst_row": analysis.consistency_worst_row,
        },
        "references": {role: {"dataset": _label(getattr(analysis, f"{role}_reference_dataset")),
                              "cycle": getattr(analysis, f"{role}_reference_cycle"),
                              "source": getattr(analysis, f"{role}_reference_source")} for role in ROLES},
        "modes": {"status": analysis.modes_status, "messages": analysis.modes_messages,
                  "reference_cycle": analysis.modes_reference_cycle},
        "params": analysis.params,
    }


def diagnosis_body(diagnosis: CellDiagnosis) -> dict:
    return {
        "cell": diagnosis.cell.human_id, "dataset": diagnosis.dataset.human_id, "computed_at": diagnosis.computed_at,
        "sentence": diagnosis.sentence,
        "limiting_electrode": {direction: {
            "electrode": getattr(diagnosis, f"{direction}_limited_by") or None,
            "share": getattr(diagnosis, f"{direction}_limiting_share"),
            "since_cycle": getattr(diagnosis, f"{direction}_limited_since_cycle")}
            for direction in ("charge", "discharge")},
        "dominant_mode": {"mode": diagnosis.dominant_mode or None, "total": diagnosis.dominant_mode_total,
                          "per_cycle": diagnosis.dominant_mode_per_cycle,
                          "by_cycle": diagnosis.dominant_mode_last_cycle},
        "modes": {name: getattr(diagnosis, name) for name in (
            "loss_of_sodium_inventory", "loss_of_positive_active_material", "loss_of_negative_active_material")},
        "sodium_lost_at": diagnosis.sodium_lost_at or None,
        "overpotential": {
            "grew": diagnosis.overpotential_grew, "threshold_v": diagnosis.overpotential_threshold_v,
            **{role: {"rise_v": getattr(diagnosis, f"{role}_overpotential_rise_v"),
                      "measure": getattr(diagnosis, f"{role}_overpotential_measure") or None} for role in ROLES}},
        "modes_status": diagnosis.modes_status, "consistency_check": diagnosis.consistency_status,
        "warnings": diagnosis.warnings, "numbers": diagnosis.numbers,
        "method": diagnosis.method, "params": diagnosis.params, "version": diagnosis.version,
    }


def prediction_body(prediction: FadePrediction) -> dict:
    return {
        "cell": prediction.cell.human_id, "computed_at": prediction.computed_at,
        "status": prediction.status, "message": prediction.message, "sentence": prediction.sentence,
        "half_cells": {role: {"cell": _label(getattr(prediction, f"{role}_half_cell")),
                              "dataset": _label(getattr(prediction, f"{role}_dataset")),
                              "why": getattr(prediction, f"{role}_choice")} for role in ROLES},
        "np_ratio": prediction.np_ratio, "np_basis": prediction.np_basis,
        "measured_dataset": _label(prediction.measured_dataset),
        "reference_cycle": prediction.reference_cycle, "cycle": prediction.cycle,
        "predicted_retention": prediction.predicted_retention, "measured_retention": prediction.measured_retention,
        "difference_pp": prediction.difference_pp, "explained_fraction": prediction.explained_fraction,
        "method": prediction.method, "params": prediction.params, "version": prediction.version,
    }


# --- query parameters -------------------------------------------------------------------------------


def _cycle_list(value: str) -> list[tuple[int, int]]:
    ranges = []
    for part in value.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise serializers.ValidationError(f"{part.strip()!r} is not a cycle (3) or a range (2-5).")
        first, last = int(first), int(last or first)
        if last < first:
            raise serializers.ValidationError(f"The range {part.strip()} ends before it starts.")
        ranges.append((first, last))
    return ranges


class CycleQuery(serializers.Serializer):
    """?cycles=2-5,10&electrode=positive"""

    cycles = serializers.CharField(required=False, max_length=500,
                                   help_text="cycles and ranges, comma-separated (1,5,10-12); all when absent")
    electrode = serializers.ChoiceField(choices=ROLES, required=False, help_text="positive or negative")

    def validate_cycles(self, value):
        return _cycle_list(value)


class CurveQuery(CycleQuery):
    """?kind=dq_de&cycles=1,20&electrodes=negative&points=500"""

    electrode = None
    kind = serializers.ChoiceField(choices=("dq_de", "de_dq"), default="dq_de",
                                   help_text="dq_de: dQ/dE against E; de_dq: dE/dQ against Q")
    electrodes = serializers.CharField(required=False, max_length=40, help_text="positive, negative or both")
    points = serializers.IntegerField(min_value=2, max_value=MAX_CURVE_POINTS, required=False,
                                      help_text="at most this many points per curve")
    bin_width_v = serializers.FloatField(required=False, help_text=f"dq_de (default {DQ_DE_DEFAULTS['bin_width_v']})")
    fwhm_v = serializers.FloatField(required=False, help_text=f"dq_de (default {DQ_DE_DEFAULTS['fwhm_v']})")
    step_fraction = serializers.FloatField(required=False,
                                           help_text=f"de_dq (default {DE_DQ_DEFAULTS['step_fraction']})")
    window_fraction = serializers.FloatField(required=False,
                                             help_text=f"de_dq (default {DE_DQ_DEFAULTS['window_fraction']})")
    polyorder = serializers.IntegerField(required=False, min_value=1, max_value=10,
                                         help_text=f"de_dq (default {DE_DQ_DEFAULTS['polyorder']})")

    def validate_electrodes(self, value):
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in ROLES]
        if unknown or not names:
            raise serializers.ValidationError(
                f"The electrodes are positive and negative, not {', '.join(unknown) or value}.")
        return names

    def validate(self, attrs):
        defaults = DQ_DE_DEFAULTS if attrs["kind"] == "dq_de" else DE_DQ_DEFAULTS
        other = [name for name in (*DQ_DE_DEFAULTS, *DE_DQ_DEFAULTS) if name in attrs and name not in defaults]
        if other:
            raise serializers.ValidationError(
                {other[0]: [f"{other[0]} is a parameter of the other kind of curve; {attrs['kind']} takes "
                            f"{', '.join(defaults)}."]})
        return attrs


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _in_cycles(queryset, ranges):
    if not ranges:
        return queryset
    where = Q()
    for first, last in ranges:
        where |= Q(cycle_number__gte=first, cycle_number__lte=last)
    return queryset.filter(where)


# --- what the answers hold, for the schema ---------------------------------------------------------

OBJECT = serializers.DictField()
ROWS = serializers.ListField(child=serializers.DictField())
ELECTRODE_TABLE = inline_serializer("ElectrodeCycleTable", {
    "dataset": serializers.CharField(), "analysis": OBJECT, "count": serializers.IntegerField(),
    "results": ElectrodeCycleSerializer(many=True)})
RANGE_TABLE = inline_serializer("PotentialRangeTable", {
    "dataset": serializers.CharField(), "params": OBJECT, "count": serializers.IntegerField(),
    "results": PotentialRangeSerializer(many=True)})
MODE_TABLE = inline_serializer("DegradationModeTable", {
    "dataset": serializers.CharField(), "status": serializers.CharField(), "messages": serializers.ListField(),
    "reference_cycle": serializers.IntegerField(allow_null=True), "references": OBJECT, "params": OBJECT,
    "count": serializers.IntegerField(), "results": ROWS})
CURVES = inline_serializer("ElectrodeCurves", {
    "dataset": serializers.CharField(), "kind": serializers.CharField(), "method": serializers.CharField(),
    "params": OBJECT, "curves": ROWS})
DIAGNOSIS = inline_serializer("CellDiagnosis", {
    "cell": serializers.CharField(), "kind": serializers.CharField(), "fade_prediction": OBJECT,
    "diagnosis": OBJECT, "linked_full_cells": ROWS, "linked_three_electrode_cells": ROWS})
PREDICTION = inline_serializer("FadePredictionTable", {
    "cell": serializers.CharField(), "status": serializers.CharField(), "sentence": serializers.CharField(),
    "predicted_retention": serializers.FloatField(allow_null=True),
    "measured_retention": serializers.FloatField(allow_null=True),
    "difference_pp": serializers.FloatField(allow_null=True), "count": serializers.IntegerField(),
    "results": PredictionCycleSerializer(many=True)})


# --- views -------------------------------------------------------------------------------------------


class ProjectRecordView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    def dataset(self, request, human_id) -> Dataset:
        return get_object_or_404(visible_records(request.user, Dataset.objects.select_related("run__cell")),
                                 human_id=human_id)

    def analysis(self, request, human_id) -> ElectrodeAnalysis:
        dataset = self.dataset(request, human_id)
        analysis = (ElectrodeAnalysis.objects.filter(dataset=dataset)
                    .select_related("dataset", "positive_reference_dataset", "negative_reference_dataset").first())
        if analysis is None:
            cell = dataset.run.cell
            if cell.kind != Cell.Kind.THREE_ELECTRODE:
                raise NotFound(f"{dataset.human_id} was measured on {cell.human_id}, a {cell.get_kind_display()}: "
                               "only a three-electrode cell's data are analysed per electrode.")
            stage = dataset.stages.filter(name="electrodes").first()
            state = f"{stage.state}" + (f": {stage.message}" if stage and stage.message else "") if stage else "queued"
            raise NotFound(f"{dataset.human_id} has no three-electrode analysis yet (three-electrode analysis "
                           f"{state}).")
        return analysis


class DatasetElectrodesView(ProjectRecordView):
    """The per-electrode cycle table of a three-electrode dataset: one row per cycle and electrode."""

    @extend_schema(parameters=[CycleQuery], responses=ELECTRODE_TABLE)
    def get(self, request, human_id: str):
        query = _query(CycleQuery, request)
        analysis = self.analysis(request, human_id)
        rows = _in_cycles(ElectrodeCycle.objects.filter(dataset=analysis.dataset), query.get("cycles"))
        if "electrode" in query:
            rows = rows.filter(electrode=query["electrode"])
        return Response({"dataset": analysis.dataset.human_id, "analysis": analysis_summary(analysis),
                         "count": len(rows), "results": ElectrodeCycleSerializer(rows, many=True).data})


class DatasetPotentialRangesView(ProjectRecordView):
    """The capacity each electrode passed in its characteristic potential ranges, per cycle."""

    @extend_schema(parameters=[CycleQuery], responses=RANGE_TABLE)
    def get(self, request, human_id: str):
        query = _query(CycleQuery, request)
        analysis = self.analysis(request, human_id)
        rows = _in_cycles(ElectrodePotentialRange.objects.filter(dataset=analysis.dataset), query.get("cycles"))
        if "electrode" in query:
            rows = rows.filter(electrode=query["electrode"])
        return Response({"dataset": analysis.dataset.human_id, "params": analysis.params.get("potential_ranges"),
                         "count": len(rows), "results": PotentialRangeSerializer(rows, many=True).data})


class DatasetDegradationModesView(ProjectRecordView):
    """The degradation modes per cycle (against the reference cycle), each with the branch fits
    it comes from: their residuals and the reference curve used."""

    @extend_schema(parameters=[CycleQuery], responses=MODE_TABLE)
    def get(self, request, human_id: str):
        query = _query(CycleQuery, request)
        analysis = self.analysis(request, human_id)
        modes = list(_in_cycles(DegradationModeCycle.objects.filter(dataset=analysis.dataset), query.get("cycles")))
        fits = {}
        for fit in _in_cycles(ElectrodeBranchFit.objects.filter(dataset=analysis.dataset), query.get("cycles")):
            fits.setdefault(fit.cycle_number, []).append(BranchFitSerializer(fit).data)
        results = [{**{name: getattr(row, name) for name in MODE_COLUMNS}, "fits": fits.get(row.cycle_number, [])}
                   for row in modes]
        summary = analysis_summary(analysis)
        return Response({"dataset": analysis.dataset.human_id, "status": analysis.modes_status,
                         "messages": analysis.modes_messages, "reference_cycle": analysis.modes_reference_cycle,
                         "references": summary["references"], "params": analysis.params.get("modes"),
                         "count": len(results), "results": results})


class DatasetElectrodeCurvesView(ProjectRecordView):
    """dQ/dE or dE/dQ of each electrode in chosen cycles, computed from the canonical data with
    the stated method and parameters, down-sampled (each bucket's extremes kept)."""

    @extend_schema(parameters=[CurveQuery], responses=CURVES)
    def get(self, request, human_id: str):
        query = _query(CurveQuery, request)
        analysis = self.analysis(request, human_id)
        dataset = analysis.dataset
        rows = list(_in_cycles(ElectrodeCycle.objects.filter(dataset=dataset, electrode="positive"),
                               query.get("cycles")).order_by("cycle_number"))
        if not rows:
            raise ValidationError({"cycles": [f"{dataset.human_id} has no such cycles."]})
        halves = [(row.cycle_number, direction, getattr(row, f"{direction}_start_row"),
                   getattr(row, f"{direction}_end_row"))
                  for row in rows for direction in ("charge", "discharge")
                  if getattr(row, f"{direction}_start_row") is not None]
        halves.sort(key=lambda h: h[2])
        start, stop = min(h[2] for h in halves), max(h[3] for h in halves) + 1
        try:
            table = read_canonical(dataset, columns=["test_time_s", "current_ma", "voltage_v", "ewe_v", "ece_v"])
        except StageFailed as error:
            raise NotFound(str(error)) from None
        data = three_electrode_from_table(table.slice(start, stop - start),
                                          working_electrode=analysis.working_electrode)
        half_cycles = HalfCycles.from_rows(cycle_number=[h[0] for h in halves], direction=[h[1] for h in halves],
                                           start_row=[h[2] - start for h in halves],
                                           end_row=[h[3] - start for h in halves],
                                           n_rows=stop - start)
        params = {name: query[name] for name in (*DQ_DE_DEFAULTS, *DE_DQ_DEFAULTS) if name in query}
        try:
            curves = electrode_differential_curves(data, half_cycles, kind=query["kind"],
                                                   electrodes=query.get("electrodes", ROLES), **params)
        except ValueError as error:
            raise ValidationError({"detail": [str(error)]}) from None
        meta = table_metadata(curves)
        x_name, y_name = curves.column_names[3], curves.column_names[4]
        columns = {name: curves.column(name).to_numpy(zero_copy_only=False) for name in curves.column_names}
        groups: dict[tuple, list[int]] = {}  # one curve per cycle, electrode and half cycle
        for k, key in enumerate(zip(columns["cycle_number"].tolist(), columns["electrode"].tolist(),
                                    columns["half_cycle"].tolist())):
            groups.setdefault(key, []).append(k)
        out = []
        for (cycle, electrode, half), rows_of_curve in groups.items():
            members = np.asarray(rows_of_curve)
            if "points" in query:
                members = members[min_max_indices(columns[y_name][members], query["points"])]
            out.append({"cycle_number": int(cycle), "electrode": electrode, "half_cycle": half,
                        "rows": len(rows_of_curve), "points": int(members.size),
                        x_name: [float(v) for v in columns[x_name][members]],
                        y_name: [None if not np.isfinite(v) else float(v) for v in columns[y_name][members]]})
        return Response({"dataset": dataset.human_id, "kind": query["kind"], "method": meta.get("method"),
                         "params": meta.get("params"), "curves": out})


class CellDiagnosisView(ProjectRecordView):
    """A three-electrode cell's diagnosis (and the full cells linked to it), or a full cell's
    links to three-electrode cells with their diagnoses beside its own fade and the fade its
    half cells predict."""

    @extend_schema(responses=DIAGNOSIS)
    def get(self, request, human_id: str):
        cell = get_object_or_404(visible_records(request.user, Cell.objects.all()), human_id=human_id)
        prediction = (FadePrediction.objects.filter(cell=cell)
                      .select_related("cell", "positive_half_cell", "negative_half_cell", "positive_dataset",
                                      "negative_dataset", "measured_dataset").first())
        body = {"cell": cell.human_id, "kind": cell.kind,
                "fade_prediction": prediction_body(prediction) if prediction else None}
        if cell.kind == Cell.Kind.THREE_ELECTRODE:
            diagnosis = CellDiagnosis.objects.filter(cell=cell).select_related("cell", "dataset").first()
            if diagnosis is None:
                raise NotFound(f"{cell.human_id} has no diagnosis yet: none of its datasets has been analysed per "
                               "electrode (see the datasets' status).")
            body.update(diagnosis=diagnosis_body(diagnosis),
                        linked_full_cells=[{"cell": full.human_id, "shared": shared}
                                           for full, shared in linked_full_cells(cell)])
            return Response(body)
        if cell.kind == Cell.Kind.FULL:
            links = linked_three_electrode_cells(cell)
            diagnoses = {d.cell_id: d for d in CellDiagnosis.objects.filter(
                cell__in=[other.pk for other, _shared in links]).select_related("cell", "dataset")}
            body["linked_three_electrode_cells"] = [
                {"cell": other.human_id, "shared": shared,
                 "diagnosis": diagnosis_body(diagnoses[other.pk]) if other.pk in diagnoses else None}
                for other, shared in links]
            return Response(body)
        raise NotFound(f"{cell.human_id} is a {cell.get_kind_display()}: diagnoses are made for three-electrode "
                       "cells and shown on the full cells linked to them.")


class CellFadePredictionView(ProjectRecordView):
    """A balanced cell's fade predicted from its half cells, cycle by cycle beside its measured fade."""

    @extend_schema(responses=PREDICTION)
    def get(self, request, human_id: str):
        cell = get_object_or_404(visible_records(request.user, Cell.objects.all()), human_id=human_id)
        prediction = (FadePrediction.objects.filter(cell=cell)
                      .select_related("cell", "positive_half_cell", "negative_half_cell", "positive_dataset",
                                      "negative_dataset", "measured_dataset").first())
        if prediction is None:
            if cell.kind not in Cell.BALANCED_KINDS:
                raise NotFound(f"{cell.human_id} is a {cell.get_kind_display()}: fades are predicted for full cells.")
            raise NotFound(f"{cell.human_id} has no fade prediction yet.")
        rows = FadePredictionCycle.objects.filter(prediction=prediction)
        return Response({**prediction_body(prediction), "count": len(rows),
                         "results": PredictionCycleSerializer(rows, many=True).data})
