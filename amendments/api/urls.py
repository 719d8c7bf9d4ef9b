"""Amendment routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path(
        "opportunities/<int:pk>/amendments/",
        views.OpportunityAmendmentsView.as_view(),
        name="opportunity-amendments",
    ),
    path(
        "opportunities/<int:pk>/amendments/dry-run/",
        views.OpportunityAmendmentDryRunView.as_view(),
        name="opportunity-amendments-dry-run",
    ),
    path("amendments/", views.AmendmentListView.as_view(), name="amendment-list"),
    path("amendments/<int:pk>/", views.AmendmentDetailView.as_view(), name="amendment-detail"),
    path(
        "amendments/<int:pk>/transitions/<str:name>/",
        views.AmendmentTransitionView.as_view(),
        name="amendment-transition-run",
    ),
]
