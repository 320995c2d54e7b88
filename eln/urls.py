from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from eln import labels, views
from eln.api.docs import RedocDocsView, SwaggerDocsView
from eln.security import views as security_views

urlpatterns = [
    # The researchers' pages.
    path("", views.dashboard, name="dashboard"),
    path("login/", security_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("project/", views.choose_project, name="choose-project"),
    path("", include("samples.urls")),
    path("", include("cells.urls")),
    path("", include("analysis.urls")),
    path("", include("analysis.alerts.urls")),
    path("", include("eln.notebook.urls")),
    path("labels/", labels.labels, name="labels"),
    path("tokens/", security_views.api_tokens, name="tokens"),
    # Lab managers' inventory and the API.
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SwaggerDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", RedocDocsView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("eln.api.urls")),  # last: it answers every other API address
    path("api-auth/", include("rest_framework.urls")),
]
