"""Document routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path(
        "opportunities/<int:pk>/documents/",
        views.OpportunityDocumentsView.as_view(),
        name="opportunity-documents",
    ),
    path("documents/<int:pk>/", views.DocumentDetailView.as_view(), name="document-detail"),
    path(
        "documents/<int:pk>/download/",
        views.DocumentDownloadView.as_view(),
        name="document-download",
    ),
    path(
        "evidence-requirements/",
        views.EvidenceRequirementListView.as_view(),
        name="evidence-requirement-list",
    ),
    path(
        "evidence-requirements/<int:pk>/",
        views.EvidenceRequirementDetailView.as_view(),
        name="evidence-requirement-detail",
    ),
    path("inbound/esign/", views.EsignInboundView.as_view(), name="inbound-esign"),
]
