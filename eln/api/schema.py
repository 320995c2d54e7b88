"""The OpenAPI schema says what every operation can answer, not only its success: the refusals
a client must handle, with their real bodies (DRF's ``{"detail": ...}``, validation errors by
field, the dependents of a refused delete)."""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import permissions, serializers

DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})
# {field: [message, ...]}, or for child rows {set: [{field: [message]}, ...]}
FIELD_ERRORS = {
    "type": "object",
    "description": "each field or parameter refused, with the rules it breaks (child rows: one object per row)",
    "additionalProperties": {"oneOf": [{"type": "array"}, {"type": "object"}, {"type": "string"}]},
}
CONFLICT = inline_serializer("DeleteRefused", {
    "detail": serializers.CharField(), "dependents": serializers.ListField(child=serializers.CharField())})


class LabAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = {}
        open_to_all = any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
        if not open_to_all:
            errors["401"] = (DETAIL, "not logged in, or the token is unknown, revoked or expired")
            errors["403"] = (DETAIL, "no right to do this (a reader writing, an outsider in a project)")
        if "{" in self.path:
            errors["404"] = (DETAIL, "no such record among the user's projects")
        if self.method in ("POST", "PUT", "PATCH") or (self.method == "GET" and not self._is_a_file()):
            errors["400"] = (FIELD_ERRORS, "a field or parameter refused, with the rule it breaks")
        if self.method == "DELETE":
            errors["409"] = (CONFLICT, "other records depend on this one")
        for code, (serializer, description) in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(serializer, code, direction=direction)
                responses[code]["description"] = description
        return responses

    def _is_a_file(self) -> bool:
        return self.path.endswith("/download/")
