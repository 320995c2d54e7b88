from django.urls import path

from analysis.api import views
from analysis.api.uploads import DatasetStatusView, RawFileUploadView

urlpatterns = [
    path("cycling-runs/<str:human_id>/raw-files/", RawFileUploadView.as_view(), name="raw-file-upload"),
    path("datasets/<str:human_id>/status/", DatasetStatusView.as_view(), name="dataset-status"),
    path("cells/<str:human_id>/metrics/", views.CellMetricsView.as_view(), name="cell-metrics"),
    path("cells/<str:human_id>/cycles/", views.CellCyclesView.as_view(), name="cell-cycles"),
]


def register(router):
    router.register("datasets", views.DatasetViewSet, basename="dataset")
