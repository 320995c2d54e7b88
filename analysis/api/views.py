"""Reads of the analysis results: per-cycle summaries, cell metrics, the canonical data."""
import numpy as np
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from analysis.api.serializers import (
    CellMetricsSerializer,
    CycleDataQuerySerializer,
    CycleSummarySerializer,
)
from analysis.downsample import min_max_indices
from analysis.models import CellMetrics, CycleSummary
from analysis.services import StageFailed, canonical_columns, read_canonical

# Beyond this many rows a JSON answer gets too large to be useful; plots ask for points.
MAX_ROWS_WITHOUT_POINTS = 100_000


def cycle_summaries(dataset, request):
    rows = CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number")
    if request.query_params.get("complete") in ("true", "1"):
        rows = rows.filter(complete=True)
    return Response({"dataset": dataset.human_id, "count": rows.count(),
                     "results": CycleSummarySerializer(rows, many=True).data})


def cell_metrics(cell):
    metrics = CellMetrics.objects.filter(cell=cell).select_related("cell", "dataset").first()
    if metrics is None:
        raise NotFound(f"{cell.human_id} has no metrics yet: no dataset of it has been processed.")
    return Response(CellMetricsSerializer(metrics).data)


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

