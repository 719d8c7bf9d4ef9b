"""Handoffs: the outbox of every outgoing message, its attempts, webhook endpoints, and
commission credit.

The Handoff table *is* the outbox. A row is one message to one destination: a handoff
(``handoff.<kind>`` event) or a lifecycle event (``deal.won``, …) to one webhook
endpoint, an e-mail, or a chat post. Rows are written in the transaction that causes
them and nothing leaves the process before commit. A worker sends a row only while it
holds the row's claim (``claim_token`` + ``claimed_until`` lease), so two copies of a
task never both POST, and a worker that dies mid-send only delays delivery until the
lease expires.

``Handoff.objects`` lists the handoffs only (rows with a ``kind``); ``Handoff.outbox``
every row; the proxies :class:`WebhookDelivery` and :class:`OutgoingMessage` the webhook
deliveries of every event type and the e-mail / chat messages.
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

from core.fields import JSONDocumentField
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


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "E-mail"
    CHAT = "chat", "Chat (incoming webhook)"


class WebhookEndpoint(models.Model):
    """A URL that receives signed webhooks for the event types it subscribes to.

    Two sources: RevOps create endpoints in the admin or the API (URL checked against
    private addresses at save and at send), and each ``HANDOFF_<KIND>_URL`` /
    ``HANDOFF_<KIND>_SECRET`` pair of the environment is one endpoint
    (``environment_kind`` set; trusted; its URL and secret are read from the settings
    when sending, so changing the variables and restarting is enough).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(
        max_length=500,
        blank=True,
        help_text="HTTPS URL (for an environment endpoint: HANDOFF_<KIND>_URL, read at send).",
    )
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="Event types this endpoint receives.")
    active = models.BooleanField(default=True)
    environment_kind = models.CharField(
        max_length=20,
        choices=HandoffKind.choices,
        blank=True,
        editable=False,
        help_text="Set for the endpoint defined by HANDOFF_<KIND>_URL / _SECRET.",
    )
    # Health: the start of the current run of failures (NULL after a success).
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment_kind", "created_at"]
        permissions = [
            ("rotate_webhookendpoint", "Can rotate a webhook endpoint's secret"),
            ("replay_webhookendpoint", "Can replay a webhook endpoint's deliveries"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment_kind"],
                condition=~Q(environment_kind=""),
                name="one_endpoint_per_environment_kind",
            )
        ]

    def __str__(self) -> str:
        if self.environment_kind:
            return f"HANDOFF_{self.environment_kind.upper()}_URL"
        return self.description or self.url

    @property
    def is_environment(self) -> bool:
        return bool(self.environment_kind)


class WebhookSecret(models.Model):
    """A signing secret of an endpoint (``whsec_<base64>``). Every secret not yet expired
    signs each request; rotating gives the old ones an ``expires_at`` 24 h ahead."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["endpoint", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret of {self.endpoint_id} from {self.created_at:%Y-%m-%d %H:%M}"


# A worker may pick these up (when due and not claimed by someone else).
SENDABLE_STATUSES = (HandoffStatus.PENDING, HandoffStatus.RETRYING)
# RevOps may re-drive these by hand.
RETRYABLE_STATUSES = (HandoffStatus.RETRYING, HandoffStatus.DEAD)


class HandoffManager(models.Manager["Handoff"]):
    """The handoffs only: rows of a ``handoff.<kind>`` event (they have a ``kind``)."""

    def get_queryset(self) -> models.QuerySet[Handoff]:
        return super().get_queryset().exclude(kind="")


class Handoff(models.Model):
    """One outgoing message (see the module docstring); with a ``kind``, a handoff."""

    # The webhook id and the Idempotency-Key downstream: it never changes across retries.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: a handoff records money and provisioning that already left the building;
    # deleting the deal must not silently erase that trail.
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    # Blank for every row that is not a handoff (lifecycle events, e-mail, chat).
    kind = models.CharField(max_length=20, choices=HandoffKind.choices, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEBHOOK)
    # "handoff.billing", "deal.won", "email.decision", "chat.approval", …
    event_type = models.CharField(max_length=60, blank=True, db_index=True)
    # The event this row delivers; shared by its deliveries to several endpoints.
    event_id = models.UUIDField(null=True, blank=True, editable=False)
    # SET_NULL: deleting an endpoint keeps its deliveries' history; a row left without
    # its endpoint is never sent again.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    topic = models.CharField(max_length=40, blank=True)
    # Enqueueing the same message twice (a redelivered task, a retried request) is a
    # no-op: e-mail and chat rows are unique per key.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # When RevOps were told that this handoff missed its completion SLA (once).
    sla_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    # Frozen at approval time; every retry sends exactly this.
    payload = JSONDocumentField(encoder=DjangoJSONEncoder)
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

    outbox = models.Manager()
    objects = HandoffManager()

    class Meta:
        ordering = ["-created_at", "kind"]
        default_manager_name = "objects"
        base_manager_name = "outbox"
        permissions = [
            ("retry_handoff", "Can re-drive a failed handoff"),
            ("complete_handoff", "Can confirm a handoff as completed downstream"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "endpoint"],
                condition=Q(event_id__isnull=False, endpoint__isnull=False),
                name="one_delivery_per_event_and_endpoint",
            ),
            # A handoff kind nobody subscribes to leaves one visible "skipped" row.
            models.UniqueConstraint(
                fields=["approval", "kind"],
                condition=~Q(kind="") & Q(endpoint__isnull=True),
                name="one_unsubscribed_handoff_per_kind",
            ),
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
            models.Index(fields=["endpoint", "created_at"]),
        ]

    def __str__(self) -> str:
        if self.kind:
            return f"{self.get_kind_display()} handoff of {self.opportunity_id} ({self.status})"
        return f"{self.event_type or self.channel} {self.pk} ({self.status})"


class WebhookDeliveryManager(models.Manager["WebhookDelivery"]):
    def get_queryset(self) -> models.QuerySet[WebhookDelivery]:
        return super().get_queryset().filter(channel=Channel.WEBHOOK)


class WebhookDelivery(Handoff):
    """Every webhook delivery, of any event type (the four handoffs among them)."""

    objects = WebhookDeliveryManager()  # type: ignore[assignment,misc]

    class Meta:
        proxy = True
        default_manager_name = "objects"
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"


class OutgoingMessageManager(models.Manager["OutgoingMessage"]):
    def get_queryset(self) -> models.QuerySet[OutgoingMessage]:
        return super().get_queryset().exclude(channel=Channel.WEBHOOK)


class OutgoingMessage(Handoff):
    """The e-mails and chat posts, sent by the same outbox as the webhooks."""

    objects = OutgoingMessageManager()  # type: ignore[assignment,misc]

    class Meta:
        proxy = True
        default_manager_name = "objects"
        ordering = ["-created_at"]


class OpenHandoffManager(models.Manager["OpenHandoff"]):
    def get_queryset(self) -> models.QuerySet[OpenHandoff]:
        return (
            super()
            .get_queryset()
            .exclude(kind="")
            .exclude(status__in=[HandoffStatus.COMPLETED, HandoffStatus.SKIPPED])
            # One confirmation per kind is enough: a second endpoint of the same kind (a
            # warehouse, a billing system being migrated to) never holds the deal open.
            .exclude(
                models.Exists(
                    Handoff.outbox.filter(
                        approval=models.OuterRef("approval"),
                        kind=models.OuterRef("kind"),
                        status=HandoffStatus.COMPLETED,
                    )
                )
            )
        )


class OpenHandoff(Handoff):
    """Won deals not yet billed / provisioned / onboarded / credited: the handoffs that
    downstream has not confirmed, oldest first."""

    objects = OpenHandoffManager()  # type: ignore[assignment,misc]

    class Meta:
        proxy = True
        default_manager_name = "objects"
        ordering = ["created_at"]
        verbose_name = "won deal not yet handed off"
        verbose_name_plural = "won deals not yet billed / provisioned / onboarded / credited"


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


class CreditKind(models.TextChoices):
    BOOKING = "booking", "Booking"
    AMENDMENT = "amendment", "Amendment"
    CLAWBACK = "clawback", "Clawback"


class CommissionCredit(models.Model):
    """The rep's credit for one approved deal: booking_amount × rate, to the cent; an
    approved amendment adds a credit for its delta (negative when the deal shrank), a
    cancellation a clawback (negative). The sum of a deal's credits is what the rep is
    owed for it."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, related_name="commission_credits"
    )
    # Set on the booking credit; empty on amendment and clawback credits.
    approval = models.OneToOneField(
        Approval, null=True, blank=True, on_delete=models.PROTECT, related_name="commission_credit"
    )
    kind = models.CharField(max_length=10, choices=CreditKind.choices, default=CreditKind.BOOKING)
    # The amendment (change or cancellation) an amendment or clawback credit comes from.
    amendment = models.ForeignKey(
        "amendments.Amendment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commission_credits",
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
