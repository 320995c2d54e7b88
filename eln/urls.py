from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from eln import labels, views

urlpatterns = [
    # The researchers' pages.
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(template_name="eln/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("project/", views.choose_project, name="choose-project"),
    path("", include("samples.urls")),
    path("", include("cells.urls")),
    path("", include("analysis.urls")),
    path("", include("analysis.alerts.urls")),
    path("", include("eln.notebook.urls")),
    path("labels/", labels.labels, name="labels"),
    # Lab managers' inventory and the API.
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("eln.api.urls")),  # last: it answers every other API address
    path("api-auth/", include("rest_framework.urls")),
]
