"""Writes that touch several records: receiving a cycler's raw file into a run's dataset."""
import dataclasses
import os
import re

from django.db import transaction

from cells.models import CyclingRun, Dataset, RawDataFile


@dataclasses.dataclass
class ReceivedFile:
    raw_file: RawDataFile
    dataset: Dataset
    created: bool  # False when the same bytes were already there: nothing was queued


def clean_file_name(name: str) -> str:
    """The cycler's file name without any folder part, safe for storage paths."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "upload"
    return re.sub(r"[^\w.\-+ ()]", "_", base)[:200]


def receive_raw_file(run: CyclingRun, uploaded, *, user=None, cycler_token=None) -> ReceivedFile:
    """Store a cycler file for a run and queue its ingestion.

    ``uploaded`` carries ``sha256`` (computed while it streamed in). The same bytes again give
    the same record and queue nothing. A file with the name of one already in the run is the
    same test grown: it supersedes the earlier version in that run's dataset.
    """
    from analysis.tasks import queue_ingestion

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
        queue_ingestion(dataset, raw_file)
    return ReceivedFile(raw_file, dataset, created=True)
