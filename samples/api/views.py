
from django.db.models import Q
from rest_framework import viewsets

from eln.api.views import LabRecordViewSet, SharedLabDataViewSet
from eln.permissions import visible_projects
from samples import filtersets, models, selectors
from samples.api import serializers


class MaterialViewSet(SharedLabDataViewSet):
    queryset = models.Material.objects.all()
    serializer_class = serializers.MaterialSerializer
    filterset_class = filtersets.MaterialFilterSet
    search_fields = ["name", "formula"]


class PrecursorLotViewSet(LabRecordViewSet):
    queryset = selectors.with_stock(
        models.PrecursorLot.objects.select_related("material", "project", "created_by", "modified_by")
    ).prefetch_related("treatments", "inputs__lot")
    serializer_class = serializers.PrecursorLotSerializer
    filterset_class = filtersets.PrecursorLotFilterSet
    search_fields = ["human_id", "lot_number", "supplier", "material__name", "notes"]
    ordering_fields = LabRecordViewSet.ordering_fields + ["remaining", "received_on"]


class StockMovementViewSet(viewsets.ReadOnlyModelViewSet):
    """The ledgers of the lots and made batches the user can see; lines are written by the
    processes that take stock and by corrections in the admin."""

    queryset = models.StockMovement.objects.select_related(
        *selectors.HOLDER_FIELD.values(), "created_by").order_by("created_at", "id")
    serializer_class = serializers.StockMovementSerializer
    filterset_class = filtersets.StockMovementFilterSet

    def get_queryset(self):
        projects = visible_projects(self.request.user)
        visible = Q()
        for field in selectors.HOLDER_FIELD.values():
            visible |= Q(**{f"{field}__project__in": projects})
        return super().get_queryset().filter(visible)


class ElectrolyteBatchViewSet(LabRecordViewSet):
    queryset = selectors.with_stock(models.ElectrolyteBatch.objects.select_related(
        "product", "project", "solvent_lot", "created_by", "modified_by",
    ).prefetch_related("inputs__lot", "steps", "conductivity_measurements"))
    serializer_class = serializers.ElectrolyteBatchSerializer
    filterset_class = filtersets.ElectrolyteBatchFilterSet


class InfiltrationSolutionViewSet(LabRecordViewSet):
    queryset = selectors.with_stock(models.InfiltrationSolution.objects.select_related(
        "project", "product", "solvent_lot", "created_by", "modified_by",
    ).prefetch_related("inputs__lot"))
    serializer_class = serializers.InfiltrationSolutionSerializer
    filterset_class = filtersets.InfiltrationSolutionFilterSet


SHEET_PREFETCH = ("components__lot__material", "loading_discs")


class ElectrodeSheetViewSet(LabRecordViewSet):
    queryset = models.ElectrodeSheet.objects.select_related("project", "slurry_solvent_lot").prefetch_related(
        *SHEET_PREFETCH)
    serializer_class = serializers.ElectrodeSheetSerializer
    filterset_class = filtersets.ElectrodeSheetFilterSet


class ElectrodeViewSet(LabRecordViewSet):
    queryset = models.Electrode.objects.select_related("project", "sheet").prefetch_related(
        *(f"sheet__{p}" for p in SHEET_PREFETCH)
    )
    serializer_class = serializers.ElectrodeSerializer
    filterset_class = filtersets.ElectrodeFilterSet


class InfiltrationRunViewSet(LabRecordViewSet):
    queryset = models.InfiltrationRun.objects.select_related("project", "solution__product").prefetch_related(
        "drying_steps", "solution__inputs", "electrodes__electrode__sheet",
        *(f"electrodes__electrode__sheet__{p}" for p in SHEET_PREFETCH),
    )
    serializer_class = serializers.InfiltrationRunSerializer
    filterset_class = filtersets.InfiltrationRunFilterSet


class AlloyBatchViewSet(LabRecordViewSet):
    queryset = selectors.with_stock(models.AlloyBatch.objects.select_related(
        "project", "created_by", "modified_by").prefetch_related("inputs__lot"))
    serializer_class = serializers.AlloyBatchSerializer
    filterset_class = filtersets.AlloyBatchFilterSet
