"""The API's URLs: every app's routes under /api/v1/ (the composition root wires them)."""
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from analysis.api.urls import register as register_analysis
from analysis.api.urls import urlpatterns as analysis_urls
from cells.api.urls import register as register_cells
from cells.api.views import LineageView
from eln.api.views import ProjectViewSet
from eln.notebook.api import NotebookEntryViewSet
from eln.security.api import OwnTokensView, RevokeTokenView, TokenView
from samples.api.urls import register as register_samples

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("notebook-entries", NotebookEntryViewSet, basename="notebookentry")
register_samples(router)
register_cells(router)
register_analysis(router)



@csrf_exempt  # it changes nothing; a refused CSRF check would answer an HTML page instead
def not_found(request, rest=""):
    """Any other address under /api/v1/: a JSON answer a client can read, as every other refusal."""
    hint = " (API addresses end with a slash)" if not request.path.endswith("/") else ""
    return JsonResponse({"detail": f"There is no {request.path} in the API{hint}; its list is at /api/v1/."},
                        status=404)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("auth/tokens/", OwnTokensView.as_view(), name="api-tokens"),
    path("auth/tokens/<int:pk>/revoke/", RevokeTokenView.as_view(), name="api-token-revoke"),
    path("lineage/<str:human_id>/", LineageView.as_view(), name="lineage"),
    *analysis_urls,
    *router.urls,
    re_path(r"^(?P<rest>[\s\S]*)\Z", not_found),
]
