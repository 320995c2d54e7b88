"""The notebook's pages."""
from django.urls import path

from eln.notebook import views

app_name = "notebook"
urlpatterns = [
    path("notebook/", views.entry_list, name="entry-list"),
    path("notebook/new/", views.entry_new, name="entry-new"),
    path("notebook/<str:label>/", views.entry_detail, name="entry-detail"),
    path("notebook/<str:label>/edit/", views.entry_edit, name="entry-edit"),
    path("notebook/<str:label>/attachments/<int:pk>/<str:name>", views.attachment, name="attachment"),
]
