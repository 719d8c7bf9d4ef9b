"""Every OpenAPI example of the approval-policy resources, in one place.

The policy ``seed_demo`` publishes: deals of 100,000 or more go to Finance, line discounts
of 20 % or more to the Deal desk (RevOps approve every Closed-Won request regardless).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page, problem_example

from ..services import UnknownGroup

_NO_CONDITION: dict[str, Any] = {
    "amount_gte": None,
    "max_discount_pct_gte": None,
    "term_months_gt": None,
    "type_in": [],
    "currency_not_reporting": False,
    "billing_country_in": [],
}
POLICY: dict[str, Any] = {
    "id": 4,
    "name": "FY25 approval policy",
    "version": 2,
    "effective_at": "2025-01-02T09:00:00.460397Z",
    "rules": [
        {
            "name": "Large deals need Finance",
            "conditions": {**_NO_CONDITION, "amount_gte": 100000.0},
            "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
        },
        {
            "name": "Deep discounts need the Deal desk",
            "conditions": {**_NO_CONDITION, "max_discount_pct_gte": 20.0},
            "steps": [{"group": "Deal desk", "mode": "any", "count": 1, "sla_hours": 4}],
        },
    ],
}
PREVIOUS: dict[str, Any] = {
    **POLICY,
    "id": 1,
    "name": "Approval policy",
    "version": 1,
    "effective_at": "2024-11-18T15:10:02.118230Z",
    "rules": POLICY["rules"][:1],
}

LIST = [
    BodyExample("Current and past versions", page("/api/v1/approval-policies/", POLICY, PREVIOUS))
]
CREATE = [
    OpenApiExample(
        "Finance and the Deal desk",
        request_only=True,
        value={
            "name": "FY25 approval policy",
            "rules": [
                {
                    "name": "Large deals need Finance",
                    "conditions": {"amount_gte": "100000"},
                    "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
                },
                {
                    "name": "Deep discounts need the Deal desk",
                    "conditions": {"max_discount_pct_gte": "20"},
                    "steps": [{"group": "Deal desk", "mode": "any", "count": 1, "sla_hours": 4}],
                },
            ],
        },
    ),
    OpenApiExample("Saved as version 2", value=POLICY, response_only=True, status_codes=["201"]),
    problem_example(
        "No such group",
        UnknownGroup(
            "A step names a group that does not exist",
            errors=[
                {
                    "code": "unknown_group",
                    "field": "rules[0].steps[0].group",
                    "message": "No such group.",
                }
            ],
        ),
        instance="/api/v1/approval-policies/",
    ),
]
