"""The alerts in the API: listed by project member, filtered, acknowledged by members with write
rights (`POST /api/v1/alerts/<id>/acknowledge/`)."""
import django_filters as filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from analysis.alerts import selectors, services
from analysis.alerts.models import Alert
from eln.permissions import can_write
from samples.filtersets import DateTimeFilter


class AlertFilterSet(filters.FilterSet):
    project = filters.CharFilter(field_name="project__name")
    cell = filters.CharFilter(field_name="run__cell__human_id")
    run = filters.CharFilter(field_name="run__human_id")
    dataset = filters.CharFilter(field_name="dataset__human_id")
    acknowledged = filters.BooleanFilter(field_name="acknowledged_at", lookup_expr="isnull", exclude=True)
    raised_after = DateTimeFilter(field_name="raised_at", lookup_expr="gte")

    class Meta:
        model = Alert
        fields = ["rule"]


class AlertSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="name", read_only=True)
    cell = serializers.CharField(source="run.cell.human_id", read_only=True)
    run = serializers.CharField(source="run.human_id", read_only=True)
    dataset = serializers.CharField(source="dataset.human_id", read_only=True, default=None)
    message = serializers.CharField(source="full_message", read_only=True)
    acknowledged = serializers.SerializerMethodField()
    acknowledged_by = serializers.StringRelatedField()

    class Meta:
        model = Alert
        fields = ("id", "project", "cell", "run", "dataset", "rule", "cycle_number", "last_data_at", "value",
                  "threshold", "unit", "message", "later_cycles", "details", "raised_at", "acknowledged",
                  "acknowledged_at", "acknowledged_by", "acknowledgement_note")
        read_only_fields = fields

    def get_acknowledged(self, alert) -> bool:
        return alert.acknowledged_at is not None


class AcknowledgementSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts of running tests in your projects, newest first (`?acknowledged=false` for the
    open ones; `?cell=CELL-0042`, `?rule=low_efficiency`, ...)."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    permission_classes = [permissions.IsAuthenticated]
    ordering_fields = ["raised_at", "cycle_number"]
    search_fields = ["message", "run__human_id", "run__cell__human_id"]

    def get_queryset(self):
        return selectors.visible_alerts(self.request.user).order_by("-raised_at", "-pk")

    @extend_schema(request=AcknowledgementSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Say you have seen the alert; who and when are recorded, with your note."""
        alert = self.get_object()
        if not can_write(request.user, alert.project):
            raise PermissionDenied("You are a reader of this project; only members with write rights "
                                   "acknowledge alerts.")
        body = AcknowledgementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert = services.alert_acknowledge(user=request.user, alert=alert, note=body.validated_data["note"])
        except DjangoValidationError as refusal:
            raise ValidationError({"detail": refusal.messages}) from None
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk), context={"request": request}).data)
