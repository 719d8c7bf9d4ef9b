"""``?limit=&offset=`` pagination: 50 rows by default, at most 200.

Unlike DRF's default, a limit or offset that is not a number, or out of range, is a 400
(``invalid``) instead of being silently replaced: a sync client that asked for 500 rows
should learn it gets 200 at most, not miss rows.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 2**31 - 1


def _int_param(request: Any, name: str, *, minimum: int, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["A whole number is required."]}, code="invalid") from None
    if not minimum <= value <= maximum:
        raise ValidationError(
            {name: [f"Must be between {minimum} and {maximum}."]}, code="out_of_range"
        )
    return value


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Any) -> int:
        value = _int_param(request, self.limit_query_param, minimum=1, maximum=MAX_LIMIT)
        return self.default_limit if value is None else value

    def get_offset(self, request: Any) -> int:
        value = _int_param(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET)
        return 0 if value is None else value

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page: {DEFAULT_LIMIT} by default, at most {MAX_LIMIT}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Rows to skip (limit/offset pagination).",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
