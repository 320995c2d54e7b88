from django.urls import path
from rest_framework.routers import DefaultRouter

from cells.api.uploads import DatasetStatusView, RawFileUploadView
from cells.api.urls import register as register_cells
from eln.api.views import ProjectViewSet, TokenView
from samples.api.urls import register as register_samples

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
register_samples(router)
register_cells(router)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("cycling-runs/<str:human_id>/raw-files/", RawFileUploadView.as_view(), name="raw-file-upload"),
    path("datasets/<str:human_id>/status/", DatasetStatusView.as_view(), name="dataset-status"),
] + router.urls
