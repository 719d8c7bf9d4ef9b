"""Exchange-rate routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("exchange-rates/", views.ExchangeRateListView.as_view(), name="exchange-rate-list"),
]
