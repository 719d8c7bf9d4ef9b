"""Approval policies as data: versions of rules and the steps they add, approver-group
settings, the decision of each step, the rep's in-app notifications and used e-mail links.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

MODE_CHOICES = [("any", "any one member"), ("all", "all of N members")]


class ApproverGroup(models.Model):
    """Settings of an approver group (a Django group): an optional Slack-compatible
    incoming-webhook URL its members are told on, and the group escalated to at 2× SLA."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="approver")
    chat_webhook_url = models.URLField(blank=True, max_length=500)
    escalation_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.group.name


class ApprovalPolicy(models.Model):
    """One version of the approval policy. A draft has no ``version`` and no
    ``effective_at``; publishing gives it the next version number and makes it the
    policy in force from ``effective_at`` on. Published versions are never edited."""

    name = models.CharField(max_length=200, default="Approval policy")
    version = models.PositiveIntegerField(null=True, blank=True, unique=True)
    effective_at = models.DateTimeField(null=True, blank=True, db_index=True)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version", "-id"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"{self.name} v{self.version}" if self.version else f"{self.name} (draft)"

    @property
    def is_draft(self) -> bool:
        return self.version is None


class ApprovalRule(models.Model):
    """A condition on the deal (every field set must hold) and the steps it adds."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=200)
    amount_gte = models.DecimalField(
        "amount ≥ (reporting currency)",
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    max_discount_pct_gte = models.DecimalField(
        "largest line discount ≥ (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    term_months_gt = models.PositiveSmallIntegerField("term > (months)", null=True, blank=True)
    type_in = models.JSONField("type in", default=list, blank=True)
    currency_not_reporting = models.BooleanField("currency ≠ reporting currency", default=False)
    billing_country_in = models.JSONField("billing country in", default=list, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """A step a rule adds: the approver group, ``any`` one member or ``all`` of ``count``
    members, and the SLA in business hours (see ``APPROVAL_CALENDAR``)."""

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=0)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=3, choices=MODE_CHOICES, default="any")
    count = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    sla_hours = models.PositiveSmallIntegerField(
        "SLA (business hours)", default=8, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.group.name} ({self.mode})"


class ApprovalDecision(models.Model):
    """One person's decision on one step of one routed request: a Closed-Won request
    (``approval``) or an amendment of a won deal (``amendment``), exactly one of them.
    Both go through the same step engine (``approvals.services.step_approve``)."""

    approval = models.ForeignKey(
        "opportunities.Approval",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="decisions",
    )
    # A string reference: the amendments app builds on this one, never the reverse.
    amendment = models.ForeignKey(
        "amendments.Amendment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="step_decisions",
    )
    step_index = models.PositiveSmallIntegerField()
    group = models.CharField(max_length=150)
    decision = models.CharField(
        max_length=10, choices=[("approved", "Approved"), ("rejected", "Rejected")]
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    via = models.CharField(max_length=10, default="ui")

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            # One person never approves two steps of one request, nor one step twice.
            models.UniqueConstraint(
                fields=["approval", "decided_by"],
                condition=Q(decision="approved"),
                name="one_approval_per_person_per_request",
            ),
            models.UniqueConstraint(
                fields=["amendment", "decided_by"],
                condition=Q(decision="approved"),
                name="one_approval_per_person_per_amendment",
            ),
            models.CheckConstraint(
                condition=Q(approval__isnull=False, amendment__isnull=True)
                | Q(approval__isnull=True, amendment__isnull=False),
                name="decision_of_one_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} step {self.step_index + 1}: {self.decision}"


class Notification(models.Model):
    """An in-app notification for one user (the rep hears of every decision)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_notifications"
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=20)
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.text


class UsedLink(models.Model):
    """A signed e-mail decision link that was used (links are single-use)."""

    nonce = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.nonce
