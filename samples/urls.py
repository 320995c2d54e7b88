"""The samples' pages."""
from django.urls import path

from samples import views

app_name = "samples"
urlpatterns = [
    path("lots/", views.LotListView.as_view(), name="lot-list"),
    path("lots/<str:label>/", views.lot_detail, name="lot-detail"),
]
