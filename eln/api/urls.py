from rest_framework.routers import DefaultRouter

from cells.api.urls import register as register_cells
from eln.api.views import ProjectViewSet, TokenView
from samples.api.urls import register as register_samples
from django.urls import path

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
register_samples(router)
register_cells(router)

urlpatterns = [path("auth/token/", TokenView.as_view(), name="api-token")] + router.urls
