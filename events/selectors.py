"""Reading the change feed."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Max, Q, QuerySet
from django.db.models.expressions import RawSQL

from .models import Event

CURSOR_PREFIX = "ev1:"


class CursorInvalid(ValueError):
    """The cursor is not one the feed issued."""


class CursorExpired(LookupError):
    """The event the cursor names was purged: changes after it may be gone too."""


def cursor_for(event_id: int) -> str:
    """The opaque cursor of an event (pass it back as ``after``)."""
    raw = f"{CURSOR_PREFIX}{event_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_event_id(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorInvalid(cursor) from None
    if not raw.startswith(CURSOR_PREFIX) or not raw[len(CURSOR_PREFIX) :].isdigit():
        raise CursorInvalid(cursor)
    value = int(raw[len(CURSOR_PREFIX) :])
    if not 0 < value < 2**63:
        raise CursorInvalid(cursor)
    return value


@dataclass(frozen=True)
class Page:
    events: list[Event]
    next_cursor: str | None


def _committed() -> QuerySet[Event]:
    """Events every reader can already see and that nothing can ever sort before.

    PostgreSQL: only transactions below the oldest one still running (the snapshot's
    xmin). A later commit has an xid at or above that xmin, so it sorts after everything
    served. SQLite has one writer at a time: everything stored is final.
    """
    qs = Event.objects.all()
    if connection.vendor == "postgresql":
        qs = qs.filter(xid__lt=RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", []))
    return qs


def events_page(
    *,
    after: str | None,
    limit: int,
    types: Sequence[str] = (),
    objects: Sequence[str] = (),
) -> Page:
    """Up to ``limit`` events after the cursor ``after`` (from the start when None), in
    feed order ``(xid, id)``. Raises :class:`CursorInvalid` (400) or
    :class:`CursorExpired` (410)."""
    qs = _committed()
    if after:
        event_id = cursor_event_id(after)
        xid = Event.objects.filter(pk=event_id).values_list("xid", flat=True).first()
        if xid is None:
            # Purging removes the oldest events: a missing one below the newest was purged
            # (with none left, assume so: the client resyncs), one above the newest was never
            # issued by this feed (another database, a typo).
            newest = Event.objects.aggregate(newest=Max("id"))["newest"]
            if newest is not None and event_id > newest:
                raise CursorInvalid(after)
            raise CursorExpired(after)
        qs = qs.filter(Q(xid__gt=xid) | Q(xid=xid, id__gt=event_id))
    if types:
        qs = qs.filter(type__in=list(types))
    if objects:
        qs = qs.filter(object__in=list(objects))
    events = list(qs.order_by("xid", "id")[:limit])
    next_cursor = cursor_for(events[-1].pk) if events else after
    return Page(events=events, next_cursor=next_cursor or None)
