"""Every OpenAPI example of the exchange-rate resources, in one place (USD reports)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page

RATE: dict[str, Any] = {
    "id": 3,
    "currency": "EUR",
    "rate": "1.085000000000",
    "valid_from": "2025-01-01",
    "created_by": 3,
    "created_at": "2024-12-31T17:02:55.607268Z",
}
OLDER: dict[str, Any] = {
    **RATE,
    "id": 1,
    "rate": "1.102300000000",
    "valid_from": "2024-10-01",
    "created_at": "2024-09-30T16:44:10.318802Z",
}

LIST = [BodyExample("EUR, newest first", page("/api/v1/exchange-rates/", RATE, OLDER))]
CREATE = [
    OpenApiExample(
        "EUR from New Year",
        request_only=True,
        value={"currency": "EUR", "rate": "1.085", "valid_from": "2025-01-01"},
    ),
    OpenApiExample("Added", value=RATE, response_only=True, status_codes=["201"]),
]
