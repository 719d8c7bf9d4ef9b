"""Sales routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("contacts/", views.ContactListView.as_view(), name="contact-list"),
    path("contacts/<int:pk>/", views.ContactDetailView.as_view(), name="contact-detail"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<int:pk>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("opportunities/", views.OpportunityListView.as_view(), name="opportunity-list"),
    path(
        "opportunities/<int:pk>/",
        views.OpportunityDetailView.as_view(),
        name="opportunity-detail",
    ),
    path(
        "opportunities/<int:pk>/transitions/",
        views.OpportunityTransitionsView.as_view(),
        name="opportunity-transitions",
    ),
    path(
        "opportunities/<int:pk>/transitions/<str:name>/",
        views.OpportunityTransitionRunView.as_view(),
        name="opportunity-transition-run",
    ),
    path(
        "opportunities/<int:pk>/history/",
        views.OpportunityHistoryView.as_view(),
        name="opportunity-history",
    ),
    path("approvals/", views.ApprovalListView.as_view(), name="approval-list"),
]
