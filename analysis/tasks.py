"""Celery entry points: thin, idempotent, retried on passing faults; the work is in services."""
import pyarrow as pa
from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from analysis import services

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
def ingest_dataset(dataset_id: int, raw_file_id: int) -> str:
    return _giving_memory_back(lambda: services.ingest(dataset_id, raw_file_id))


@shared_task(**TASK_OPTIONS)
def recompute_cell(cell_id: int) -> str:
    return _giving_memory_back(lambda: services.recompute_cell(cell_id))


class _PendingRecompute:
    """The cells to recompute once the transaction commits: one task per cell, however many
    changes of the transaction touched it."""

    def __init__(self):
        self.cells: set[int] = set()

    def __call__(self):
        for cell_id in sorted(self.cells):
            recompute_cell.delay(cell_id)


def queue_recompute(cell_ids) -> None:
    """Recompute these cells after the commit, each once per transaction."""
    cell_ids = set(cell_ids)
    if not cell_ids:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # One collector per transaction, kept among its on-commit callbacks: dropped with them
        # when the transaction rolls back.
        for _savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _PendingRecompute):
                callback.cells |= cell_ids
                return
    pending = _PendingRecompute()
    pending.cells |= cell_ids
    transaction.on_commit(pending)
