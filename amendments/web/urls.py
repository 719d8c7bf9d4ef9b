"""Browser routes of amendments (namespace ``amendments``)."""

from django.urls import path

from . import views

app_name = "amendments"

urlpatterns = [
    path("opportunities/<int:pk>/amend/", views.amend, name="amend"),
    path("opportunities/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("amendments/<int:pk>/<str:name>/", views.decide, name="decide"),
]
