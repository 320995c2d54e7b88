"""The analysis pages."""
from django.urls import path

from analysis import compare_pages, record_pages

app_name = "analysis"
urlpatterns = [
    path("datasets/<str:label>/", record_pages.dataset_detail, name="dataset-detail"),
    path("datasets/<str:label>/processing/", record_pages.dataset_processing, name="dataset-processing"),
    path("datasets/<str:label>/retry/", record_pages.dataset_retry, name="dataset-retry"),
    path("compare/", compare_pages.compare_page, name="compare"),
    path("compare/data/", compare_pages.compare_data, name="compare-data"),
]
