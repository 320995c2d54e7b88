"""The data of a dataset's plots, down-sampled on the server: every series holds at most
``points`` points (1,000 by default, 5,000 at most) whatever the length of the test.

* ``voltage``: the cell's voltage against test time, and for a three-electrode cell each
  electrode's potential against the reference beside it;
* ``voltage-capacity``: voltage against the capacity passed in each half cycle of chosen cycles
  (first, 10th and last by default), per gram of active material when the cell's active mass is
  known;
* ``capacity``: charge and discharge capacity and coulombic efficiency against cycle;
* ``rate``: the out half cycle's capacity (the discharge; a Sn half cell's desodiation) of each
  cycle against cycle, one series per nominal C-rate, with the rate capability table;
* ``dqdv``: incremental capacity dQ/dV of the chosen cycles' half cycles (the discharge's drawn
  negative, below the axis).

Each answer: the plot's axes, and its series, each with its own x and y (``rows``: points before
down-sampling). The numbers come from the pure core (``analysis.core``); the rows kept from
:func:`analysis.core.downsample.min_max_indices`, which keeps every step's ends.
"""
from __future__ import annotations

import math

import numpy as np
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.core.definitions import for_kind
from analysis.core.downsample import min_max_indices
from analysis.core.electrodes.cycles import cumulative_capacity_mah
from analysis.core.electrodes.differential import incremental_capacity
from analysis.core.electrodes.three_electrode import three_electrode_from_table
from analysis.core.metrics import c_rate_groups, rate_capability
from analysis.models import CycleStep, CycleSummary, ElectrodeAnalysis
from analysis.services import StageFailed, canonical_columns, read_canonical
from cells.models import Cell, Dataset
from cells.selectors import cells_with_parts
from eln.permissions import visible_records

DEFAULT_POINTS = 1000
MAX_POINTS = 5000
MAX_CYCLES = 12
HOURS_PER_S = 1 / 3600.0


# --- query parameters ----------------------------------------------------------------------------

def cycle_numbers(value: str) -> list[int]:
    """'1, 10, 120' -> [1, 10, 120]."""
    numbers = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit():
            raise serializers.ValidationError(f"{part!r} is not a cycle number; give cycles as 1,10,120.")
        numbers.append(int(part))
    if len(numbers) > MAX_CYCLES:
        raise serializers.ValidationError(f"At most {MAX_CYCLES} cycles in one plot, not {len(numbers)}.")
    return sorted(set(numbers))


class PlotQuery(serializers.Serializer):
    """?points=1000"""

    points = serializers.IntegerField(min_value=10, max_value=MAX_POINTS, default=DEFAULT_POINTS,
                                      help_text=f"at most this many points per series (default {DEFAULT_POINTS})")


class CyclesPlotQuery(PlotQuery):
    """?cycles=1,10,120&points=1000"""

    cycles = serializers.CharField(required=False, max_length=200,
                                   help_text="cycle numbers, comma-separated (at most 12); "
                                             "default: the first, the 10th and the last")

    def validate_cycles(self, value):
        return cycle_numbers(value)


def parse(query_class, request) -> dict:
    known = set(query_class().fields)
    unknown = sorted(set(request.query_params) - known - {"format"})
    if unknown:
        raise ValidationError({name: [f"Not a parameter of this plot; it takes {', '.join(sorted(known))}."]
                               for name in unknown})
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


# --- the answer ----------------------------------------------------------------------------------

SERIES = inline_serializer("PlotSeries", {
    "label": serializers.CharField(), "axis": serializers.ChoiceField(choices=("y", "y2")),
    "rows": serializers.IntegerField(help_text="points before down-sampling"),
    "points": serializers.IntegerField(),
    "x": serializers.ListField(child=serializers.FloatField(allow_null=True)),
    "y": serializers.ListField(child=serializers.FloatField(allow_null=True))}, many=True)
PLOT = inline_serializer("Plot", {
    "dataset": serializers.CharField(), "plot": serializers.CharField(),
    "x_label": serializers.CharField(), "y_label": serializers.CharField(),
    "y2_label": serializers.CharField(required=False),
    "points": serializers.IntegerField(help_text="the most points a series holds"),
    "cycles": serializers.ListField(child=serializers.IntegerField(), required=False,
                                    help_text="the cycles drawn"),
    "cycle_range": serializers.ListField(child=serializers.IntegerField(), required=False,
                                         help_text="the dataset's first and last cycle"),
    "steps": serializers.ListField(child=serializers.DictField(), required=False,
                                   help_text="rate: the C-rate steps"),
    "rate_capability": serializers.ListField(child=serializers.DictField(), required=False,
                                             help_text="rate: mean capacity per C-rate"),
    "series": SERIES})


def _numbers(values) -> list:
    return [None if not math.isfinite(v) else round(v, 6) for v in np.asarray(values, dtype=float).tolist()]


def series(label: str, x, y, points: int, *, axis: str = "y", shape=None, step_starts=None) -> dict:
    """One series down-sampled to ``points`` on the shape of ``shape`` (default y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    kept = min_max_indices(y if shape is None else shape, points, step_starts=step_starts)
    return {"label": label, "axis": axis, "rows": int(y.size), "points": int(kept.size),
            "x": _numbers(x[kept]), "y": _numbers(y[kept])}


class DatasetPlotView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    query_class = PlotQuery
    plot = ""

    def get(self, request, human_id: str):
        query = parse(self.query_class, request)
        dataset = get_object_or_404(visible_records(request.user, Dataset.objects.select_related("run__cell")),
                                    human_id=human_id)
        body = {"dataset": dataset.human_id, "plot": self.plot, "points": query["points"]}
        body.update(self.answer(dataset, query))
        return Response(body)

    def answer(self, dataset: Dataset, query: dict) -> dict:
        raise NotImplementedError

    # shared reads
    @staticmethod
    def canonical(dataset: Dataset, columns: list[str]):
        try:
            return read_canonical(dataset, columns=columns)
        except StageFailed as error:
            raise NotFound(str(error)) from None

    @staticmethod
    def columns(dataset: Dataset) -> list[str]:
        try:
            return canonical_columns(dataset)
        except StageFailed as error:
            raise NotFound(str(error)) from None

    @staticmethod
    def active_mass_g(cell: Cell) -> float | None:
        """The positive electrode's active mass (what the cycles' specific capacities are per)."""
        electrode = cells_with_parts(Cell.objects.filter(pk=cell.pk)).get().working_electrode
        mass_mg = electrode.active_mass_mg if electrode else None
        return mass_mg / 1000.0 if mass_mg else None


def summaries(dataset: Dataset, *names: str) -> list[dict]:
    return list(CycleSummary.objects.filter(dataset=dataset, cycle_number__gte=1).order_by("cycle_number")
                .values("cycle_number", "complete", *names))


class CyclesPlotView(DatasetPlotView):
    """A plot of chosen cycles' half cycles, from the canonical rows of their steps."""

    query_class = CyclesPlotQuery

    def half_cycles(self, dataset: Dataset, query: dict) -> tuple[list[int], list[int], dict]:
        """The cycles drawn, the dataset's first and last, and {(cycle, direction): step rows}."""
        numbers = list(CycleSummary.objects.filter(dataset=dataset, cycle_number__gte=1)
                       .order_by("cycle_number").values_list("cycle_number", flat=True))
        if not numbers:
            raise NotFound(f"{dataset.human_id} has no cycles" + (
                f": it is {dataset.get_state_display()}." if dataset.state != Dataset.State.DONE else "."))
        if "cycles" in query:
            chosen = query["cycles"]
            missing = [c for c in chosen if c not in set(numbers)]
            if missing:
                raise ValidationError({"cycles": [
                    f"{dataset.human_id} has no cycle {', '.join(map(str, missing))}; "
                    f"its cycles are {numbers[0]} to {numbers[-1]}."]})
        else:  # the first, the 10th and the last
            chosen = sorted({numbers[0], *([10] if 10 in numbers else []), numbers[-1]})
        halves: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for cycle, kind, start, end in (CycleStep.objects.filter(dataset=dataset, cycle_number__in=chosen,
                                                                 role__in=("in", "out"))
                                        .order_by("step_number").values_list("cycle_number", "kind", "start_row",
                                                                             "end_row")):
            direction = "charge" if kind in ("charge", "cv_charge") else "discharge"
            halves.setdefault((cycle, direction), []).append((start, end))
        return chosen, [numbers[0], numbers[-1]], halves

    def half_cycle_curves(self, dataset: Dataset, query: dict):
        """The chosen cycles, their range, each half cycle as (cycle, direction, capacity passed
        in mAh, voltage in V, its steps' first rows within it), and the active mass in g."""
        chosen, cycle_range, halves = self.half_cycles(dataset, query)
        table = self.canonical(dataset, ["test_time_s", "current_ma", "voltage_v"])
        t, i, v = (table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names)
        curves = []
        for (cycle, direction), steps in sorted(halves.items()):
            start, stop = steps[0][0], steps[-1][1] + 1
            curves.append((cycle, direction, cumulative_capacity_mah(t[start:stop], i[start:stop]), v[start:stop],
                           [first - start for first, _ in steps]))
        return chosen, cycle_range, curves, self.active_mass_g(dataset.run.cell)


class VoltageCapacityPlotView(CyclesPlotView):
    """Voltage against the capacity passed in each half cycle of the chosen cycles."""

    plot = "voltage-capacity"

    @extend_schema(parameters=[CyclesPlotQuery], responses=PLOT)
    def get(self, request, human_id: str):
        return super().get(request, human_id)

    def answer(self, dataset, query):
        chosen, cycle_range, halves, mass_g = self.half_cycle_curves(dataset, query)
        out = []
        for cycle, direction, capacity_mah, voltage_v, step_starts in halves:
            capacity = capacity_mah / mass_g if mass_g else capacity_mah
            out.append(series(f"cycle {cycle} {direction}", capacity, voltage_v, query["points"],
                              step_starts=step_starts))
        unit = "mAh/g" if mass_g else "mAh"
        return {"x_label": f"capacity ({unit})", "y_label": "voltage (V)", "cycles": chosen,
                "cycle_range": cycle_range, "series": out}


class IncrementalCapacityPlotView(CyclesPlotView):
    """dQ/dV of each half cycle of the chosen cycles (the discharge's negative)."""

    plot = "dqdv"

    @extend_schema(parameters=[CyclesPlotQuery], responses=PLOT)
    def get(self, request, human_id: str):
        return super().get(request, human_id)

    def answer(self, dataset, query):
        chosen, cycle_range, halves, mass_g = self.half_cycle_curves(dataset, query)
        out = []
        for cycle, direction, capacity_mah, voltage_v, _step_starts in halves:
            curve = incremental_capacity(capacity_mah, voltage_v)
            y = curve.y / mass_g if mass_g else curve.y
            out.append(series(f"cycle {cycle} {direction}", curve.x, -y if direction == "discharge" else y,
                              query["points"]))
        unit = "mAh/(g·V)" if mass_g else "mAh/V"
        return {"x_label": "voltage (V)", "y_label": f"dQ/dV ({unit})", "cycles": chosen,
                "cycle_range": cycle_range, "series": out}


class VoltagePlotView(DatasetPlotView):
    """The voltage against test time; a three-electrode cell's electrode potentials beside it."""

    plot = "voltage"

    @extend_schema(parameters=[PlotQuery], responses=PLOT)
    def get(self, request, human_id: str):
        return super().get(request, human_id)

    def answer(self, dataset, query):
        cell = dataset.run.cell
        starts = list(CycleStep.objects.filter(dataset=dataset).values_list("start_row", flat=True))
        points = query["points"]
        if cell.kind == Cell.Kind.THREE_ELECTRODE and {"ewe_v", "ece_v"} <= set(self.columns(dataset)):
            table = self.canonical(dataset, ["test_time_s", "current_ma", "voltage_v", "ewe_v", "ece_v"])
            analysis = ElectrodeAnalysis.objects.filter(dataset=dataset).only("working_electrode").first()
            data = three_electrode_from_table(table, working_electrode=analysis.working_electrode
                                              if analysis else "positive")
            hours = data.time_s * HOURS_PER_S
            out = [series("cell voltage", hours, data.cell_voltage_v, points, step_starts=starts),
                   series("positive electrode", hours, data.positive_potential_v, points, step_starts=starts),
                   series("negative electrode", hours, data.negative_potential_v, points, step_starts=starts)]
            label = "voltage and potentials vs Na (V)"
        else:
            table = self.canonical(dataset, ["test_time_s", "voltage_v"])
            hours = table.column("test_time_s").to_numpy(zero_copy_only=False) * HOURS_PER_S
            out = [series("voltage", hours, table.column("voltage_v").to_numpy(zero_copy_only=False), points,
                          step_starts=starts)]
            label = "voltage (V)"
        return {"x_label": "test time (h)", "y_label": label, "series": out}


class CapacityPlotView(DatasetPlotView):
    """Charge and discharge capacity and coulombic efficiency against cycle."""

    plot = "capacity"

    @extend_schema(parameters=[PlotQuery], responses=PLOT)
    def get(self, request, human_id: str):
        return super().get(request, human_id)

    def answer(self, dataset, query):
        rows = summaries(dataset, "charge_specific_capacity_mah_g", "discharge_specific_capacity_mah_g",
                         "coulombic_efficiency")
        cycle = np.array([r["cycle_number"] for r in rows], dtype=float)

        def column(name, scale=1.0):
            return np.array([np.nan if r[name] is None else r[name] * scale for r in rows], dtype=float)

        points = query["points"]
        return {"x_label": "cycle", "y_label": "specific capacity (mAh/g)", "y2_label": "coulombic efficiency (%)",
                "series": [series("charge", cycle, column("charge_specific_capacity_mah_g"), points),
                           series("discharge", cycle, column("discharge_specific_capacity_mah_g"), points),
                           series("coulombic efficiency", cycle, column("coulombic_efficiency", 100.0), points,
                                  axis="y2")] if rows else []}


class RatePlotView(DatasetPlotView):
    """The out half cycle's capacity of each cycle, one series per nominal C-rate (the cycles'
    constant currents ÷ the cell's 1C, snapped to the nominal rates), and the rate capability."""

    plot = "rate"

    @extend_schema(parameters=[PlotQuery], responses=PLOT)
    def get(self, request, human_id: str):
        return super().get(request, human_id)

    def answer(self, dataset, query):
        cell = dataset.run.cell
        definition = for_kind(cell.kind or Cell.Kind.CATHODE_HALF)  # no kind yet: charge first
        basis = definition.basis
        rows = summaries(dataset, "charge_c_rate", "discharge_c_rate", "charge_specific_capacity_mah_g",
                         "discharge_specific_capacity_mah_g", "n_warnings")
        out, steps, capability = [], [], []
        if rows:
            kwargs = {"half": basis, "first_half_cycle": definition.first_half_cycle}
            groups = c_rate_groups(rows, **kwargs)
            capability = rate_capability(rows, **kwargs).value or []
            steps = groups.value
            by_rate: dict[float, list[tuple[int, float]]] = {}
            capacity = {r["cycle_number"]: r[f"{basis}_specific_capacity_mah_g"] for r in rows}
            for number, rate in groups.details["per_cycle"].items():
                if rate is not None and capacity[number] is not None:
                    by_rate.setdefault(rate, []).append((number, capacity[number]))
            for rate, members in sorted(by_rate.items()):
                x, y = zip(*members)
                out.append(series(f"{rate:g}C", x, y, query["points"]))
        return {"x_label": "cycle", "y_label": f"{definition.basis_name} capacity (mAh/g)", "steps": steps,
                "rate_capability": [{key: value for key, value in row.items() if key != "cycles"}
                                    for row in capability],
                "series": out}


PLOT_VIEWS = {view.plot: view for view in (VoltagePlotView, VoltageCapacityPlotView, CapacityPlotView,
                                           RatePlotView, IncrementalCapacityPlotView)}
