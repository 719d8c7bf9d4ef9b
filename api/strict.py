"""Strict JSON input: a value of the wrong JSON type, a read-only field or an unknown field
is a 400 naming the field, never coerced or ignored.

DRF is lenient by default: ``{"name": 12345}`` becomes ``"12345"``, ``{"amount": 1.5}``
becomes ``Decimal("1.5")`` (a binary float for money), ``"true"`` a boolean, ``"7"`` an id,
and keys it does not know are dropped. A client with a bug then believes its write
happened. :class:`StrictInputMixin` checks the raw JSON types first:

* strings (text, choices, dates, decimals: money is a decimal **string**) must be JSON
  strings; integers and ids JSON integers (not ``true``, not ``1.5``, not ``"7"``);
  booleans JSON booleans; lists lists; objects objects — else ``invalid``;
* a key the resource shows but clients cannot write (``version``, ``probability``…) is
  ``read_only_field``; any other unknown key ``unknown_field``;
* text holds no control characters (Unicode category Cc): ``invalid``; the free-text
  fields named in :data:`MULTILINE_NAMES` may hold tabs and line breaks;
* a date is ``YYYY-MM-DD`` (ISO 8601 calendar date, ASCII digits) and a real day:
  ``2026-02-30`` is ``invalid`` with "not a day on the calendar", ``30/01/2026``,
  ``20260130`` or ``2026-1-30`` with "write it YYYY-MM-DD".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

_STRING_FIELDS = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,
    serializers.UUIDField,
)


# Free-text fields where a tab or a line break is part of what people write.
MULTILINE_NAMES = frozenset({"reason", "loss_detail", "comment", "description", "next_step"})
_MULTILINE_OK = frozenset("\t\n\r")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` holds a control character (Cc: C0, DEL, C1), tabs and line
    breaks excepted when ``multiline``."""
    return any(
        (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and not (multiline and c in _MULTILINE_OK)
        for c in value
    )


def _text_error(name: str, field: serializers.Field, value: Any) -> str | None:
    if not isinstance(value, str) or not isinstance(field, serializers.CharField):
        return None
    if isinstance(field, serializers.ChoiceField):
        return None
    if has_control_characters(value, multiline=name in MULTILINE_NAMES):
        return (
            "Remove the control characters (tabs, line breaks or invisible codes) from this value."
        )
    return None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _date_error(field: serializers.Field, value: Any) -> str | None:
    # DRF's own message for both is "Date has wrong format", even for a well-written
    # 2026-02-30, and it also takes 20260130 and 2026-1-30.
    if not isinstance(field, serializers.DateField) or not isinstance(value, str):
        return None
    if not _ISO_DATE.fullmatch(value):
        return "Write the date as YYYY-MM-DD, such as 2026-12-31."
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return f"{value} is not a day on the calendar."
    return None


def _type_error(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` has the wrong JSON type for ``field`` (None when it is right)."""
    if value is None:
        return None  # allow_null is the field's own business
    if isinstance(field, serializers.ManyRelatedField):
        return None if isinstance(value, list) else "Must be a list of ids."
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        pk_field = getattr(field, "pk_field", None)
        if pk_field is None or isinstance(pk_field, serializers.IntegerField):
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else "Must be an integer id."
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Must be a whole number (a JSON integer)."
    if isinstance(field, serializers.DecimalField):
        return None if isinstance(value, str) else 'Must be a decimal string, e.g. "1250.00".'
    if isinstance(field, _STRING_FIELDS):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        return None if isinstance(value, list) else "Must be a list."
    if isinstance(field, serializers.Serializer):
        return None if isinstance(value, Mapping) else "Must be an object."
    return None


class StrictInputMixin:
    """Mix into an input serializer (before ``serializers.Serializer``).

    ``read_only_names``: keys the resource shows but a client may not send here."""

    read_only_names: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        dates: dict[str, list[Any]] = {}
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[Any]] = {}
            for key, value in data.items():
                field = fields.get(key)
                if field is None or field.read_only:
                    if key in self.read_only_names or (field is not None and field.read_only):
                        errors[str(key)] = [
                            serializers.ErrorDetail(
                                "This field is read-only; leave it out.", code="read_only_field"
                            )
                        ]
                    else:
                        errors[str(key)] = [
                            serializers.ErrorDetail(
                                "Unknown field; leave it out.", code="unknown_field"
                            )
                        ]
                    continue
                message = _type_error(field, value) or _text_error(str(key), field, value)
                if message is not None:
                    errors[str(key)] = [serializers.ErrorDetail(message, code="invalid")]
                elif (date_message := _date_error(field, value)) is not None:
                    dates[str(key)] = [serializers.ErrorDetail(date_message, code="invalid")]
            if errors:
                raise ValidationError({**errors, **dates})
        # A badly written date is reported with every other field's error, in place of
        # DRF's own message for it (or alone, for the forms DRF would have taken).
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except ValidationError as exc:
            if dates and isinstance(exc.detail, dict):
                raise ValidationError({**exc.detail, **dates}) from None
            raise
        if dates:
            raise ValidationError(dates)
        return value
