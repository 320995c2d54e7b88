"""The samples' pages."""
from django.urls import path

from samples import forms, record_pages, views

app_name = "samples"
urlpatterns = [
    path("lots/", views.LotListView.as_view(), name="lot-list"),
    path("lots/new/", forms.LotFormView.as_view(), name="lot-new"),
    path("lots/<str:label>/", views.lot_detail, name="lot-detail"),
    path("lots/<str:label>/edit/", forms.LotFormView.as_view(), name="lot-edit"),
    path("materials/", record_pages.MaterialListView.as_view(), name="material-list"),
    path("materials/<path:name>/", record_pages.material_detail, name="material-detail"),
    path("electrolyte-batches/", record_pages.BatchListView.as_view(), name="batch-list"),
    path("electrolyte-batches/new/", forms.BatchFormView.as_view(), name="batch-new"),
    path("electrolyte-batches/<str:label>/", record_pages.batch_detail, name="batch-detail"),
    path("electrolyte-batches/<str:label>/edit/", forms.BatchFormView.as_view(), name="batch-edit"),
    path("infiltration-solutions/", record_pages.SolutionListView.as_view(), name="solution-list"),
    path("infiltration-solutions/new/", forms.SolutionFormView.as_view(), name="solution-new"),
    path("infiltration-solutions/<str:label>/", record_pages.solution_detail, name="solution-detail"),
    path("infiltration-solutions/<str:label>/edit/", forms.SolutionFormView.as_view(), name="solution-edit"),
    path("electrode-sheets/", record_pages.SheetListView.as_view(), name="sheet-list"),
    path("electrode-sheets/new/", forms.SheetFormView.as_view(), name="sheet-new"),
    path("electrode-sheets/<str:label>/", record_pages.sheet_detail, name="sheet-detail"),
    path("electrode-sheets/<str:label>/edit/", forms.SheetFormView.as_view(), name="sheet-edit"),
    path("electrodes/", record_pages.ElectrodeListView.as_view(), name="electrode-list"),
    path("electrodes/punch/", forms.PunchView.as_view(), name="electrode-punch"),
    path("electrodes/<str:label>/", record_pages.electrode_detail, name="electrode-detail"),
    path("electrodes/<str:label>/edit/", forms.ElectrodeFormView.as_view(), name="electrode-edit"),
    path("infiltration-runs/", record_pages.InfiltrationRunListView.as_view(), name="infiltration-list"),
    path("infiltration-runs/new/", forms.InfiltrationRunFormView.as_view(), name="infiltration-new"),
    path("infiltration-runs/<str:label>/", record_pages.infiltration_run_detail, name="infiltration-detail"),
    path("infiltration-runs/<str:label>/edit/", forms.InfiltrationRunFormView.as_view(), name="infiltration-edit"),
    path("alloy-batches/", record_pages.AlloyListView.as_view(), name="alloy-list"),
    path("alloy-batches/new/", forms.AlloyFormView.as_view(), name="alloy-new"),
    path("alloy-batches/<str:label>/", record_pages.alloy_detail, name="alloy-detail"),
    path("alloy-batches/<str:label>/edit/", forms.AlloyFormView.as_view(), name="alloy-edit"),
]
