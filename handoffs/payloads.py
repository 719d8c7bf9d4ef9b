"""The frozen webhook payloads, built in one place.

``{"id", "type": "handoff.<kind>", "version", "created_at", "data": {...}}``. ``data`` carries the
shared facts (opportunity, account, primary contact, owner, line items, approval) plus
one section named after the kind with what that team needs. Money is a decimal string,
dates ISO 8601, so the body means the same thing in every language downstream.

Payloads are built inside the approval transaction from the values frozen when the deal
was submitted (``Approval.snapshot``: what RevOps approved), never from live rows, and are
stored on the Handoff row; a retry sends the stored payload, never a rebuilt one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from core.fields import EncodedJSON
from core.money import money_text
from documents.signing import signed_download_url
from opportunities.models import Approval, LineItem, Opportunity
from opportunities.snapshot import account_values, contact_values

from .models import CommissionCredit, HandoffKind


def _money(value: Decimal | None, currency: str) -> str | None:
    """A decimal string with the currency's minor units (ISO 4217)."""
    return money_text(value, currency)


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


def _frozen(opportunity: Opportunity, approval: Approval) -> dict[str, Any]:
    """The values as submitted (``Approval.snapshot``), completed from the live rows only
    for a request submitted before the snapshot carried them (older rows)."""
    snapshot = dict(approval.snapshot or {})
    if "account" not in snapshot:
        snapshot["account"] = account_values(opportunity.account)
    if "contact" not in snapshot:
        snapshot["contact"] = contact_values(opportunity.primary_contact)
    snapshot.setdefault("name", opportunity.name)
    snapshot.setdefault("type", opportunity.type)
    snapshot.setdefault("documents", [])
    return snapshot


def _line_items(snapshot: dict[str, Any], line_items: Sequence[LineItem]) -> list[dict[str, Any]]:
    frozen = snapshot.get("line_items", [])
    # The live products' names, only for a request frozen before the snapshot kept them.
    names = (
        {item.product.sku: item.product.name for item in line_items}
        if any(not item.get("name") for item in frozen)
        else {}
    )
    return [
        {
            "sku": item["sku"],
            "name": item.get("name") or names.get(item["sku"], ""),
            "seats": item["seats"],
            "unit_price": item["unit_price"],
            # Frozen at submission (null in requests submitted before they were).
            "list_price": item.get("list_price"),
            "list_price_currency": item.get("list_price_currency"),
            "discount_pct": item.get("discount_pct"),
        }
        for item in frozen
    ]


def shared_data(
    *, opportunity: Opportunity, approval: Approval, line_items: Sequence[LineItem]
) -> dict[str, Any]:
    """What every kind gets: the deal as approved (the values frozen when it was
    submitted) and who approved it when."""
    frozen = _frozen(opportunity, approval)
    return {
        "opportunity": {
            "id": opportunity.pk,
            "name": frozen["name"],
            "type": frozen["type"],
            "stage": opportunity.stage,
            "amount": frozen.get("amount"),
            "currency": frozen.get("currency", opportunity.currency),
            "close_date": frozen.get("close_date"),
            "closed_at": _date(opportunity.closed_at),
            "contract_id": frozen.get("contract_id", ""),
            "po_number": frozen.get("po_number", ""),
            "contract_start_date": frozen.get("contract_start_date"),
            "term_months": frozen.get("term_months"),
            "reporting": {
                "currency": approval.reporting_currency,
                "amount": _money(approval.reporting_amount, approval.reporting_currency),
                "rate": None if approval.reporting_rate is None else f"{approval.reporting_rate}",
            },
        },
        "account": frozen["account"],
        "primary_contact": frozen["contact"],
        "owner": _person(opportunity.owner),
        "line_items": _line_items(frozen, line_items),
        "approval": {
            "id": approval.pk,
            "approved_by": _person(approval.decided_by),
            "approved_at": _date(approval.decided_at),
            "submitted_by": _person(approval.submitted_by),
            "submitted_at": _date(approval.submitted_at),
        },
    }


def _billing(shared: dict[str, Any], approval: Approval) -> dict[str, Any]:
    opportunity, account = shared["opportunity"], shared["account"]
    return {
        "amount": opportunity["amount"],
        "currency": opportunity["currency"],
        "contract_id": opportunity["contract_id"],
        "po_number": opportunity["po_number"],
        "contract_start_date": opportunity["contract_start_date"],
        "term_months": opportunity["term_months"],
        # Invoices go to the deal's primary contact (the gate guarantees an email).
        "bill_to": shared["primary_contact"],
        "billing_country": account["billing_country"] if account else "",
        # The evidence RevOps approved, each with an expiring signed link to its bytes.
        "documents": [
            {**document, "url": signed_download_url(document["id"])}
            for document in (approval.snapshot or {}).get("documents", [])
        ],
    }


def _provisioning(shared: dict[str, Any]) -> dict[str, Any]:
    seats: dict[str, int] = {}
    names: dict[str, str] = {}
    for item in shared["line_items"]:
        seats[item["sku"]] = seats.get(item["sku"], 0) + item["seats"]
        names[item["sku"]] = item["name"]
    return {
        "seats_by_sku": [
            {"sku": sku, "name": names[sku], "seats": count} for sku, count in sorted(seats.items())
        ],
        "total_seats": sum(seats.values()),
    }


def _customer_success(shared: dict[str, Any]) -> dict[str, Any]:
    products: dict[str, str] = {}
    for item in shared["line_items"]:
        products.setdefault(item["sku"], item["name"])
    account = shared["account"]
    return {
        "account": None if account is None else {"id": account["id"], "name": account["name"]},
        "primary_contact": shared["primary_contact"],
        "products": [{"sku": sku, "name": name} for sku, name in sorted(products.items())],
        "owner": shared["owner"],
        "contract_start_date": shared["opportunity"]["contract_start_date"],
        "term_months": shared["opportunity"]["term_months"],
    }


def _commission(credit: CommissionCredit) -> dict[str, Any]:
    return {
        "credit_id": credit.pk,
        "rep": _person(credit.rep),
        "booking_amount": _money(credit.booking_amount, credit.currency),
        "currency": credit.currency,
        "rate": f"{credit.rate:.4f}",
        "credit_amount": _money(credit.credit_amount, credit.currency),
    }


def build_payload(
    *,
    handoff_id: uuid.UUID,
    kind: str,
    created_at: dt.datetime,
    shared: dict[str, Any],
    approval: Approval,
    credit: CommissionCredit,
    shared_json: str | None = None,
) -> dict[str, Any]:
    """The Standard Webhooks-style envelope for one handoff; ``id`` is the webhook-id.

    ``shared_json``: :func:`encode_shared` of ``shared``, when the caller builds several
    payloads of the same approval. The payload is then an :class:`core.fields.EncodedJSON`
    carrying its JSON text, the shared part encoded once for all of them (it lists every
    line item, and encoding it again for each kind was most of what the payloads cost)."""
    section: dict[str, Any]
    if kind == HandoffKind.BILLING:
        section = _billing(shared, approval)
    elif kind == HandoffKind.PROVISIONING:
        section = _provisioning(shared)
    elif kind == HandoffKind.CUSTOMER_SUCCESS:
        section = _customer_success(shared)
    elif kind == HandoffKind.COMMISSION:
        section = _commission(credit)
    else:  # pragma: no cover - HandoffKind is closed
        raise ValueError(f"unknown handoff kind {kind!r}")
    document = envelope(
        webhook_id=handoff_id,
        event_type=f"handoff.{kind}",
        created_at=created_at,
        data={**shared, kind: section},
    )
    if shared_json is None or kind in shared:
        return document
    return EncodedJSON(document, _spliced(document, shared_json, kind, section))


def encode_shared(shared: dict[str, Any]) -> str:
    """:func:`shared_data` as JSON text, for :func:`build_payload`'s ``shared_json``."""
    return json.dumps(shared, cls=DjangoJSONEncoder)


def _spliced(document: dict[str, Any], shared_json: str, kind: str, section: Any) -> str:
    # The envelope's text with the shared data's text put in as it is: the same text
    # json.dumps makes of the whole document, whose keys come in the same order ("data"
    # last in the envelope, the kind's section last in "data"); pinned by a test.
    head = json.dumps({k: v for k, v in document.items() if k != "data"}, cls=DjangoJSONEncoder)
    section_json = json.dumps(kind) + ": " + json.dumps(section, cls=DjangoJSONEncoder)
    data = shared_json[:-1] + (", " if shared_json != "{}" else "") + section_json + "}"
    return head[:-1] + ', "data": ' + data + "}"


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
        "amount": _money(opportunity.amount, opportunity.currency),
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
