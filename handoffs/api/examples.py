"""Every OpenAPI example of the handoff and webhook resources, in one place.

Deal 7 (Initech, 20 TPS report seats, owner Alice, user 1) was approved by RevOps Rita
(user 3): billing got its handoff, and the ERP endpoint subscribed to ``deal.won``.
Values are what the API answers (payloads as ``handoffs/payloads.py`` renders them).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page, problem_example
from core import errors

from ..errors import UrlNotAllowed

_ALICE = {
    "id": 1,
    "name": "Alice Archer",
    "email": "alice@initech-sales.example",
    "username": "alice",
}
_RITA = {"id": 3, "name": "Rita Reyes", "email": "rita@initech-sales.example", "username": "rita"}
_CONTACT = {
    "id": 1,
    "email": "bill@initech.example",
    "phone": "+1 512 555 0142",
    "title": "VP Finance",
    "last_name": "Lumbergh",
    "first_name": "Bill",
}
_BILLING_ID = "41933e71-be1b-4edb-859a-d3b571c05a99"
BILLING_PAYLOAD: dict[str, Any] = {
    "id": _BILLING_ID,
    "type": "handoff.billing",
    "version": 1,
    "created_at": "2025-01-31T16:20:05.117209+00:00",
    "data": {
        "owner": _ALICE,
        "account": {
            "id": 1,
            "name": "Initech",
            "domain": "initech.example",
            "external_id": None,
            "billing_country": "US",
        },
        "billing": {
            "amount": "24000.00",
            "currency": "USD",
            "bill_to": _CONTACT,
            "documents": [
                {
                    "id": 4,
                    "url": "/documents/signed/eyJkIjo0LCJlIjoxNzM4OTQ1MjA1fQ:1tdRk8:"
                    "zUUS974CEZTILsBxfpB2r6TIgloyHfJhgtVL8s_dlMY/",
                    "kind": "signed_contract",
                    "name": "Initech order form - signed.pdf",
                    "size": 48211,
                    "sha256": "5a9ca9b7e54dcd88b9baf8eb8af3e0b793041f4a63bc5396f2eefe96905648f0",
                    "content_type": "application/pdf",
                }
            ],
            "po_number": "PO-4471",
            "contract_id": "INI-2025-001",
            "term_months": 12,
            "billing_country": "US",
            "contract_start_date": "2025-02-01",
        },
        "approval": {
            "id": 5,
            "approved_at": "2025-01-31T16:20:05.117209+00:00",
            "approved_by": _RITA,
            "submitted_at": "2025-01-31T10:02:47.530466+00:00",
            "submitted_by": _ALICE,
        },
        "line_items": [
            {"sku": "TPS-SEAT", "name": "TPS report seat", "seats": 20, "unit_price": "1200.00"}
        ],
        "opportunity": {
            "id": 7,
            "name": "Initech — TPS rollout",
            "type": "new_business",
            "stage": "closed_won",
            "amount": "24000.00",
            "currency": "USD",
            "closed_at": "2025-01-31T16:20:05.118520+00:00",
            "po_number": "PO-4471",
            "reporting": {"rate": "1", "amount": "24000.00", "currency": "USD"},
            "close_date": "2025-01-31",
            "contract_id": "INI-2025-001",
            "term_months": 12,
            "contract_start_date": "2025-02-01",
        },
        "primary_contact": _CONTACT,
    },
}

HANDOFF_DELIVERED: dict[str, Any] = {
    "id": _BILLING_ID,
    "opportunity": 7,
    "approval": 5,
    "kind": "billing",
    "status": "delivered",
    "attempts": 1,
    "next_attempt_at": None,
    "last_status_code": 202,
    "last_error": "",
    "delivered_at": "2025-01-31T16:20:06.402551Z",
    "completed_at": None,
    "completed_by": None,
    "external_ref": "",
    "retried_by": None,
    "retried_at": None,
    "payload": BILLING_PAYLOAD,
    "created_at": "2025-01-31T16:20:05.117209Z",
    "updated_at": "2025-01-31T16:20:06.402913Z",
}
HANDOFF_COMPLETED: dict[str, Any] = {
    **HANDOFF_DELIVERED,
    "status": "completed",
    "completed_at": "2025-02-01T08:15:40.771204Z",
    "completed_by": 3,
    "external_ref": "INV-2025-0193",
    "updated_at": "2025-02-01T08:15:40.771530Z",
}
HANDOFF_RETRIED: dict[str, Any] = {
    **HANDOFF_DELIVERED,
    "status": "pending",
    "attempts": 5,
    "next_attempt_at": "2025-01-31T18:02:11.504220Z",
    "last_status_code": 503,
    "last_error": "HTTP 503 from the receiver",
    "delivered_at": None,
    "retried_by": 3,
    "retried_at": "2025-01-31T18:02:11.504220Z",
    "updated_at": "2025-01-31T18:02:11.504871Z",
}

_ENDPOINT_ID = "9dbcc359-3a3b-40a9-8bd3-784c2530b516"
ENDPOINT: dict[str, Any] = {
    "id": _ENDPOINT_ID,
    "url": "https://erp.initech.example/hooks/closedwon",
    "description": "ERP: won deals and amendments",
    "event_types": ["deal.won", "deal.amended"],
    "active": True,
    "managed_by": "api",
    "failing_since": None,
    "last_success_at": "2025-01-31T16:20:06.398112Z",
    "last_failure_at": None,
    "last_error": "",
    "disabled_at": None,
    "disabled_reason": "",
    "created_at": "2025-01-10T13:45:00.200731Z",
    "updated_at": "2025-01-31T16:20:06.398540Z",
}
ENDPOINT_NEW: dict[str, Any] = {
    **ENDPOINT,
    "last_success_at": None,
    "updated_at": "2025-01-10T13:45:00.200731Z",
    "secret": "whsec_Q2xvc2VkV29uRXhhbXBsZVNlY3JldDEyMzQ=",
}
ENDPOINT_ROTATED: dict[str, Any] = {
    **ENDPOINT,
    "updated_at": "2025-02-03T09:00:12.004431Z",
    "secret": "whsec_TmV3U2VjcmV0Rm9yVGhlRVJQZW5kcG9pbnQ=",
}
ENDPOINT_PAUSED: dict[str, Any] = {
    **ENDPOINT,
    "active": False,
    "updated_at": "2025-02-03T09:05:40.118202Z",
}

DELIVERY: dict[str, Any] = {
    "id": "0b8f6c1e-2f3a-4d5b-9c7e-8a1b2c3d4e5f",
    "event_type": "deal.won",
    "event_id": "7c1d9e2a-4b3f-4a6e-8d5c-2f1e0a9b8c7d",
    "endpoint": _ENDPOINT_ID,
    "opportunity": 7,
    "kind": "billing",
    "status": "delivered",
    "attempts": 2,
    "next_attempt_at": None,
    "last_status_code": 200,
    "last_error": "",
    "delivered_at": "2025-01-31T16:21:06.811730Z",
    "completed_at": None,
    "retried_at": None,
    "payload": {
        "id": "7c1d9e2a-4b3f-4a6e-8d5c-2f1e0a9b8c7d",
        "type": "deal.won",
        "version": 1,
        "created_at": "2025-01-31T16:20:05.117209+00:00",
        "data": BILLING_PAYLOAD["data"],
    },
    "created_at": "2025-01-31T16:20:05.117209Z",
    "updated_at": "2025-01-31T16:21:06.812004Z",
    "attempt_rows": [
        {
            "number": 1,
            "at": "2025-01-31T16:20:05.902118Z",
            "outcome": "failed",
            "status_code": 503,
            "duration_ms": 412,
            "error": "HTTP 503",
            "response_excerpt": "Service Unavailable",
            "retry_after_s": 60,
        },
        {
            "number": 2,
            "at": "2025-01-31T16:21:06.399402Z",
            "outcome": "delivered",
            "status_code": 200,
            "duration_ms": 188,
            "error": "",
            "response_excerpt": '{"ok": true}',
            "retry_after_s": None,
        },
    ],
}


def _one(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


def _not_now(name: str, detail: str, instance: str) -> OpenApiExample:
    return problem_example(name, errors.TransitionNotAllowed(detail), instance=instance)


HANDOFF_LIST = [BodyExample("A page of handoffs", page("/api/v1/handoffs/", HANDOFF_DELIVERED))]
HANDOFF_RETRY = [
    _one("Queued again", HANDOFF_RETRIED),
    _not_now(
        "Not failing",
        "Only a retrying or dead handoff can be retried; this one is delivered.",
        f"/api/v1/handoffs/{_BILLING_ID}/retry/",
    ),
]
HANDOFF_COMPLETE = [
    OpenApiExample("Invoice raised", request_only=True, value={"external_ref": "INV-2025-0193"}),
    _one("Completed", HANDOFF_COMPLETED),
    _not_now(
        "Not delivered yet",
        "Only a delivered handoff can be completed; this one is pending.",
        f"/api/v1/handoffs/{_BILLING_ID}/complete/",
    ),
]

ENDPOINT_LIST = [
    BodyExample("The endpoints", page("/api/v1/webhook-endpoints/", ENDPOINT, last=True))
]
ENDPOINT_CREATE = [
    OpenApiExample(
        "ERP subscription",
        request_only=True,
        value={
            "url": "https://erp.initech.example/hooks/closedwon",
            "description": "ERP: won deals and amendments",
            "event_types": ["deal.won", "deal.amended"],
        },
    ),
    _one("Created, with its secret (shown once)", ENDPOINT_NEW, 201),
    problem_example(
        "Private address",
        UrlNotAllowed.on(
            "url", "The host resolves to a private address (10.0.0.12).", code="invalid"
        ),
        instance="/api/v1/webhook-endpoints/",
    ),
]
ENDPOINT_RETRIEVE = [_one("The endpoint", ENDPOINT)]
ENDPOINT_UPDATE = [
    OpenApiExample("Pause it", request_only=True, value={"active": False}),
    _one("Paused", ENDPOINT_PAUSED),
]
ENDPOINT_ROTATE = [_one("The new secret (shown once)", ENDPOINT_ROTATED)]
ENDPOINT_REPLAY = [
    OpenApiExample("Since Monday", request_only=True, value={"since": "2025-01-27T00:00:00Z"}),
    _one(
        "Two deliveries sent again",
        {
            "replayed": 2,
            "ids": ["0b8f6c1e-2f3a-4d5b-9c7e-8a1b2c3d4e5f", "5e2a7c90-13d4-4b8a-a6f1-9d0c2b3e4f51"],
        },
        202,
    ),
]
DELIVERY_LIST = [BodyExample("A page of deliveries", page("/api/v1/webhook-deliveries/", DELIVERY))]
