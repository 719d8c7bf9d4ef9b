"""Browser routes of the documents app (namespace ``documents``)."""

from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("opportunity/<int:pk>/upload/", views.document_upload, name="upload"),
    path("<int:pk>/remove/", views.document_remove, name="remove"),
    path("<int:pk>/download/", views.document_download, name="download"),
    path("signed/<str:token>/", views.signed_download, name="signed-download"),
]
