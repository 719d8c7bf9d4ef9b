from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("decide/<str:token>/", views.decide, name="decide"),
    path("notifications/", views.notifications, name="notifications"),
]
