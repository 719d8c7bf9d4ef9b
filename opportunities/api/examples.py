"""Every OpenAPI example of the sales resources, in one place.

One story runs through them: rep Alice (user 1) sells Initech (account 1, contact Bill
Lumbergh 1) 20 TPS report seats (product 1) in deal 7; RevOps Rita (user 3) approves it.
Values are what the API answers (captured from real responses, ids and names changed).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page, problem_example
from core import errors
from opportunities.stages import FORECAST_CATEGORY, PROBABILITY, Stage

# --- requests ------------------------------------------------------------------------------

CATALOG_REQUESTS: dict[str, dict[str, Any]] = {
    "accounts": {"name": "Initech", "domain": "initech.example", "billing_country": "US"},
    "contacts": {"account": 1, "last_name": "Lumbergh", "email": "bill@initech.example"},
    "products": {"sku": "TPS-SEAT", "name": "TPS report seat"},
}

OPPORTUNITY_CREATE_REQUEST = OpenApiExample(
    "A deal with one line item",
    request_only=True,
    value={
        "name": "Initech — TPS rollout",
        "account": 1,
        "primary_contact": 1,
        "amount": "24000.00",
        "currency": "USD",
        "close_date": "2025-01-31",
        "contract_id": "INI-2025-001",
        "line_items": [{"product": 1, "seats": 20, "unit_price": "1200.00"}],
    },
)
OPPORTUNITY_PATCH_REQUEST = OpenApiExample(
    "Move the close date", request_only=True, value={"close_date": "2025-02-28"}
)
TRANSITION_REQUESTS = [
    OpenApiExample("Lost on price", request_only=True, value={"loss_reason": "price"}),
    OpenApiExample("Rejected", request_only=True, value={"reason": "The PO number is missing."}),
]

# --- objects -------------------------------------------------------------------------------

ACCOUNT: dict[str, Any] = {
    "id": 1,
    "name": "Initech",
    "domain": "initech.example",
    "billing_country": "US",
    "owner": 1,
    "external_id": None,
    "created_at": "2025-01-06T09:12:44.120311Z",
    "updated_at": "2025-01-06T09:12:44.120502Z",
}
CONTACT: dict[str, Any] = {
    "id": 1,
    "account": 1,
    "first_name": "Bill",
    "last_name": "Lumbergh",
    "email": "bill@initech.example",
    "phone": "+1 512 555 0142",
    "title": "VP Finance",
    "created_at": "2025-01-06T09:14:02.551870Z",
    "updated_at": "2025-01-06T09:14:02.552031Z",
}
PRODUCT: dict[str, Any] = {
    "id": 1,
    "sku": "TPS-SEAT",
    "name": "TPS report seat",
    "active": True,
    "created_at": "2024-11-18T15:02:10.004127Z",
    "updated_at": "2024-11-18T15:02:10.004390Z",
}


def _at(stage: Stage) -> dict[str, Any]:
    """What the API shows of ``stage`` (label, probability, forecast category)."""
    return {
        "stage": stage.value,
        "stage_label": stage.label,
        "probability": PROBABILITY[stage],
        "forecast_category": FORECAST_CATEGORY[stage],
    }


_LINE_ITEMS = [
    {
        "id": 12,
        "product": 1,
        "seats": 20,
        "unit_price": "1200.00",
        "list_price": "1500.00",
        "list_price_currency": "USD",
        "discount_pct": "20.00",
    }
]

OPPORTUNITY_CREATED: dict[str, Any] = {
    "id": 7,
    "name": "Initech — TPS rollout",
    "account": 1,
    "owner": 1,
    **_at(Stage.PROSPECTING),
    "type": "new_business",
    "amount": "24000.00",
    "currency": "USD",
    "close_date": "2025-01-31",
    "contract_id": "INI-2025-001",
    "po_number": "",
    "primary_contact": 1,
    "contract_start_date": None,
    "term_months": None,
    "line_items": _LINE_ITEMS,
    "loss_reason": "",
    "loss_detail": "",
    "version": 1,
    "created_at": "2025-01-06T09:20:31.402118Z",
    "updated_at": "2025-01-06T09:20:31.402118Z",
    "closed_at": None,
}
OPPORTUNITY_NEGOTIATION: dict[str, Any] = {
    **OPPORTUNITY_CREATED,
    **_at(Stage.NEGOTIATION),
    "close_date": "2025-02-28",
    "version": 4,
    "updated_at": "2025-01-24T11:03:09.716204Z",
}
OPPORTUNITY_WON: dict[str, Any] = {
    **OPPORTUNITY_CREATED,
    **_at(Stage.CLOSED_WON),
    "po_number": "PO-4471",
    "contract_start_date": "2025-02-01",
    "term_months": 12,
    "version": 6,
    "updated_at": "2025-01-31T16:20:05.118734Z",
    "closed_at": "2025-01-31T16:20:05.118520Z",
}
OPPORTUNITY_LOST: dict[str, Any] = {
    **OPPORTUNITY_NEGOTIATION,
    **_at(Stage.CLOSED_LOST),
    "loss_reason": "price",
    "version": 5,
    "updated_at": "2025-01-27T10:41:52.090117Z",
    "closed_at": "2025-01-27T10:41:52.089934Z",
}

_UNMET = [
    {
        "code": "contract_or_po_required",
        "field": "contract_id",
        "message": "Add a contract ID or a PO number.",
    },
    {
        "code": "close_date_in_future",
        "field": "close_date",
        "message": "The close date is in the future: a deal closes on or before today.",
    },
]
_ROUTE_STEP = {
    "group": "RevOps",
    "rule": "Every Closed-Won request",
    "mode": "any",
    "count": 1,
    "sla_hours": 8,
    "why": "",
}


def _option(name: str, target: str, label: str, **values: Any) -> dict[str, Any]:
    option = {
        "name": name,
        "target": target,
        "label": label,
        "permitted": True,
        "allowed": False,
        "available": False,
        "denied_code": None,
        "needs": [],
        "unmet": [],
    }
    option.update(values)
    return option


# The dry run of deal 7 in Negotiation, as its owner sees it: Closed-Won is blocked by two
# requirements, approving is someone else's job.
TRANSITION_OPTIONS: list[dict[str, Any]] = [
    _option(
        "move_to_prospecting", "prospecting", "Move to Prospecting", allowed=True, available=True
    ),
    _option(
        "move_to_qualification",
        "qualification",
        "Move to Qualification",
        allowed=True,
        available=True,
    ),
    _option("move_to_proposal", "proposal", "Move to Proposal", allowed=True, available=True),
    _option("move_to_negotiation", "negotiation", "Move to Negotiation"),
    _option(
        "submit_for_approval",
        "pending_approval",
        "Request Closed-Won",
        available=True,
        unmet=_UNMET,
        approval_route=[_ROUTE_STEP],
    ),
    _option("withdraw", "negotiation", "Withdraw request"),
    _option(
        "approve",
        "closed_won",
        "Approve Closed-Won",
        permitted=False,
        denied_code="self_approval_forbidden",
        unmet=_UNMET,
    ),
    _option(
        "reject",
        "negotiation",
        "Reject",
        permitted=False,
        denied_code="permission_denied",
        needs=["reason"],
    ),
    _option(
        "mark_lost",
        "closed_lost",
        "Mark lost",
        allowed=True,
        available=True,
        needs=["loss_reason"],
    ),
    _option("reopen", "qualification", "Reopen"),
]

_GATE_FACTS = {
    "today": "2025-01-31",
    "amount": "24000.00",
    "currency": "USD",
    "po_number": "PO-4471",
    "account_id": 1,
    "close_date": "2025-01-31",
    "configured": [],
    "line_items": [{"seats": 20, "unit_price": "1200.00"}],
    "contract_id": "INI-2025-001",
    "term_months": 12,
    "owner_active": True,
    "contact_email": "bill@initech.example",
    "amount_reporting": "24000.0000",
    "evidence_present": ["signed_contract"],
    "po_number_in_use": False,
    "contact_account_id": 1,
    "contract_id_in_use": False,
    "primary_contact_id": 1,
    "contract_start_date": "2025-02-01",
    "evidence_requirements": [],
}
STAGE_CHANGES: list[dict[str, Any]] = [
    {
        "id": 31,
        "transition": "approve",
        "from_stage": "pending_approval",
        "to_stage": "closed_won",
        "actor": 3,
        "actor_username": "rita",
        "source": "api",
        "reason": "",
        "gate_snapshot": {
            "facts": _GATE_FACTS,
            "unmet": [],
            "passed": True,
            "target": "closed_won",
        },
        "at": "2025-01-31T16:20:05.117209Z",
    },
    {
        "id": 29,
        "transition": "submit_for_approval",
        "from_stage": "negotiation",
        "to_stage": "pending_approval",
        "actor": 1,
        "actor_username": "alice",
        "source": "ui",
        "reason": "",
        "gate_snapshot": {
            "facts": _GATE_FACTS,
            "unmet": [],
            "passed": True,
            "target": "pending_approval",
        },
        "at": "2025-01-31T10:02:47.530466Z",
    },
]

APPROVAL_PENDING: dict[str, Any] = {
    "id": 5,
    "opportunity": 7,
    "opportunity_name": "Initech — TPS rollout",
    "account": 1,
    "owner": 1,
    "amount": "24000.00",
    "currency": "USD",
    "submitted_by": 1,
    "submitted_at": "2025-01-31T10:02:47.530466Z",
    "decided_by": None,
    "decided_at": None,
    "decision": "pending",
    "reason": "",
    "age_seconds": 3912,
    "snapshot": {
        "name": "Initech — TPS rollout",
        "type": "new_business",
        "amount": "24000.00",
        "account": {
            "id": 1,
            "name": "Initech",
            "domain": "initech.example",
            "external_id": None,
            "billing_country": "US",
        },
        "contact": {
            "id": 1,
            "email": "bill@initech.example",
            "phone": "+1 512 555 0142",
            "title": "VP Finance",
            "last_name": "Lumbergh",
            "first_name": "Bill",
        },
        "currency": "USD",
        "documents": [
            {
                "id": 4,
                "kind": "signed_contract",
                "name": "Initech order form - signed.pdf",
                "size": 48211,
                "sha256": "5a9ca9b7e54dcd88b9baf8eb8af3e0b793041f4a63bc5396f2eefe96905648f0",
                "content_type": "application/pdf",
            }
        ],
        "po_number": "PO-4471",
        "close_date": "2025-01-31",
        "line_items": [
            {
                "sku": "TPS-SEAT",
                "name": "TPS report seat",
                "seats": 20,
                "product": 1,
                "unit_price": "1200.00",
            }
        ],
        "contract_id": "INI-2025-001",
        "term_months": 12,
        "primary_contact": 1,
        "contract_start_date": "2025-02-01",
    },
    "route": [_ROUTE_STEP],
    "policy_version": 1,
    "current_step": {**_ROUTE_STEP, "index": 0},
    "decisions": [],
}

# --- response examples, per operation --------------------------------------------------------

CATALOG_OBJECTS: dict[str, dict[str, Any]] = {
    "accounts": ACCOUNT,
    "contacts": CONTACT,
    "products": PRODUCT,
}
_CATALOG_NOUNS = {"accounts": "account", "contacts": "contact", "products": "product"}


def catalog_list_examples(name: str) -> list[OpenApiExample]:
    return [BodyExample(f"A page of {name}", page(f"/api/v1/{name}/", CATALOG_OBJECTS[name]))]


def catalog_one_examples(name: str, *, status_code: int = 200) -> list[OpenApiExample]:
    return [
        OpenApiExample(
            f"The {_CATALOG_NOUNS[name]}",
            value=CATALOG_OBJECTS[name],
            response_only=True,
            status_codes=[str(status_code)],
        )
    ]


def _one(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


OPPORTUNITY_LIST = [
    BodyExample("A page of deals", page("/api/v1/opportunities/", OPPORTUNITY_NEGOTIATION))
]
OPPORTUNITY_CREATED_RESPONSE = [_one("The new deal", OPPORTUNITY_CREATED, 201)]
OPPORTUNITY_RETRIEVE = [_one("A won deal", OPPORTUNITY_WON)]
OPPORTUNITY_UPDATED = [_one("The deal after the change", OPPORTUNITY_NEGOTIATION)]
TRANSITION_RUN = [
    _one("Marked lost", OPPORTUNITY_LOST),
    _one("Approved: Closed Won", OPPORTUNITY_WON),
]
TRANSITIONS_LIST = [BodyExample("A deal in Negotiation, as its owner sees it", TRANSITION_OPTIONS)]
HISTORY_LIST = [
    BodyExample(
        "Approved after submission",
        page("/api/v1/opportunities/7/history/", *STAGE_CHANGES, last=True),
    )
]
APPROVAL_LIST = [
    BodyExample("The approval queue", page("/api/v1/approvals/", APPROVAL_PENDING, last=True))
]

# --- problems particular to these operations ------------------------------------------------

STAGE_READ_ONLY = problem_example(
    "Stage sent",
    errors.StageReadOnly(
        "The stage changes only through POST /opportunities/{id}/transitions/{name}/.",
        errors=[
            {
                "code": "stage_read_only",
                "field": "stage",
                "message": "Use a transition to change the stage.",
            }
        ],
    ),
    instance="/api/v1/opportunities/7/",
)
RECORD_LOCKED = problem_example(
    "Locked while pending",
    errors.RecordLocked(
        "amount cannot change while the deal is pending approval.",
        errors=[
            {
                "code": "record_locked",
                "field": "amount",
                "message": "Locked while pending approval or won.",
            }
        ],
    ),
    instance="/api/v1/opportunities/7/",
)
TRANSITION_PROBLEMS = [
    problem_example(
        "Own deal",
        errors.SelfApprovalForbidden(
            "You own or submitted this deal: another RevOps member must approve it."
        ),
        instance="/api/v1/opportunities/7/transitions/approve/",
    ),
    problem_example(
        "Wrong stage",
        errors.TransitionNotAllowed("Approve Closed-Won is not possible from Negotiation."),
        instance="/api/v1/opportunities/7/transitions/approve/",
    ),
    problem_example(
        "Gate failed",
        errors.GateFailed("2 requirements not met for Request Closed-Won.", errors=_UNMET),
        instance="/api/v1/opportunities/7/transitions/submit_for_approval/",
    ),
    problem_example(
        "No loss reason",
        errors.ReasonRequired(
            "Choose why the deal was lost.",
            errors=[
                {
                    "code": "reason_required",
                    "field": "loss_reason",
                    "message": "Choose a loss reason.",
                }
            ],
        ),
        instance="/api/v1/opportunities/7/transitions/mark_lost/",
    ),
]
