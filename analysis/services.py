"""Ingestion and recomputation: the Django side that runs the pure core and stores its results.

Every stage records its state on the dataset (queued → running → done | failed, with a message
a person can act on; skipped when an earlier stage failed or the file holds no cycling data).
A dataset whose task the broker did not take waits for the queue; beat's sweep
(``dataset_requeue_stuck``) queues it, and any dataset whose ingestion stopped, again.
A dataset whose cycles carry quality flags ends "done with N warnings". Nothing here alters or
deletes the raw file; a failure leaves the raw file and everything before the failing stage as
it was.

A file is read, then recognised (``analysis.core.measurement``): only cycling data gets steps,
cycles and summary rows and feeds the cell's metrics; an impedance file keeps its spectrum; a
companion file (Arbin's ``_Metadata.csv``) attaches its settings to the dataset of the file it
describes. The cell's metrics are computed over its history: every cycling dataset of the cell
not left out, in time order, cycles numbered on (``analysis.core.history``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import pathlib
import re
import shutil
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone

import datetime as dt
import json

from kombu.exceptions import OperationalError as KombuOperationalError

from analysis.alerts.services import watch_running_test
from analysis.core import metrics as metrics_core
from analysis.core.cycling import KIND_NAMES, SUMMARY_COLUMNS, update_analysis
from analysis.core.definitions import loading_reference as loading_reference_for
from analysis.core.history import join_history
from analysis.core.measurement import KIND_LABELS, impedance_spectrum, measurement_kind
from analysis.core.readers import NotRecognised, ReaderError
from analysis.core.readers.registry import read_companion, read_cycler_file
from analysis.models import (
    NOT_SUMMARY_FIELDS,
    CellMetrics,
    CycleStep,
    CycleSummary,
    LoadingReference,
    ProcessingStage,
    QualityFlag,
)
from cells.models import Cell, CellPart, CyclingRun, Dataset, RawDataFile
from cells.selectors import cell_datasets
from eln.services import RecordSpec, record_save, register

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
    lower_cutoff_v: float | None = None
    upper_cutoff_v: float | None = None

    def summary_kwargs(self) -> dict:
        return dict(active_mass_mg=self.active_mass_mg, electrode_area_cm2=self.electrode_area_cm2,
                    reference_capacity_mah_g=self.reference_capacity_mah_g,
                    first_half_cycle=self.first_half_cycle, lower_cutoff_v=self.lower_cutoff_v,
                    upper_cutoff_v=self.upper_cutoff_v)


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
        lower_cutoff_v=cell.lower_cutoff_v, upper_cutoff_v=cell.upper_cutoff_v,
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
    except (OperationalError, InterfaceError):
        raise  # a passing fault: the task runs again and the stage with it
    except Exception as error:  # noqa: BLE001 - every failure is recorded, then re-raised
        message = str(error) if isinstance(error, (StageFailed, ReaderError)) else (
            f"unexpected error while {record.get_name_display()}: {type(error).__name__}: {error}")
        record.state, record.message, record.finished_at = ProcessingStage.State.FAILED, message, timezone.now()
        record.save()
        Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.FAILED, message=message)
        raise
    record.state, record.finished_at = ProcessingStage.State.DONE, timezone.now()
    record.save()


def reset_stages(dataset: Dataset, names=tuple(ProcessingStage.INGESTION)) -> None:
    # the three-electrode analysis of an earlier version is gone; it is made again after the metrics
    ProcessingStage.objects.filter(dataset=dataset, name=Stage.ELECTRODES).delete()
    for name in names:
        ProcessingStage.objects.update_or_create(
            dataset=dataset, name=name,
            defaults=dict(state=ProcessingStage.State.QUEUED, message="", started_at=None, finished_at=None,
                          queued_at=timezone.now()),
        )


def skip_stages(dataset: Dataset, names, message: str) -> None:
    """Stages that will not run, and why (an earlier one failed, or the file is not cycling data)."""
    now = timezone.now()
    for name in names:
        ProcessingStage.objects.update_or_create(
            dataset=dataset, name=name,
            defaults=dict(state=ProcessingStage.State.SKIPPED, message=message, started_at=None, finished_at=now))


def _skip_after(dataset: Dataset, failed: str) -> None:
    """Every stage after ``failed`` that has not run reads "skipped", naming the stage that failed."""
    later = ProcessingStage.ORDER[ProcessingStage.ORDER.index(failed) + 1:]
    waiting = ProcessingStage.objects.filter(dataset=dataset, name__in=later).exclude(
        state__in=[ProcessingStage.State.DONE])
    label = ProcessingStage.Name(failed).label
    skip_stages(dataset, list(waiting.values_list("name", flat=True)),
                f"not run: the stage before ({label}) failed")


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
                if not (cycler and cycler.csv_column_mapping and isinstance(error, NotRecognised)):
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
    kind = measurement_kind(result.table, result.metadata)
    dataset.measurement_kind = kind.kind
    dataset.file_metadata = {**result.metadata, "measurement_kind": kind.to_dict()}
    dataset.data_started_at = data_start(result.table, result.metadata)
    dataset.save(update_fields=["parquet_file", "reader_name", "reader_version", "row_count", "file_metadata",
                                "measurement_kind", "data_started_at", "modified_at"])
    return result.table


_START_KEYS = ("acquisition_start", "start_time", "start_datetime", "test_start_time", "technique_start",
               "first_start_datetime")


def data_start(table: pa.Table, metadata: dict) -> dt.datetime | None:
    """When the data begins: the file's first time stamp, else the start it states. Cyclers
    write local time without a zone; it is read in the server's time zone."""
    when = None
    if "timestamp" in table.column_names:
        stamps = table.column("timestamp").drop_null()
        if len(stamps):
            when = stamps[0].as_py()
    for key in _START_KEYS:
        if when is None and metadata.get(key):
            try:
                when = dt.datetime.fromisoformat(str(metadata[key]))
            except ValueError:
                continue
    if when is None:
        return None
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_default_timezone())
    return when


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
    """No NaN or infinity is stored (PostgreSQL would keep it, JSON cannot carry it)."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def store_cycles(dataset: Dataset, analysis, *, first_cycle: int) -> None:
    """Replace the stored steps and summary rows from ``first_cycle`` on (earlier rows stay)."""
    summary = analysis.summary.to_pylist()
    step_rows = []
    steps, cycles = analysis.steps, analysis.cycles
    roles = cycles.role
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
            counter_capacity_mah=_finite_or_none(float(steps.counter_capacity_mah[k])),
            integral_capacity_mah=float(steps.integral_capacity_mah[k]),
            role=str(roles[k]), half_cycle=int(cycles.half_cycle[k]) if cycles.half_cycle[k] >= 0 else None,
            cycler_step=int(steps.cycler_step[k]) if steps.cycler_step[k] >= 0 else None,
            mean_current_ma=float(steps.mean_current_ma[k]),
            start_voltage_v=_finite_or_none(float(steps.start_voltage_v[k])),
            end_voltage_v=_finite_or_none(float(steps.end_voltage_v[k])),
        ))
    kept = [row for row in summary if row["cycle_number"] >= first_cycle]
    summary_rows = [
        CycleSummary(dataset=dataset, **{name: _finite_or_none(row[name]) for name in SUMMARY_COLUMNS
                                         if name != "flags"})
        for row in kept
    ]
    flag_rows = [
        QualityFlag(dataset=dataset, cycle_number=row["cycle_number"], code=flag["code"],
                    half=flag.get("half") or "", quantity=flag.get("quantity") or "",
                    value=_finite_or_none(flag.get("value")), limit=_finite_or_none(flag.get("limit")),
                    unit=flag.get("unit") or "", message=flag["message"],
                    details={key: value for key, value in flag.items()
                             if key not in ("code", "half", "quantity", "value", "limit", "unit", "message")})
        for row in kept for flag in json.loads(row["flags"] or "[]")
    ]
    with transaction.atomic():
        CycleStep.objects.filter(dataset=dataset, step_number__gt=first_step).delete()
        CycleSummary.objects.filter(dataset=dataset, cycle_number__gte=first_cycle).delete()
        QualityFlag.objects.filter(dataset=dataset, cycle_number__gte=first_cycle).delete()
        QualityFlag.objects.filter(dataset=dataset, cycle_number__isnull=True).delete()
        CycleStep.objects.bulk_create(step_rows, batch_size=2000)
        CycleSummary.objects.bulk_create(summary_rows, batch_size=2000)
        QualityFlag.objects.bulk_create(flag_rows, batch_size=2000)


def clear_cycles(dataset: Dataset) -> None:
    """No steps, cycles or flags: the dataset holds no cycling data (any more)."""
    with transaction.atomic():
        CycleStep.objects.filter(dataset=dataset).delete()
        CycleSummary.objects.filter(dataset=dataset).delete()
        QualityFlag.objects.filter(dataset=dataset).delete()


def analyse_dataset(dataset: Dataset, table: pa.Table | None = None, *, incremental: bool = True) -> None:
    """Stages 2 and 3: steps and cycles, then the per-cycle summary rows."""
    with stage(dataset, Stage.CYCLES):
        params = cell_parameters(dataset.run.cell)
        table = table if table is not None else read_canonical(dataset)
        finished = dataset.run.state in ("finished", "aborted")
        previous = _previous_summary(dataset) if incremental else None
        analysis = update_analysis(previous, table, finished=finished, **params.summary_kwargs())
    with stage(dataset, Stage.SUMMARY) as summary_stage:
        store_cycles(dataset, analysis, first_cycle=analysis.first_recomputed_cycle)
        _write_summary_parquet(dataset, analysis.summary)
        flagged = sum(1 for n in analysis.summary.column("n_warnings").to_pylist() if n)
        if flagged:
            summary_stage.message = (f"{analysis.n_warnings} quality flag(s) on {flagged} cycle(s): see "
                                     "the flags of each cycle")


def is_cycling(dataset: Dataset) -> bool:
    return dataset.measurement_kind in ("", Dataset.MeasurementKind.CYCLING)


def _history_order(dataset: Dataset):
    when = dataset.data_started_at or dataset.run.started_at or dataset.created_at
    return when, dataset.created_at, dataset.pk


@dataclasses.dataclass(frozen=True)
class HistorySources:
    """The datasets of a cell's history in time order, and those left out with why."""

    used: list[Dataset]
    left_out: list[dict]


def history_sources(cell: Cell) -> HistorySources:
    """Which of the cell's datasets make its cycle history: the cycling ones with a summary,
    not left out by a person, in the order they were measured."""
    datasets = list(cell_datasets(cell).prefetch_related("stages"))
    used, left_out = [], []
    for dataset in sorted(datasets, key=_history_order):
        summarised = any(s.name == Stage.SUMMARY and s.state == ProcessingStage.State.DONE
                         for s in dataset.stages.all())
        if not is_cycling(dataset):
            left_out.append({"dataset": dataset.human_id, "run": dataset.run.human_id,
                             "reason": f"{KIND_LABELS.get(dataset.measurement_kind, dataset.measurement_kind)}"
                                       ": not cycling data"})
        elif dataset.excluded_from_history:
            left_out.append({"dataset": dataset.human_id, "run": dataset.run.human_id,
                             "reason": f"left out: {dataset.exclusion_reason}"})
        elif not summarised:
            left_out.append({"dataset": dataset.human_id, "run": dataset.run.human_id,
                             "reason": f"no cycles yet (state: {dataset.get_state_display()})"})
        else:
            used.append(dataset)
    return HistorySources(used, left_out)


def _summary_rows(datasets: list[Dataset]) -> dict[int, list[dict]]:
    """Every dataset's summary rows, with their flag codes, in two queries."""
    names = [name for name in SUMMARY_COLUMNS if name not in NOT_SUMMARY_FIELDS] + ["cycle_number"]
    rows: dict[int, list[dict]] = {d.pk: [] for d in datasets}
    by_key = {}
    for row in (CycleSummary.objects.filter(dataset__in=datasets).order_by("dataset_id", "cycle_number")
                .values("id", "dataset_id", *names)):
        row["flags"] = []
        rows[row["dataset_id"]].append(row)
        by_key[(row["dataset_id"], row["cycle_number"])] = row
    for dataset_id, cycle, code in (QualityFlag.objects.filter(dataset__in=datasets)
                                    .values_list("dataset_id", "cycle_number", "code")):
        row = by_key.get((dataset_id, cycle))
        if row is not None:
            row["flags"].append({"code": code})
    return rows


def compute_cell_metrics(cell: Cell) -> CellMetrics | None:
    """Stage 4: the cell's metrics over its history, and each cycle's number in that history."""
    sources = history_sources(cell)
    numbered_in = {d.pk for d in sources.used}
    CycleSummary.objects.filter(dataset__run__cell=cell).exclude(dataset_id__in=numbered_in).update(
        history_cycle_number=None)
    if not sources.used:
        CellMetrics.objects.filter(cell=cell).delete()
        return None
    params = cell_parameters(cell)
    rows = _summary_rows(sources.used)
    history = join_history([(d.human_id, rows[d.pk]) for d in sources.used])
    CycleSummary.objects.bulk_update(
        [CycleSummary(id=row["id"], history_cycle_number=row["cycle_number"]) for row in history.rows],
        ["history_cycle_number"], batch_size=2000)
    material = cell.working_electrode.sheet.active_material if cell.working_electrode else None
    lab_reference = LoadingReference.objects.filter(kind=cell.kind).first()
    reference = loading_reference_for(
        cell.kind, material_reference_mah_g=params.reference_capacity_mah_g,
        material=material.name if material else None,
        lab_reference_mah_g=lab_reference.specific_capacity_mah_g if lab_reference else None,
        **({"tolerance": lab_reference.tolerance} if lab_reference else {}))
    results = metrics_core.cell_metrics(
        history.numbered(), cell_kind=cell.kind, loading_reference=reference,
        cathode_active_mass_mg=params.active_mass_mg,
        positive_composite_mass_mg=params.positive_composite_mass_mg,
        negative_composite_mass_mg=params.negative_composite_mass_mg,
    )
    values = {name: result.to_dict() for name, result in results.items()}
    loading = values.get("loading_check", {})
    feeds = [{**feed, "run": d.run.human_id} for feed, d in zip(history.feeds, sources.used)]
    metrics, _ = CellMetrics.objects.update_or_create(cell=cell, defaults=dict(
        dataset=sources.used[-1], sources=feeds, left_out=sources.left_out,
        first_cycle_efficiency=values["first_cycle_efficiency"]["value"],
        initial_specific_discharge_capacity_mah_g=values["initial_specific_discharge_capacity"]["value"],
        loading_check=(loading.get("details") or {}).get("verdict", "") if loading else "",
        values=values,
    ))
    return metrics


def finish(dataset: Dataset) -> str:
    """The dataset's final state: done, or done with N warnings (its cycles' quality flags)."""
    count = QualityFlag.objects.filter(dataset=dataset).count()
    if count:
        state, message = Dataset.State.DONE_WITH_WARNINGS, f"done with {count} warning{'s' if count != 1 else ''}"
    else:
        state, message = Dataset.State.DONE, ""
    Dataset.objects.filter(pk=dataset.pk).update(state=state, message=message, warning_count=count)
    return state


# --- kinds of measurement other than cycling, companion files ------------------------------------


def _set_aside(dataset: Dataset, message: str) -> None:
    """A file that holds no cycling data: no cycles, and the stages that compute them skipped."""
    clear_cycles(dataset)
    skip_stages(dataset, [Stage.CYCLES, Stage.SUMMARY, Stage.METRICS], message)


def spectrum_of(dataset: Dataset) -> list[dict]:
    """The impedance spectrum of a dataset, one entry per sweep (empty if it has none)."""
    return impedance_spectrum(dataset.file_metadata or {})


def _companion_target(dataset: Dataset, describes: str) -> Dataset | None:
    stem = describes.lower()
    for other in Dataset.objects.filter(run=dataset.run).exclude(pk=dataset.pk):
        if pathlib.PurePath(other.source_name).stem.lower() == stem:
            return other
    return None


def _attach(target: Dataset, companion: Dataset) -> None:
    metadata = dict(target.file_metadata or {})
    metadata["companion"] = {"dataset": companion.human_id, "file": companion.source_name,
                             **(companion.file_metadata or {}).get("companion_of", {})}
    Dataset.objects.filter(pk=target.pk).update(file_metadata=metadata)
    target.file_metadata = metadata


def read_companion_file(dataset: Dataset) -> str | None:
    """If the dataset's file describes another one (Arbin's ``_Metadata.csv``), keep its
    settings, attach them to the dataset of the file it describes (now, or when that arrives)
    and say so (the message). None when it is a data file."""
    raw = dataset.raw_file
    with local_copy(raw.file) as path:
        companion = read_companion(path, filename=raw.original_name)
    if companion is None:
        return None
    dataset.measurement_kind = Dataset.MeasurementKind.COMPANION
    dataset.reader_name, dataset.reader_version = companion.reader_name, companion.reader_version
    dataset.file_metadata = {"companion_of": {"describes": companion.describes,
                                              "settings": companion.metadata}}
    dataset.save(update_fields=["measurement_kind", "reader_name", "reader_version", "file_metadata",
                                "modified_at"])
    target = _companion_target(dataset, companion.describes)
    if target is not None:
        _attach(target, dataset)
        where = f"attached to {target.human_id} ({target.source_name})"
    else:
        where = f"attached to the dataset of {companion.describes} when that file arrives"
    _set_aside(dataset, f"the settings of {companion.describes}: no data points to compute from")
    return f"the settings of {companion.describes}, not data points: {where}"


def _attach_waiting_companion(dataset: Dataset) -> None:
    """A data file whose companion arrived first gets its settings."""
    stem = pathlib.PurePath(dataset.source_name).stem.lower()
    for companion in Dataset.objects.filter(run=dataset.run, measurement_kind=Dataset.MeasurementKind.COMPANION):
        describes = (companion.file_metadata or {}).get("companion_of", {}).get("describes", "")
        if describes.lower() == stem:
            _attach(dataset, companion)


# --- receiving a cycler's file --------------------------------------------------------------


@dataclasses.dataclass
class ReceivedFile:
    raw_file: RawDataFile
    dataset: Dataset
    created: bool  # False when the same bytes were already there
    queued: bool = True  # the same bytes again queue only a dataset that has not run


def is_stored(raw: RawDataFile) -> bool:
    """Whether the raw file is still in the file store."""
    return bool(raw.file.name) and raw.file.storage.exists(raw.file.name)


def clean_file_name(name: str) -> str:
    """The cycler's file name without any folder part, safe for storage paths."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "upload"
    return re.sub(r"[^\w.\-+ ()]", "_", base)[:200]


def raw_file_receive(*, run: CyclingRun, uploaded, user=None, cycler_token=None) -> ReceivedFile:
    """Store a cycler file for a run and queue its ingestion.

    ``uploaded`` carries ``sha256`` (computed while it streamed in). The same bytes again give
    the same record, and queue it again only if it never ran (queued, or waiting for the
    queue): a sender's retry after an outage brings it back. A file with the name of one
    already in the run is the same test grown: it supersedes the earlier version in that
    run's dataset.
    """
    name = clean_file_name(uploaded.name)
    with transaction.atomic():
        # One upload per run at a time decides "same", "grown" or "new" without a race.
        CyclingRun.objects.select_for_update().filter(pk=run.pk).first()
        existing = RawDataFile.objects.filter(run=run, sha256=uploaded.sha256).first()
        if existing is not None:
            dataset = Dataset.objects.filter(run=run, source_name=existing.original_name).first()
            if not is_stored(existing):
                # The stored copy has gone (a restore, a cleanup): these bytes put it back, and a
                # dataset that could not be read for want of it is read again.
                existing.file.name = existing.file.storage.save(existing.file.name, uploaded)
                existing.save(update_fields=["file"])
                if (dataset is not None and dataset.raw_file_id == existing.pk
                        and dataset.state == Dataset.State.FAILED):
                    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.QUEUED, message="")
                    dataset.state, dataset.message = Dataset.State.QUEUED, ""
                    _queue_ingestion(dataset, existing)
                    return ReceivedFile(existing, dataset, created=False, queued=True)
            waiting = (dataset is not None and dataset.raw_file_id == existing.pk
                       and dataset.state in (Dataset.State.QUEUED, Dataset.State.WAITING_FOR_QUEUE))
            if waiting:
                _requeue(dataset, "sent again")
                transaction.on_commit(lambda: _send_ingestion(dataset.pk, existing.pk))
            return ReceivedFile(existing, dataset, created=False, queued=waiting)

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
    reset_stages(dataset)
    transaction.on_commit(lambda: _send_ingestion(dataset.pk, raw_file.pk))


# What the broker's client raises when the broker is away (kombu wraps connection errors).
QUEUE_AWAY = (KombuOperationalError, OSError)


def _send_ingestion(dataset_id: int, raw_file_id: int) -> bool:
    """Send the ingestion task; with the queue away the dataset waits for it (the file and the
    dataset are committed: nothing is lost) and the sweep sends it when the queue answers."""
    from analysis.tasks import ingest_dataset  # the tasks module imports this one

    try:
        ingest_dataset.apply_async(args=(dataset_id, raw_file_id), kwargs={"unless_finished": True})
    except QUEUE_AWAY as error:
        log.warning("dataset %s waits for the queue: %s", dataset_id, error)
        message = (f"The task queue did not answer ({error}). The file is stored; the dataset is queued as "
                   f"soon as the queue answers (looked at every {settings.ELN_SWEEP_EVERY_SECONDS} s).")
        Dataset.objects.filter(pk=dataset_id, raw_file_id=raw_file_id, state=Dataset.State.QUEUED).update(
            state=Dataset.State.WAITING_FOR_QUEUE, message=message)
        return False
    return True


# Advisory-lock namespace of ingestions; the second key is the dataset's id.
INGESTION_LOCK = 0x454C4E


@contextlib.contextmanager
def ingestion_lock(dataset_id: int):
    """True when this connection now holds the dataset's ingestion, False when another does.
    Held for a whole ingestion, so a second delivery of the task waits its turn and the sweep
    leaves a slow ingestion alone; PostgreSQL frees it when the holder's connection ends, so a
    killed worker holds nothing."""
    if connection.vendor != "postgresql":
        yield True  # a single process (the benchmark's SQLite): nothing runs beside it
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s::int)", [INGESTION_LOCK, dataset_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(OperationalError, InterfaceError):  # gone with its connection
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s::int)", [INGESTION_LOCK, dataset_id])


FINISHED = (Dataset.State.DONE, Dataset.State.DONE_WITH_WARNINGS, Dataset.State.FAILED)
UNFINISHED = (Dataset.State.QUEUED, Dataset.State.RUNNING, Dataset.State.WAITING_FOR_QUEUE)


def _requeue(dataset: Dataset, why: str) -> None:
    """Mark a dataset queued again (the caller sends its task): its unfinished stages read
    queued, the first of them counts the requeue."""
    unfinished = list(ProcessingStage.objects.filter(dataset=dataset, name__in=ProcessingStage.INGESTION)
                      .exclude(state__in=FINISHED + (ProcessingStage.State.SKIPPED,)))
    unfinished.sort(key=lambda s: ProcessingStage.ORDER.index(s.name))
    now = timezone.now()
    for position, record in enumerate(unfinished):
        record.state, record.queued_at, record.started_at, record.finished_at = (
            ProcessingStage.State.QUEUED, now, None, None)
        if position == 0:
            record.requeues += 1
            record.message = f"queued again ({why}; {record.requeues} time{'s' if record.requeues != 1 else ''})"
        record.save()
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.QUEUED, message="")


def dataset_requeue_stuck(*, older_than_s: float | None = None) -> list[Dataset]:
    """The sweep (run by beat): every dataset waiting for the queue, and every dataset queued or
    running with no progress of its stages for ``older_than_s`` (ELN_STUCK_AFTER_SECONDS) that
    no worker holds, is queued again. Idempotent: an ingestion run twice stores the same rows."""
    age = settings.ELN_STUCK_AFTER_SECONDS if older_than_s is None else older_than_s
    since = timezone.now() - dt.timedelta(seconds=age)
    candidates = (
        Dataset.objects.filter(state__in=UNFINISHED)
        .annotate(progress_at=Max(Greatest("stages__queued_at", "stages__started_at", "stages__finished_at")))
        .filter(Q(state=Dataset.State.WAITING_FOR_QUEUE) | Q(progress_at__lt=since)
                | Q(progress_at__isnull=True, modified_at__lt=since))
        .order_by("pk")
    )
    requeued = []
    for dataset in candidates:
        with ingestion_lock(dataset.pk) as free:
            if not free:
                continue  # a worker has it in hand: slow, not stuck
            with transaction.atomic():
                current = Dataset.objects.select_for_update().filter(pk=dataset.pk, state__in=UNFINISHED).first()
                if current is None:
                    continue  # it finished in the meantime
                why = ("the queue was away" if current.state == Dataset.State.WAITING_FOR_QUEUE else
                       f"no progress for {age:g} s: its worker stopped")
                _requeue(current, why)
        # sent once the lock is let go, or the worker taking the task would find it held
        _send_ingestion(dataset.pk, current.raw_file_id)
        requeued.append(dataset)
    return requeued


def ingest(dataset_id: int, raw_file_id: int, *, unless_finished: bool = False) -> str:
    """The whole chain for one uploaded file; idempotent, so a retried task does no harm. One
    worker at a time ingests a dataset (``ingestion_lock``); ``unless_finished``: a dataset
    already done or failed for this file is left as it is (a second delivery of its task)."""
    with ingestion_lock(dataset_id) as held:
        if not held:
            return "already running"  # the worker that holds it finishes it, or the sweep sees it stopped
        return _ingest(dataset_id, raw_file_id, unless_finished=unless_finished)


def _ingest(dataset_id: int, raw_file_id: int, *, unless_finished: bool) -> str:
    dataset = Dataset.objects.select_related("run__cell", "run__channel__cycler", "raw_file").get(pk=dataset_id)
    if dataset.raw_file_id != raw_file_id:
        return "superseded"  # a newer version of the file arrived; its own task does the work
    if unless_finished and dataset.state in FINISHED:
        return "already finished"
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.RUNNING, message="")
    current = Stage.READ
    try:
        with stage(dataset, Stage.READ) as read_stage:
            if not is_stored(dataset.raw_file):
                raise StageFailed(dataset.raw_file.gone_message)
            note = read_companion_file(dataset)
            if note is None:
                table = read_raw_file(dataset)
                # a last line the cycler was still writing: not read, and the read stage says so
                read_stage.message = (dataset.file_metadata.get("dropped_last_row") or {}).get("message", "")
                _attach_waiting_companion(dataset)
            else:
                read_stage.message = note
        if note is not None:
            finish(dataset)
            return "done"
        if not is_cycling(dataset):
            label = KIND_LABELS.get(dataset.measurement_kind, dataset.measurement_kind)
            reason = dataset.file_metadata.get("measurement_kind", {}).get("reason", "")
            extra = "; its spectrum is served at /api/v1/datasets/{}/spectrum/".format(dataset.human_id) \
                if dataset.measurement_kind == Dataset.MeasurementKind.IMPEDANCE else ""
            _set_aside(dataset, f"{label} ({reason}): no cycles are computed from it and it does not "
                                f"feed the cell's cycling metrics{extra}")
            try:
                with transaction.atomic():
                    compute_cell_metrics(dataset.run.cell)  # its history no longer holds this file
            except StageFailed:
                pass  # the cell's records need fixing; its cycling datasets say so
            finish(dataset)
            return "done"
        current = Stage.CYCLES
        analyse_dataset(dataset, table)
        current = Stage.METRICS
        with stage(dataset, Stage.METRICS):
            compute_cell_metrics(dataset.run.cell)
        finish(dataset)
        watch_running_test(dataset)  # the project's alert rules (analysis/alerts)
        from analysis import electrodes  # it reads this module's helpers

        return "failed" if electrodes.after_ingestion(dataset) == "failed" else "done"
    except (OperationalError, InterfaceError):
        raise  # a passing fault: the task retries, the stages start over idempotently
    except (StageFailed, ReaderError) as error:
        log.info("dataset %s failed: %s", dataset.human_id, error)
        problem = str(error)
    except Exception as error:
        log.exception("dataset %s failed", dataset.human_id)
        problem = f"unexpected error: {type(error).__name__}: {error}"
    failed = ProcessingStage.objects.filter(dataset=dataset, state=ProcessingStage.State.FAILED).first()
    if failed is None:  # outside any stage: the dataset still says what happened
        Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.FAILED, message=problem)
    _skip_after(dataset, failed.name if failed else current)
    return "failed"


def recompute_cell(cell_id: int) -> str:
    """After a change of masses, areas, protocol or the history: every cycling dataset of the
    cell from its Parquet, then the metrics over its history, then its three-electrode results
    (and those of the cells that read its data)."""
    from analysis import electrodes  # it reads this module's helpers

    outcome = recompute_summaries_and_metrics(cell_id)
    return "failed" if electrodes.after_recompute(cell_id) == "failed" else outcome


def recompute_summaries_and_metrics(cell_id: int) -> str:
    cell = Cell.objects.get(pk=cell_id)
    outcome = "done"
    for dataset in Dataset.objects.filter(run__cell=cell).exclude(parquet_file=""):
        if not is_cycling(dataset):
            continue
        try:
            analyse_dataset(dataset, incremental=False)
            finish(dataset)
        except (OperationalError, InterfaceError):
            raise  # a passing fault: the task retries
        except Exception:  # noqa: BLE001 - recorded on the dataset's stage by stage()
            _skip_after(dataset, Stage.CYCLES)
            outcome = "failed"
    sources = history_sources(cell)
    if not sources.used:
        compute_cell_metrics(cell)
        return outcome
    newest = sources.used[-1]
    try:
        with stage(newest, Stage.METRICS):
            compute_cell_metrics(cell)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - recorded on the stage
        return "failed"
    return outcome


# --- what a person decides: the history, the lab's loading references ---------------------------


def dataset_leave_out(*, user, dataset: Dataset, reason: str) -> Dataset:
    """Leave a dataset out of its cell's cycle history (and so of its metrics), saying why; its
    cycles stay stored. The cell's metrics are recomputed."""
    return record_save(DATASET, user=user, record=dataset,
                       fields={"excluded_from_history": True, "exclusion_reason": (reason or "").strip()})


def dataset_include(*, user, dataset: Dataset) -> Dataset:
    """Take a dataset left out back into its cell's history."""
    return record_save(DATASET, user=user, record=dataset,
                       fields={"excluded_from_history": False, "exclusion_reason": ""})


def dataset_retry(*, user, dataset: Dataset) -> Dataset:
    """Queue a failed ingestion again, from the stored raw file (once what made it fail, a
    material's reference capacity or an electrode's mass say, is fixed). Each stage counts the
    attempt."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().select_related("raw_file", "run").get(pk=dataset.pk)
        if dataset.state != Dataset.State.FAILED:
            raise ValidationError(f"{dataset.human_id} is {dataset.get_state_display()}; "
                                  "only a failed ingestion is retried.")
        dataset = record_save(DATASET, user=user, record=dataset,
                              fields={"state": Dataset.State.QUEUED, "message": ""}, reason="ingestion retried")
        _queue_ingestion(dataset, dataset.raw_file)
    dataset.refresh_from_db()
    return dataset


@transaction.atomic
def loading_reference_set(*, user, kind: str, specific_capacity_mah_g: float | None,
                          tolerance: float = 0.05, note: str = "") -> LoadingReference | None:
    """Set (or, with None, remove) the lab's loading reference for a kind of cell; the metrics
    of every cell of that kind are recomputed."""
    from analysis.tasks import queue_recompute

    if kind == Cell.Kind.CATHODE_HALF:
        from django.core.exceptions import ValidationError

        raise ValidationError({"kind": "A cathode half cell is checked against its active material's "
                                       "practical reference capacity (Materials), not a reference per kind."})
    if specific_capacity_mah_g is None:
        LoadingReference.objects.filter(kind=kind).delete()
        reference = None
    else:
        reference = LoadingReference.objects.filter(kind=kind).first() or LoadingReference(kind=kind)
        reference.specific_capacity_mah_g, reference.tolerance, reference.note = (
            specific_capacity_mah_g, tolerance, note)
        if user is not None and getattr(user, "is_authenticated", False):
            reference._history_user = user
        reference.full_clean()
        reference.save()
    with_data = Dataset.objects.filter(run__cell__kind=kind).exclude(parquet_file="")
    queue_recompute(with_data.values_list("run__cell_id", flat=True).distinct())
    return reference
