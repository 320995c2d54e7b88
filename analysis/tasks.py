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


def queue_recompute(cell_ids) -> None:
    for cell_id in set(cell_ids):
        transaction.on_commit(lambda cell_id=cell_id: recompute_cell.delay(cell_id))
