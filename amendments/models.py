"""Amendments of won deals and the bookings ledger.

* :class:`Amendment` — a proposed change to a Closed-Won deal (gated fields, line items)
  or its cancellation, with the reason, who asked, the approval route and, once applied,
  the frozen ``before`` / ``after`` / ``delta``. One pending amendment per deal at a
  time (a partial unique index, so two requests at the same instant still yield one).
* :class:`AmendmentDecision` — the audit row of each decision (approve, reject,
  withdraw), the StageChange of an amendment.
* :class:`Booking` — the ledger: one row per approval, applied amendment and
  cancellation, with the amount delta in the deal's currency and in the reporting
  currency. Rows are only ever added, so any past month's bookings can be recomputed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.keys import reject_control_characters_multiline
from opportunities.models import Approval, Opportunity


class AmendmentKind(models.TextChoices):
    CHANGE = "change", "Change"
    CANCELLATION = "cancellation", "Cancellation"


class AmendmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Amendment(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, related_name="amendments"
    )
    kind = models.CharField(max_length=12, choices=AmendmentKind.choices)
    status = models.CharField(
        max_length=10, choices=AmendmentStatus.choices, default=AmendmentStatus.PENDING
    )
    reason = models.TextField(validators=[reject_control_characters_multiline])
    # The proposed values: {field: value} over the gated fields (foreign keys as ids,
    # money and dates as strings) and, when the line items change, the whole new list
    # [{"product": id, "seats": n, "unit_price": "…"}] (None: line items unchanged).
    changes = models.JSONField(default=dict, blank=True)
    line_items = models.JSONField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The approval route frozen at request time (approvals.routing: a list of step
    # dicts, RevOps first) from the proposed values and the policy in force, the policy
    # version it came from (None: the built-in route only), the step now waiting and
    # since when: the same bookkeeping as a Closed-Won Approval.
    route = models.JSONField(default=list, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_started_at = models.DateTimeField(null=True, blank=True)
    # The deal before and after, and the delta (amount, seats per SKU, term): computed
    # when requested (a preview), frozen again from the locked deal when applied.
    # ``after`` is null for a cancellation: there is no state after it.
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(null=True, blank=True)
    delta = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, validators=[reject_control_characters_multiline])
    # The deal's version after the amendment was applied.
    applied_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(status="pending"),
                name="one_pending_amendment_per_deal",
            )
        ]

    def __str__(self) -> str:
        return f"Amendment #{self.pk} ({self.kind}, {self.status})"

    # The step engine (approvals.services) reads these of an Approval and an Amendment.
    @property
    def is_pending(self) -> bool:
        return self.status == AmendmentStatus.PENDING

    @property
    def requester_id(self) -> int:
        return self.requested_by_id


class AmendmentDecision(models.Model):
    """One decision on an amendment, with who, when, and the deal's version it moved."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="decisions")
    # The route step decided (0 for the built-in RevOps step).
    step = models.PositiveSmallIntegerField(default=0)
    decision = models.CharField(max_length=10, choices=AmendmentStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, blank=True)
    reason = models.TextField(blank=True, validators=[reject_control_characters_multiline])
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField(null=True, blank=True)
    # The gate as evaluated on the proposed values when approving.
    gate_snapshot = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.amendment_id}: {self.decision}"


class BookingKind(models.TextChoices):
    WON = "won", "Won"
    AMENDMENT = "amendment", "Amendment"
    CANCELLATION = "cancellation", "Cancellation"


class Booking(models.Model):
    """One entry of the bookings ledger. Σ ``amount_delta`` of a deal is its current
    booked amount (0 once cancelled)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.PROTECT, related_name="bookings")
    kind = models.CharField(max_length=12, choices=BookingKind.choices)
    approval = models.OneToOneField(
        Approval, null=True, blank=True, on_delete=models.PROTECT, related_name="booking"
    )
    amendment = models.OneToOneField(
        Amendment, null=True, blank=True, on_delete=models.PROTECT, related_name="booking"
    )
    currency = models.CharField(max_length=3)
    amount_delta = models.DecimalField(max_digits=18, decimal_places=4)
    # In the reporting currency at the rate of ``booked_on`` (None: no rate known then).
    reporting_currency = models.CharField(max_length=3, blank=True)
    reporting_delta = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    reporting_rate = models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True)
    # The day the booking counts for (the close date of a won deal, the decision day of
    # an amendment or a cancellation): the dashboard's month.
    booked_on = models.DateField(db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["opportunity", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_delta} {self.currency} on {self.opportunity_id}"
