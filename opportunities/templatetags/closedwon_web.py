"""Template helpers shared by the rep UI and the admin: one set of formats, and the small
pieces the deal form, the checklist and the board cards need.

Formats (the same everywhere):

* money — ``$120,000``; cents only when there are some (``$1,234.50``); a currency
  without a symbol is written after the amount (``1,000 CHF``); ``—`` when unknown;
* a day — ``Mar 5, 2026``;
* a moment — ``Mar 5, 2026, 14:05`` (the site's time zone);
* relative time — one unit: ``3 days ago``, ``in 2 hours``, ``just now``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from core import formatting
from core.money import format_money
from opportunities import gate
from opportunities.stages import CONFIGURABLE_FIELDS

register = template.Library()

register.filter("day", formatting.day)
register.filter("moment", formatting.moment)
register.filter("ago", formatting.ago)
register.filter("money", formatting.money_short)
register.filter("discount", formatting.discount_text)


# --- line items: totals and their sum ---------------------------------------------------------


def _form_value(form: Any, name: str) -> Any:
    if form.is_bound:
        return form.data.get(form.add_prefix(name))
    return form.initial.get(name)


@register.filter
def form_line_total(form: Any) -> Decimal | None:
    """Seats × unit price of one line item form (posted values first), or None."""
    seats, price = (
        formatting.to_decimal(_form_value(form, "seats")),
        formatting.to_decimal(_form_value(form, "unit_price")),
    )
    if seats is None or price is None:
        return None
    return seats * price


@register.filter
def lines_sum(formset: Any) -> Decimal | None:
    """The sum of the line totals of the kept rows (None when a row has no total)."""
    total = Decimal(0)
    for form in formset.forms:
        if form.is_bound and form.data.get(form.add_prefix("DELETE")):
            continue
        line = form_line_total(form)
        if line is None:
            continue
        total += line
    return total


@register.filter
def handoffs_settled(handoffs: Any) -> bool:
    """No handoff still on its way (pending or retrying)."""
    return not any(h["status"] in ("pending", "retrying") for h in handoffs or [])


# --- the checklist: each item leads to its field ----------------------------------------------

# The deal form field a requirement code is fixed in.
CODE_FIELDS = {
    gate.Code.ACCOUNT_REQUIRED: "account",
    gate.Code.CONTRACT_OR_PO_REQUIRED: "contract_id",
    gate.Code.CONTRACT_ID_IN_USE: "contract_id",
    gate.Code.PO_NUMBER_IN_USE: "po_number",
    gate.Code.AMOUNT_REQUIRED: "amount",
    gate.Code.CLOSE_DATE_REQUIRED: "close_date",
    gate.Code.CLOSE_DATE_IN_FUTURE: "close_date",
    gate.Code.PRIMARY_CONTACT_REQUIRED: "primary_contact",
    gate.Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT: "primary_contact",
    gate.Code.PRIMARY_CONTACT_EMAIL_REQUIRED: "primary_contact",
    gate.Code.SEATS_REQUIRED: "line_items",
    gate.Code.AMOUNT_MISMATCH: "amount",
}
_LABEL_FIELDS = {f"{label} (required by RevOps)": name for name, label in CONFIGURABLE_FIELDS}


def field_input_id(field_name: str) -> str:
    """The id of the input that fixes ``field_name`` on the deal form and the fix-it dialog."""
    if field_name == "line_items":
        return "id_lines-0-product"
    return f"id_{field_name}"


@register.filter
def checklist_field(item: dict[str, Any]) -> str:
    """The input id a checklist item is fixed in (``""`` when none)."""
    if item.get("label") in _LABEL_FIELDS:
        return field_input_id(_LABEL_FIELDS[item["label"]])
    for code in item.get("codes", []):
        if code in CODE_FIELDS:
            return field_input_id(CODE_FIELDS[code])
    return ""


@register.filter
def first_unmet_field(checklist: dict[str, Any]) -> str:
    """The input id of the first unmet checklist item (``"Fill in what is missing"``)."""
    for item in checklist.get("items", []):
        if not item.get("met"):
            target = checklist_field(item)
            if target:
                return target
    return ""


@register.filter
def unmet_field(unmet: dict[str, Any]) -> str:
    """The input id an unmet requirement (``{"code", "field", "message"}``) is fixed in."""
    return field_input_id(str(unmet.get("field") or CODE_FIELDS.get(unmet.get("code", ""), "")))


@register.filter
def without_rate(amounts: dict[str, Decimal] | None) -> str:
    """What a total could not convert, per currency: ``+ 1,000.000 KWD, 5,000 JPY (no
    exchange rate)``; empty when everything was converted. Never added to the total."""
    if not amounts:
        return ""
    parts = ", ".join(format_money(amount, currency) for currency, amount in amounts.items())
    return f"+ {parts} (no exchange rate)"
