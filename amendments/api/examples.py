"""Every OpenAPI example of the amendment resources, in one place.

Deal 7 (Initech, 20 TPS report seats at 1,200.00, won) grows to 30 seats: rep Alice
(user 1) asks, RevOps Rita (user 3) approves. Values are what the API answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page, problem_example
from core import errors

REQUESTS = [
    OpenApiExample(
        "Seats 20 → 30",
        request_only=True,
        value={
            "kind": "change",
            "reason": "The order form says 30 seats.",
            "changes": {"amount": "36000.00"},
            "line_items": [{"product": 1, "seats": 30, "unit_price": "1200.00"}],
        },
    ),
    OpenApiExample(
        "Cancellation", request_only=True, value={"kind": "cancellation", "reason": "Churned."}
    ),
]


def _terms(seats: int, amount: str) -> dict[str, Any]:
    return {
        "type": "new_business",
        "amount": amount,
        "currency": "USD",
        "account_id": 1,
        "primary_contact_id": 1,
        "close_date": "2025-01-31",
        "contract_id": "INI-2025-001",
        "po_number": "PO-4471",
        "contract_start_date": "2025-02-01",
        "term_months": 12,
        "line_items": [
            {"sku": "TPS-SEAT", "name": "TPS report seat", "seats": seats, "unit_price": "1200.00"}
        ],
    }


_STEP = {
    "group": "RevOps",
    "rule": "Every Closed-Won request",
    "mode": "any",
    "count": 1,
    "sla_hours": 8,
    "why": "",
}
_DELTA = {
    "amount": "12000.00",
    "currency": "USD",
    "seats_by_sku": [
        {"sku": "TPS-SEAT", "name": "TPS report seat", "before": 20, "after": 30, "change": 10}
    ],
    "term_months": {"before": 12, "after": 12, "change": 0},
    "fields": [],
}

DRY_RUN: dict[str, Any] = {
    "passes": True,
    "unmet": [],
    "route": [_STEP],
    "route_label": "RevOps",
    "policy_version": 2,
    "before": _terms(20, "24000.00"),
    "after": _terms(30, "36000.00"),
    "delta": _DELTA,
}

AMENDMENT_PENDING: dict[str, Any] = {
    "id": 3,
    "opportunity": 7,
    "kind": "change",
    "status": "pending",
    "reason": "The order form says 30 seats.",
    "changes": {"amount": "36000.0000"},
    "line_items": [{"seats": 30, "product": 1, "unit_price": "1200.00"}],
    "requested_by": 1,
    "requested_at": "2025-03-03T09:41:17.203118Z",
    "route": [_STEP],
    "policy_version": 2,
    "step_index": 0,
    "current_step": _STEP,
    "step_decisions": [],
    "before": _terms(20, "24000.00"),
    "after": _terms(30, "36000.00"),
    "delta": _DELTA,
    "decided_by": None,
    "decided_at": None,
    "decision_reason": "",
    "applied_version": None,
    "decisions": [],
}
AMENDMENT_APPROVED: dict[str, Any] = {
    **AMENDMENT_PENDING,
    "status": "approved",
    "current_step": None,
    "step_decisions": [
        {
            "step_index": 0,
            "group": "RevOps",
            "decision": "approved",
            "decided_by": 3,
            "decided_at": "2025-03-03T14:02:55.918034Z",
            "comment": "",
            "policy_version": 2,
        }
    ],
    "decided_by": 3,
    "decided_at": "2025-03-03T14:02:55.918034Z",
    "applied_version": 7,
    "decisions": [
        {
            "step": 0,
            "decision": "approved",
            "actor": 3,
            "source": "api",
            "reason": "",
            "from_version": 6,
            "to_version": 7,
            "at": "2025-03-03T14:02:55.918034Z",
        }
    ],
}


def _one(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


_PENDING_ELSEWHERE = problem_example(
    "Another one pending",
    errors.AmendmentPending("Deal 7 already has a pending amendment (3): decide it first."),
    instance="/api/v1/opportunities/7/amendments/",
)
_GATE_FAILED = problem_example(
    "Proposed values fail the gate",
    errors.GateFailed(
        "1 requirement not met by the proposed values.",
        errors=[
            {
                "code": "contract_or_po_required",
                "field": "contract_id",
                "message": "Add a contract ID or a PO number.",
            }
        ],
    ),
    instance="/api/v1/opportunities/7/amendments/",
)

OPPORTUNITY_AMENDMENTS_LIST = [
    BodyExample(
        "The deal's amendments",
        page("/api/v1/opportunities/7/amendments/", AMENDMENT_APPROVED, last=True),
    )
]
CREATE = [*REQUESTS, _one("Requested", AMENDMENT_PENDING, 201), _PENDING_ELSEWHERE, _GATE_FAILED]
DRY_RUN_EXAMPLES = [*REQUESTS, _one("Would pass", DRY_RUN)]
LIST = [BodyExample("Pending amendments", page("/api/v1/amendments/", AMENDMENT_PENDING))]
RETRIEVE = [_one("An approved amendment", AMENDMENT_APPROVED)]
DECIDE = [
    _one("Approved and applied", AMENDMENT_APPROVED),
    problem_example(
        "Decided already",
        errors.AlreadyDecided("This amendment is approved already."),
        instance="/api/v1/amendments/3/transitions/approve/",
    ),
    problem_example(
        "Own request",
        errors.SelfApprovalForbidden(
            "You requested this amendment or own the deal: another member must approve it."
        ),
        instance="/api/v1/amendments/3/transitions/approve/",
    ),
]
