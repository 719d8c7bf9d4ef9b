"""API test helpers: clients authenticated with real knox tokens, as integrators are."""

from __future__ import annotations

import json
from typing import Any

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from opportunities.models import Opportunity

PROBLEM = "application/problem+json"


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _instance, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api():
    """``api(user)`` → an APIClient sending ``Authorization: Token <key>``; ``api(None)``
    → anonymous."""
    return client_for


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status`` and ``code``; return it."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = json.loads(response.content)
    assert body["code"] == code, body
    assert body["status"] == status
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors"}
    assert body["type"].endswith(code)
    for item in body["errors"]:
        assert set(item) == {"code", "field", "message"}
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return sorted(e["code"] for e in body["errors"])


def db_state() -> list[tuple[Any, ...]]:
    """A fingerprint of every deal and its line items, to prove a request changed nothing."""
    return [
        (
            o.pk,
            o.version,
            o.stage,
            o.name,
            o.amount,
            tuple(
                o.line_items.order_by("id").values_list("id", "product_id", "seats", "unit_price")
            ),
        )
        for o in Opportunity.objects.order_by("pk")
    ]
