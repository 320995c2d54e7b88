"""Three-electrode results on the Django side: which electrode limits a three-electrode cell and
why its capacity goes, stored per dataset and per cell; the full cells linked to it; and every
balanced cell's fade predicted from its half cells and set against what it measured.

The science is the pure core's (:mod:`analysis.core.electrodes`); this module chooses its
inputs from the records, stores its tables row by row and says when to recompute.

* Selectors (reads across records): the half cells built from a cell's sheets
  (:func:`reference_half_cells`), the half cells a fade prediction may use
  (:func:`prediction_half_cells`), the links between full and three-electrode cells, read when
  they are shown (:func:`linked_three_electrode_cells`, :func:`linked_full_cells`), and the cells
  whose results read a half cell's data (:func:`dependents_of`).
* Services (the results' only writers): :func:`analyse_dataset`, :func:`diagnose_cell`,
  :func:`predict_cell_fade`.
* When: :func:`after_ingestion` and :func:`after_recompute` run at the end of a cell's ingestion
  or recomputation (its own results in the same task, the cells that read its data queued);
  :func:`record_changed` receives ``records_changed`` for what only these results read (the
  chosen reference curves, N/P) and queues the tasks once per transaction.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from django.db import InterfaceError, OperationalError, models, transaction
from django.db.models import Q

from analysis.core.cycling import analyse_cycling
from analysis.core.electrodes.cycles import electrode_cycle_table, potential_range_table
from analysis.core.electrodes.diagnosis import Diagnosis, diagnose
from analysis.core.electrodes.dma import (
    ELECTRODE_NAMES,
    ElectrodeReference,
    degradation_modes,
    reference_from_half_cell,
)
from analysis.core.electrodes.fade import VERSION as FADE_VERSION
from analysis.core.electrodes.fade import compare_fade, predict_full_cell_fade
from analysis.core.electrodes.three_electrode import (
    NEGATIVE,
    POSITIVE,
    VERSION as THREE_ELECTRODE_VERSION,
    HalfCycles,
    half_cycles_from_cycling,
    json_safe,
    table_metadata,
    three_electrode_from_table,
)
from analysis.core.readers import ReaderError
from analysis.models import (
    CellDiagnosis,
    CellMetrics,
    CycleSummary,
    DegradationModeCycle,
    ElectrodeAnalysis,
    ElectrodeBranchFit,
    ElectrodeCycle,
    ElectrodePotentialRange,
    FadePrediction,
    FadePredictionCycle,
    ProcessingStage,
    QualityFlag,
)
from analysis.services import (
    StageFailed,
    canonical_columns,
    cell_parameters,
    finish,
    history_sources,
    read_canonical,
    stage,
)
from cells.models import Cell, CellPart, CyclingRun, Dataset
from cells.selectors import cells_using, cells_with_parts
from samples.models import Electrode, ElectrodeSheet, Material, SheetComponent

Stage = ProcessingStage.Name
THREE_ELECTRODE, FULL = Cell.Kind.THREE_ELECTRODE, Cell.Kind.FULL
BALANCED = tuple(Cell.BALANCED_KINDS)
#: electrode role -> the kind of half cell that measures that electrode (its working electrode)
HALF_CELL_KIND = Cell.REFERENCE_HALF_CELL_KINDS
ROLE_OF_HALF_CELL = {kind: role for role, kind in HALF_CELL_KIND.items()}
ROLES = (POSITIVE, NEGATIVE)


def _finite(value):
    """Floats the database stores: NaN and ±inf are unknown (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


# --- selectors ------------------------------------------------------------------------------


def cast_electrode(cell: Cell, role: str) -> Electrode | None:
    """The cast electrode of ``cell`` in ``role`` (a half cell's working electrode is its positive)."""
    part = cell.electrode_in_role(role)
    return part.electrode if part is not None and part.electrode_id else None


def active_lot(sheet: ElectrodeSheet):
    """The lot of the sheet's active material, or None."""
    return next((c.lot for c in sheet.components.all() if c.role == SheetComponent.Role.ACTIVE), None)


def _half_cells_on(project_id: int, kind: str, electrodes):
    """The half cells of ``kind`` in the project whose working electrode is one of ``electrodes``."""
    cell_ids = CellPart.objects.filter(role=POSITIVE, electrode__in=electrodes, cell__kind=kind,
                                       cell__project_id=project_id).values("cell_id")
    return cells_with_parts(Cell.objects.filter(pk__in=cell_ids)).order_by("human_id")


def reference_half_cells(cell: Cell, role: str) -> list[Cell]:
    """The half cells of the electrode in ``role`` built from the same sheet as ``cell``'s: where
    the electrode's reference curve comes from unless one is chosen on the cell."""
    electrode = cast_electrode(cell, role)
    if electrode is None:
        return []
    same_sheet = Electrode.objects.filter(sheet=electrode.sheet_id)
    return list(_half_cells_on(cell.project_id, HALF_CELL_KIND[role], same_sheet))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A half cell a fade prediction may use, and why it may."""

    cell: Cell
    same_sheet: bool
    reason: str


def prediction_half_cells(cell: Cell, role: str) -> list[Candidate]:
    """The half cells whose coulombic efficiencies may stand for the electrode in ``role`` of a
    balanced cell: built from the same sheet, or from a sheet of the same active-material lot."""
    electrode = cast_electrode(cell, role)
    if electrode is None:
        return []
    sheet, lot = electrode.sheet, active_lot(electrode.sheet)
    same_lot = Q(sheet=sheet)
    if lot is not None:
        same_lot |= Q(sheet__components__role=SheetComponent.Role.ACTIVE, sheet__components__lot=lot)
    candidates = []
    for half in _half_cells_on(cell.project_id, HALF_CELL_KIND[role], Electrode.objects.filter(same_lot)):
        theirs = cast_electrode(half, POSITIVE).sheet
        if theirs.pk == sheet.pk:
            reason = f"built from {sheet.human_id}, like the {role} electrode of {cell.human_id}"
        else:
            reason = (f"its {ELECTRODE_NAMES[role]} comes from {lot.human_id}, like that of {sheet.human_id} "
                      f"(the {role} electrode of {cell.human_id})")
        candidates.append(Candidate(half, theirs.pk == sheet.pk, reason))
    return candidates


LINK_PREFETCH = ("parts__electrode__sheet", "parts__electrode__infiltrations__run")


def _with_link_inputs(queryset):
    return queryset.select_related("separator_batch").prefetch_related(*LINK_PREFETCH)


def _link_keys(cell: Cell) -> dict[tuple, dict]:
    """What a cell was built from, for the links: its sheets, its electrodes' infiltration runs
    and its separator's electrolyte batch."""
    keys = {}
    for part in cell.parts.all():
        electrode = part.electrode
        if part.role not in ROLES or electrode is None:
            continue
        keys[("sheet", electrode.sheet_id)] = {"relation": f"{part.role} electrode sheet",
                                               "record": electrode.sheet.human_id}
        for infiltrated in electrode.infiltrations.all():
            keys[("run", infiltrated.run_id)] = {"relation": "infiltration run", "record": infiltrated.run.human_id}
    if cell.separator_batch_id:
        keys[("batch", cell.separator_batch_id)] = {"relation": "electrolyte batch",
                                                    "record": cell.separator_batch.human_id}
    return keys


def _link_order(item: dict) -> tuple:
    kinds = ("positive electrode sheet", "negative electrode sheet", "infiltration run", "electrolyte batch")
    return kinds.index(item["relation"]), item["record"]


def _links(cell: Cell, other_kind: str) -> list[tuple[Cell, list[dict]]]:
    mine = _link_keys(_with_link_inputs(Cell.objects.filter(pk=cell.pk)).get())
    if not mine:
        return []
    out = []
    others = _with_link_inputs(Cell.objects.filter(project_id=cell.project_id, kind=other_kind)
                               .exclude(pk=cell.pk)).order_by("human_id")
    for other in others:
        theirs = _link_keys(other)
        shared = sorted((mine[key] for key in mine if key in theirs), key=_link_order)
        if shared:
            out.append((other, shared))
    return out


def linked_three_electrode_cells(full_cell: Cell) -> list[tuple[Cell, list[dict]]]:
    """The three-electrode cells built from the same electrode sheets, infiltration runs or
    electrolyte batch as ``full_cell``, each with what the two share."""
    return _links(full_cell, THREE_ELECTRODE) if full_cell.kind == FULL else []


def linked_full_cells(three_electrode_cell: Cell) -> list[tuple[Cell, list[dict]]]:
    """The full cells linked to a three-electrode cell (see :func:`linked_three_electrode_cells`)."""
    return _links(three_electrode_cell, FULL) if three_electrode_cell.kind == THREE_ELECTRODE else []


def processed_datasets(cell: Cell) -> list[Dataset]:
    """The datasets of the cell's cycle history (cycling data with a stored summary, not left out
    by a person), in the order they were measured."""
    return history_sources(cell).used


def dependents_of(half_cell: Cell) -> tuple[set[int], set[int]]:
    """(three-electrode cells whose diagnosis, balanced cells whose fade prediction read this
    half cell's data): the ones that used it when they were last computed, and the ones that
    would use it now."""
    role = ROLE_OF_HALF_CELL.get(half_cell.kind)
    if role is None:
        return set(), set()
    datasets = Dataset.objects.filter(run__cell=half_cell)
    reference = f"{role}_reference_dataset"
    diagnoses = set(ElectrodeAnalysis.objects.filter(**{f"{reference}__in": datasets})
                    .values_list("dataset__run__cell_id", flat=True))
    diagnoses |= set(Cell.objects.filter(kind=THREE_ELECTRODE, **{f"{reference}__in": datasets})
                     .values_list("pk", flat=True))
    predictions = set(FadePrediction.objects.filter(**{f"{role}_half_cell": half_cell})
                      .values_list("cell_id", flat=True))
    electrode = cast_electrode(half_cell, POSITIVE)
    if electrode is not None:
        same_sheet = CellPart.objects.filter(role=role, electrode__sheet=electrode.sheet_id,
                                             cell__project_id=half_cell.project_id)
        diagnoses |= set(same_sheet.filter(cell__kind=THREE_ELECTRODE, **{f"cell__{reference}__isnull": True})
                         .values_list("cell_id", flat=True))
        lot = active_lot(electrode.sheet)
        sheets = Q(electrode__sheet=electrode.sheet_id)
        if lot is not None:
            sheets |= Q(electrode__sheet__components__role=SheetComponent.Role.ACTIVE,
                        electrode__sheet__components__lot=lot)
        predictions |= set(CellPart.objects.filter(sheets, role=role, cell__kind__in=BALANCED,
                                                   cell__project_id=half_cell.project_id)
                           .values_list("cell_id", flat=True))
    with_data = set(Dataset.objects.filter(run__cell_id__in=diagnoses).exclude(parquet_file="")
                    .values_list("run__cell_id", flat=True))
    return diagnoses & with_data, predictions


# --- reference curves -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReferenceChoice:
    """Which half-cell data an electrode is fitted with, and how it was chosen; ``problem``
    says why there is none."""

    role: str
    dataset: Dataset | None = None
    cycle: int | None = None
    how: str = ""
    problem: str = ""


def choose_reference(cell: Cell, role: str) -> ReferenceChoice:
    """The reference of the electrode in ``role``: the dataset (and cycle) chosen on the cell,
    else the slowest cycle among the half cells built from the same sheet."""
    name, kind = ELECTRODE_NAMES[role], Cell.Kind(HALF_CELL_KIND[role])
    chosen = getattr(cell, f"{role}_reference_dataset")
    if chosen is not None:
        return ReferenceChoice(role, chosen, getattr(cell, f"{role}_reference_cycle"),
                               f"{chosen.human_id} of {chosen.run.cell.human_id}, chosen on {cell.human_id}")
    electrode = cast_electrode(cell, role)
    if electrode is None:
        return ReferenceChoice(role, problem=f"{cell.human_id} has no cast {role} electrode")
    sheet = electrode.sheet.human_id
    halves = reference_half_cells(cell, role)
    none_chosen = f"{cell.human_id} names no {name} reference dataset and "
    if not halves:
        return ReferenceChoice(role, problem=none_chosen + f"no {kind.label} was built from {sheet}")
    datasets = {d.pk: d for half in halves for d in processed_datasets(half)}
    slowest: dict[int, float] = {}
    for dataset_id, charge, discharge in (CycleSummary.objects.filter(dataset_id__in=datasets, complete=True)
                                          .values_list("dataset_id", "charge_c_rate", "discharge_c_rate")):
        rates = [r for r in (charge, discharge) if r is not None and r > 0]
        if rates:
            slowest[dataset_id] = min(slowest.get(dataset_id, math.inf), sum(rates) / len(rates))
    cells = ", ".join(half.human_id for half in halves)
    if not slowest:
        return ReferenceChoice(role, problem=none_chosen + f"the half cells built from {sheet} ({cells}) have "
                                                          "no processed cycles yet")
    # of the datasets within 5 % of the slowest rate the newest, as the pure core picks a cycle
    rate = min(slowest.values())
    best = max(pk for pk, value in slowest.items() if value <= 1.05 * rate)
    dataset = datasets[best]
    return ReferenceChoice(role, dataset, None,
                           f"by default the slowest cycles of the half cells built from {sheet} ({cells}): "
                           f"{dataset.human_id} of {dataset.run.cell.human_id} at C/{1 / slowest[best]:.3g}")


def half_cycles_of(dataset: Dataset, table) -> HalfCycles:
    """The half cycles of a dataset, by the same segmentation as its stored summary."""
    params = cell_parameters(dataset.run.cell)
    finished = dataset.run.state in (CyclingRun.State.FINISHED, CyclingRun.State.ABORTED)
    analysis = analyse_cycling(table, **params.summary_kwargs(), finished=finished)
    return half_cycles_from_cycling(analysis.steps, analysis.cycles)


@dataclasses.dataclass(frozen=True)
class Reference:
    choice: ReferenceChoice
    curve: ElectrodeReference | None
    problem: str


def load_reference(choice: ReferenceChoice) -> Reference:
    """The reference branches of the chosen half-cell data; a problem, not an error, when they
    cannot be had (the diagnosis then says why)."""
    if choice.dataset is None:
        return Reference(choice, None, choice.problem)
    dataset = choice.dataset
    try:
        table = read_canonical(dataset)
        curve = reference_from_half_cell(table, half_cycles_of(dataset, table), electrode=choice.role,
                                         cycle_number=choice.cycle,
                                         source=f"{dataset.human_id} ({dataset.run.cell.human_id})")
    except (StageFailed, ReaderError, ValueError, KeyError) as error:
        reason = str(error).strip("'\"")
        return Reference(choice, None, f"{dataset.human_id} ({choice.how}) gives no reference curve: {reason}")
    return Reference(choice, curve, "")


def cell_references(cell: Cell) -> dict[str, Reference]:
    return {role: load_reference(choose_reference(cell, role)) for role in ROLES}


# --- the analysis of a dataset ----------------------------------------------------------------


def _string_fields(model) -> set[str]:
    return {f.name for f in model._meta.fields if isinstance(f, (models.CharField, models.TextField))}


def _model_rows(model, table, **fixed) -> list:
    strings = _string_fields(model)
    return [model(**fixed, **{name: ("" if value is None and name in strings else _finite(value))
                              for name, value in row.items()})
            for row in table.to_pylist()]


def _explained(modes, references: dict[str, Reference]):
    """The pure core's "no reference curve" messages, with why there is none."""
    messages = []
    for message in modes.messages:
        for role, reference in references.items():
            head = f"no reference curve for the {role} electrode ({ELECTRODE_NAMES[role]})"
            if message.startswith(head) and reference.problem:
                message = f"{head}, since {reference.problem}{message[len(head):]}"
        messages.append(message)
    return dataclasses.replace(modes, messages=tuple(messages))


def analyse_dataset(dataset: Dataset, references: dict[str, Reference]) -> tuple[ElectrodeAnalysis, Diagnosis]:
    """The three-electrode analysis of one dataset, stored: the potentials and their consistency
    check, the per-electrode cycle table, the capacity in potential ranges, the branch fits and
    the degradation modes. Returns the stored analysis and the dataset's diagnosis."""
    missing = [name for name in ("ewe_v", "ece_v") if name not in canonical_columns(dataset)]
    if missing:
        raise StageFailed(
            f"{dataset.human_id} ({dataset.source_name}) has no {' and no '.join(missing)} column: the "
            "three-electrode analysis needs each electrode's potential against the reference (for BioLogic, "
            "Ewe and Ece, recorded with 'Record Ece'). The cell-voltage summary and metrics are kept.")
    table = read_canonical(dataset)
    data = three_electrode_from_table(table)
    halves = half_cycles_of(dataset, table)
    if len(halves) == 0:
        raise StageFailed(f"{dataset.human_id}: no charge or discharge was found, so there is nothing to analyse "
                          "per electrode.")
    cycle_table = electrode_cycle_table(data, halves)
    ranges = potential_range_table(data, halves)
    modes = degradation_modes(data, halves, positive_reference=references[POSITIVE].curve,
                              negative_reference=references[NEGATIVE].curve)
    modes = _explained(modes, references)
    diagnosis = diagnose(cycle_table, modes, check=data.check)
    check = data.check
    used = {}
    for role, reference in references.items():
        curve = reference.curve
        used[f"{role}_reference_dataset"] = reference.choice.dataset if curve is not None else None
        used[f"{role}_reference_cycle"] = curve.cycle_number if curve is not None else None
        used[f"{role}_reference_source"] = (f"{curve.source}; {reference.choice.how}" if curve is not None
                                            else reference.problem)
    fields = dict(
        working_electrode=data.params.get("working_electrode", POSITIVE), potential_sources=json_safe(data.sources),
        consistency_status=check.status, consistency_tolerance_v=check.tolerance_v,
        consistency_max_abs_error_v=_finite(check.max_abs_error_v), consistency_rms_error_v=_finite(check.rms_error_v),
        consistency_rows=check.n_rows, consistency_rows_over_tolerance=check.n_over_tolerance,
        consistency_worst_row=check.worst_row, consistency_message=check.message,
        modes_status=modes.status, modes_messages=list(modes.messages), modes_reference_cycle=modes.reference_cycle,
        params=json_safe({
            "three_electrode": {"method": "three_electrode_from_table", "version": THREE_ELECTRODE_VERSION,
                                "params": data.params, "check": check.to_dict()},
            "half_cycles": "from the cycling segmentation of the stored summary (analysis.core.cycling)",
            "cycle_table": table_metadata(cycle_table), "potential_ranges": table_metadata(ranges),
            "modes": {**table_metadata(modes.modes), "messages": list(modes.messages)},
        }),
        **used,
    )
    with transaction.atomic():
        analysis, _ = ElectrodeAnalysis.objects.update_or_create(dataset=dataset, defaults=fields)
        for model, rows in ((ElectrodeCycle, cycle_table), (ElectrodePotentialRange, ranges),
                            (ElectrodeBranchFit, modes.fits), (DegradationModeCycle, modes.modes)):
            model.objects.filter(dataset=dataset).delete()
            model.objects.bulk_create(_model_rows(model, rows, dataset=dataset), batch_size=2000)
    return analysis, diagnosis


def _store_diagnosis(cell: Cell, dataset: Dataset, analysis: ElectrodeAnalysis, diagnosis: Diagnosis) -> CellDiagnosis:
    limiting, over = diagnosis.limiting, diagnosis.overpotential
    totals = diagnosis.modes.get("modes", {})
    dominant = diagnosis.modes.get("dominant")
    measured = [over[r] for r in ROLES if isinstance(over.get(r), dict) and over[r].get("measure")]
    fields = dict(
        dataset=dataset, sentence=diagnosis.sentence,
        dominant_mode=dominant or "",
        dominant_mode_total=_finite(totals[dominant]["total"]) if dominant else None,
        dominant_mode_per_cycle=_finite(totals[dominant]["per_cycle"]) if dominant else None,
        dominant_mode_last_cycle=totals[dominant]["last_cycle"] if dominant else None,
        sodium_lost_at=diagnosis.sodium_loss.get("electrode") or "",
        overpotential_grew=any(o["grew"] for o in measured) if measured else None,
        overpotential_threshold_v=over["threshold_v"],
        modes_status=analysis.modes_status, consistency_status=analysis.consistency_status,
        warnings=list(diagnosis.warnings), numbers=diagnosis.to_dict(), params=diagnosis.params,
        version=diagnosis.version,
    )
    for direction in ("charge", "discharge"):
        info = limiting[direction]
        fields[f"{direction}_limited_by"] = info.get("electrode") or ""
        fields[f"{direction}_limiting_share"] = _finite(info.get("share_last_cycle"))
        fields[f"{direction}_limited_since_cycle"] = info.get("since_cycle")
    for name in ("loss_of_sodium_inventory", "loss_of_positive_active_material", "loss_of_negative_active_material"):
        fields[name] = _finite(totals[name]["total"]) if name in totals else None
    for role in ROLES:
        info = over.get(role) if isinstance(over.get(role), dict) else {}
        fields[f"{role}_overpotential_rise_v"] = _finite(info.get("rise_v"))
        fields[f"{role}_overpotential_measure"] = info.get("measure") or ""
    return CellDiagnosis.objects.update_or_create(cell=cell, defaults=fields)[0]


CONSISTENCY_FLAG = "three_electrode_consistency"


def _flag_consistency(dataset: Dataset, analysis: ElectrodeAnalysis) -> None:
    """A failed consistency check is a quality flag of the dataset as a whole: its numbers stand,
    and it ends "done with warnings", the check's message with them."""
    QualityFlag.objects.filter(dataset=dataset, cycle_number__isnull=True, code=CONSISTENCY_FLAG).delete()
    if analysis.consistency_status == ElectrodeAnalysis.Check.FAILED:
        QualityFlag.objects.create(
            dataset=dataset, cycle_number=None, code=CONSISTENCY_FLAG, quantity="voltage",
            value=analysis.consistency_max_abs_error_v, limit=analysis.consistency_tolerance_v, unit="V",
            message=f"Three-electrode consistency check failed: {analysis.consistency_message}",
            details={"rows": analysis.consistency_rows, "rows_over_tolerance": analysis.consistency_rows_over_tolerance,
                     "worst_row": analysis.consistency_worst_row})
    if not Dataset.objects.filter(pk=dataset.pk, state=Dataset.State.FAILED).exists():
        finish(dataset)


def diagnose_cell(cell: Cell, *, datasets=None) -> str:
    """Analyse the three-electrode cell's datasets (all, or ``datasets`` and the newest) and store
    its diagnosis from the newest. Each dataset's analysis is its ELECTRODES stage: a failure is
    recorded there with its reason; a failed consistency check is stated on the dataset."""
    if cell.kind != THREE_ELECTRODE:
        CellDiagnosis.objects.filter(cell=cell).delete()
        return "done"
    history = processed_datasets(cell)
    if not history:
        CellDiagnosis.objects.filter(cell=cell).delete()
        return "done"
    newest = history[-1]
    wanted = None if datasets is None else {d.pk for d in datasets} | {newest.pk}
    references = cell_references(cell)
    outcome, newest_result = "done", None
    for dataset in history:
        if wanted is not None and dataset.pk not in wanted:
            continue
        try:
            with stage(dataset, Stage.ELECTRODES) as record:
                analysis, diagnosis = analyse_dataset(dataset, references)
                failed = analysis.consistency_status == ElectrodeAnalysis.Check.FAILED
                record.message = f"Consistency check failed: {analysis.consistency_message}." if failed else ""
        except (OperationalError, InterfaceError):
            raise  # a passing fault: the task retries
        except Exception:  # noqa: BLE001 - recorded on the dataset's stage by stage()
            outcome = "failed"
            continue
        _flag_consistency(dataset, analysis)
        if dataset.pk == newest.pk:
            newest_result = (analysis, diagnosis)
    if newest_result is None:
        CellDiagnosis.objects.filter(cell=cell).delete()
    else:
        _store_diagnosis(cell, newest, *newest_result)
    return outcome


# --- links and fade predictions ----------------------------------------------------------------


def efficiency_series(cell: Cell) -> tuple[list[int], list[float]]:
    """The coulombic efficiency of cycles 1, 2, … of the cell's history (over its datasets), up
    to the first cycle missing (incomplete, or without an efficiency)."""
    cycles, values = [], []
    for number, value in (CycleSummary.objects.filter(dataset__run__cell=cell, complete=True,
                                                      history_cycle_number__gte=1)
                          .order_by("history_cycle_number").values_list("history_cycle_number",
                                                                        "coulombic_efficiency")):
        if number != len(cycles) + 1 or value is None or not math.isfinite(value):
            break
        cycles.append(number)
        values.append(value)
    return cycles, values


@dataclasses.dataclass(frozen=True)
class MeasuredFade:
    dataset: Dataset
    reference_cycle: int
    cycles: list[int]
    retention: list[float]


def measured_fade(cell: Cell) -> tuple[MeasuredFade | None, str]:
    """The cell's retention per cycle of its history against the reference cycle of its
    retention metric (the first cycle at the rate of its last), or why there is none."""
    metrics = CellMetrics.objects.filter(cell=cell).select_related("dataset").first()
    if metrics is None:
        return None, f"{cell.human_id} has no processed cycling data yet"
    retention = metrics.values.get("retention") or {}
    reference = (retention.get("params") or {}).get("ref_cycle")
    if retention.get("value") is None or reference is None:
        reason = (retention.get("details") or {}).get("reason", "not computed")
        return None, f"the retention of {cell.human_id} is not known ({reason})"
    column = (retention.get("details") or {}).get("column") or "discharge_capacity_mah"
    rows = list(CycleSummary.objects.filter(dataset__run__cell=cell, complete=True, history_cycle_number__gte=reference)
                .order_by("history_cycle_number").values_list("history_cycle_number", column))
    base = rows[0][1] if rows and rows[0][0] == reference else None
    if not base:
        return None, f"{cell.human_id} has no capacity in its reference cycle {reference}"
    kept = [(n, q / base) for n, q in rows if q is not None]
    return MeasuredFade(metrics.dataset, reference, [n for n, _ in kept], [r for _, r in kept]), ""


def _planned_cycles(cell: Cell) -> int:
    return sum(run.protocol.cycle_count for run in
               CyclingRun.objects.filter(cell=cell, protocol__isnull=False).select_related("protocol")
               .prefetch_related("protocol__steps"))


@dataclasses.dataclass(frozen=True)
class HalfCellHistory:
    cell: Cell
    dataset: Dataset
    cycles: list[int]
    efficiencies: list[float]
    reason: str


def choose_half_cell(cell: Cell, role: str, cycles_needed: int) -> tuple[HalfCellHistory | None, str]:
    """The half cell whose coulombic efficiencies stand for the electrode in ``role``: among
    :func:`prediction_half_cells` with processed data, one whose history covers the cycles the
    cell ran (or plans), built from the same sheet if there is one, else the longest history."""
    name = ELECTRODE_NAMES[role]
    candidates = prediction_half_cells(cell, role)
    histories = []
    for candidate in candidates:
        used = processed_datasets(candidate.cell)
        cycles, values = efficiency_series(candidate.cell)
        if used and cycles:
            histories.append((candidate, used[-1], cycles, values))
    if not histories:
        electrode = cast_electrode(cell, role)
        where = f"from {electrode.sheet.human_id} or its {name} lot" if electrode else "of its electrodes"
        checked = ", ".join(c.cell.human_id for c in candidates)
        return None, (f"no {Cell.Kind(HALF_CELL_KIND[role]).label} {where} has processed cycles"
                      + (f" ({checked} have none)" if checked else ""))

    def rank(item):  # the first is the best
        candidate, _dataset, cycles, _values = item
        return (len(cycles) < cycles_needed, not candidate.same_sheet, -len(cycles), candidate.cell.human_id)

    candidate, dataset, cycles, values = min(histories, key=rank)
    reason = f"{candidate.cell.human_id}: {candidate.reason}; {len(cycles)} cycles in its history"
    return HalfCellHistory(candidate.cell, dataset, cycles, values, reason), ""


def _safely(cell: Cell, attribute: str):
    try:
        return getattr(cell, attribute)
    except (ValueError, ArithmeticError):
        return None


def predict_cell_fade(cell: Cell) -> FadePrediction | None:
    """Store the balanced cell's fade predicted from its half cells' coulombic efficiencies and
    its N/P ratio, set against what it measured."""
    cell = cells_with_parts(Cell.objects.filter(pk=cell.pk)).first()
    if cell is None:
        return None
    if cell.kind not in BALANCED:
        FadePrediction.objects.filter(cell=cell).delete()
        return None
    measured, unmeasured = measured_fade(cell)
    needed = (measured.cycles[-1] if measured else 0) or _planned_cycles(cell)
    fields = dict(status=FadePrediction.Status.NOT_PREDICTED, message="", np_ratio=_finite(_safely(cell, "np_ratio")),
                  np_basis=cell.np_basis, measured_dataset=measured.dataset if measured else None,
                  reference_cycle=measured.reference_cycle if measured else None, cycle=None,
                  predicted_retention=None, measured_retention=None, difference_pp=None, explained_fraction=None,
                  sentence="", version=FADE_VERSION, params={})
    histories, problems = {}, []
    for role in ROLES:
        history, problem = choose_half_cell(cell, role, needed)
        histories[role] = history
        fields[f"{role}_half_cell"] = history.cell if history else None
        fields[f"{role}_dataset"] = history.dataset if history else None
        fields[f"{role}_choice"] = history.reason if history else problem
        if problem:
            problems.append(problem)
    if fields["np_ratio"] is None:
        problems.append(f"the N/P ratio of {cell.human_id} is not known (its electrodes' loadings and, on the "
                        f"'{cell.get_np_basis_display()}' basis, the specific capacities)")
    rows = []
    if not problems:
        positive, negative = histories[POSITIVE], histories[NEGATIVE]
        n = min(len(positive.cycles), len(negative.cycles))
        reference = measured.reference_cycle if measured else 1
        try:
            if reference > n:
                raise ValueError(f"the half cells' histories end at cycle {n}, before the reference cycle "
                                 f"{reference} of {cell.human_id}")
            prediction = predict_full_cell_fade(positive.efficiencies[:n], negative.efficiencies[:n],
                                                fields["np_ratio"], cycle_numbers=list(range(1, n + 1)),
                                                reference_cycle=reference)
        except ValueError as error:
            problems.append(str(error))
        else:
            fields.update(status=FadePrediction.Status.PREDICTED, params=json_safe(prediction.params),
                          reference_cycle=reference)
            rows = prediction.table.to_pylist()
            cycles, predicted = prediction.retention(reference)
            last = len(rows) - 1
            fields.update(cycle=int(cycles[last]), predicted_retention=_finite(float(predicted[last])))
            comparison = None
            if measured:
                try:
                    comparison = compare_fade(prediction, measured.cycles, measured.retention,
                                              reference_cycle=reference)
                except ValueError as error:
                    unmeasured = str(error)
            if comparison is not None:
                fields.update(status=FadePrediction.Status.COMPARED, cycle=comparison.cycle,
                              predicted_retention=comparison.predicted_retention,
                              measured_retention=comparison.measured_retention,
                              difference_pp=comparison.difference_pp,
                              explained_fraction=_finite(comparison.explained_fraction),
                              sentence=comparison.sentence, params=json_safe(comparison.params))
                compared = {row["cycle_number"]: row for row in comparison.table.to_pylist()}
                for row in rows:
                    row.update({k: compared.get(row["cycle_number"], {}).get(k)
                                for k in ("measured_retention", "difference")})
            else:
                fields.update(message=f"Not compared: {unmeasured}.",
                              sentence=(f"The half cells' coulombic efficiencies and N/P {fields['np_ratio']:.2f} "
                                        f"predict {100 * fields['predicted_retention']:.1f} % retention at cycle "
                                        f"{fields['cycle']} against cycle {reference}; {unmeasured}."))
    if problems:
        fields.update(status=FadePrediction.Status.NOT_PREDICTED, message="Not predicted: " + "; ".join(problems) + ".")
    with transaction.atomic():
        stored, _ = FadePrediction.objects.update_or_create(cell=cell, defaults=fields)
        FadePredictionCycle.objects.filter(prediction=stored).delete()
        FadePredictionCycle.objects.bulk_create(
            [FadePredictionCycle(prediction=stored, **{k: _finite(v) for k, v in row.items()}) for row in rows])
    return stored


# --- when -----------------------------------------------------------------------------------------


def _queue_dependents(half_cell: Cell) -> None:
    from analysis.tasks import queue_diagnosis, queue_fade_prediction  # the tasks module imports services

    diagnoses, predictions = dependents_of(half_cell)
    queue_diagnosis(diagnoses)
    queue_fade_prediction(predictions)


def _after_data(cell: Cell, datasets=None) -> str:
    outcome = "done"
    if cell.kind == THREE_ELECTRODE:
        outcome = diagnose_cell(cell, datasets=datasets)
    if cell.kind in BALANCED:
        predict_cell_fade(cell)
    if cell.kind in ROLE_OF_HALF_CELL:
        _queue_dependents(cell)
    return outcome


def after_ingestion(dataset: Dataset) -> str:
    """At the end of a dataset's ingestion: a three-electrode cell's analysis and diagnosis, a
    balanced cell's fade prediction, in this task; for a half cell, the diagnoses and predictions
    that read it, queued."""
    return _after_data(Cell.objects.get(pk=dataset.run.cell_id), datasets=[dataset])


def after_recompute(cell_id: int) -> str:
    """At the end of a cell's recomputation: as :func:`after_ingestion`, over all its datasets."""
    cell = Cell.objects.filter(pk=cell_id).first()
    return _after_data(cell) if cell is not None else "done"


def recompute_diagnosis(cell_id: int) -> str:
    cell = Cell.objects.filter(pk=cell_id).first()
    return diagnose_cell(cell) if cell is not None else "done"


def recompute_fade_prediction(cell_id: int) -> str:
    cell = Cell.objects.filter(pk=cell_id).first()
    if cell is not None:
        predict_cell_fade(cell)
    return "done"


# What only these results read, beyond what recomputes a cell's summaries (analysis.signals):
# the reference curves chosen on a three-electrode cell, and a balanced cell's N/P ratio. (The
# links are read from the records when they are shown, so they are never stale.)
_PARTS = {"kind", "parts.electrode", "parts.role", "parts.row"}
REFERENCE_INPUTS = {
    Cell: _PARTS | {"positive_reference_dataset", "positive_reference_cycle", "negative_reference_dataset",
                    "negative_reference_cycle"},
    Electrode: {"sheet"},
}
NP_INPUTS = {
    Cell: _PARTS | {"np_basis", "negative_capacity_for_np_mah_g", "positive_capacity_for_np_mah_g"},
    Electrode: {"sheet", "mass_mg", "diameter_mm"},
    ElectrodeSheet: {"current_collector_areal_mass_mg_cm2", "components.role", "components.lot",
                     "components.mass_fraction_percent", "components.row", "loading_discs.*"},
    Material: {"reference_specific_capacity_mah_g"},
}


def _touches(inputs: set, fields, children) -> bool:
    if fields & inputs:
        return True
    return any(f"{name}.*" in inputs or any(f"{name}.{field}" in inputs for field in changed)
               for name, changed in children.items())


def record_changed(sender, record, *, created, deleted, fields, children) -> None:
    """The ``records_changed`` receiver for the three-electrode results (see the comment above).

    A new record has nothing computed from it yet, and a deleted cell's results go with it; a
    cell's summaries being recomputed recomputes these too (see :func:`after_recompute`), so
    only what the summaries do not read is queued here."""
    if created or deleted or sender not in NP_INPUTS:
        return
    reference = _touches(REFERENCE_INPUTS.get(sender, set()), fields, children)
    np_ratio = _touches(NP_INPUTS[sender], fields, children)
    if not (reference or np_ratio):
        return
    from analysis.tasks import queue_diagnosis, queue_fade_prediction

    cells = Cell.objects.filter(pk__in=cells_using(record))
    with_data = set(Dataset.objects.filter(run__cell__in=cells).exclude(parquet_file="")
                    .values_list("run__cell_id", flat=True))
    predicted = set(FadePrediction.objects.filter(cell__in=cells).values_list("cell_id", flat=True))
    diagnoses, predictions = set(), set()
    for cell in cells:
        if reference and cell.kind == THREE_ELECTRODE and cell.pk in with_data:
            diagnoses.add(cell.pk)
        if np_ratio and cell.kind in BALANCED and (cell.pk in with_data or cell.pk in predicted):
            predictions.add(cell.pk)
    queue_diagnosis(diagnoses)
    queue_fade_prediction(predictions)
