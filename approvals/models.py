"""Approval policies as data: versions of rules and the steps they add, approver-group
settings, the decision of each step, the rep's in-app notifications and used e-mail links.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from core import errors

MODE_CHOICES = [("any", "any one member"), ("all", "all of N members")]


class PublishedPolicyLocked(errors.RecordLocked):
    """A published policy version, its rules and its steps are never edited or deleted:
    approvals name the version that routed them. Copy it to a draft instead."""

    title = "A published policy version is never edited"


def _refuse_published(policy_ids: Iterable[int | None]) -> None:
    """Raise :class:`PublishedPolicyLocked` when one of ``policy_ids`` is published.
    The rows are locked for the caller's transaction: a publish waits for an edit of its
    draft to commit (or the edit, once the publish committed, sees the version)."""
    ids = {pk for pk in policy_ids if pk is not None}
    if not ids:
        return
    locked = ApprovalPolicy.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    if any(version is not None for version in locked.values_list("version", flat=True)):
        raise PublishedPolicyLocked(
            "This policy version is published: copy it to a new draft to change it."
        )


class DraftOnlyQuerySet(models.QuerySet):
    """``delete()`` refuses when a row belongs to a published version (the admin's bulk
    delete goes through here, not through each row's ``delete``)."""

    policy_path = "pk"

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            _refuse_published(self.values_list(self.policy_path, flat=True).distinct())
            return super().delete()


class _PolicyQuerySet(DraftOnlyQuerySet):
    policy_path = "pk"


class _RuleQuerySet(DraftOnlyQuerySet):
    policy_path = "policy_id"


class _StepQuerySet(DraftOnlyQuerySet):
    policy_path = "rule__policy_id"


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

    objects = _PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-version", "-id"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"{self.name} v{self.version}" if self.version else f"{self.name} (draft)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Publishing saves a row that is still a draft in the database; any save of a row
        # published there is an edit of a published version.
        with transaction.atomic():
            if self.pk is not None:
                _refuse_published([self.pk])
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            _refuse_published([self.pk])
            return super().delete(*args, **kwargs)

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

    objects = _RuleQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            before = (
                ApprovalRule.objects.filter(pk=self.pk).values_list("policy_id", flat=True)
                if self.pk is not None
                else []
            )
            _refuse_published([self.policy_id, *before])
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            _refuse_published([self.policy_id])
            return super().delete(*args, **kwargs)


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

    objects = _StepQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.group.name} ({self.mode})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            rules = [self.rule_id]
            if self.pk is not None:
                rules += list(
                    ApprovalStep.objects.filter(pk=self.pk).values_list("rule_id", flat=True)
                )
            _refuse_published(
                ApprovalRule.objects.filter(pk__in=rules).values_list("policy_id", flat=True)
            )
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            _refuse_published(
                ApprovalRule.objects.filter(pk=self.rule_id).values_list("policy_id", flat=True)
            )
            return super().delete(*args, **kwargs)


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
