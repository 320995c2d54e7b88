from samples.api import views


def register(router):
    router.register("materials", views.MaterialViewSet, basename="material")
    router.register("lots", views.PrecursorLotViewSet, basename="precursorlot")
    router.register("stock-movements", views.StockMovementViewSet, basename="stockmovement")
    router.register("electrolyte-batches", views.ElectrolyteBatchViewSet, basename="electrolytebatch")
    router.register("infiltration-solutions", views.InfiltrationSolutionViewSet, basename="infiltrationsolution")
    router.register("electrode-sheets", views.ElectrodeSheetViewSet, basename="electrodesheet")
    router.register("electrodes", views.ElectrodeViewSet, basename="electrode")
    router.register("infiltration-runs", views.InfiltrationRunViewSet, basename="infiltrationrun")
    router.register("alloy-batches", views.AlloyBatchViewSet, basename="alloybatch")
