"""Demo amendments for ``seed_demo``: one applied amendment (seats added to a won deal,
decided step by step along its policy route) and one cancelled deal, both through
``services`` so the ledger, the commission credits and the ``handoff.*.amended`` /
``.cancelled`` deliveries are exactly what production writes. Idempotent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q

from approvals import selectors as approval_selectors
from opportunities import policies
from opportunities.models import Opportunity
from opportunities.selectors import line_items_loaded
from opportunities.stages import Source, Stage

from . import services
from .models import Amendment, AmendmentKind, AmendmentStatus


def _won_opportunities() -> list[Opportunity]:
    """Won demo deals with line items and no amendment yet, oldest first."""
    return list(
        Opportunity.objects.filter(stage=Stage.CLOSED_WON, line_items__isnull=False)
        .exclude(amendments__isnull=False)
        .distinct()
        .order_by("id")[:10]
    )


def _decide_every_step(amendment: Amendment) -> Amendment:
    """Approve each step with a member of its group who may (never the requester or the
    owner, one person per step)."""
    used: set[int] = {amendment.requested_by_id, amendment.opportunity.owner_id}
    for _ in range(len(amendment.route) * 5):
        amendment.refresh_from_db()
        step = approval_selectors.current_step(amendment)
        if step is None:
            break
        approver = next((u for u in policies.members_of(step["group"]) if u.pk not in used), None)
        if approver is None:
            break  # nobody left to decide: the amendment waits in the queue
        used.add(approver.pk)
        services.amendment_decide(
            amendment=amendment, actor=approver, decision="approve", source=Source.SYSTEM
        )
    amendment.refresh_from_db()
    return amendment


def demo_amendments_ensure(*, revops: Any) -> dict[str, int]:
    """Make sure the demo has an applied amendment and a cancelled deal. Returns how many
    of each were made now (``{"amended": 0|1, "cancelled": 0|1}``)."""
    made = {"amended": 0, "cancelled": 0}
    applied = Amendment.objects.filter(
        kind=AmendmentKind.CHANGE, status=AmendmentStatus.APPROVED
    ).exists()
    cancelled = Opportunity.objects.filter(
        Q(stage=Stage.CANCELLED) | Q(amendments__kind=AmendmentKind.CANCELLATION)
    ).exists()
    opportunities = _won_opportunities()
    if not applied and opportunities:
        opportunity = opportunities.pop(0)
        lines = list(line_items_loaded(opportunity))
        seats = [li.seats + (5 if i == 0 else 0) for i, li in enumerate(lines)]  # +5 seats
        items: list[dict[str, Any]] = [
            {"product": li.product_id, "seats": n, "unit_price": str(li.unit_price)}
            for li, n in zip(lines, seats, strict=True)
        ]
        total = sum(
            (Decimal(li.unit_price or 0) * n for li, n in zip(lines, seats, strict=True)),
            Decimal(0),
        )
        amendment = services.amendment_request(
            opportunity=opportunity,
            actor=opportunity.owner,
            kind=AmendmentKind.CHANGE,
            reason="The customer added five seats (order form v2).",
            changes={"amount": f"{total:.2f}"},
            line_items=items,
        )
        made["amended"] = int(_decide_every_step(amendment).status == AmendmentStatus.APPROVED)
    if not cancelled and opportunities:
        opportunity = opportunities.pop(0)
        amendment = services.amendment_request(
            opportunity=opportunity,
            actor=revops,
            kind=AmendmentKind.CANCELLATION,
            reason="The customer went out of business before go-live.",
        )
        made["cancelled"] = int(_decide_every_step(amendment).status == AmendmentStatus.APPROVED)
    return made
