"""The alerts' pages."""
from django.urls import path

from analysis.alerts import views

app_name = "alerts"
urlpatterns = [
    path("alerts/", views.alert_list, name="alert-list"),
    path("alerts/rules/", views.alert_rules, name="alert-rules"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
]
