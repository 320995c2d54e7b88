"""The API's URLs: every app's routes under /api/v1/ (the composition root wires them)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from analysis.api.urls import register as register_analysis
from analysis.api.urls import urlpatterns as analysis_urls
from cells.api.urls import register as register_cells
from cells.api.views import LineageView
from eln.api.views import ProjectViewSet, TokenView
from samples.api.urls import register as register_samples

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
register_samples(router)
register_cells(router)
register_analysis(router)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("lineage/<str:human_id>/", LineageView.as_view(), name="lineage"),
    *analysis_urls,
    *router.urls,
]
