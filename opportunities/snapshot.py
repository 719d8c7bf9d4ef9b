"""The values of an opportunity as submitted for approval (``Approval.snapshot``).

What RevOps approve is what is handed off: the snapshot frozen at submission carries every
value a handoff payload carries — the gated fields, the account's name, country and billing
data, the primary contact's name, e-mail and phone, the line items with SKU and product
name, the evidence documents with their SHA-256 — and the payloads are built from it,
never from live rows that someone could edit while the request waits.

One builder: the transition freezes it on the Approval; the admin's approval page builds
the current values in the very same shape to compare them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from approvals.selectors import LinePrice, line_prices
from core.money import money_text
from documents.selectors import documents_snapshot

from .models import Account, Contact, LineItem, Opportunity
from .selectors.opportunities import line_items_loaded


def account_values(account: Account | None) -> dict[str, Any] | None:
    """What a payload says of an account: id, name, domain, billing country, external id."""
    if account is None:
        return None
    return {
        "id": account.pk,
        "name": account.name,
        "domain": account.domain,
        "billing_country": account.billing_country,
        "external_id": account.external_id,
    }


def contact_values(contact: Contact | None) -> dict[str, Any] | None:
    """What a payload says of a contact: id, names, e-mail, phone, title."""
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


def _line_price(price: LinePrice, reporting: str) -> dict[str, Any]:
    """A line's list price (money text in the reporting currency, with that currency) and
    discount (percent, two decimals, ``"-10.00"`` for a premium), or nulls when the
    product has no list price: what routing compared when the deal was submitted."""
    listed = price.list_price
    return {
        "list_price": money_text(listed, reporting) if listed is not None else None,
        "list_price_currency": reporting if listed is not None else None,
        "discount_pct": f"{price.discount_pct:f}" if price.discount_pct is not None else None,
    }


def values_snapshot(
    opportunity: Opportunity,
    line_items: list[LineItem] | None = None,
    *,
    documents: bool = True,
) -> dict[str, Any]:
    """The values as submitted (Approval.snapshot), JSON-ready: the gated fields (money
    with the currency's minor units, dates ISO 8601), ``account`` and ``contact`` as
    objects, ``line_items`` with ``sku``, ``name``, ``list_price`` (reporting currency,
    ``list_price_currency``) and ``discount_pct`` (percent string; both null without a
    list price), ``documents`` (kind, name, SHA-256;
    no link: a link would expire inside the row). Reads the account and the contact
    through the opportunity (joined by the transition's lock) and one query for the
    documents (``documents=False`` skips them)."""
    items = line_items if line_items is not None else line_items_loaded(opportunity)
    reporting = settings.REPORTING_CURRENCY
    return {
        "name": opportunity.name,
        "type": opportunity.type,
        "amount": money_text(opportunity.amount, opportunity.currency),
        "currency": opportunity.currency,
        "close_date": opportunity.close_date.isoformat() if opportunity.close_date else None,
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "primary_contact": opportunity.primary_contact_id,
        "contract_start_date": opportunity.contract_start_date.isoformat()
        if opportunity.contract_start_date
        else None,
        "term_months": opportunity.term_months,
        "line_items": [
            {
                "product": li.product_id,
                "sku": li.product.sku,
                "name": li.product.name,
                "seats": li.seats,
                "unit_price": money_text(li.unit_price, opportunity.currency),
                **_line_price(price, reporting),
            }
            for li, price in zip(items, line_prices(opportunity, items), strict=True)
        ],
        "account": account_values(opportunity.account),
        "contact": contact_values(opportunity.primary_contact),
        "documents": documents_snapshot(opportunity.pk) if documents and opportunity.pk else [],
    }
