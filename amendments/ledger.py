"""The bookings ledger and the deal states an amendment compares.

* :func:`opportunity_state` — a deal's booked values as JSON (what ``before`` / ``after`` hold);
* :func:`state_delta` — the pure difference of two states: amount, seats per SKU, term;
* :func:`booking_record_approval` — the ``won`` booking, written by the approve
  transition inside its transaction (the one call from the opportunities app);
* :func:`booking_create` — any booking entry (amendments and cancellations).

Rule: the ledger is append-only; a deal's bookings sum to its current amount (0 once
cancelled), and a month's figure is the sum of the entries booked in that month, so it
never changes when a deal is amended later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.utils import timezone

from currencies.conversion import to_reporting
from currencies.selectors import reporting_currency
from opportunities.models import Approval, Opportunity

from .models import Amendment, Booking, BookingKind

# The values a state carries besides the line items, in this order.
STATE_FIELDS = (
    "type",
    "amount",
    "currency",
    "account_id",
    "primary_contact_id",
    "close_date",
    "contract_id",
    "po_number",
    "contract_start_date",
    "term_months",
)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def opportunity_state(
    opportunity: Opportunity, line_items: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The booked values of ``opportunity`` with ``line_items`` (``{"sku", "name",
    "seats", "unit_price"}`` mappings) as JSON: money as 2-decimal strings, dates ISO
    8601, foreign keys as ids."""
    return {
        "type": opportunity.type,
        "amount": _money(opportunity.amount),
        "currency": opportunity.currency,
        "account_id": opportunity.account_id,
        "primary_contact_id": opportunity.primary_contact_id,
        "close_date": _date(opportunity.close_date),
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "contract_start_date": _date(opportunity.contract_start_date),
        "term_months": opportunity.term_months,
        "line_items": [
            {
                "sku": item["sku"],
                "name": item["name"],
                "seats": int(item["seats"]),
                "unit_price": _money(item["unit_price"]),
            }
            for item in line_items
        ],
    }


def saved_line_items(opportunity: Opportunity) -> list[dict[str, Any]]:
    """The deal's saved line items as :func:`opportunity_state` takes them (the one prefetch)."""
    from opportunities.selectors import line_items_loaded

    return [
        {
            "sku": li.product.sku,
            "name": li.product.name,
            "seats": li.seats,
            "unit_price": li.unit_price,
        }
        for li in line_items_loaded(opportunity)
    ]


def _seats(state: Mapping[str, Any] | None) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for item in (state or {}).get("line_items", []):
        name, seats = out.get(item["sku"], (item["name"], 0))
        out[item["sku"]] = (name, seats + int(item["seats"]))
    return out


def _amount(state: Mapping[str, Any] | None) -> Decimal:
    value = (state or {}).get("amount")
    return Decimal(value) if value is not None else Decimal(0)


def state_delta(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> dict[str, Any]:
    """What changed from ``before`` to ``after`` (``None``: the deal was cancelled, so
    everything goes to zero): ``{"amount", "currency", "seats_by_sku": [{"sku", "name",
    "before", "after", "change"}] (SKUs whose seats changed, by SKU), "term_months":
    {"before", "after", "change"}, "fields": [names of the other values that changed]}``.
    Pure: no database."""
    seats_before, seats_after = _seats(before), _seats(after)
    by_sku = []
    for sku in sorted(set(seats_before) | set(seats_after)):
        name, was = seats_before.get(sku, ("", 0))
        name_after, now = seats_after.get(sku, (name, 0))
        if was != now:
            by_sku.append(
                {
                    "sku": sku,
                    "name": name_after or name,
                    "before": was,
                    "after": now,
                    "change": now - was,
                }
            )
    term_before = before.get("term_months")
    term_after = after.get("term_months") if after is not None else None
    term_change = (
        term_after - term_before
        if isinstance(term_before, int) and isinstance(term_after, int)
        else None
    )
    fields = (
        [
            f
            for f in STATE_FIELDS
            if f not in ("amount", "term_months") and before.get(f) != after.get(f)
        ]
        if after is not None
        else []
    )
    return {
        "amount": _money(_amount(after) - _amount(before)),
        "currency": before.get("currency", ""),
        "seats_by_sku": by_sku,
        "term_months": {"before": term_before, "after": term_after, "change": term_change},
        "fields": fields,
    }


def booking_create(
    *,
    opportunity: Opportunity,
    kind: str,
    amount_delta: Decimal,
    booked_on: dt.date,
    at: dt.datetime | None = None,
    approval: Approval | None = None,
    amendment: Amendment | None = None,
) -> Booking:
    """Append one ledger entry: ``amount_delta`` in the deal's currency and in the
    reporting currency at ``booked_on``'s rate (``currencies.conversion.to_reporting``;
    both reporting values empty when no rate is known). Call it inside the transaction
    that makes the booking change."""
    converted = to_reporting(amount_delta, opportunity.currency, booked_on)
    return Booking.objects.create(
        opportunity=opportunity,
        kind=kind,
        approval=approval,
        amendment=amendment,
        currency=opportunity.currency,
        amount_delta=amount_delta,
        reporting_currency=reporting_currency() if not converted.missing else "",
        reporting_delta=converted.amount,
        reporting_rate=converted.rate,
        booked_on=booked_on,
        at=at or timezone.now(),
    )


def booking_record_approval(*, approval: Approval) -> Booking:
    """The ``won`` booking of an approved deal: its whole amount, booked on its close date
    (today when it has none). Called by the approve transition in its transaction."""
    opportunity = approval.opportunity
    at = approval.decided_at or timezone.now()
    return booking_create(
        opportunity=opportunity,
        kind=BookingKind.WON,
        amount_delta=opportunity.amount or Decimal(0),
        booked_on=opportunity.close_date or timezone.localdate(at),
        at=at,
        approval=approval,
    )
