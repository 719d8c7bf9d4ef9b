"""The ``data`` of the amendment events, frozen in the applying transaction.

``handoff.<kind>.amended`` / ``handoff.<kind>.cancelled`` (one per handoff kind) carry
the deal, the amendment, ``before``, ``after`` (``null`` for a cancellation) and
``delta``; the commission kind adds ``commission``, the credit delta (negative for a
reduction or a clawback; ``null`` when no credit was written). ``deal.amended`` /
``deal.cancelled`` are lifecycle events with ``amendment`` and ``delta`` added. The
schemas live in ``handoffs.events``.
"""

from __future__ import annotations

from typing import Any

from handoffs.models import CommissionCredit, HandoffKind
from handoffs.payloads import lifecycle_data, opportunity_summary
from opportunities.models import Opportunity

from .models import Amendment


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
        "email": user.email,
    }


def amendment_summary(amendment: Amendment) -> dict[str, Any]:
    return {
        "id": amendment.pk,
        "kind": amendment.kind,
        "reason": amendment.reason,
        "requested_by": _person(amendment.requested_by),
        "requested_at": amendment.requested_at.isoformat(),
        "approved_by": _person(amendment.decided_by),
        "approved_at": amendment.decided_at.isoformat() if amendment.decided_at else None,
    }


def credit_data(credit: CommissionCredit | None) -> dict[str, Any] | None:
    if credit is None:
        return None
    return {
        "credit_id": credit.pk,
        "kind": credit.kind,
        "rep": _person(credit.rep),
        "booking_amount": f"{credit.booking_amount:.2f}",
        "currency": credit.currency,
        "rate": f"{credit.rate:.4f}",
        "credit_amount": f"{credit.credit_amount:.2f}",
    }


def handoff_change_data(
    *,
    kind: str,
    opportunity: Opportunity,
    amendment: Amendment,
    credit: CommissionCredit | None,
) -> dict[str, Any]:
    """``data`` of ``handoff.<kind>.amended`` / ``.cancelled`` from the frozen amendment."""
    data: dict[str, Any] = {
        "opportunity": opportunity_summary(opportunity),
        "amendment": amendment_summary(amendment),
        "before": amendment.before,
        "after": amendment.after,
        "delta": amendment.delta,
    }
    if kind == HandoffKind.COMMISSION:
        # Commission figures go to the commission system only.
        data["commission"] = credit_data(credit)
    return data


def opportunity_change_data(
    *, opportunity: Opportunity, amendment: Amendment, from_stage: str
) -> dict[str, Any]:
    """``data`` of ``deal.amended`` / ``deal.cancelled``."""
    return lifecycle_data(
        opportunity=opportunity,
        actor=amendment.decided_by,
        from_stage=from_stage,
        to_stage=opportunity.stage,
        reason=amendment.reason,
        extra={"amendment": amendment_summary(amendment), "delta": amendment.delta},
    )
