"""The cells' pages."""
from django.urls import path

from cells import forms, record_pages, views

app_name = "cells"
urlpatterns = [
    path("cells/", views.CellListView.as_view(), name="cell-list"),
    path("cells/new/", forms.CellFormView.as_view(), name="cell-new"),
    path("cells/<str:label>/", views.cell_detail, name="cell-detail"),
    path("cells/<str:label>/edit/", forms.CellFormView.as_view(), name="cell-edit"),
    path("protocols/", record_pages.ProtocolListView.as_view(), name="protocol-list"),
    path("protocols/new/", forms.ProtocolFormView.as_view(), name="protocol-new"),
    path("protocols/<str:label>/", record_pages.protocol_detail, name="protocol-detail"),
    path("protocols/<str:label>/edit/", forms.ProtocolFormView.as_view(), name="protocol-edit"),
    path("cycling-runs/", record_pages.RunListView.as_view(), name="run-list"),
    path("cycling-runs/new/", forms.RunFormView.as_view(), name="run-new"),
    path("cycling-runs/<str:label>/", record_pages.run_detail, name="run-detail"),
    path("cycling-runs/<str:label>/edit/", forms.RunFormView.as_view(), name="run-edit"),
    path("datasets/", record_pages.DatasetListView.as_view(), name="dataset-list"),
    path("cyclers/", record_pages.CyclerListView.as_view(), name="cycler-list"),
    path("cyclers/<path:name>/", record_pages.cycler_detail, name="cycler-detail"),
]
