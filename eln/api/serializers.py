"""Serializer bases shared by every app's API."""
import math

from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from eln.models import LabRecord, Project
from eln.permissions import visible_projects, writable_projects
from eln.services import project_create


class DerivedField(serializers.ReadOnlyField):
    """A number computed from the record; null when the inputs for it are missing or inconsistent."""

    def get_attribute(self, instance):
        try:
            return super().get_attribute(instance)
        except (ValueError, ArithmeticError):
            return None

    def to_representation(self, value):
        if isinstance(value, float) and not math.isfinite(value):
            return None  # absurd inputs can overflow; JSON has no infinity
        return super().to_representation(value)


class VisibleRecordField(serializers.SlugRelatedField):
    """A reference to another lab record by its label id (e.g. LOT-0007), among visible ones."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "human_id")
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        user = request.user if request else None
        return queryset.filter(project__in=visible_projects(user))


class RecordReferencesMixin:
    """References to lab records by label id (among the user's projects), to shared data by name."""

    def build_relational_field(self, field_name, relation_info):
        field_class, kwargs = super().build_relational_field(field_name, relation_info)
        model = relation_info.related_model
        if issubclass(model, LabRecord):
            kwargs.pop("queryset", None)
            return VisibleRecordField, {**kwargs, "queryset": model.objects.all()}
        if hasattr(model, "name") and model._meta.get_field("name").unique:
            return serializers.SlugRelatedField, {**kwargs, "slug_field": "name"}
        return field_class, kwargs


class LabRecordSerializer(RecordReferencesMixin, serializers.ModelSerializer):
    """Base for project records: label id, project, who and when; references by label id.

    The serializer only parses: types, required fields, field validators. The record is written
    by the service the subclass names, which holds every rule of the lab and gives its messages:
    ``create_service(user=, project=, **fields)`` and ``update_service(user=, <record_kwarg>=,
    **changes)``. Nested child rows (declared as nested serializers) are passed to the service
    as lists of dicts; a list given replaces the rows, matched by their natural key.
    """

    id = serializers.CharField(source="human_id", read_only=True)
    project = serializers.SlugRelatedField(slug_field="name", queryset=Project.objects.all())
    created_by = serializers.StringRelatedField(allow_null=True)
    modified_by = serializers.StringRelatedField(allow_null=True)
    create_service = None
    update_service = None
    record_kwarg = ""

    base_fields = ("id", "project", "notes", "created_at", "created_by", "modified_at", "modified_by")

    def validate_project(self, project):
        user = self.context["request"].user
        if not writable_projects(user).filter(pk=project.pk).exists():
            if visible_projects(user).filter(pk=project.pk).exists():
                raise PermissionDenied(
                    f"You are a reader of project {project.name!r}; only members with write rights add records."
                )
            raise PermissionDenied(f"You are not a member of project {project.name!r}.")
        return project

    def _rows(self, validated_data):
        """Nested rows as plain dicts, for the service."""
        for name, field in self.fields.items():
            if isinstance(field, serializers.ListSerializer) and name in validated_data:
                validated_data[name] = [dict(row) for row in validated_data[name]]
        return validated_data

    def create(self, validated_data):
        service = type(self).create_service
        return service(user=self.context["request"].user, **self._rows(validated_data))

    def update(self, instance, validated_data):
        service = type(self).update_service
        return service(user=self.context["request"].user, **{self.record_kwarg: instance},
                       **self._rows(validated_data))


class WholeRowsListSerializer(serializers.ListSerializer):
    """Child rows are replaced whole, so even in a PATCH of the parent each row is complete."""

    def run_validation(self, data=serializers.empty):
        if not getattr(self.root, "partial", False) or self.root is self or not isinstance(data, list):
            return super().run_validation(data)
        rows = type(self.child)(data=data, many=True, context=self.context)
        rows.is_valid(raise_exception=True)
        return rows.validated_data


def child_serializer(model_class, exclude_fields=(), extra=None):
    """A serializer for a child row written through its parent (no id, no parent field)."""
    parent_fields = {"id", *exclude_fields}
    meta = type("Meta", (), {"model": model_class, "exclude": tuple(parent_fields),
                             "list_serializer_class": WholeRowsListSerializer})
    attrs = {"Meta": meta, **(extra or {})}
    base = type(f"{model_class.__name__}Serializer", (LabRecordChildSerializer,), attrs)
    return base


class LabRecordChildSerializer(RecordReferencesMixin, serializers.ModelSerializer):
    pass


class ProjectSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ("id", "name", "description", "created_at", "members")
        read_only_fields = ("created_at",)

    def get_members(self, project) -> list[dict]:
        # the view prefetches the memberships with their users
        return [{"user": m.user.username, "role": m.role} for m in project.memberships.all()]

    def create(self, validated_data):
        return project_create(user=self.context["request"].user, **validated_data)
