"""Serializer fields whose schema states exactly what they accept."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "1250.00"}
)
class MoneyField(serializers.DecimalField):
    """Money: a decimal **string**, never negative, at most 12 digits before the point and
    2 after (``"1250.00"``, ``"0.5"``). Exponents, signs, spaces and JSON numbers are 400
    ``invalid`` — the schema's pattern is the whole rule."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=14, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not _MONEY_RE.match(data):
            raise serializers.ValidationError(
                'Use a decimal string such as "1250.00": digits, at most 2 decimals, no sign.',
                code="invalid",
            )
        return super().to_internal_value(data)
