"""Handoffs: the outbox, its attempts, and commission credit.

The Handoff table *is* the outbox: rows are written in the approval's transaction and
nothing leaves the process before commit. A worker sends a row only while it holds the
row's claim (``claim_token`` + ``claimed_until`` lease), so two copies of a task never
both POST, and a worker that dies mid-send only delays delivery until the lease expires.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from opportunities.models import Approval, Opportunity


class HandoffKind(models.TextChoices):
    BILLING = "billing", "Billing"
    PROVISIONING = "provisioning", "Provisioning"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    COMMISSION = "commission", "Commission"


class HandoffStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed"
    RETRYING = "retrying", "Retrying"
    DEAD = "dead", "Dead"
    SKIPPED = "skipped", "Skipped (no endpoint)"


# A worker may pick these up (when due and not claimed by someone else).
SENDABLE_STATUSES = (HandoffStatus.PENDING, HandoffStatus.RETRYING)
# RevOps may re-drive these by hand.
RETRYABLE_STATUSES = (HandoffStatus.RETRYING, HandoffStatus.DEAD)


class Handoff(models.Model):
    # The webhook id and the Idempotency-Key downstream: it never changes across retries.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: a handoff records money and provisioning that already left the building;
    # deleting the deal must not silently erase that trail.
    approval = models.ForeignKey(Approval, on_delete=models.PROTECT, related_name="handoffs")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.PROTECT, related_name="handoffs")
    kind = models.CharField(max_length=20, choices=HandoffKind.choices)
    status = models.CharField(
        max_length=10, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    # Frozen at approval time; every retry sends exactly this.
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    attempts = models.PositiveIntegerField(default=0)
    # When a worker may (re)try; NULL once there is nothing left to send.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The claim: whoever set ``claim_token`` may send until ``claimed_until``.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    external_ref = models.CharField(max_length=200, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retried_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "kind"]
        permissions = [
            ("retry_handoff", "Can re-drive a failed handoff"),
            ("complete_handoff", "Can confirm a handoff as completed downstream"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["approval", "kind"], name="one_handoff_per_kind"),
        ]
        indexes = [
            # The relay's scan: due rows that a worker may pick up.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "retrying"]),
                name="handoff_due_idx",
            ),
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["opportunity", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} handoff of {self.opportunity_id} ({self.status})"

    @property
    def event_type(self) -> str:
        return f"handoff.{self.kind}"


class AttemptOutcome(models.TextChoices):
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered (2xx)"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"
    SKIPPED = "skipped", "Skipped (no endpoint)"


class HandoffAttempt(models.Model):
    """One try at sending a handoff, written *before* the POST so that a worker killed
    mid-send still leaves a trace (outcome ``interrupted`` once someone re-claims)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(
        max_length=12, choices=AttemptOutcome.choices, default=AttemptOutcome.SENDING
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    retry_after_s = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["handoff", "number", "id"]
        indexes = [models.Index(fields=["handoff", "number"])]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.handoff_id}: {self.outcome}"


RATE_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class CommissionPlan(models.Model):
    """A rep's commission rate; reps without a plan get settings.COMMISSION_DEFAULT_RATE."""

    rep = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="commission_plan"
    )
    rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=RATE_VALIDATORS,
        help_text="Share of the booking amount, e.g. 0.1000 for 10 %.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rep__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1), name="commission_rate_between_0_and_1"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rep}: {self.rate}"


class CommissionCredit(models.Model):
    """The rep's credit for one approved deal: booking_amount × rate, to the cent."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, related_name="commission_credits"
    )
    approval = models.OneToOneField(
        Approval, on_delete=models.PROTECT, related_name="commission_credit"
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_credits"
    )
    booking_amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=5, decimal_places=4, validators=RATE_VALIDATORS)
    credit_amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rep}: {self.credit_amount} {self.currency} on {self.opportunity_id}"


class DemoReceipt(models.Model):
    """What the built-in demo receiver (/demo/receiver/<kind>/) got, verified or not."""

    kind = models.CharField(max_length=20, choices=HandoffKind.choices)
    webhook_id = models.CharField(max_length=100, blank=True, db_index=True)
    verified = models.BooleanField(default=False)
    duplicate = models.BooleanField(
        default=False, help_text="Same webhook-id seen before (a retry of a delivered handoff)."
    )
    error = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.webhook_id} ({'verified' if self.verified else 'rejected'})"
