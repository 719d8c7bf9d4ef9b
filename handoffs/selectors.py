"""Reads for the handoff console, the API and the deal page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from opportunities import policies
from opportunities.models import Opportunity

from .models import Channel, CommissionCredit, Handoff, HandoffAttempt, WebhookDelivery


def handoff_list(
    *, opportunity: Any = None, kind: str | None = None, status: str | None = None
) -> QuerySet[Handoff]:
    """Handoffs newest first, with deal, account, owner and approval joined (one query
    for a page of any size). Filters are optional; ``opportunity`` is a deal or its id."""
    qs = Handoff.objects.select_related(
        "opportunity",
        "opportunity__account",
        "opportunity__owner",
        "approval",
        "approval__decided_by",
    ).order_by("-created_at", "kind")
    if opportunity is not None:
        qs = qs.filter(opportunity=opportunity)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def handoffs_visible_to(user: Any, qs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    """Compensation is private: RevOps see every handoff; anyone else only those of the
    deals they own (a payload names the rep, their commission rate and credit, and people's
    e-mail addresses)."""
    if policies.is_revops(user):
        return qs
    return qs.filter(opportunity__owner_id=getattr(user, "pk", None))


def handoff_get(pk: Any) -> Handoff | None:
    try:
        return handoff_list().filter(pk=pk).first()
    except (ValidationError, ValueError, TypeError):  # a malformed UUID is "not found"
        return None


def handoffs_for_opportunity(opportunity: Opportunity | int) -> QuerySet[Handoff]:
    """The deal page's handoff status: one row per kind of its approval(s)."""
    return Handoff.objects.filter(opportunity=opportunity).order_by("created_at", "kind")


def commission_credit_list() -> QuerySet[CommissionCredit]:
    return CommissionCredit.objects.select_related(
        "opportunity", "opportunity__account", "rep", "approval"
    ).order_by("-created_at", "-id")


def webhook_delivery_list() -> QuerySet[WebhookDelivery]:
    """Webhook deliveries of every event type, newest first, attempts prefetched."""
    return (
        WebhookDelivery.objects.select_related("endpoint")
        .prefetch_related(Prefetch("attempt_rows", HandoffAttempt.objects.order_by("number", "id")))
        .order_by("-created_at", "pk")
    )


def sent_message_keys(*, topics: Iterable[str], opportunity_ids: Iterable[int]) -> list[str]:
    """The dedupe keys of the e-mails of ``topics`` (``"reminder"``…) already in the outbox
    for the deals ``opportunity_ids``, whatever their status: one query. A sweep reads
    them once to skip what it told before, instead of one look-up per recipient."""
    keys = Handoff.outbox.filter(
        channel=Channel.EMAIL,
        event_type__in=[f"{Channel.EMAIL}.{topic}" for topic in topics],
        opportunity_id__in=list(opportunity_ids),
        dedupe_key__isnull=False,
    ).values_list("dedupe_key", flat=True)
    return [key for key in keys if key]
