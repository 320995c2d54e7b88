from django.urls import path

from analysis.alerts.api import AlertViewSet
from analysis.api import electrodes, plots, views
from analysis.api.uploads import DatasetStatusView, RawFileUploadView

urlpatterns = [
    path("cycling-runs/<str:human_id>/raw-files/", RawFileUploadView.as_view(), name="raw-file-upload"),
    path("datasets/<str:human_id>/status/", DatasetStatusView.as_view(), name="dataset-status"),
    path("cells/<str:human_id>/metrics/", views.CellMetricsView.as_view(), name="cell-metrics"),
    path("cells/<str:human_id>/cycles/", views.CellCyclesView.as_view(), name="cell-cycles"),
    # plots, down-sampled
    *[path(f"datasets/<str:human_id>/plots/{name}/", view.as_view(), name=f"dataset-plot-{name}")
      for name, view in plots.PLOT_VIEWS.items()],
    # three-electrode results
    path("datasets/<str:human_id>/electrodes/", electrodes.DatasetElectrodesView.as_view(), name="dataset-electrodes"),
    path("datasets/<str:human_id>/electrodes/ranges/", electrodes.DatasetPotentialRangesView.as_view(),
         name="dataset-electrode-ranges"),
    path("datasets/<str:human_id>/electrodes/curves/", electrodes.DatasetElectrodeCurvesView.as_view(),
         name="dataset-electrode-curves"),
    path("datasets/<str:human_id>/degradation-modes/", electrodes.DatasetDegradationModesView.as_view(),
         name="dataset-degradation-modes"),
    path("cells/<str:human_id>/diagnosis/", electrodes.CellDiagnosisView.as_view(), name="cell-diagnosis"),
    path("cells/<str:human_id>/fade-prediction/", electrodes.CellFadePredictionView.as_view(),
         name="cell-fade-prediction"),
]


def register(router):
    router.register("datasets", views.DatasetViewSet, basename="dataset")
    router.register("alerts", AlertViewSet, basename="alert")
