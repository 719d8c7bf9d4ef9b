"""Serializer fields whose schema states exactly what they accept."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MONEY_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "1250.00"}
)
class MoneyField(serializers.DecimalField):
    """Money: a decimal **string**, never negative, at most 14 digits before the point and
    4 after (``"1250.00"``, ``"0.5"``, ``"1000.125"``). Exponents, signs, spaces and JSON
    numbers are 400 ``invalid``. How many decimals a given currency allows (ISO 4217 minor
    units: JPY 0, USD 2, KWD 3) is the domain's rule, also ``invalid`` beyond."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=18, decimal_places=4, min_value=0, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not _MONEY_RE.match(data):
            raise serializers.ValidationError(
                'Use a decimal string such as "1250.00": digits, at most 4 decimals, no sign.',
                code="invalid",
            )
        return super().to_internal_value(data)


class PositiveDecimalStringField(serializers.DecimalField):
    """A decimal **string** above zero with at most ``max_digits - decimal_places`` digits
    before the point and ``decimal_places`` after (exchange rates): the schema's pattern
    states the whole rule, so ``"0"``, ``"-1"``, ``""`` and JSON numbers are 400 ``invalid``."""

    def __init__(self, *, max_digits: int, decimal_places: int, **kwargs: Any) -> None:
        whole = max_digits - decimal_places
        self.pattern = rf"^(?=.*[1-9])[0-9]{{1,{whole}}}(\.[0-9]{{1,{decimal_places}}})?$"
        self._pattern_re = re.compile(self.pattern)
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not self._pattern_re.match(data):
            raise serializers.ValidationError(
                'Use a decimal string above zero such as "1.0825".', code="invalid"
            )
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers. DRF's CharField turns ``42`` into ``"42"``;
    the schema says "string", so a JSON number is a 400 (``invalid``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
