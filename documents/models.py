"""Evidence documents attached to opportunities, the evidence RevOps require before a
deal is booked, and the record of every inbound e-signature call.

A document is never deleted while it may be evidence: removing one stamps ``removed_at``
(the file stays in storage), so a link frozen into an earlier approval snapshot keeps
pointing at the bytes that were approved.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .storage import DocumentStorage


class DocumentKind(models.TextChoices):
    SIGNED_CONTRACT = "signed_contract", "Signed contract"
    PURCHASE_ORDER = "purchase_order", "Purchase order"
    ORDER_FORM = "order_form", "Order form"
    OTHER = "other", "Other"


class DocumentSource(models.TextChoices):
    UPLOAD = "upload", "Upload"
    ESIGN = "esign", "E-signature"


class EnvelopeStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined"
    VOIDED = "voided", "Voided"


def document_path(instance: Document, filename: str) -> str:
    """``opportunities/<id>/<uuid>/<sanitised name>``: unguessable, never overwritten."""
    return f"opportunities/{instance.opportunity_id}/{instance.uid.hex}/{filename}"


class Document(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    opportunity = models.ForeignKey(
        "opportunities.Opportunity", on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    file = models.FileField(upload_to=document_path, storage=DocumentStorage(), max_length=500)
    name = models.CharField(max_length=200, help_text="The sanitised original file name.")
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    content_type = models.CharField(max_length=100, help_text="Detected from the content.")
    sha256 = models.CharField(max_length=64, db_index=True)
    source = models.CharField(
        max_length=16, choices=DocumentSource.choices, default=DocumentSource.UPLOAD
    )
    esign_envelope_id = models.CharField(max_length=100, blank=True, db_index=True)
    esign_status = models.CharField(max_length=16, choices=EnvelopeStatus.choices, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["opportunity", "removed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def is_active(self) -> bool:
        """Counts as evidence: not removed, and not from a declined or voided envelope."""
        return self.removed_at is None and self.esign_status not in (
            EnvelopeStatus.DECLINED,
            EnvelopeStatus.VOIDED,
        )


class EvidenceRequirement(models.Model):
    """A document kind every Closed-Won request must carry, optionally only from an
    amount (in the reporting currency) up."""

    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    min_amount = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Only for deals of at least this amount in the reporting currency; "
        "empty: every deal.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "min_amount", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(min_amount__gte=0),
                name="evidence_min_amount_not_negative",
            )
        ]

    def __str__(self) -> str:
        label = DocumentKind(self.kind).label
        return f"{label} (from {self.min_amount})" if self.min_amount is not None else label


class InboundScheme(models.TextChoices):
    STANDARD_WEBHOOKS = "standard_webhooks", "Standard Webhooks"
    DOCUSIGN = "docusign", "DocuSign Connect HMAC"
    NONE = "none", "No signature"


class InboundStatus(models.TextChoices):
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate (already processed)"
    REJECTED = "rejected", "Rejected: bad or missing signature"
    INVALID = "invalid", "Invalid: signed, but not a usable event"


class InboundEvent(models.Model):
    """One row per inbound e-signature call, whatever its outcome.

    Rejected calls (bad signature) keep only who-and-when facts, never the body. The
    partial unique constraint makes "processed" happen at most once per event id.
    """

    scheme = models.CharField(max_length=24, choices=InboundScheme.choices)
    event_id = models.CharField(max_length=200, blank=True)
    verified = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=InboundStatus.choices)
    event_type = models.CharField(max_length=32, blank=True)
    envelope_id = models.CharField(max_length=100, blank=True)
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "event_id"],
                condition=Q(status="processed"),
                name="inbound_event_processed_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.scheme} {self.event_id or '-'} {self.status}"
