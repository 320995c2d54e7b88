from rest_framework import mixins, permissions, viewsets

from eln.api.permissions import ProjectRecordPermission, StaffWritesOrReadOnly
from eln.api.serializers import ProjectSerializer
from eln.permissions import visible_projects, visible_records
from eln.services import record_delete


class LabRecordViewSet(viewsets.ModelViewSet):
    """Records of a project, looked up by label id; list, detail, create, update, delete."""

    permission_classes = [permissions.IsAuthenticated, ProjectRecordPermission]
    lookup_field = "human_id"
    lookup_value_regex = r"[A-Z]+-\d+"
    search_fields = ["human_id", "notes"]
    ordering_fields = ["created_at", "modified_at", "human_id"]

    def get_queryset(self):
        # Every record shows who made and last changed it: one join, not a query per row.
        return visible_records(self.request.user, super().get_queryset()).select_related("created_by", "modified_by")

    def perform_destroy(self, instance):
        record_delete(user=self.request.user, record=instance)


class ProjectRowsViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only rows that belong to a project through a record (``project_path``, e.g.
    "lot__project"): written by processes, read by the project's members."""

    project_path = ""

    def get_queryset(self):
        return super().get_queryset().filter(**{f"{self.project_path}__in": visible_projects(self.request.user)})


class SharedLabDataViewSet(viewsets.ModelViewSet):
    """Lab-wide data: materials, cyclers, channels. Everybody reads; lab managers write."""

    permission_classes = [permissions.IsAuthenticated, StaffWritesOrReadOnly]

    def perform_destroy(self, instance):
        record_delete(user=self.request.user, record=instance)


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    serializer_class = ProjectSerializer
    search_fields = ["name"]
    filterset_fields = ["name"]

    def get_queryset(self):
        return visible_projects(self.request.user).prefetch_related("memberships__user").distinct()
