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


# Groups with a request waiting on their step, as a JSON array (text), from the totals the
# database keeps: per database, for the aggregate's name.
_WAITING_GROUPS = (
    "(SELECT {agg}(step_group) FROM (SELECT step_group FROM opportunities_waitingtotal"
    " GROUP BY step_group HAVING sum(count) > 0) waiting)"
)
_JSON_ARRAY = {"postgresql": "json_agg", "sqlite": "json_group_array"}
# How many requests wait: exactly the rows the queue lists.
_WAITING_COUNT = "(SELECT coalesce(sum(count), 0) FROM opportunities_waitingtotal)"


def _kept_summary_rows() -> tuple[list[dict[str, Any]], list[str], Any, int]:
    """The whole queue's figures from the totals the database keeps
    (``opportunities.stage_totals``: a few rows however many requests wait): per currency
    and owner of the deals pending approval — a waiting request's deal is always pending
    approval, the transition service moves both together — the groups with a step
    waiting, the oldest submission (by index) and how many requests wait (the waiting
    counts, so exactly the rows the queue lists). One query."""
    from django.db import connection
    from django.db.models import BigIntegerField, JSONField, Subquery
    from django.db.models.expressions import RawSQL

    from ..models import StageTotal

    agg = _JSON_ARRAY.get(connection.vendor)
    groups = (
        RawSQL(  # noqa: S611 - constant SQL, no parameters
            _WAITING_GROUPS.format(agg=agg)
            + ("::text" if connection.vendor == "postgresql" else ""),
            [],
            output_field=JSONField(),
        )
        if agg
        else Value("[]", output_field=JSONField())
    )
    rows = list(
        StageTotal.objects.filter(stage=Stage.PENDING_APPROVAL)
        .values(
            "currency",
            "owner_id",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
        )
        .annotate(
            n=Sum("count"),
            total=Sum("amount"),
            priced=Sum("priced"),
            groups=groups,
            waiting=RawSQL(_WAITING_COUNT, [], output_field=BigIntegerField()),  # noqa: S611
            oldest=Subquery(
                Approval.objects.filter(decision=Decision.PENDING)
                .order_by("submitted_at")
                .values("submitted_at")[:1]
            ),
        )
        .order_by()
    )
    waiting = [
        {
            "opportunity__currency": r["currency"],
            "opportunity__owner_id": r["owner_id"],
            "opportunity__owner__username": r["owner__username"] or "",
            "opportunity__owner__first_name": r["owner__first_name"] or "",
            "opportunity__owner__last_name": r["owner__last_name"] or "",
            "n": int(r["n"]),
            "total": r["total"] if r["priced"] else None,
        }
        for r in rows
        if r["n"]
    ]
    if not rows:
        # No deal pending approval at all, so (the transition service's invariant) no
        # request waits either.
        return [], [], None, 0
    # The groups, the oldest submission and the count are the same on every row, a key
    # left empty by a decision and not folded yet included.
    return waiting, list(rows[0]["groups"] or []), rows[0]["oldest"], int(rows[0]["waiting"])


def queue_summary(request: Any = None) -> dict[str, Any]:
    """Head of the queue: how many requests wait, since when, their value per currency,
    the owners with requests waiting (the Owner filter's choices) and the groups whose
    step is waiting (the "waiting for" filter's choices) — one query, run once per request
    (memoised on ``request``). For RevOps (and without a request) the whole queue, read
    from the totals the database keeps whatever the queue's size; for ``request.user``
    other than RevOps: only the requests whose current step they may decide
    (``approvals.selectors.decidable_by``), the rows their queue lists, grouped by
    currency, owner and waiting step.

    Shape: ``{"count": int, "totals": [{"currency", "amount": Decimal}], "oldest_wait":
    str, "owners": [(id as str, label)], "groups": [group name]}``; totals largest
    first, owners by name, groups RevOps first then by name."""
    cached = getattr(request, "_closedwon_queue_summary", None)
    if cached is not None:
        return cached
    from approvals.routing import REVOPS_GROUP
    from approvals.selectors import decidable_by, with_step_group

    from .. import policies

    user = getattr(request, "user", None)
    if user is not None and not policies.is_revops(user):
        # A waiting request's deal is always pending approval (the transition service
        # moves both together); saying so lets the database read the deals from their
        # partial index instead of every deal.
        waiting = Approval.objects.filter(
            decision=Decision.PENDING, opportunity__stage=Stage.PENDING_APPROVAL
        )
        rows = list(
            decidable_by(with_step_group(waiting), user)
            .values(
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
        groups = sorted({r["step_group"] for r in rows})
        oldest = min((r["oldest"] for r in rows), default=None)
        count = sum(r["n"] for r in rows)
    else:
        rows, groups, oldest, count = _kept_summary_rows()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    owners: dict[int, tuple[str, str, str]] = {}
    for r in rows:
        totals[r["opportunity__currency"]] += r["total"] or Decimal(0)
        owners[r["opportunity__owner_id"]] = (
            r["opportunity__owner__first_name"],
            r["opportunity__owner__last_name"],
            r["opportunity__owner__username"],
        )
    summary = {
        "count": count,
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
