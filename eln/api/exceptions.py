"""API errors as people read them: which field, which rule; and no 500 for a refused delete."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from eln.services import SPECS


def _record_of(obj):
    """The record a child row belongs to (a cell for its part, a batch for its input), or None."""
    for spec in SPECS.values():
        for child in spec.children.values():
            if isinstance(obj, child.model):
                return getattr(obj, child.parent_field)
    return None


def _describe(objects) -> list[str]:
    """Each dependent as a person finds it: a child row by its record, e.g. "CELL-0001 (positive: EL-0004)"."""
    described = set()
    for obj in objects:
        record = _record_of(obj)
        described.add(f"{record} ({obj})" if record is not None else str(obj))
    return sorted(described)[:20]


def exception_handler(exc, context):
    if isinstance(exc, (ProtectedError, RestrictedError)):
        dependents = _describe(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
        return Response(
            {
                "detail": "This record cannot be deleted because other records depend on it.",
                "dependents": dependents,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A refusal not tied to a field (e.g. a search with a NUL character): still an object,
        # as the schema says every refusal is.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    return response
