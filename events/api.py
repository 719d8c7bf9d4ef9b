"""``GET /api/v1/events/``: the change feed, the one way to sync."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.examples import problem_example
from api.views import ApiView
from core.parsing import ascii_int

from . import registry, selectors
from .models import Event

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
TYPE_RE = re.compile(r"^[a-z_]{1,32}\.[a-z_]{1,31}$")


class CursorExpiredError(exceptions.APIException):
    status_code = 410
    default_code = "cursor_expired"
    default_detail = (
        "This cursor is older than the oldest event kept: resync every object, then follow "
        "the feed from its start."
    )
    problem_title = "Cursor expired"


class EventSerializer(serializers.ModelSerializer):
    cursor = serializers.SerializerMethodField(
        help_text="Opaque position of this event; pass it as `after` to continue after it."
    )
    # DRF's metaclass pops declared fields, so this does not clash with Serializer.data.
    data = serializers.JSONField(  # type: ignore[assignment]
        help_text="The object as its API endpoint returns it."
    )
    type = serializers.CharField(help_text="`<object>.<change>`, e.g. `opportunity.approved`.")
    object = serializers.CharField(help_text="`account`, `contact`, `product` or `opportunity`.")

    class Meta:
        model = Event
        fields = (
            "id",
            "cursor",
            "type",
            "object",
            "object_id",
            "version",
            "occurred_at",
            "actor",
            "data",
        )
        read_only_fields = fields

    def get_cursor(self, obj: Event) -> str:
        return selectors.cursor_for(obj.pk)


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Pass as `after` next time; null only while the feed is empty.",
    )


def _query_list(request: Request, name: str) -> list[str]:
    """Repeated or comma-separated values; an empty one is kept (and refused)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values += [part.strip() for part in raw.split(",")]
    return values


class EventListView(ApiView):
    """Every change to accounts, contacts, products and deals, oldest first."""

    pagination_class = None
    filter_backends: list[Any] = []
    query_params_allowed = ("after", "limit", "type", "object")
    extra_problem_statuses = (410,)

    @extend_schema(
        operation_id="events_list",
        summary="The change feed",
        description=(
            "Every change to an account, contact, product or deal, in an order that never "
            "changes once served: an event is served only when every change that sorts "
            "before it has committed. Store `next_cursor` and pass it as `after` on the next "
            "call: you see every committed change exactly once, in order. Events are kept "
            "`EVENTS_RETENTION_DAYS` (30) days; an older cursor is 410 `cursor_expired`."
        ),
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.STR,
                description="The `next_cursor` of your last call; omit to start at the "
                "oldest event kept.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"Events per call: {DEFAULT_LIMIT} by default, at most {MAX_LIMIT}.",
            ),
            OpenApiParameter(
                "type",
                {"type": "string", "pattern": r"^[a-z_]+\.[a-z_]+$"},
                description="Only these event types (repeat or comma-separate), "
                "e.g. `opportunity.approved`.",
            ),
            OpenApiParameter(
                "object",
                {"type": "string", "enum": ["account", "contact", "opportunity", "product"]},
                description="Only events of this kind of object.",
            ),
        ],
        responses={200: EventPageSerializer},
        examples=[
            OpenApiExample(
                "A page of the feed",
                response_only=True,
                value={
                    "results": [
                        {
                            "id": 41,
                            "cursor": "ZXYxOjQx",
                            "type": "opportunity.approved",
                            "object": "opportunity",
                            "object_id": 7,
                            "version": 5,
                            "occurred_at": "2025-01-31T10:00:00.262000Z",
                            "actor": 3,
                            "data": {"id": 7, "stage": "closed_won", "version": 5},
                        }
                    ],
                    "next_cursor": "ZXYxOjQx",
                },
            ),
            problem_example("Cursor too old", CursorExpiredError(), instance="/api/v1/events/"),
        ],
        tags=["events"],
    )
    def get(self, request: Request) -> Response:
        errors: dict[str, list[str]] = {}
        after = request.query_params.get("after") or None
        limit = DEFAULT_LIMIT
        raw_limit = request.query_params.get("limit")
        if raw_limit is not None:
            value = ascii_int(raw_limit, max_digits=6)
            if value is None or not 1 <= value <= MAX_LIMIT:
                errors["limit"] = [f"A whole number from 1 to {MAX_LIMIT}."]
            else:
                limit = value
        types = _query_list(request, "type")
        if any(not TYPE_RE.match(t) for t in types):
            errors["type"] = ["An event type such as `opportunity.updated`."]
        objects = _query_list(request, "object")
        known = registry.object_names()
        if any(o not in known for o in objects):
            errors["object"] = [f"One of: {', '.join(known)}."]
        if errors:
            raise exceptions.ValidationError(errors)
        try:
            page = selectors.events_page(after=after, limit=limit, types=types, objects=objects)
        except selectors.CursorInvalid:
            raise exceptions.ValidationError(
                {"after": ["Pass a `next_cursor` this feed returned."]}
            ) from None
        except selectors.CursorExpired:
            raise CursorExpiredError() from None
        return Response(
            {
                "results": EventSerializer(page.events, many=True).data,
                "next_cursor": page.next_cursor,
            }
        )
