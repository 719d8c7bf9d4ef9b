"""Shapes of documents and evidence requirements over HTTP."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from ..models import Document, DocumentKind, EvidenceRequirement


class DocumentSerializer(serializers.ModelSerializer):
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


class EvidenceRequirementSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvidenceRequirement
        fields = ("id", "kind", "min_amount", "created_by", "created_at")
        read_only_fields = ("id", "created_by", "created_at")
        extra_kwargs: dict[str, Any] = {
            "min_amount": {
                "help_text": "In the reporting currency; null: every deal.",
                "required": False,
            }
        }
