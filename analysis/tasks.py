"""Celery entry points: thin, idempotent, retried on passing faults; the work is in services."""
import pyarrow as pa
from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from analysis import electrodes, services
from analysis.alerts import services as alerts

# Faults that pass: the database or the file store briefly away. Data errors are not retried;
# they are recorded on the dataset's stage for a person to act on.
PASSING_FAULTS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
TASK_OPTIONS = dict(
    acks_late=True, autoretry_for=PASSING_FAULTS, retry_backoff=5, retry_backoff_max=300,
    retry_jitter=True, max_retries=8,
)


def _giving_memory_back(work):
    # Arrow's allocator keeps freed memory for reuse; a long-lived worker should return it.
    try:
        return work()
    finally:
        pa.default_memory_pool().release_unused()


@shared_task(**TASK_OPTIONS)
def ingest_dataset(dataset_id: int, raw_file_id: int, unless_finished: bool = False) -> str:
    return _giving_memory_back(lambda: services.ingest(dataset_id, raw_file_id, unless_finished=unless_finished))


@shared_task(**TASK_OPTIONS)
def recompute_cell(cell_id: int) -> str:
    return _giving_memory_back(lambda: services.recompute_cell(cell_id))


@shared_task(**TASK_OPTIONS)
def recompute_diagnosis(cell_id: int) -> str:
    """A three-electrode cell's per-electrode analysis and diagnosis (its references changed)."""
    return _giving_memory_back(lambda: electrodes.recompute_diagnosis(cell_id))


@shared_task(**TASK_OPTIONS)
def recompute_fade_prediction(cell_id: int) -> str:
    """A balanced cell's fade prediction (its half cells or N/P changed)."""
    return _giving_memory_back(lambda: electrodes.recompute_fade_prediction(cell_id))


@shared_task(**TASK_OPTIONS)
def watch_silent_runs() -> int:
    """Run by beat (CELERY_BEAT_SCHEDULE): alerts for running tests that sent no new data."""
    return len(alerts.watch_silent_runs())


@shared_task(**TASK_OPTIONS)
def requeue_stuck_datasets() -> int:
    """Run by beat (CELERY_BEAT_SCHEDULE): queue again the datasets whose ingestion stopped."""
    return len(services.dataset_requeue_stuck())


class _PendingRecompute:
    """What to recompute once the transaction commits: one task per cell and kind of result,
    however many changes of the transaction touched it. A cell whose summaries are recomputed
    gets its diagnosis and fade prediction in that same task."""

    def __init__(self):
        self.cells: set[int] = set()
        self.diagnoses: set[int] = set()
        self.predictions: set[int] = set()
        self.sent = False

    def planned(self) -> list[tuple]:
        """(task, cell id), in the order they are queued."""
        return ([(recompute_cell, c) for c in sorted(self.cells)]
                + [(recompute_diagnosis, c) for c in sorted(self.diagnoses - self.cells)]
                + [(recompute_fade_prediction, c) for c in sorted(self.predictions - self.cells)])

    def __call__(self):
        self.sent = True
        for task, cell_id in self.planned():
            task.delay(cell_id)


def _queue(kind: str, cell_ids) -> None:
    cell_ids = set(cell_ids)
    if not cell_ids:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # One collector per transaction, kept among its on-commit callbacks: dropped with them
        # when the transaction rolls back.
        for _savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _PendingRecompute) and not callback.sent:
                getattr(callback, kind).update(cell_ids)
                return
    pending = _PendingRecompute()
    getattr(pending, kind).update(cell_ids)
    transaction.on_commit(pending)


def queue_recompute(cell_ids) -> None:
    """Recompute these cells after the commit, each once per transaction."""
    _queue("cells", cell_ids)


def queue_diagnosis(cell_ids) -> None:
    """Recompute these three-electrode cells' diagnoses after the commit, each once."""
    _queue("diagnoses", cell_ids)


def queue_fade_prediction(cell_ids) -> None:
    """Recompute these balanced cells' links and fade predictions after the commit, each once."""
    _queue("predictions", cell_ids)
