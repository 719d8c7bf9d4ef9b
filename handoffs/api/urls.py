"""Handoff routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("handoffs/", views.HandoffListView.as_view(), name="handoff-list"),
    path("handoffs/<uuid:pk>/retry/", views.HandoffRetryView.as_view(), name="handoff-retry"),
    path(
        "handoffs/<uuid:pk>/complete/",
        views.HandoffCompleteView.as_view(),
        name="handoff-complete",
    ),
]
