"""The frozen webhook payloads, built in one place.

``{"id", "type": "handoff.<kind>", "version", "created_at", "data": {...}}``. ``data`` carries the
shared facts (opportunity, account, primary contact, owner, line items, approval) plus
one section named after the kind with what that team needs. Money is a decimal string,
dates ISO 8601, so the body means the same thing in every language downstream.

Payloads are built inside the approval transaction and stored on the Handoff row; a retry
sends the stored payload, never a rebuilt one, so downstream sees what was approved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from opportunities.models import Approval, Contact, LineItem, Opportunity

from .models import CommissionCredit, HandoffKind


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _date(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
        "email": user.email,
    }


def _contact(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": contact.pk,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "title": contact.title,
    }


def _line_item(item: LineItem) -> dict[str, Any]:
    return {
        "sku": item.product.sku,
        "name": item.product.name,
        "seats": item.seats,
        "unit_price": _money(item.unit_price),
    }


def shared_data(
    *, opportunity: Opportunity, approval: Approval, line_items: Sequence[LineItem]
) -> dict[str, Any]:
    """What every kind gets: the deal as approved and who approved it when."""
    account = opportunity.account
    return {
        "opportunity": {
            "id": opportunity.pk,
            "name": opportunity.name,
            "type": opportunity.type,
            "stage": opportunity.stage,
            "amount": _money(opportunity.amount),
            "currency": opportunity.currency,
            "close_date": _date(opportunity.close_date),
            "closed_at": _date(opportunity.closed_at),
            "contract_id": opportunity.contract_id,
            "po_number": opportunity.po_number,
            "contract_start_date": _date(opportunity.contract_start_date),
            "term_months": opportunity.term_months,
        },
        "account": None
        if account is None
        else {
            "id": account.pk,
            "name": account.name,
            "domain": account.domain,
            "billing_country": account.billing_country,
            "external_id": account.external_id,
        },
        "primary_contact": _contact(opportunity.primary_contact),
        "owner": _person(opportunity.owner),
        "line_items": [_line_item(item) for item in line_items],
        "approval": {
            "id": approval.pk,
            "approved_by": _person(approval.decided_by),
            "approved_at": _date(approval.decided_at),
            "submitted_by": _person(approval.submitted_by),
            "submitted_at": _date(approval.submitted_at),
        },
    }


def _billing(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "amount": _money(opportunity.amount),
        "currency": opportunity.currency,
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "contract_start_date": _date(opportunity.contract_start_date),
        "term_months": opportunity.term_months,
        # Invoices go to the deal's primary contact (the gate guarantees an email).
        "bill_to": _contact(opportunity.primary_contact),
        "billing_country": opportunity.account.billing_country if opportunity.account else "",
    }


def _provisioning(line_items: Sequence[LineItem]) -> dict[str, Any]:
    seats: dict[str, int] = {}
    names: dict[str, str] = {}
    for item in line_items:
        seats[item.product.sku] = seats.get(item.product.sku, 0) + item.seats
        names[item.product.sku] = item.product.name
    return {
        "seats_by_sku": [
            {"sku": sku, "name": names[sku], "seats": count} for sku, count in sorted(seats.items())
        ],
        "total_seats": sum(seats.values()),
    }


def _customer_success(opportunity: Opportunity, line_items: Sequence[LineItem]) -> dict[str, Any]:
    products: dict[str, str] = {}
    for item in line_items:
        products.setdefault(item.product.sku, item.product.name)
    account = opportunity.account
    return {
        "account": None if account is None else {"id": account.pk, "name": account.name},
        "primary_contact": _contact(opportunity.primary_contact),
        "products": [{"sku": sku, "name": name} for sku, name in sorted(products.items())],
        "owner": _person(opportunity.owner),
        "contract_start_date": _date(opportunity.contract_start_date),
        "term_months": opportunity.term_months,
    }


def _commission(credit: CommissionCredit) -> dict[str, Any]:
    return {
        "credit_id": credit.pk,
        "rep": _person(credit.rep),
        "booking_amount": _money(credit.booking_amount),
        "currency": credit.currency,
        "rate": f"{credit.rate:.4f}",
        "credit_amount": _money(credit.credit_amount),
    }


def build_payload(
    *,
    handoff_id: uuid.UUID,
    kind: str,
    created_at: dt.datetime,
    shared: dict[str, Any],
    opportunity: Opportunity,
    line_items: Sequence[LineItem],
    credit: CommissionCredit,
) -> dict[str, Any]:
    """The Standard Webhooks-style envelope for one handoff; ``id`` is the webhook-id."""
    section: dict[str, Any]
    if kind == HandoffKind.BILLING:
        section = _billing(opportunity)
    elif kind == HandoffKind.PROVISIONING:
        section = _provisioning(line_items)
    elif kind == HandoffKind.CUSTOMER_SUCCESS:
        section = _customer_success(opportunity, line_items)
    elif kind == HandoffKind.COMMISSION:
        section = _commission(credit)
    else:  # pragma: no cover - HandoffKind is closed
        raise ValueError(f"unknown handoff kind {kind!r}")
    return envelope(
        webhook_id=handoff_id,
        event_type=f"handoff.{kind}",
        created_at=created_at,
        data={**shared, kind: section},
    )


# The payload version: raised when a field changes meaning or goes away (adding a field
# does not change it). Receivers branch on it; docs/handoffs.md gives each version's schema.
PAYLOAD_VERSION = 1


def envelope(
    *, webhook_id: uuid.UUID, event_type: str, created_at: dt.datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """``{"id", "type", "version", "created_at", "data"}``; ``id`` is the webhook-id."""
    return {
        "id": str(webhook_id),
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "created_at": created_at.isoformat(),
        "data": data,
    }


def opportunity_summary(opportunity: Opportunity) -> dict[str, Any]:
    """The deal as a lifecycle event shows it (no line items: fetch them from the API)."""
    return {
        "id": opportunity.pk,
        "name": opportunity.name,
        "type": opportunity.type,
        "stage": opportunity.stage,
        "amount": _money(opportunity.amount),
        "currency": opportunity.currency,
        "close_date": _date(opportunity.close_date),
        "closed_at": _date(opportunity.closed_at),
        "account_id": opportunity.account_id,
        "owner": _person(opportunity.owner),
    }


def lifecycle_data(
    *,
    opportunity: Opportunity,
    actor: Any = None,
    from_stage: str = "",
    to_stage: str = "",
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``data`` of a ``deal.*`` event: the deal, who did it, the stage move and the reason
    given (empty when none). ``extra`` adds event-specific keys (an amendment, …)."""
    return {
        "opportunity": opportunity_summary(opportunity),
        "actor": _person(actor),
        "from_stage": from_stage,
        "to_stage": to_stage or opportunity.stage,
        "reason": reason,
        **(extra or {}),
    }
