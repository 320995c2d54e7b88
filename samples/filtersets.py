"""Filters shared by the API and the pages."""
import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import F, Q
from django_filters.fields import IsoDateTimeField

from samples import models, selectors


# The time zones of the world run from UTC-12:00 to UTC+14:00; PostgreSQL refuses some offsets
# Python accepts (+16:00), which must be a refusal naming the parameter, not a server error.
EARLIEST_OFFSET, LATEST_OFFSET = dt.timedelta(hours=-12), dt.timedelta(hours=14)


class ZonedDateTimeField(IsoDateTimeField):
    def clean(self, value):
        when = super().clean(value)
        offset = when.utcoffset() if when is not None else None
        if offset is not None and not EARLIEST_OFFSET <= offset <= LATEST_OFFSET:
            hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
            sign = "-" if offset < dt.timedelta(0) else "+"
            raise forms.ValidationError(
                f"The time zone offset {sign}{hours:02d}:{minutes:02d} is not one of the world's; "
                "offsets run from -12:00 to +14:00 (e.g. 2024-05-01T08:00:00+02:00).", code="invalid")
        return when


class DateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date and time (a time zone offset from -12:00 to +14:00, else the server's)."""

    field_class = ZonedDateTimeField


class LabRecordFilterSet(filters.FilterSet):
    project = filters.CharFilter(field_name="project__name")
    id = filters.CharFilter(field_name="human_id", lookup_expr="iexact")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lte")


class MaterialFilterSet(filters.FilterSet):
    class Meta:
        model = models.Material
        fields = {"name": ["exact", "icontains"], "kind": ["exact"], "formula": ["exact", "icontains"]}


class PrecursorLotFilterSet(LabRecordFilterSet):
    material = filters.CharFilter(field_name="material__name")
    material_kind = filters.ChoiceFilter(field_name="material__kind", choices=models.Material.Kind.choices)
    supplier = filters.CharFilter(lookup_expr="icontains")
    low_stock = filters.BooleanFilter(method="filter_low_stock", label="below its low-stock mark")

    class Meta:
        model = models.PrecursorLot
        fields = ["state", "storage_place", "lot_number"]

    def filter_low_stock(self, queryset, name, value):
        queryset = queryset if "remaining" in queryset.query.annotations else selectors.with_stock(queryset)
        low = Q(remaining__lt=F("low_stock_threshold_mg"))
        return queryset.filter(low) if value else queryset.exclude(low)


class StockMovementFilterSet(filters.FilterSet):
    holder = filters.CharFilter(method="filter_holder", label="the lot or made batch (label id)")
    lot = filters.CharFilter(field_name="lot__human_id")

    class Meta:
        model = models.StockMovement
        fields = ["kind", "used_for"]

    def filter_holder(self, queryset, name, value):
        match = Q()
        for field in selectors.HOLDER_FIELD.values():
            match |= Q(**{f"{field}__human_id__iexact": value})
        return queryset.filter(match)


class ElectrolyteBatchFilterSet(LabRecordFilterSet):
    product = filters.CharFilter(field_name="product__name")
    uses_lot = filters.CharFilter(field_name="inputs__lot__human_id", distinct=True)

    class Meta:
        model = models.ElectrolyteBatch
        fields = ["route", "xrd_phase"]


class InfiltrationSolutionFilterSet(LabRecordFilterSet):
    uses_lot = filters.CharFilter(field_name="inputs__lot__human_id", distinct=True)

    class Meta:
        model = models.InfiltrationSolution
        fields = []


class ElectrodeSheetFilterSet(LabRecordFilterSet):
    active_material = filters.CharFilter(
        field_name="components__lot__material__name", distinct=True, label="material of any component"
    )
    uses_lot = filters.CharFilter(field_name="components__lot__human_id", distinct=True)

    class Meta:
        model = models.ElectrodeSheet
        fields = ["current_collector"]


class ElectrodeFilterSet(LabRecordFilterSet):
    sheet = filters.CharFilter(field_name="sheet__human_id")

    class Meta:
        model = models.Electrode
        fields = []


class InfiltrationRunFilterSet(LabRecordFilterSet):
    solution = filters.CharFilter(field_name="solution__human_id")
    electrode = filters.CharFilter(field_name="electrodes__electrode__human_id", distinct=True)

    class Meta:
        model = models.InfiltrationRun
        fields = []


class AlloyBatchFilterSet(LabRecordFilterSet):
    uses_lot = filters.CharFilter(field_name="inputs__lot__human_id", distinct=True)

    class Meta:
        model = models.AlloyBatch
        fields = []
