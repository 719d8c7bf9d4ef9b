"""Event types and the JSON Schema of each event's payload (JSON Schema draft 2020-12).

The schemas are written here, next to the builders in :mod:`handoffs.payloads`;
``python manage.py handoffs_schemas --write`` renders them into docs/handoffs.md and a
test validates real payloads against them, so the docs cannot drift from the code.
"""

from __future__ import annotations

import json
from typing import Any

from .models import HandoffKind
from .payloads import PAYLOAD_VERSION

HANDOFF_EVENT_TYPES = tuple(f"handoff.{kind}" for kind in HandoffKind.values)
LIFECYCLE_EVENT_TYPES = (
    "deal.submitted",
    "deal.approved",
    "deal.rejected",
    "deal.won",
    "deal.lost",
    "deal.reopened",
    "deal.amended",
    "deal.cancelled",
)
HANDOFF_CHANGE_EVENT_TYPES = tuple(
    f"handoff.{kind}.{change}" for kind in HandoffKind.values for change in ("amended", "cancelled")
)
EVENT_TYPES = HANDOFF_EVENT_TYPES + LIFECYCLE_EVENT_TYPES + HANDOFF_CHANGE_EVENT_TYPES


def handoff_kind_of(event_type: str) -> str:
    """``"billing"`` for ``"handoff.billing"``; "" for every other event type."""
    prefix, _, rest = event_type.partition(".")
    return rest if prefix == "handoff" and rest in HandoffKind.values else ""


# --- schema pieces ---------------------------------------------------------------------

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}
NINT = {"type": ["integer", "null"]}
# A decimal string with the currency's ISO 4217 minor units (JPY "1000", USD "1000.00",
# KWD "1000.125").
MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d{1,4})?$"}
NMONEY = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d{1,4})?$"}
# Percent with two decimals ("25.00"; "-10.00" for a premium), or null.
PERCENT = {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$"}
DATE = {"type": ["string", "null"], "format": "date"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}


def obj(properties: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    """An object with exactly these keys required (receivers may rely on each one);
    more keys may be added within a version."""
    return {
        "type": ["object", "null"] if nullable else "object",
        "required": list(properties),
        "properties": properties,
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


PERSON = obj({"id": INT, "username": STR, "name": STR, "email": STR}, nullable=True)
CONTACT = obj(
    {
        "id": INT,
        "first_name": STR,
        "last_name": STR,
        "email": STR,
        "phone": STR,
        "title": STR,
    },
    nullable=True,
)
OPPORTUNITY = obj(
    {
        "id": INT,
        "name": STR,
        "type": STR,
        "stage": STR,
        "amount": NMONEY,
        "currency": STR,
        "close_date": DATE,
        "closed_at": DATETIME,
        "contract_id": STR,
        "po_number": STR,
        "contract_start_date": DATE,
        "term_months": NINT,
        # Frozen at approval: the amount in the reporting currency and the rate used
        # (amount and rate null when no rate was known).
        "reporting": obj({"currency": STR, "amount": NMONEY, "rate": NSTR}),
    }
)
SHARED = {
    "opportunity": OPPORTUNITY,
    "account": obj(
        {"id": INT, "name": STR, "domain": STR, "billing_country": STR, "external_id": NSTR},
        nullable=True,
    ),
    "primary_contact": CONTACT,
    "owner": PERSON,
    # list_price: per seat, in the reporting currency (list_price_currency); discount_pct:
    # 1 − unit_price ÷ list_price in percent, negative for a premium. Both frozen at
    # submission, as routing compared them; null when the product has no list price.
    "line_items": array(
        obj(
            {
                "sku": STR,
                "name": STR,
                "seats": INT,
                "unit_price": NMONEY,
                "list_price": NMONEY,
                "list_price_currency": NSTR,
                "discount_pct": PERCENT,
            }
        )
    ),
    "approval": obj(
        {
            "id": INT,
            "approved_by": PERSON,
            "approved_at": DATETIME,
            "submitted_by": PERSON,
            "submitted_at": DATETIME,
        }
    ),
}
SECTIONS = {
    "billing": obj(
        {
            "amount": NMONEY,
            "currency": STR,
            "contract_id": STR,
            "po_number": STR,
            "contract_start_date": DATE,
            "term_months": NINT,
            "bill_to": CONTACT,
            "billing_country": STR,
            # The evidence approved with the deal; ``url`` is a signed link that expires.
            "documents": array(
                obj(
                    {
                        "id": INT,
                        "kind": STR,
                        "name": STR,
                        "sha256": STR,
                        "size": INT,
                        "content_type": STR,
                        "url": STR,
                    }
                )
            ),
        }
    ),
    "provisioning": obj(
        {
            "seats_by_sku": array(obj({"sku": STR, "name": STR, "seats": INT})),
            "total_seats": INT,
        }
    ),
    "customer_success": obj(
        {
            "account": obj({"id": INT, "name": STR}, nullable=True),
            "primary_contact": CONTACT,
            "products": array(obj({"sku": STR, "name": STR})),
            "owner": PERSON,
            "contract_start_date": DATE,
            "term_months": NINT,
        }
    ),
    "commission": obj(
        {
            "credit_id": INT,
            "rep": PERSON,
            "booking_amount": MONEY,
            "currency": STR,
            "rate": {"type": "string", "pattern": r"^\d\.\d{4}$"},
            "credit_amount": MONEY,
        }
    ),
}
OPPORTUNITY_SUMMARY = obj(
    {
        "id": INT,
        "name": STR,
        "type": STR,
        "stage": STR,
        "amount": NMONEY,
        "currency": STR,
        "close_date": DATE,
        "closed_at": DATETIME,
        "account_id": NINT,
        "owner": PERSON,
    }
)
LIFECYCLE = obj(
    {
        "opportunity": OPPORTUNITY_SUMMARY,
        "actor": PERSON,
        "from_stage": STR,
        "to_stage": STR,
        "reason": STR,
    }
)


# The amendment events (a won deal changed or cancelled): the deal's booked values before
# and after (``after`` null once cancelled) and what changed.
OPPORTUNITY_STATE = obj(
    {
        "type": STR,
        "amount": NMONEY,
        "currency": STR,
        "account_id": NINT,
        "primary_contact_id": NINT,
        "close_date": DATE,
        "contract_id": STR,
        "po_number": STR,
        "contract_start_date": DATE,
        "term_months": NINT,
        "line_items": array(obj({"sku": STR, "name": STR, "seats": INT, "unit_price": NMONEY})),
    }
)
DELTA = obj(
    {
        "amount": MONEY,
        "currency": STR,
        "seats_by_sku": array(
            obj({"sku": STR, "name": STR, "before": INT, "after": INT, "change": INT})
        ),
        "term_months": obj({"before": NINT, "after": NINT, "change": NINT}),
        "fields": array(STR),
    }
)
AMENDMENT = obj(
    {
        "id": INT,
        "kind": {"enum": ["change", "cancellation"]},
        "reason": STR,
        "requested_by": PERSON,
        "requested_at": {"type": "string", "format": "date-time"},
        "approved_by": PERSON,
        "approved_at": DATETIME,
    }
)
CREDIT_DELTA = obj(
    {
        "credit_id": INT,
        "kind": {"enum": ["booking", "amendment", "clawback"]},
        "rep": PERSON,
        "booking_amount": MONEY,
        "currency": STR,
        "rate": {"type": "string", "pattern": r"^\d\.\d{4}$"},
        "credit_amount": MONEY,
    },
    nullable=True,
)


def _change_schema(kind: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "opportunity": OPPORTUNITY_SUMMARY,
        "amendment": AMENDMENT,
        "before": OPPORTUNITY_STATE,
        "after": {**OPPORTUNITY_STATE, "type": ["object", "null"]},
        "delta": DELTA,
    }
    if kind == HandoffKind.COMMISSION:
        # Commission figures go to the commission system only.
        properties["commission"] = CREDIT_DELTA
    return obj(properties)


OPPORTUNITY_CHANGE = obj({**LIFECYCLE["properties"], "amendment": AMENDMENT, "delta": DELTA})


def data_schema(event_type: str) -> dict[str, Any]:
    """The schema of ``data`` for ``event_type`` (KeyError for an unknown type)."""
    if event_type not in EVENT_TYPES:
        raise KeyError(event_type)
    kind = handoff_kind_of(event_type)
    if kind:
        return obj({**SHARED, kind: SECTIONS[kind]})
    if event_type in HANDOFF_CHANGE_EVENT_TYPES:
        return _change_schema(event_type.split(".")[1])
    if event_type in ("deal.amended", "deal.cancelled"):
        return OPPORTUNITY_CHANGE
    return LIFECYCLE


def event_schema(event_type: str) -> dict[str, Any]:
    """The whole payload's JSON Schema (the envelope with its ``data``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type,
        **obj(
            {
                "id": {"type": "string", "format": "uuid"},
                "type": {"const": event_type},
                "version": {"const": PAYLOAD_VERSION},
                "created_at": {"type": "string", "format": "date-time"},
                "data": data_schema(event_type),
            }
        ),
    }


DOCS_BEGIN = "<!-- event-schemas:begin (generated by `manage.py handoffs_schemas --write`) -->"
DOCS_END = "<!-- event-schemas:end -->"


def docs_section() -> str:
    """The Markdown block of docs/handoffs.md listing every event type's schema."""
    lines = [DOCS_BEGIN, ""]
    seen: dict[str, str] = {}
    for event_type in EVENT_TYPES:
        text = json.dumps(event_schema(event_type), indent=2)
        lines += [f"#### `{event_type}`", ""]
        same = seen.get(json.dumps(data_schema(event_type), sort_keys=True))
        if same:
            lines += [f"Same `data` as `{same}`.", ""]
            continue
        seen[json.dumps(data_schema(event_type), sort_keys=True)] = event_type
        lines += ["<details><summary>JSON Schema</summary>", "", "```json", text, "```", ""]
        lines += ["</details>", ""]
    lines.append(DOCS_END)
    return "\n".join(lines)
