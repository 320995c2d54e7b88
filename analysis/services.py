"""Ingestion and recomputation: the Django side that runs the pure core and stores its results.

Every stage records its state on the dataset (queued → running → done | failed, with a message
a person can act on). Nothing here alters or deletes the raw file; a failure leaves the raw
file and everything before the failing stage as it was.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import pathlib
import re
import shutil
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import File
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from analysis.core import metrics as metrics_core
from analysis.core.cycling import KIND_NAMES, SUMMARY_COLUMNS, update_analysis
from analysis.models import CellMetrics, CycleStep, CycleSummary, ProcessingStage
from analysis.core.readers import ReaderError
from analysis.core.readers.registry import read_cycler_file
from cells.models import Cell, CellPart, CyclingRun, Dataset, RawDataFile
from eln.services import RecordSpec, register

log = logging.getLogger(__name__)
Stage = ProcessingStage.Name


# A dataset is deleted through eln.services.record_delete; the cell's results are recomputed.
DATASET = register(RecordSpec(Dataset))


class StageFailed(Exception):
    """A stage could not finish for a reason in the data or the records; the message says which."""


@dataclasses.dataclass(frozen=True)
class CellParameters:
    """What the summary and metrics need from the cell's records."""

    active_mass_mg: float
    electrode_area_cm2: float
    reference_capacity_mah_g: float
    first_half_cycle: str
    positive_composite_mass_mg: float | None
    negative_composite_mass_mg: float | None

    def summary_kwargs(self) -> dict:
        return dict(active_mass_mg=self.active_mass_mg, electrode_area_cm2=self.electrode_area_cm2,
                    reference_capacity_mah_g=self.reference_capacity_mah_g,
                    first_half_cycle=self.first_half_cycle)


def cell_parameters(cell: Cell) -> CellParameters:
    electrode = cell.working_electrode
    if electrode is None:
        raise StageFailed(f"{cell.human_id} has no positive electrode from an electrode sheet: "
                          "add it to the cell's parts so capacities can be given per gram.")
    active_mass = electrode.active_mass_mg
    if not active_mass:
        raise StageFailed(f"{cell.human_id}: the active mass of {electrode.human_id} is unknown; "
                          f"enter the electrode's mass or the loading discs of {electrode.sheet.human_id}.")
    reference = cell.reference_specific_capacity_mah_g
    if not reference:
        raise StageFailed(f"{cell.human_id}: the active material of {electrode.sheet.human_id} has no reference "
                          "specific capacity (Materials), so the C-rate cannot be computed.")
    negative = cell.electrode_in_role(CellPart.Role.NEGATIVE)
    both_cast = cell.kind in (Cell.Kind.FULL, Cell.Kind.THREE_ELECTRODE) and negative and negative.electrode
    return CellParameters(
        active_mass_mg=active_mass, electrode_area_cm2=electrode.area_cm2, reference_capacity_mah_g=reference,
        first_half_cycle=cell.first_half_cycle, positive_composite_mass_mg=electrode.coating_mass_mg,
        negative_composite_mass_mg=negative.electrode.coating_mass_mg if both_cast else None,
    )


@contextlib.contextmanager
def stage(dataset: Dataset, name: str):
    """Run one stage: mark it running, then done, or failed with the reason (and re-raise)."""
    record, _ = ProcessingStage.objects.get_or_create(dataset=dataset, name=name)
    record.state, record.message, record.started_at, record.finished_at = (
        ProcessingStage.State.RUNNING, "", timezone.now(), None)
    record.attempts += 1
    record.save()
    try:
        yield record
    except Exception as error:  # noqa: BLE001 - every failure is recorded, then re-raised
        message = str(error) if isinstance(error, (StageFailed, ReaderError)) else (
            f"unexpected error while {record.get_name_display()}: {type(error).__name__}: {error}")
        record.state, record.message, record.finished_at = ProcessingStage.State.FAILED, message, timezone.now()
        record.save()
        Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.FAILED, message=message)
        raise
    record.state, record.finished_at = ProcessingStage.State.DONE, timezone.now()
    record.save()


def reset_stages(dataset: Dataset, names=tuple(ProcessingStage.ORDER)) -> None:
    for name in names:
        ProcessingStage.objects.update_or_create(
            dataset=dataset, name=name,
            defaults=dict(state=ProcessingStage.State.QUEUED, message="", started_at=None, finished_at=None),
        )


@contextlib.contextmanager
def local_copy(field_file):
    """A local path for a stored file: the file itself on a local disk, else a streamed copy."""
    try:
        yield pathlib.Path(field_file.path)
        return
    except NotImplementedError:
        pass
    suffix = pathlib.Path(field_file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as temporary:
        with field_file.open("rb") as source:
            shutil.copyfileobj(source, temporary, 1024 * 1024)
        temporary.flush()
        yield pathlib.Path(temporary.name)


def read_raw_file(dataset: Dataset) -> pa.Table:
    """Stage 1: the raw file into the canonical table, written as Parquet beside the raw file."""
    raw = dataset.raw_file
    cycler = dataset.run.channel.cycler if dataset.run.channel else None
    with local_copy(raw.file) as path:
        try:
            try:
                result = read_cycler_file(path)
            except ReaderError as error:
                if not (cycler and cycler.csv_column_mapping and "not a recognised cycler format" in str(error)):
                    raise
                result = read_cycler_file(path, mapping=cycler.csv_column_mapping)
        except ReaderError as error:
            # Name the file as the person uploaded it, not by its storage path.
            raise ReaderError(error.reason, file=raw.original_name, line=error.line, column=error.column) from None
    buffer = io.BytesIO()
    # A light zstd level: most of the gain for a fraction of the time of the default.
    pq.write_table(result.table, buffer, compression="zstd", compression_level=1)
    buffer.seek(0)
    storage = raw.file.storage
    parquet_name = f"{os.path.dirname(raw.file.name)}/{raw.original_name}.parquet"
    if storage.exists(parquet_name):
        storage.delete(parquet_name)  # a retried stage writes it again
    dataset.parquet_file.name = storage.save(parquet_name, File(buffer))
    dataset.reader_name, dataset.reader_version = result.reader_name, result.reader_version
    dataset.row_count = result.table.num_rows
    dataset.file_metadata = result.metadata
    dataset.save(update_fields=["parquet_file", "reader_name", "reader_version", "row_count", "file_metadata",
                                "modified_at"])
    return result.table


def _summary_path(raw) -> str:
    """The summary Parquet of a raw file version, beside it: the base for an incremental update."""
    return f"{os.path.dirname(raw.file.name)}/{raw.original_name}.summary.parquet"


def _previous_summary(dataset: Dataset) -> pa.Table | None:
    """The summary of this file, or of the version it grew from (with its parameters).

    Only when the database holds that summary's rows: an incremental update rewrites just the
    tail, so without the stored head it must start over."""
    if not dataset.cycles.exists():
        return None
    for raw in (dataset.raw_file, dataset.raw_file.supersedes):
        if raw is not None and raw.file.storage.exists(_summary_path(raw)):
            with raw.file.storage.open(_summary_path(raw), "rb") as handle:
                return pq.read_table(handle)
    return None


def _write_summary_parquet(dataset: Dataset, summary: pa.Table) -> None:
    storage, name = dataset.raw_file.file.storage, _summary_path(dataset.raw_file)
    buffer = io.BytesIO()
    pq.write_table(summary, buffer)
    buffer.seek(0)
    if storage.exists(name):
        storage.delete(name)
    storage.save(name, File(buffer))


def read_canonical(dataset: Dataset, columns: list[str] | None = None) -> pa.Table:
    """The dataset's canonical table (or some of its columns), from its Parquet."""
    with _open_canonical(dataset) as handle:
        return pq.read_table(handle, columns=columns)


def canonical_columns(dataset: Dataset) -> list[str]:
    with _open_canonical(dataset) as handle:
        return pq.ParquetFile(handle).schema_arrow.names


def _open_canonical(dataset: Dataset):
    missing = f"{dataset.human_id} has no canonical table: its raw file was not read, or its Parquet is gone"
    if not dataset.parquet_file:
        raise StageFailed(missing + ".")
    try:
        return dataset.parquet_file.open("rb")
    except FileNotFoundError:
        raise StageFailed(f"{missing} ({dataset.parquet_file.name}); upload the raw file again.") from None


def _finite_or_none(value):
    return None if value is None or (isinstance(value, float) and value != value) else value


def store_cycles(dataset: Dataset, analysis, *, first_cycle: int) -> None:
    """Replace the stored steps and summary rows from ``first_cycle`` on (earlier rows stay)."""
    summary = analysis.summary.to_pylist()
    step_rows = []
    steps, cycles = analysis.steps, analysis.cycles
    first_step = 0
    if first_cycle > 0:
        first_step = CycleStep.objects.filter(dataset=dataset, cycle_number__lt=first_cycle).count()
    for k in range(len(steps)):
        cycle = int(cycles.cycle[k]) if cycles.cycle[k] >= 0 else None
        step_rows.append(CycleStep(
            dataset=dataset, step_number=first_step + k + 1, cycle_number=cycle,
            kind=KIND_NAMES[int(steps.kind_code[k])], start_row=int(steps.start_row[k]),
            end_row=int(steps.end_row[k]), start_time_s=float(steps.start_time_s[k]),
            end_time_s=float(steps.end_time_s[k]), duration_s=float(steps.duration_s[k]),
            capacity_mah=float(steps.capacity_mah[k]), energy_mwh=float(steps.energy_mwh[k]),
            mean_current_ma=float(steps.mean_current_ma[k]),
            start_voltage_v=_finite_or_none(float(steps.start_voltage_v[k])),
            end_voltage_v=_finite_or_none(float(steps.end_voltage_v[k])),
        ))
    summary_rows = [
        CycleSummary(dataset=dataset, **{name: _finite_or_none(row[name]) for name in SUMMARY_COLUMNS})
        for row in summary if row["cycle_number"] >= first_cycle
    ]
    with transaction.atomic():
        CycleStep.objects.filter(dataset=dataset, step_number__gt=first_step).delete()
        CycleSummary.objects.filter(dataset=dataset, cycle_number__gte=first_cycle).delete()
        CycleStep.objects.bulk_create(step_rows, batch_size=2000)
        CycleSummary.objects.bulk_create(summary_rows, batch_size=2000)


def analyse_dataset(dataset: Dataset, table: pa.Table | None = None, *, incremental: bool = True) -> None:
    """Stages 2 and 3: steps and cycles, then the per-cycle summary rows."""
    with stage(dataset, Stage.CYCLES):
        params = cell_parameters(dataset.run.cell)
        table = table if table is not None else read_canonical(dataset)
        finished = dataset.run.state in ("finished", "aborted")
        previous = _previous_summary(dataset) if incremental else None
        analysis = update_analysis(previous, table, finished=finished, **params.summary_kwargs())
    with stage(dataset, Stage.SUMMARY):
        store_cycles(dataset, analysis, first_cycle=analysis.first_recomputed_cycle)
        _write_summary_parquet(dataset, analysis.summary)


def newest_dataset(cell: Cell) -> Dataset | None:
    """The cell's most recent dataset with a stored summary."""
    summarised = Dataset.objects.filter(
        run__cell=cell, stages__name=Stage.SUMMARY, stages__state=ProcessingStage.State.DONE)
    return summarised.order_by("-run__started_at", "-modified_at").first()


def compute_cell_metrics(cell: Cell) -> CellMetrics | None:
    """Stage 4: the cell's metrics from the summary of its newest dataset."""
    dataset = newest_dataset(cell)
    if dataset is None:
        CellMetrics.objects.filter(cell=cell).delete()
        return None
    params = cell_parameters(cell)
    rows = list(CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number").values(*SUMMARY_COLUMNS))
    summary = {name: [row[name] for row in rows] for name in SUMMARY_COLUMNS}
    results = metrics_core.cell_metrics(
        summary, reference_capacity_mah_g=params.reference_capacity_mah_g,
        first_half_cycle=params.first_half_cycle, cathode_active_mass_mg=params.active_mass_mg,
        positive_composite_mass_mg=params.positive_composite_mass_mg,
        negative_composite_mass_mg=params.negative_composite_mass_mg,
    )
    values = {name: result.to_dict() for name, result in results.items()}
    loading = values.get("loading_check", {})
    metrics, _ = CellMetrics.objects.update_or_create(cell=cell, defaults=dict(
        dataset=dataset,
        first_cycle_efficiency=values["first_cycle_efficiency"]["value"],
        initial_specific_discharge_capacity_mah_g=values["initial_specific_discharge_capacity"]["value"],
        loading_check=(loading.get("details") or {}).get("verdict", "") if loading else "",
        values=values,
    ))
    return metrics


# --- receiving a cycler's file --------------------------------------------------------------


@dataclasses.dataclass
class ReceivedFile:
    raw_file: RawDataFile
    dataset: Dataset
    created: bool  # False when the same bytes were already there: nothing was queued


def clean_file_name(name: str) -> str:
    """The cycler's file name without any folder part, safe for storage paths."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "upload"
    return re.sub(r"[^\w.\-+ ()]", "_", base)[:200]


def raw_file_receive(*, run: CyclingRun, uploaded, user=None, cycler_token=None) -> ReceivedFile:
    """Store a cycler file for a run and queue its ingestion.

    ``uploaded`` carries ``sha256`` (computed while it streamed in). The same bytes again give
    the same record and queue nothing. A file with the name of one already in the run is the
    same test grown: it supersedes the earlier version in that run's dataset.
    """
    name = clean_file_name(uploaded.name)
    with transaction.atomic():
        # One upload per run at a time decides "same", "grown" or "new" without a race.
        CyclingRun.objects.select_for_update().filter(pk=run.pk).first()
        existing = RawDataFile.objects.filter(run=run, sha256=uploaded.sha256).first()
        if existing is not None:
            dataset = Dataset.objects.filter(run=run, source_name=existing.original_name).first()
            return ReceivedFile(existing, dataset, created=False)

        dataset = Dataset.objects.filter(run=run, source_name=name).first()
        raw_file = RawDataFile(
            run=run, original_name=name, sha256=uploaded.sha256, size_bytes=uploaded.size,
            uploaded_by=user, uploaded_with=cycler_token, supersedes=dataset.raw_file if dataset else None,
        )
        raw_file.file.save(name, uploaded, save=False)
        raw_file.save()
        if dataset is None:
            dataset = Dataset.objects.create(
                project=run.project, run=run, raw_file=raw_file, source_name=name,
                created_by=user, modified_by=user,
            )
        else:
            dataset.raw_file = raw_file
            dataset.state = Dataset.State.QUEUED
            dataset.message = ""
            dataset.modified_by = user
            dataset.save()
        _queue_ingestion(dataset, raw_file)
    return ReceivedFile(raw_file, dataset, created=True)


def _queue_ingestion(dataset: Dataset, raw_file: RawDataFile) -> None:
    """Queue ingestion once the upload's transaction has committed (the worker must see it)."""
    from analysis.tasks import ingest_dataset  # the tasks module imports this one

    reset_stages(dataset)
    transaction.on_commit(lambda: ingest_dataset.delay(dataset.pk, raw_file.pk))


def ingest(dataset_id: int, raw_file_id: int) -> str:
    """The whole chain for one uploaded file; idempotent, so a retried task does no harm."""
    dataset = Dataset.objects.select_related("run__cell", "run__channel__cycler", "raw_file").get(pk=dataset_id)
    if dataset.raw_file_id != raw_file_id:
        return "superseded"  # a newer version of the file arrived; its own task does the work
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.RUNNING, message="")
    try:
        with stage(dataset, Stage.READ):
            table = read_raw_file(dataset)
        analyse_dataset(dataset, table)
        with stage(dataset, Stage.METRICS):
            compute_cell_metrics(dataset.run.cell)
        Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.DONE, message="")
    except (OperationalError, InterfaceError):
        raise  # a passing fault: the task retries, the stages start over idempotently
    except (StageFailed, ReaderError) as error:
        log.info("dataset %s failed: %s", dataset.human_id, error)
        return "failed"
    except Exception:
        log.exception("dataset %s failed", dataset.human_id)
        return "failed"
    return "done"


def recompute_cell(cell_id: int) -> str:
    """After a change of masses, areas or protocol: every dataset of the cell from its Parquet."""
    cell = Cell.objects.get(pk=cell_id)
    outcome = "done"
    for dataset in Dataset.objects.filter(run__cell=cell).exclude(parquet_file=""):
        try:
            analyse_dataset(dataset, incremental=False)
            Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.DONE, message="")
        except (OperationalError, InterfaceError):
            raise  # a passing fault: the task retries
        except Exception:  # noqa: BLE001 - recorded on the dataset's stage by stage()
            outcome = "failed"
    newest = newest_dataset(cell)
    if newest is None:
        CellMetrics.objects.filter(cell=cell).delete()
        return outcome
    try:
        with stage(newest, Stage.METRICS):
            compute_cell_metrics(cell)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - recorded on the stage
        return "failed"
    return outcome
