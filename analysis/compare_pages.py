"""The compare page: cells chosen with the cell list's filters, their retention, efficiency and
rate capability overlaid (grouped by a recorded process variable), the variables that differ
between them, and which variable goes with the difference in retention or rate capability
(``analysis.core.compare``). The page renders the tables; its plots read ``compare_data``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from analysis.core import compare as core
from analysis import selectors
from cells.filtersets import CellFilterSet
from cells.models import Cell, CellPart
from cells.views import CellListView
from eln.formatting import as_entered, fixed, percent
from eln.pages import current_project, in_project, search
from eln.permissions import visible_records


# -- the process variables a cell records -----------------------------------------------------

def _positive_electrode(cell):
    part = cell.electrode_in_role(CellPart.Role.POSITIVE)
    return part.electrode if part else None


def _sheet(cell):
    electrode = _positive_electrode(cell)
    return electrode.sheet if electrode else None


def _composition(cell):
    sheet = _sheet(cell)
    if sheet is None:
        return None
    material = sheet.active_material
    return f"{material.name} {sheet.composition_label}" if material else sheet.composition_label


def _infiltration_solution(cell):
    electrode = _positive_electrode(cell)
    if electrode is None:
        return None
    solutions = sorted({i.run.solution.human_id for i in electrode.infiltrations.all()})
    return ", ".join(solutions) or "not infiltrated"


def _separator(cell):
    if cell.separator_batch_id:
        return cell.separator_batch.human_id
    return cell.liquid_electrolyte or None


def _negative(cell):
    part = cell.electrode_in_role(CellPart.Role.NEGATIVE)
    if part is None:
        return None
    if part.electrode_id:
        return f"{part.electrode.sheet.human_id} electrode"
    if part.alloy_batch_id:
        return part.alloy_batch.human_id
    if part.lot_id:
        return f"{part.lot.material.name} ({part.lot.human_id})"
    return part.description or None


def _protocols(cell):
    return ", ".join(sorted({run.protocol.human_id for run in cell.runs.all() if run.protocol_id})) or None


def _number(attribute, unit):
    def read(cell):
        value = getattr(cell, attribute)
        return None if value is None else as_entered(value, unit)
    return read


#: key (the address's ?group_by=), the lab's name for it, how it reads from a cell
VARIABLES = [
    ("kind", "kind", lambda cell: cell.get_kind_display()),
    ("sheet", "electrode sheet", lambda cell: _sheet(cell).human_id if _sheet(cell) else None),
    ("composition", "sheet composition", _composition),
    ("infiltration_solution", "infiltration solution", _infiltration_solution),
    ("separator", "electrolyte batch (separator)", _separator),
    ("negative", "negative electrode", _negative),
    ("separator_pressure", "separator pressing", _number("separator_pressure_mpa", "MPa")),
    ("assembly_pressure", "assembly pressure", _number("assembly_pressure_mpa", "MPa")),
    ("stack_pressure", "stack pressure", _number("stack_pressure_mpa", "MPa")),
    ("hardware", "hardware", lambda cell: cell.get_hardware_display()),
    ("temperature", "temperature", _number("temperature_c", "°C")),
    ("lower_cutoff", "lower cut-off", _number("lower_cutoff_v", "V")),
    ("upper_cutoff", "upper cut-off", _number("upper_cutoff_v", "V")),
    ("protocol", "protocol", _protocols),
]
VARIABLE_LABELS = {key: label for key, label, _read in VARIABLES}


def process_variables(cell: Cell) -> dict[str, str]:
    """The cell's recorded process variables by the lab's name, as the page shows them; one it
    does not record is left out (the comparison calls it "not recorded")."""
    values = {}
    for _key, label, read in VARIABLES:
        value = read(cell)
        if value is not None:
            values[label] = value
    return values


# -- what is compared ---------------------------------------------------------------------------

METRICS = {"retention": "discharge capacity retention", "rate_capability": "rate capability"}


class CompareForm(forms.Form):
    group_by = forms.ChoiceField(label="Group by", required=False,
                                 choices=[("", "the variable ranked first")] + [(k, l) for k, l, _r in VARIABLES])
    rank_by = forms.ChoiceField(label="Rank by", required=False, choices=list(METRICS.items()))
    cycle = forms.IntegerField(label="Retention at cycle", required=False, min_value=1,
                               help_text="empty: the last cycle all chosen cells reached")
    c_rate = forms.FloatField(label="Rate capability at (C)", required=False, min_value=0.001,
                              help_text="empty: the highest C-rate all chosen cells were cycled at")
    include_suspect = forms.BooleanField(label="Include suspect cells", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)


@dataclass
class Entry:
    """A chosen cell as the comparison uses it."""

    cell: Cell
    variables: dict[str, str]
    suspect: str  # why it is suspect, or ""
    retention_cycles: list[int] = field(default_factory=list)
    retention: list[float | None] = field(default_factory=list)
    ref_cycle: int | None = None
    efficiency_cycles: list[int] = field(default_factory=list)
    efficiency: list[float | None] = field(default_factory=list)
    rate_rows: list[dict] = field(default_factory=list)  # c_rate, relative_to_reference
    reference_c_rate: float | None = None

    @property
    def label(self) -> str:
        return self.cell.human_id


def suspect_reason(item: selectors.CellForComparison) -> str:
    """Why a cell is left out of comparisons unless asked for, or "" when it is not: a person's
    decision (the cell's "In comparisons"), else the ±5 % loading check, else quality flags in
    the datasets of its history."""
    decision = item.cell.excluded_from_comparisons
    if decision is True:
        return "left out of comparisons by a person"
    if decision is False:
        return ""
    loading = (item.metrics.values.get("loading_check") or {}) if item.metrics else {}
    if (loading.get("details") or {}).get("verdict") == "suspect":
        return f"loading check: {loading['details'].get('reason', 'suspect')}"
    if item.flags:
        flagged = ", ".join(f"{count} {code}" for code, count in sorted(item.flags.items()))
        return f"quality flags in its datasets: {flagged}"
    return ""


def _entry(item: selectors.CellForComparison) -> Entry:
    entry = Entry(item.cell, process_variables(item.cell), suspect_reason(item))
    values = item.metrics.values if item.metrics else {}
    entry.efficiency_cycles = [row["history_cycle_number"] for row in item.cycles]
    entry.efficiency = [row["coulombic_efficiency"] for row in item.cycles]
    retention = values.get("retention") or {}
    if retention.get("value") is not None:
        ref_cycle = retention["params"]["ref_cycle"]
        column = (retention.get("details") or {}).get("column", "discharge_capacity_mah")
        try:
            entry.retention_cycles, entry.retention = core.retention_curve(
                entry.efficiency_cycles, [row.get(column) for row in item.cycles], ref_cycle)
            entry.ref_cycle = ref_cycle
        except ValueError:
            pass  # the reference cycle is no longer in the history: no curve rather than a wrong one
    rate = values.get("rate_capability") or {}
    if isinstance(rate.get("value"), list):
        entry.rate_rows = [row for row in rate["value"] if row.get("relative_to_reference") is not None]
        entry.reference_c_rate = (rate.get("params") or {}).get("reference_rate")
    return entry


@dataclass
class Comparison:
    form: forms.Form  # the cell list's filters
    options: CompareForm
    entries: list[Entry] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (cell, why)
    suspect_left_out: int = 0
    differing: list[str] = field(default_factory=list)
    same: dict[str, str] = field(default_factory=dict)
    rank_by: str = "retention"
    cycle: int | None = None
    c_rate: float | None = None
    metric_values: dict[str, float] = field(default_factory=dict)
    not_ranked: list[tuple[str, str]] = field(default_factory=list)  # (cell, why it has no value)
    ranking: list[core.VariableScore] = field(default_factory=list)
    group_by: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def group_label(self) -> str:
        return VARIABLE_LABELS.get(self.group_by, "")

    @property
    def metric_label(self) -> str:
        if self.rank_by == "retention":
            return f"retention at cycle {self.cycle}" if self.cycle else "retention"
        return f"rate capability at {as_entered(self.c_rate)}C" if self.c_rate else "rate capability"

    def group_of(self, entry: Entry) -> str:
        return entry.variables.get(self.group_label, core.NOT_RECORDED) if self.group_by else ""

    def groups(self) -> list[str]:
        return core.sort_values({self.group_of(e) for e in self.entries})

    def by_group(self) -> list[Entry]:
        """The entries group by group (in the groups' order), by label within a group."""
        order = {value: index for index, value in enumerate(self.groups())}
        return sorted(self.entries, key=lambda e: (order[self.group_of(e)], e.label))


def _chosen_cells(request, data):
    project = current_project(request)
    rows = in_project(visible_records(request.user, Cell.objects.all()), project)
    filterset = CellFilterSet(data, queryset=rows, request=request)
    form = CellListView().form_for_page(filterset, {})
    if not filterset.is_valid():
        return form, None
    text = data.get("search", "").strip()
    return form, search(filterset.qs, CellListView.search_fields, text).order_by("human_id")


def build_comparison(request) -> Comparison:
    """The comparison the address asks for: the cells the filters choose, the suspect ones left
    out unless asked for, the curves, and the ranking at the stated cycle or C-rate."""
    data = request.GET
    form, cells = _chosen_cells(request, data)
    options = CompareForm(data)
    comparison = Comparison(form, options)
    if cells is None or not options.is_valid():
        comparison.errors = {**(form.errors if cells is None else {}), **options.errors}
        return comparison
    include_suspect = options.cleaned_data["include_suspect"]
    chosen = data.get("search", "").strip() or any(data.get(name) for name in CellListView.filter_fields)
    if not chosen:
        return comparison  # nothing asked yet: the page offers the filters
    for item in selectors.cells_for_comparison(cells):
        entry = _entry(item)
        if not item.cycles:
            comparison.left_out.append((entry.label, "no cycles in its history yet"))
        elif entry.suspect and not include_suspect:
            comparison.left_out.append((entry.label, f"suspect: {entry.suspect}"))
            comparison.suspect_left_out += 1
        else:
            comparison.entries.append(entry)
    entries = comparison.entries
    comparison.differing, comparison.same = core.differing_variables({e.label: e.variables for e in entries})
    comparison.rank_by = options.cleaned_data["rank_by"] or "retention"
    if comparison.rank_by == "retention":
        with_curve = {e.label: e.retention_cycles for e in entries if e.retention_cycles}
        comparison.cycle = options.cleaned_data["cycle"] or core.last_common_cycle(with_curve)
        for entry in entries:
            value = dict(zip(entry.retention_cycles, entry.retention)).get(comparison.cycle)
            if value is None:
                why = (f"no complete cycle {comparison.cycle} at its reference's rate (from cycle {entry.ref_cycle})"
                       if entry.ref_cycle else "no retention in its metrics")
                comparison.not_ranked.append((entry.label, why))
            else:
                comparison.metric_values[entry.label] = value
    else:
        rates = {e.label: [row["c_rate"] for row in e.rate_rows] for e in entries if e.rate_rows}
        reference = next((e.reference_c_rate for e in entries if e.reference_c_rate), 0.1)
        comparison.c_rate = options.cleaned_data["c_rate"] or core.highest_common_c_rate(rates, reference)
        for entry in entries:
            value = next((row["relative_to_reference"] for row in entry.rate_rows
                          if comparison.c_rate is not None and abs(row["c_rate"] - comparison.c_rate) < 1e-9), None)
            if value is None:
                comparison.not_ranked.append((entry.label, f"no cycles at {as_entered(comparison.c_rate)}C"
                                              if comparison.c_rate else "no rate capability in its metrics"))
            else:
                comparison.metric_values[entry.label] = value
    comparison.ranking = core.rank_variables(comparison.metric_values,
                                             {e.label: e.variables for e in entries})
    label_keys = {label: key for key, label, _read in VARIABLES}
    comparison.group_by = options.cleaned_data["group_by"] or (
        label_keys[comparison.ranking[0].variable] if comparison.ranking else "")
    return comparison


# -- the page and its data ----------------------------------------------------------------------

def _spread(group: core.GroupStatistics) -> str:
    if group.standard_deviation is None:
        return "one cell"
    # percentage points: a spread of percentages
    return f"± {fixed(100 * group.standard_deviation, 1, 'pp')}, range {percent(group.minimum)}–{percent(group.maximum)}"


def ranking_rows(comparison: Comparison) -> list[dict]:
    return [{
        "rank": index,
        "variable": score.variable,
        "eta_squared": "—" if score.eta_squared is None else f"{score.eta_squared:.2f}",
        "groups": [{"value": g.value, "mean": percent(g.mean), "spread": _spread(g), "n_cells": g.n_cells,
                    "cells": ", ".join(g.cells)} for g in score.groups],
        "verdict": score.too_few or "told",
    } for index, score in enumerate(comparison.ranking, start=1)]


def differing_rows(comparison: Comparison) -> list[dict]:
    return [{"cell": e.cell, "suspect": e.suspect,
             "values": [e.variables.get(name, core.NOT_RECORDED) for name in comparison.differing],
             "metric": percent(comparison.metric_values.get(e.label))} for e in comparison.entries]


@login_required
def compare_page(request):
    comparison = build_comparison(request)
    query = request.GET.urlencode()
    return render(request, "analysis/compare.html", {
        "title": "Compare cells",
        "section": "compare",
        "comparison": comparison,
        "filters": [comparison.form[name] for name in CellListView.filter_fields],
        "search": request.GET.get("search", ""),
        "differing_rows": differing_rows(comparison),
        "same_line": "; ".join(f"{name} {value}" for name, value in comparison.same.items()),
        "ranking": ranking_rows(comparison),
        "data_url": f"{reverse('analysis:compare-data')}?{query}" if comparison.entries else "",
    }, status=400 if comparison.errors else 200)


def _overlay(comparison: Comparison, x_of, y_of, scale: float = 100.0) -> dict:
    """Series of every cell on one x axis (the union of their x values; null where a cell has none)."""
    xs = sorted({x for e in comparison.entries for x in x_of(e)})
    series = []
    for entry in comparison.by_group():
        by_x = dict(zip(x_of(entry), y_of(entry)))
        group = comparison.group_of(entry)
        series.append({
            "cell": entry.label, "group": group, "label": f"{group} · {entry.label}" if group else entry.label,
            "values": [None if by_x.get(x) is None else by_x[x] * scale for x in xs],
        })
    return {"x": xs, "series": series}


@login_required
def compare_data(request):
    comparison = build_comparison(request)
    if comparison.errors:
        return JsonResponse({"errors": comparison.errors}, status=400)
    return JsonResponse({
        "group_by": comparison.group_label,
        "groups": comparison.groups() if comparison.group_by else [],
        "cells": [{"label": e.label, "name": e.cell.name, "group": comparison.group_of(e), "suspect": e.suspect,
                   "url": reverse("cells:cell-detail", args=[e.label])} for e in comparison.by_group()],
        "retention": {**_overlay(comparison, lambda e: e.retention_cycles, lambda e: e.retention),
                      "x_label": "cycle", "y_label": "discharge capacity retention (%)"},
        "coulombic_efficiency": {**_overlay(comparison, lambda e: e.efficiency_cycles, lambda e: e.efficiency),
                                 "x_label": "cycle", "y_label": "coulombic efficiency (%)"},
        "rate_capability": {**_overlay(comparison, lambda e: [r["c_rate"] for r in e.rate_rows],
                                       lambda e: [r["relative_to_reference"] for r in e.rate_rows]),
                            "x_label": "C-rate", "y_label": "capacity ÷ that at 0.1C (%)"},
    })

