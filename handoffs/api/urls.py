"""Handoff routes under /api/v1/ (names in the ``api`` namespace)."""

from __future__ import annotations

from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("handoffs/", views.HandoffListView.as_view(), name="handoff-list"),
    path("handoffs/<uuid:pk>/retry/", views.HandoffRetryView.as_view(), name="handoff-retry"),
    path(
        "handoffs/<uuid:pk>/complete/",
        views.HandoffCompleteView.as_view(),
        name="handoff-complete",
    ),
    path(
        "webhook-endpoints/",
        webhooks.WebhookEndpointListView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<uuid:pk>/",
        webhooks.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<uuid:pk>/rotate-secret/",
        webhooks.WebhookEndpointRotateView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<uuid:pk>/replay/",
        webhooks.WebhookEndpointReplayView.as_view(),
        name="webhook-endpoint-replay",
    ),
    path(
        "webhook-deliveries/",
        webhooks.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
]
