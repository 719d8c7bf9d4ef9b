"""Reads of amendments and the ledger, each at a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet, Sum, Window

from opportunities.models import Opportunity

from .models import Amendment, AmendmentDecision, AmendmentStatus, Booking


def amendment_list() -> QuerySet[Amendment]:
    """Every amendment with its deal, requester, decider and decisions (three queries for
    a page), newest first."""
    return (
        Amendment.objects.select_related(
            "opportunity", "opportunity__owner", "requested_by", "decided_by"
        )
        .prefetch_related(
            Prefetch("decisions", queryset=AmendmentDecision.objects.order_by("at", "id"))
        )
        .order_by("-requested_at", "-id")
    )


def pending_amendments() -> QuerySet[Amendment]:
    """The amendments waiting for RevOps, oldest first (the admin queue)."""
    return amendment_list().filter(status=AmendmentStatus.PENDING).order_by("requested_at", "id")


def pending_amendments_page(limit: int) -> QuerySet[Amendment]:
    """The oldest ``limit`` pending amendments with their deals, each annotated with
    ``total`` (how many are pending): one query for the admin queue's box."""
    return (
        Amendment.objects.filter(status=AmendmentStatus.PENDING)
        .select_related("opportunity")
        .annotate(total=Window(Count("id")))
        .order_by("requested_at", "id")[:limit]
    )


def pending_amendment_of(opportunity: Opportunity) -> Amendment | None:
    return amendment_list().filter(opportunity=opportunity, status=AmendmentStatus.PENDING).first()


def booked_total(opportunity: Opportunity) -> Decimal:
    """Σ of the deal's ledger entries: its current booked amount (0 once cancelled)."""
    total = Booking.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount_delta"))["s"]
    return total or Decimal(0)
