"""Writing and purging change-feed events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.db import bound_parameters

from . import registry
from .models import Event


def retention() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "EVENTS_RETENTION_DAYS", 30)))


def _current_xid() -> Any:
    if connection.vendor == "postgresql":
        # xid8, epoch-extended: never wraps around, so it orders transactions for good.
        return RawSQL("pg_current_xact_id()::text::bigint", [])
    return 0


def event_record(*, instance: Model, change: str, actor: Any = None) -> Event:
    """Record that ``instance`` changed (``change``: ``created``, ``updated``,
    ``stage_changed``, ``approved``…). Call it inside the transaction that writes the
    change, after the write: the event commits or rolls back with it.

    ``data`` is the instance serialised by the function registered for its model
    (:mod:`events.registry`); ``version`` is the instance's ``version`` when it has one.
    Raises ``LookupError`` for a model that is not registered and
    ``TransactionManagementError`` outside a transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "event_record() must run inside the transaction of the change it records."
        )
    entry = registry.entry_for(type(instance))
    user = actor if actor is not None and getattr(actor, "pk", None) else None
    data = dict(entry.serialize(instance))  # may read (e.g. line items): outside the block
    with bound_parameters():
        event = Event.objects.create(
            type=f"{entry.name}.{change}",
            object=entry.name,
            object_id=instance.pk,
            version=getattr(instance, "version", None),
            actor=user,
            data=data,
            xid=_current_xid(),
        )
    return event


def events_record_many(*, instances: list[Model], change: str, actor: Any = None) -> list[Event]:
    """:func:`event_record` for many instances of one model in one INSERT (a bulk import):
    the same rows, ``data`` serialised by the same registered function (prefetch what it
    reads first). Same errors as :func:`event_record`."""
    if not instances:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "events_record_many() must run inside the transaction of the changes it records."
        )
    entry = registry.entry_for(type(instances[0]))
    user = actor if actor is not None and getattr(actor, "pk", None) else None
    xid = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            xid = cursor.fetchone()[0]
    return Event.objects.bulk_create(
        [
            Event(
                type=f"{entry.name}.{change}",
                object=entry.name,
                object_id=instance.pk,
                version=getattr(instance, "version", None),
                actor=user,
                data=data,
                xid=xid,
            )
            for instance, data in zip(instances, entry.serialize_all(instances), strict=True)
        ]
    )


def events_purge(*, now: dt.datetime | None = None) -> int:
    """Delete events older than ``EVENTS_RETENTION_DAYS``; returns how many. A cursor
    naming a purged event is then answered 410 ``cursor_expired``."""
    cutoff = (now or timezone.now()) - retention()
    deleted, _ = Event.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted
