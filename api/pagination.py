"""Cursor pagination for every list: ``?cursor=&limit=``, ``{"results", "next", "previous"}``.

Pages are cut by position, not by offset: the cursor holds the sort values of the row a
page ends at, and the next page starts strictly after it, in the list's order with the
primary key as the last tie-breaker. A row added, changed or removed while a client pages
moves no other row across a page boundary, so nothing is skipped and nothing repeats
(a row whose sort value changes moves to its new place and shows up there). No COUNT is
run. Cursors are signed (opaque, tamper-evident) and bound to the ordering they came from.

A ``limit`` or ``cursor`` that is not valid is a 400 (``invalid``), never silently
replaced: a sync client that asked for 500 rows learns it gets 200 at most.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db.models import F, Q, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.parsing import ascii_int

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SALT = "api.pagination.cursor"


def _int_param(request: Any, name: str, *, minimum: int, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = ascii_int(raw, max_digits=12)
    if value is None:
        text = raw.strip()
        if text.startswith("-") and ascii_int(text[1:], max_digits=12) is not None:
            value = -1  # a negative whole number: out of range, said so below
        else:
            raise ValidationError({name: ["A whole number is required."]}, code="invalid")
    if not minimum <= value <= maximum:
        raise ValidationError({name: [f"Must be between {minimum} and {maximum}."]}, code="invalid")
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _value(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        if obj is None:
            return None
        obj = obj.pk if part == "pk" else getattr(obj, part)
    if hasattr(obj, "pk"):
        return obj.pk
    return obj


def _after(keys: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in the order ``keys`` (name, descending). NULLs sort
    last ascending and first descending, as in PostgreSQL, on every database."""
    condition = Q(pk__in=[])  # false
    for index in range(len(keys) - 1, -1, -1):
        name, desc = keys[index]
        value = values[index]
        if value is None:
            beyond = Q(**{f"{name}__isnull": False}) if desc else Q(pk__in=[])
            equal = Q(**{f"{name}__isnull": True})
        else:
            beyond = Q(**{f"{name}__lt" if desc else f"{name}__gt": value})
            if not desc:
                beyond |= Q(**{f"{name}__isnull": True})
            equal = Q(**{name: value})
        condition = beyond | (equal & condition) if index < len(keys) - 1 else beyond
    return condition


def _leading_bound(
    queryset: QuerySet[Any], keys: list[tuple[str, bool]], values: list[Any], backwards: bool
) -> Q | None:
    """The first sort key's inclusive range implied by :func:`_after` (``updated_at <= v``
    for the rows after ``v`` in descending order), or None. The OR chain alone is not a
    range an index can start at, so the database would read the index from the top and
    filter every row before the cursor; with this bound a deep page costs what the first
    does. Only for a non-null column of the model itself, where the bound is exact."""
    name, desc = keys[0]
    value = values[0]
    if value is None or "__" in name:
        return None
    try:
        field = queryset.model._meta.get_field(name)
    except Exception:
        return None
    if getattr(field, "null", True):
        return None
    upper = desc != backwards
    return Q(**{f"{name}__lte" if upper else f"{name}__gte": value})


class CursorPagination(pagination.BasePagination):
    cursor_query_param = "cursor"
    limit_query_param = "limit"
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def _ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> list[str]:
        for backend in getattr(view, "filter_backends", None) or ():
            if hasattr(backend, "get_ordering"):
                return list(backend().get_ordering(request, queryset, view))
        ordering = [str(o) for o in (queryset.query.order_by or queryset.model._meta.ordering)]
        if not any(o.lstrip("-") in ("id", "pk") for o in ordering):
            last = ordering[-1] if ordering else "id"
            ordering.append("-id" if last.startswith("-") else "id")
        return ordering

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        self.request = request
        self.limit = (
            _int_param(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
            or self.default_limit
        )
        ordering = self._ordering(request, queryset, view)
        self.ordering = ordering
        keys = [
            ("id" if o.lstrip("-") == "pk" else o.lstrip("-"), o.startswith("-")) for o in ordering
        ]
        self.keys = keys
        backwards, position = False, None
        raw = request.query_params.get(self.cursor_query_param)
        if raw is not None:
            try:
                payload = signing.loads(raw, salt=_SALT)
                backwards, ordering_seen, position = payload["b"], payload["o"], payload["p"]
                valid = (
                    ordering_seen == ordering
                    and isinstance(position, list)
                    and len(position) == len(keys)
                )
            except (signing.BadSignature, KeyError, TypeError, ValueError):
                valid = False
            if not valid:
                raise ValidationError(
                    {
                        self.cursor_query_param: [
                            "Use a `next` or `previous` link as given, with the same ordering."
                        ]
                    },
                    code="invalid",
                )
        order_by = [
            (F(name).asc(nulls_last=True) if not desc else F(name).desc(nulls_first=True))
            if name != "id"
            else (F(name).desc() if desc else F(name).asc())
            for name, desc in keys
        ]
        if backwards:
            order_by = [
                (F(name).desc(nulls_first=True) if not desc else F(name).asc(nulls_last=True))
                if name != "id"
                else (F(name).asc() if desc else F(name).desc())
                for name, desc in keys
            ]
        qs = queryset.order_by(*order_by)
        if position is not None:
            bound = _leading_bound(queryset, keys, position, backwards)
            if bound is not None:
                qs = qs.filter(bound)
            condition = _after(keys, position)
            qs = qs.exclude(condition) if backwards else qs.filter(condition)
            if backwards:
                # Strictly before: neither after the row nor the row itself.
                qs = qs.exclude(id=position[-1])
        rows = list(qs[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        if backwards:
            rows.reverse()
        self.has_next = more if not backwards else True
        self.has_previous = (position is not None) if not backwards else more
        self.rows = rows
        return rows

    def _link(self, row: Any, backwards: bool) -> str:
        position = [_encode(_value(row, name)) for name, _desc in self.keys]
        token = signing.dumps({"b": backwards, "o": self.ordering, "p": position}, salt=_SALT)
        params = self.request.query_params.copy()
        params[self.cursor_query_param] = token
        url = self.request.build_absolute_uri(self.request.path)
        return f"{url}?{urlencode(sorted(params.lists()), doseq=True)}"

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link(self.rows[-1], backwards=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.rows:
            return None
        return self._link(self.rows[0], backwards=True)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("results", data),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                ]
            )
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page: {DEFAULT_LIMIT} by default, at most {MAX_LIMIT}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page; null on the last one.",
                },
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The page before; null on the first one.",
                },
            },
        }
