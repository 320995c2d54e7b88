"""The cells' pages."""
from django.urls import path

from cells import views

app_name = "cells"
urlpatterns = [
    path("cells/", views.CellListView.as_view(), name="cell-list"),
    path("cells/<str:label>/", views.cell_detail, name="cell-detail"),
]
