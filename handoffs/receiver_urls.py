"""/demo/receiver/<kind>/ — the demo receiver; answers 404 unless DEMO_RECEIVER=1."""

from django.urls import path

from . import receiver

urlpatterns = [
    path("<str:kind>/", receiver.demo_receiver, name="demo-receiver"),
]
