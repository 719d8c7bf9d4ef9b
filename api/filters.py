"""Filter pieces every list endpoint shares.

Strict by design: a filter or ordering value the API does not understand is a 400
(``invalid``), never silently ignored — a sync client with a typo must not believe it got
a filtered list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from core.parsing import ascii_int

MAX_ID = 2**63 - 1


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with an empty value (``?status=``) is a 400 unless the filter is
    free text: an empty enum, id, date or boolean is not "no filter", it is a mistake."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if not self.is_bound:
            return valid
        for name, flt in self.filters.items():
            if isinstance(flt, django_filters.CharFilter):
                continue
            keys = (
                [f"{name}_after", f"{name}_before"]
                if isinstance(flt, django_filters.DateFromToRangeFilter)
                else [name]
            )
            for key in keys:
                if key in self.data and "" in self.data.getlist(key):
                    self.form.add_error(name, f"{key}: give a value or leave the parameter out.")
                    valid = False
        return valid


class _StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.BooleanFilter):
    """``true`` / ``false``; anything else is a 400 (django-filter's ignores it)."""

    field_class = _StrictBooleanField


class _IdField(forms.IntegerField):
    """ASCII digits only: Django's ``IntegerField`` reads ``20.00`` as 20 and ``٣`` as 3,
    which a filter typed ``integer`` must refuse, not match."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        number = ascii_int(
            value if isinstance(value, str) else str(value), max_digits=len(str(MAX_ID)) + 1
        )
        if number is None:
            raise forms.ValidationError("Enter an id: digits only, such as 42.", code="invalid")
        return number


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """An id: a whole number in ASCII digits (``1.5``, ``20.00``, ``+3``, ``٣`` or ``abc``
    is a 400, not a silently rounded match)."""

    field_class = _IdField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def _aware_utc(value: dt.datetime, name: str) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValidationError({name: ["This date-time is out of range."]}) from None


class UpdatedSinceFilter(django_filters.IsoDateTimeFilter):
    """``updated_since=<ISO 8601 date-time>``: rows changed at or after that instant.

    Not a sync mechanism: ``updated_at`` is stamped at save, not at commit, so a slow
    write can commit behind a client's watermark. The change feed replaces it for sync."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("field_name", "updated_at")
        kwargs.setdefault("lookup_expr", "gte")
        kwargs.setdefault(
            "help_text",
            "Only rows changed at or after this ISO 8601 date-time (e.g. 2025-01-31T12:00:00Z). "
            "A convenience: to sync, follow the change feed (`GET /api/v1/events/`).",
        )
        super().__init__(**kwargs)

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in (None, ""):
            return qs
        return super().filter(qs, _aware_utc(value, "updated_since"))


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=field`` or ``-field`` from the view's ``ordering_fields``; the primary key
    is always the last tie-breaker, so the order is total and cursor pages never overlap."""

    def get_ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> Sequence[str]:
        raw = request.query_params.get(self.ordering_param)
        allowed = set(getattr(view, "ordering_fields", ()))
        if raw is not None:
            fields = [part.strip() for part in raw.split(",") if part.strip()]
            bad = [f for f in fields if f.lstrip("-") not in allowed]
            if bad or not fields:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Order by one of: {', '.join(sorted(allowed))} (prefix - to reverse)."
                        ]
                    }
                )
            ordering = fields
        else:
            ordering = list(self.get_default_ordering(view) or queryset.query.order_by or ())
            if not ordering:
                ordering = list(queryset.model._meta.ordering or ())
        if not any(f.lstrip("-") in ("id", "pk") for f in ordering):
            last = ordering[-1] if ordering else "id"
            ordering = [*ordering, "-id" if last.startswith("-") else "id"]
        return ordering

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        return queryset.order_by(*self.get_ordering(request, queryset, view))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = sorted(getattr(view, "ordering_fields", ()))
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by this field; prefix with `-` for descending.",
                "schema": {
                    "type": "string",
                    "enum": [value for f in fields for value in (f, f"-{f}")],
                },
            }
        ]
