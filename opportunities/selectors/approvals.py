"""Reads of approvals: the pending approval of an opportunity, the approval queue and its
summary. Every read here costs a constant number of queries whatever the queue's size.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Min, Prefetch, QuerySet, Sum, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from core.formatting import waiting_time

from ..models import Approval, Decision, LineItem, Opportunity
from ..stages import Stage


def pending_approval_of(opportunity: Opportunity, *, for_update: bool = False) -> Approval | None:
    """The opportunity's pending Closed-Won request with its submitter (None unless the
    opportunity is pending approval). ``for_update`` locks the row: the transition
    service reads it this way inside its transaction."""
    if opportunity.stage != Stage.PENDING_APPROVAL:
        return None
    qs = opportunity.approvals.filter(decision=Decision.PENDING).select_related("submitted_by")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return qs.first()


def queue_ordering() -> list[Any]:
    """The inbox order: requests whose waiting step is past its SLA first, then the oldest
    submitted (then id). The due time is frozen on the row (``Approval.step_due_at``)
    because business hours cannot be counted in SQL; compared with the database's clock,
    so the order holds across every page of the queue."""
    overdue_first = Case(
        When(decision=Decision.PENDING, step_due_at__lte=Now(), then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return [overdue_first.asc(), F("submitted_at").asc(), F("id").asc()]


def queue_queryset(
    *,
    decision: str | None = Decision.PENDING,
    with_line_items: bool = True,
    overdue_first: bool = True,
) -> QuerySet[Approval]:
    """The Closed-Won approval queue (``decision=None``: every approval), overdue requests
    first then oldest first (:func:`queue_ordering`), with everything a queue row shows
    joined or prefetched: the admin queue and the API list both read it.
    ``with_line_items`` prefetches what the queue's gate column needs.
    ``overdue_first=False`` orders by submission time and id only: the API's cursor pages
    need order keys that do not change while a client walks them (a request turning
    overdue would jump pages)."""
    qs = Approval.objects.select_related(
        "opportunity",
        "opportunity__account",
        "opportunity__owner",
        "opportunity__primary_contact",
        "submitted_by",
        "decided_by",
    ).order_by(*(queue_ordering() if overdue_first else ["submitted_at", "id"]))
    if with_line_items:
        qs = qs.prefetch_related(
            Prefetch(
                "opportunity__line_items",
                queryset=LineItem.objects.order_by("id").only(
                    "id", "opportunity_id", "seats", "unit_price"
                ),
            )
        )
    return qs.filter(decision=decision) if decision else qs


def queue_summary(request: Any = None) -> dict[str, Any]:
    """Head of the queue: how many requests wait, since when, their value per currency,
    the owners with requests waiting (the Owner filter's choices) and the groups whose
    step is waiting (the "waiting for" filter's choices) — one query, grouped by currency,
    owner and waiting step, run once per request (memoised on ``request``). For
    ``request.user`` other than RevOps: only the requests whose current step they may
    decide (``approvals.selectors.decidable_by``), the rows their queue lists.

    Shape: ``{"count": int, "totals": [{"currency", "amount": Decimal}], "oldest_wait":
    str, "owners": [(id as str, label)], "groups": [group name]}``; totals largest
    first, owners by name, groups RevOps first then by name."""
    cached = getattr(request, "_closedwon_queue_summary", None)
    if cached is not None:
        return cached
    from approvals.routing import REVOPS_GROUP
    from approvals.selectors import decidable_by, with_step_group

    from .. import policies

    # A waiting request's deal is always pending approval (the transition service moves
    # both together); saying so lets the database read the deals from their partial
    # index instead of every deal.
    waiting = Approval.objects.filter(
        decision=Decision.PENDING, opportunity__stage=Stage.PENDING_APPROVAL
    )
    user = getattr(request, "user", None)
    # RevOps see the whole queue; any other approver the requests whose step is theirs
    # (the same rows their list shows), so the head of the page counts what they see.
    scoped = (
        decidable_by(waiting, user)
        if user is not None and not policies.is_revops(user)
        else with_step_group(waiting)
    )
    rows = list(
        scoped.values(
            "opportunity__currency",
            "opportunity__owner_id",
            "opportunity__owner__username",
            "opportunity__owner__first_name",
            "opportunity__owner__last_name",
            "step_group",
        )
        .annotate(n=Count("id"), total=Sum("opportunity__amount"), oldest=Min("submitted_at"))
        .order_by()
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    owners: dict[int, tuple[str, str, str]] = {}
    for r in rows:
        totals[r["opportunity__currency"]] += r["total"] or Decimal(0)
        owners[r["opportunity__owner_id"]] = (
            r["opportunity__owner__first_name"],
            r["opportunity__owner__last_name"],
            r["opportunity__owner__username"],
        )
    groups = {r["step_group"] for r in rows}
    oldest = min((r["oldest"] for r in rows), default=None)
    summary = {
        "count": sum(r["n"] for r in rows),
        "totals": [
            {"currency": currency, "amount": amount}
            for currency, amount in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "oldest_wait": waiting_time(timezone.now() - oldest) if oldest else "",
        "owners": [  # ordered and labelled as User.get_full_name() or the username
            (str(pk), f"{first} {last}".strip() or username)
            for pk, (first, last, username) in sorted(owners.items(), key=lambda kv: kv[1])
        ],
        "groups": sorted(groups, key=lambda g: (g != REVOPS_GROUP, g)),
    }
    if request is not None:
        request._closedwon_queue_summary = summary
    return summary
