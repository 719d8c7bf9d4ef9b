"""The values of an opportunity as submitted and approved (``Approval.snapshot``).

One builder: the transition freezes it on the Approval; the admin's approval page builds
the current values in the very same shape to compare them.
"""

from __future__ import annotations

from typing import Any

from core.money import money_text

from .models import LineItem, Opportunity
from .selectors.opportunities import line_items_loaded


def values_snapshot(
    opportunity: Opportunity, line_items: list[LineItem] | None = None
) -> dict[str, Any]:
    """The gated values as submitted/approved (Approval.snapshot); the admin deal page
    compares the current values in the same shape."""
    items = line_items if line_items is not None else line_items_loaded(opportunity)
    return {
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
                "seats": li.seats,
                "unit_price": money_text(li.unit_price, opportunity.currency),
            }
            for li in items
        ],
    }
