"""Every write of samples: receiving lots, making batches, solutions, sheets, electrodes and
infiltration runs, and the stock ledger they all take from.

Each service is keyword-only and named for what the lab does; it hands ``eln.services`` the
record's spec (child rows and their natural keys, the rules over the rows, what it takes from
stock). The rules of a single record are the models' ``clean`` methods; the ones that need the
rows are here, each once; the API, the admin, the CSV import and the demo loader call these.
"""
from __future__ import annotations

from collections import defaultdict

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from eln.services import ChildSet, Problems, RecordSpec, Use, record_save, register
from samples import selectors
from samples.models import (
    AlloyBatch,
    AlloyBatchInput,
    ConductivityMeasurement,
    Electrode,
    ElectrodeSheet,
    ElectrolyteBatch,
    ElectrolyteBatchInput,
    ElectrolyteBatchStep,
    InfiltratedElectrode,
    InfiltrationDryingStep,
    InfiltrationRun,
    InfiltrationSolution,
    InfiltrationSolutionInput,
    LoadingDisc,
    LotInput,
    LotTreatment,
    Material,
    PrecursorLot,
    SheetComponent,
    StockMovement,
    composition_problems,
)

# Stock is compared to a thousandth of its unit: below any balance's or pipette's resolution.
STOCK_TOLERANCE = 1e-3


# --- the stock ledger ------------------------------------------------------------------------


def holder_name(holder) -> str:
    """A holder as the ledger's messages name it: LOT-0001 (Na2B12H12), EB-0001 (Na4(B12H12)(B10H10))."""
    if isinstance(holder, PrecursorLot):
        what = holder.material.name
    elif isinstance(holder, (ElectrolyteBatch, InfiltrationSolution)):
        what = holder.product.name
    else:
        what = holder.name or "alloy"
    return f"{holder.human_id or 'this new ' + holder._meta.verbose_name} ({what})"


def _source_key(source) -> tuple[int, int]:
    return ContentType.objects.get_for_model(source).pk, source.pk


def _line_holder(line: StockMovement) -> tuple[type, str, int]:
    """(holder model, its field on the line, its pk), without fetching the holder."""
    for model, field in selectors.HOLDER_FIELD.items():
        pk = getattr(line, f"{field}_id")
        if pk is not None:
            return model, field, pk
    raise ValueError(f"ledger line {line.pk} has no holder")


class Ledger:
    """Checks and writes what records take from stock. Every ledger line written by a process
    goes through ``write``; corrections and disposals through ``stock_correct``."""

    def lines_of(self, sources) -> list[StockMovement]:
        """The process lines the given rows (records and their child rows) hold now."""
        by_type = defaultdict(list)
        for source in sources:
            if source.pk is not None:
                by_type[ContentType.objects.get_for_model(source).pk].append(source.pk)
        lines = []
        for type_id, ids in by_type.items():
            lines += StockMovement.objects.filter(source_type_id=type_id, source_id__in=ids)
        return lines

    def problems(self, record, uses: list[Use], lines: list[StockMovement]) -> dict[str, list[str]]:
        """Messages for the holders ``uses`` would overdraw, counting ``lines`` (what the record
        holds now) as given back. Holders are locked until the transaction ends."""
        problems = Problems()
        asked = defaultdict(float)
        fields = {}
        holders = {}
        for use in uses:
            key = (type(use.holder), use.holder.pk, id(use.holder) if use.holder.pk is None else None)
            asked[key] += use.quantity
            fields.setdefault(key, use.field)
            holders[key] = use.holder
        given_back = defaultdict(float)
        for line in lines:
            model, _field, pk = _line_holder(line)
            given_back[(model, pk, None)] += line.quantity
        by_model = defaultdict(list)
        for model, pk, _new in asked:
            if pk is not None:
                by_model[model].append(pk)
        taken = {}
        for model, pks in by_model.items():
            list(model.objects.select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk").values_list("pk"))
            for pk, total in selectors.taken_by_holder(model, pks).items():
                taken[(model, pk)] = total or 0.0
        used_for = record.human_id or f"this new {record._meta.verbose_name}"
        for key, quantity in asked.items():
            model, pk, _new = key
            holder = holders[key]
            unit = model.STOCK_UNIT
            # the record itself may be the holder (a batch's pellet): its quantity as being saved
            have = getattr(holder, model.STOCK_FIELD)
            if have is None:
                problems.add(fields[key], f"{holder_name(holder)} has no recorded {model.STOCK_LABEL}, so nothing "
                                          f"can be taken from it; enter its {model.STOCK_LABEL} first.")
                continue
            left = have - taken.get((model, pk), 0.0) + given_back.get((model, pk, None), 0.0)
            if quantity > left + STOCK_TOLERANCE:
                problems.add(fields[key], f"{holder_name(holder)} has {left:g} {unit} left; {used_for} asks for "
                                          f"{quantity:g} {unit}.")
        return dict(problems.by_field)

    def write(self, record, uses: list[Use], lines: list[StockMovement], *, user=None) -> None:
        """Make the ledger hold exactly ``uses`` for these sources: unchanged lines stay as they
        are, changed ones are updated in place, the rest added or removed."""
        wanted = {}
        for use in uses:
            if not use.quantity:
                continue
            field = selectors.HOLDER_FIELD[type(use.holder)]
            key = (*_source_key(use.source), field, use.holder.pk)
            wanted[key] = wanted.get(key, 0.0) + use.quantity
        used_for = record.human_id
        for line in lines:
            _model, field, pk = _line_holder(line)
            key = (line.source_type_id, line.source_id, field, pk)
            quantity = wanted.pop(key, None)
            if quantity is None:
                line.delete()
            elif quantity != line.quantity or line.used_for != used_for:
                line.quantity, line.used_for = quantity, used_for
                if user is not None and user.is_authenticated:
                    line._history_user = user
                line.save(update_fields=["quantity", "used_for"])
        for (type_id, source_id, field, holder_pk), quantity in wanted.items():
            line = StockMovement(**{f"{field}_id": holder_pk}, quantity=quantity, kind=StockMovement.Kind.USE,
                                 used_for=used_for, source_type_id=type_id, source_id=source_id,
                                 created_by=user if user is not None and user.is_authenticated else None)
            if line.created_by:
                line._history_user = user
            line.save()


LEDGER = Ledger()


def holder_quantity_problems(holder) -> dict[str, list[str]]:
    """A holder's quantity cannot fall below what its ledger has taken."""
    if holder.pk is None:
        return {}
    have = getattr(holder, type(holder).STOCK_FIELD)
    taken = selectors.taken_by_holder(type(holder), [holder.pk]).get(holder.pk) or 0.0
    if taken and (have is None or have < taken - STOCK_TOLERANCE):
        unit, label = type(holder).STOCK_UNIT, type(holder).STOCK_LABEL
        return {type(holder).STOCK_FIELD: [f"The ledger has already taken {taken:g} {unit} from {holder.human_id}; "
                                           f"its {label} cannot be less."]}
    return {}


@transaction.atomic
def stock_correct(*, user, holder, quantity: float, kind: str = StockMovement.Kind.CORRECTION, note: str = "",
                  line: StockMovement | None = None) -> StockMovement:
    """Add a correction or disposal line to a holder's ledger (or change one): a positive
    quantity takes out, a negative correction puts back. What is left never falls below 0."""
    problems = Problems()
    if kind not in StockMovement.MANUAL_KINDS:
        problems.add("kind", "People add corrections and disposals; processes write the other lines.")
    if line is not None and line.is_process_line:
        problems.add(None, "This line was written by a process; change the record that took the stock instead.")
    if line is not None and line.holder != holder:
        problems.add("lot", "A ledger line stays on its holder; add a new line there instead.")
    field = selectors.HOLDER_FIELD[type(holder)]
    candidate = line or StockMovement(**{field: holder})
    candidate.quantity, candidate.kind, candidate.note = quantity, kind, note
    try:
        candidate.full_clean(exclude=["source_type", "source_id", "created_by"], validate_constraints=False)
    except Exception as error:  # noqa: BLE001 - a ValidationError, collected with the rest
        problems.add_error(error)
    problems.raise_if_any()
    holder = type(holder).objects.select_for_update().get(pk=holder.pk)
    taken = selectors.taken_by_holder(type(holder), [holder.pk]).get(holder.pk) or 0.0
    before = StockMovement.objects.get(pk=line.pk).quantity if line is not None and line.pk else 0.0
    left = (getattr(holder, type(holder).STOCK_FIELD) or 0.0) - taken + before
    unit = type(holder).STOCK_UNIT
    if quantity > left + STOCK_TOLERANCE:
        problems.add("quantity", f"{holder_name(holder)} has {left:g} {unit} left; this {kind} asks for "
                                 f"{quantity:g} {unit}.")
    problems.raise_if_any()
    if candidate.pk is None and user is not None and user.is_authenticated:
        candidate.created_by = user
    if user is not None and user.is_authenticated:
        candidate._history_user = user
    candidate.save()
    return candidate


@transaction.atomic
def stock_correction_remove(*, user, line: StockMovement) -> None:
    """Remove a correction or disposal; lines written by processes go with their record."""
    if line.is_process_line:
        raise_problem(None, "This line was written by a process; change the record that took the stock instead.")
    model, _field, pk = _line_holder(line)
    holder = model.objects.select_for_update().get(pk=pk)
    taken = selectors.taken_by_holder(model, [pk]).get(pk) or 0.0
    left = (getattr(holder, model.STOCK_FIELD) or 0.0) - (taken - line.quantity)
    if left < -STOCK_TOLERANCE:
        raise_problem("quantity", f"Without this line {holder_name(holder)} would have {left:g} "
                                  f"{type(holder).STOCK_UNIT} left; the ledger would take more than it holds.")
    if user is not None and user.is_authenticated:
        line._history_user = user
    line.delete()


def raise_problem(field, message):
    problems = Problems()
    problems.add(field, message)
    problems.raise_if_any()


# --- what the records take ----------------------------------------------------------------------


def _lot_uses(rows, field: str) -> list[Use]:
    return [Use(row.lot, row.mass_mg, row, field) for row in rows if row.mass_mg]


def _solvent_use(record, lot_field: str, volume_field: str) -> list[Use]:
    lot, volume = getattr(record, lot_field), getattr(record, volume_field)
    if lot is None or not volume or lot.material.density_g_cm3 is None:
        return []
    return [Use(lot, volume * lot.material.density_g_cm3 * 1000.0, record, lot_field)]  # mL × g/cm³ → mg


# --- materials (lab-wide data) -------------------------------------------------------------------

MATERIAL = register(RecordSpec(Material))


def material_add(*, user, **fields) -> Material:
    return record_save(MATERIAL, user=user, record=Material(), fields=fields)


def material_update(*, user, material: Material, **fields) -> Material:
    return record_save(MATERIAL, user=user, record=material, fields=fields)


# --- precursor lots -----------------------------------------------------------------------------

LOT = register(RecordSpec(
    PrecursorLot,
    children={
        "treatments": ChildSet(LotTreatment, "lot"),
        "inputs": ChildSet(LotInput, "made_lot", key=("lot",)),
    },
    rules=lambda lot, rows: holder_quantity_problems(lot),
    uses=lambda lot, rows: _lot_uses(rows["inputs"], "inputs"),
    ledger=LEDGER,
))


def lot_receive(*, user, project, **fields) -> PrecursorLot:
    """A lot received from a supplier (with its ``treatments``), or made in house from other
    lots (``inputs``: the masses taken from them)."""
    return record_save(LOT, user=user, record=PrecursorLot(project=project), fields=fields)


def lot_update(*, user, lot: PrecursorLot, reason: str = "", **fields) -> PrecursorLot:
    return record_save(LOT, user=user, record=lot, fields=fields, reason=reason)


# --- electrolyte batches ------------------------------------------------------------------------


def _batch_uses(batch, rows):
    uses = _lot_uses(rows["inputs"], "inputs") + _solvent_use(batch, "solvent_lot", "solvent_volume_ml")
    if batch.pellet_mass_mg:
        uses.append(Use(batch, batch.pellet_mass_mg, batch, "pellet_mass_mg"))
    return uses


ELECTROLYTE_BATCH = register(RecordSpec(
    ElectrolyteBatch,
    children={
        "inputs": ChildSet(ElectrolyteBatchInput, "batch", key=("lot",)),
        "steps": ChildSet(ElectrolyteBatchStep, "batch", key=("order",)),
        "conductivity_measurements": ChildSet(ConductivityMeasurement, "batch"),
    },
    rules=lambda batch, rows: holder_quantity_problems(batch),
    uses=_batch_uses,
    ledger=LEDGER,
))


def electrolyte_batch_record(*, user, project, **fields) -> ElectrolyteBatch:
    """A batch of solid electrolyte made from precursor lots (``inputs``), with its process
    ``steps`` and ``conductivity_measurements``."""
    return record_save(ELECTROLYTE_BATCH, user=user, record=ElectrolyteBatch(project=project), fields=fields)


def electrolyte_batch_update(*, user, batch: ElectrolyteBatch, **fields) -> ElectrolyteBatch:
    return record_save(ELECTROLYTE_BATCH, user=user, record=batch, fields=fields)


# --- infiltration solutions ---------------------------------------------------------------------

SOLUTION = register(RecordSpec(
    InfiltrationSolution,
    children={"inputs": ChildSet(InfiltrationSolutionInput, "solution", key=("lot",))},
    rules=lambda solution, rows: holder_quantity_problems(solution),
    uses=lambda solution, rows: (_lot_uses(rows["inputs"], "inputs")
                                 + _solvent_use(solution, "solvent_lot", "solvent_volume_ml")),
    ledger=LEDGER,
))


def infiltration_solution_prepare(*, user, project, **fields) -> InfiltrationSolution:
    """Salts from lots (``inputs``) dissolved in a volume of solvent taken from its lot."""
    return record_save(SOLUTION, user=user, record=InfiltrationSolution(project=project), fields=fields)


def infiltration_solution_update(*, user, solution: InfiltrationSolution, **fields) -> InfiltrationSolution:
    return record_save(SOLUTION, user=user, record=solution, fields=fields)


# --- electrode sheets and electrodes ------------------------------------------------------------


def _sheet_rules(sheet, rows):
    components = rows["components"]
    if not components:
        return {"components": ["A sheet needs its components: the active material, binder and carbon."]}
    problems = composition_problems([(c.role, c.mass_fraction_percent) for c in components])
    return {"components": problems} if problems else {}


SHEET = register(RecordSpec(
    ElectrodeSheet,
    children={
        "components": ChildSet(SheetComponent, "sheet", key=("lot",)),
        "loading_discs": ChildSet(LoadingDisc, "sheet"),
    },
    rules=_sheet_rules,
    uses=lambda sheet, rows: (_lot_uses(rows["components"], "components")
                              + _solvent_use(sheet, "slurry_solvent_lot", "slurry_solvent_volume_ml")),
    ledger=LEDGER,
))


def electrode_sheet_cast(*, user, project, **fields) -> ElectrodeSheet:
    """A slurry cast on a foil: its ``components`` (mass fractions, and masses taken from the
    lots) and the ``loading_discs`` punched to weigh its loading."""
    return record_save(SHEET, user=user, record=ElectrodeSheet(project=project), fields=fields)


def electrode_sheet_update(*, user, sheet: ElectrodeSheet, **fields) -> ElectrodeSheet:
    return record_save(SHEET, user=user, record=sheet, fields=fields)


ELECTRODE = register(RecordSpec(Electrode))


def electrode_punch(*, user, project, **fields) -> Electrode:
    return record_save(ELECTRODE, user=user, record=Electrode(project=project), fields=fields)


def electrode_update(*, user, electrode: Electrode, **fields) -> Electrode:
    return record_save(ELECTRODE, user=user, record=electrode, fields=fields)


# --- infiltration runs -------------------------------------------------------------------------


def _run_uses(run, rows):
    if run.solution_volume_ml and run.solution_id:
        return [Use(run.solution, run.solution_volume_ml, run, "solution_volume_ml")]
    return []


INFILTRATION_RUN = register(RecordSpec(
    InfiltrationRun,
    children={
        "drying_steps": ChildSet(InfiltrationDryingStep, "run", key=("order",)),
        "electrodes": ChildSet(InfiltratedElectrode, "run", key=("electrode",)),
    },
    rules=lambda run, rows: ({} if rows["electrodes"] else
                             {"electrodes": ["An infiltration run needs the electrodes it infiltrated."]}),
    uses=_run_uses,
    ledger=LEDGER,
))


def infiltration_run_record(*, user, project, **fields) -> InfiltrationRun:
    """Electrodes dipped in a solution (the volume used taken from its stock), dried and pressed:
    per electrode the masses before and after, and after pressing the thickness and mass."""
    return record_save(INFILTRATION_RUN, user=user, record=InfiltrationRun(project=project), fields=fields)


def infiltration_run_update(*, user, run: InfiltrationRun, **fields) -> InfiltrationRun:
    return record_save(INFILTRATION_RUN, user=user, record=run, fields=fields)


# --- alloy batches -----------------------------------------------------------------------------


def _alloy_rules(batch, rows):
    if batch.yield_mg is None and rows["inputs"]:
        batch.yield_mg = sum(row.mass_mg for row in rows["inputs"])  # grinding keeps the mass
    return holder_quantity_problems(batch)


ALLOY_BATCH = register(RecordSpec(
    AlloyBatch,
    children={"inputs": ChildSet(AlloyBatchInput, "batch", key=("lot",))},
    rules=_alloy_rules,
    uses=lambda batch, rows: _lot_uses(rows["inputs"], "inputs"),
    ledger=LEDGER,
))


def alloy_batch_prepare(*, user, project, **fields) -> AlloyBatch:
    """Metals from lots (``inputs``) ground into an alloy, e.g. Na-Sn 3:1 for the counter electrodes."""
    return record_save(ALLOY_BATCH, user=user, record=AlloyBatch(project=project), fields=fields)


def alloy_batch_update(*, user, batch: AlloyBatch, **fields) -> AlloyBatch:
    return record_save(ALLOY_BATCH, user=user, record=batch, fields=fields)
