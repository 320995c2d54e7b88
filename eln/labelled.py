"""Records by their label (CELL-0042, LOT-0007), whatever their kind, for the notebook's links
and the printed labels. The kinds come from the app registry (every LabRecord with a prefix), so
eln imports none of the apps that define them."""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from eln.models import LabRecord
from eln.pages import record_url
from eln.permissions import visible_projects


@lru_cache(maxsize=1)
def record_models() -> dict[str, type[LabRecord]]:
    """Label prefix -> the model of records with that prefix."""
    return {model.HUMAN_ID_PREFIX: model for model in apps.get_models()
            if issubclass(model, LabRecord) and model.HUMAN_ID_PREFIX}


def model_for(label: str) -> type[LabRecord] | None:
    return record_models().get(label.partition("-")[0])


def find_records(labels, *, user=None) -> dict[str, LabRecord]:
    """The records these labels name (among those ``user`` may see, when given): one query per
    kind of record named, whatever the number of labels."""
    by_model = defaultdict(set)
    for label in labels:
        model = model_for(label)
        if model is not None:
            by_model[model].add(label)
    found = {}
    for model, wanted in by_model.items():
        records = model._default_manager.filter(human_id__in=wanted).select_related("project")
        if user is not None:
            records = records.filter(project__in=visible_projects(user))
        found.update({record.human_id: record for record in records})
    return found


def record_address(label: str) -> str | None:
    """Where a record is shown: its page, or for kinds without pages yet its browsable API page."""
    url = record_url(label)
    if url is not None:
        return url
    model = model_for(label)
    if model is None:
        return None
    try:
        return reverse(f"{model._meta.model_name}-detail", kwargs={"human_id": label})
    except NoReverseMatch:
        return None
