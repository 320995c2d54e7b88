"""Filters shared by the API and the pages."""
import django_filters as filters
from django.db.models import F, Q

from samples import models, selectors


class LabRecordFilterSet(filters.FilterSet):
    project = filters.CharFilter(field_name="project__name")
    id = filters.CharFilter(field_name="human_id", lookup_expr="iexact")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")


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
