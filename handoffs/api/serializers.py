"""Handoffs in the API."""

from __future__ import annotations

from rest_framework import serializers

from api.strict import StrictInputMixin
from handoffs.models import Handoff


class HandoffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Handoff
        fields = (
            "id",
            "opportunity",
            "approval",
            "kind",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "completed_at",
            "completed_by",
            "external_ref",
            "retried_by",
            "retried_at",
            "payload",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class HandoffCompleteSerializer(StrictInputMixin, serializers.Serializer):
    external_ref = serializers.CharField(
        max_length=200, help_text="Your system's reference for what it did (invoice id, …)."
    )
