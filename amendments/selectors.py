"""Reads of amendments and the ledger, each at a constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum, Window

from approvals import selectors as approval_selectors
from approvals.models import ApprovalDecision
from opportunities.models import Opportunity

from .models import Amendment, AmendmentDecision, AmendmentStatus, Booking


def amendment_list() -> QuerySet[Amendment]:
    """Every amendment with its deal, requester, decider, decisions and step decisions
    (four queries for a page), newest first."""
    return (
        Amendment.objects.select_related(
            "opportunity", "opportunity__owner", "requested_by", "decided_by"
        )
        .prefetch_related(
            Prefetch("decisions", queryset=AmendmentDecision.objects.order_by("at", "id")),
            Prefetch(
                "step_decisions",
                queryset=ApprovalDecision.objects.select_related("decided_by").order_by(
                    "decided_at", "id"
                ),
            ),
        )
        .order_by("-requested_at", "-id")
    )


def decidable_by(
    queryset: QuerySet[Amendment], user: Any, *, mine: bool = True
) -> QuerySet[Amendment]:
    """The pending amendments whose current step ``user`` may approve (the approvals'
    inbox rule: a step of one of their groups, not their deal or request, no step of it
    approved by them already); ``mine=False``: all the others."""
    return approval_selectors.decidable_by(
        queryset,
        user,
        pending=Q(status=AmendmentStatus.PENDING),
        requester="requested_by",
        mine=mine,
    )


def inbox(user: Any) -> QuerySet[Amendment]:
    """The amendments ``user`` sees in the admin: every one for RevOps, for a member of
    another approver group those whose current step is theirs."""
    from opportunities import policies

    if policies.is_revops(user):
        return amendment_list()
    return decidable_by(amendment_list(), user)


def pending_amendments_page(limit: int, user: Any = None) -> QuerySet[Amendment]:
    """The oldest ``limit`` pending amendments with their deals (``user`` given: those of
    their inbox), each annotated with ``total`` (how many): one query for the admin
    queue's box."""
    rows = Amendment.objects.filter(status=AmendmentStatus.PENDING)
    if user is not None:
        from opportunities import policies

        if not policies.is_revops(user):
            rows = decidable_by(rows, user)
    return (
        rows.select_related("opportunity")
        .annotate(total=Window(Count("id")))
        .order_by("requested_at", "id")[:limit]
    )


def booked_total(opportunity: Opportunity) -> Decimal:
    """Σ of the deal's ledger entries: its current booked amount (0 once cancelled)."""
    total = Booking.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount_delta"))["s"]
    return total or Decimal(0)
