"""The analysis pages."""
from django.urls import path

from analysis import record_pages

app_name = "analysis"
urlpatterns = [
    path("datasets/<str:label>/", record_pages.dataset_detail, name="dataset-detail"),
]
