"""Shapes of documents and evidence requirements over HTTP."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from api.fields import MoneyField
from api.strict import StrictInputMixin
from core.money import money_text

from ..models import Document, DocumentKind, EnvelopeStatus, EvidenceRequirement


class DocumentSerializer(serializers.ModelSerializer):
    # Declared: the model field's blank choice (an upload has no envelope) must show in the
    # schema, or a client generated from it rejects every uploaded document.
    esign_status = serializers.ChoiceField(
        choices=EnvelopeStatus.choices,
        allow_blank=True,
        read_only=True,
        help_text="The e-signature envelope's status; empty for an upload.",
    )
    download_url = serializers.SerializerMethodField(
        help_text="The bytes, for a signed-in reader of the deal (GET)."
    )

    class Meta:
        model = Document
        fields = (
            "id",
            "opportunity",
            "kind",
            "name",
            "size",
            "content_type",
            "sha256",
            "source",
            "esign_envelope_id",
            "esign_status",
            "uploaded_by",
            "uploaded_at",
            "removed_at",
            "download_url",
        )
        read_only_fields = fields

    def get_download_url(self, obj: Document) -> str:
        return reverse("api:document-download", args=[obj.pk])


class DocumentUploadSerializer(serializers.Serializer):
    """multipart/form-data: ``kind`` and ``file``."""

    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(allow_empty_file=True, max_length=None)


class EvidenceRequirementSerializer(StrictInputMixin, serializers.ModelSerializer):
    read_only_names = ("id", "created_by", "created_at")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        # An amount in the reporting currency, with its minor units.
        data["min_amount"] = money_text(instance.min_amount, settings.REPORTING_CURRENCY)
        return data

    min_amount = MoneyField(
        allow_null=True,
        required=False,
        help_text="In the reporting currency; null: every deal.",
    )

    class Meta:
        model = EvidenceRequirement
        fields = ("id", "kind", "min_amount", "created_by", "created_at")
        read_only_fields = ("id", "created_by", "created_at")
