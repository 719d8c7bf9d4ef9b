"""One row per change to a synced object, written in the transaction that made the change."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.fields import JSONDocumentField


class Event(models.Model):
    """A committed change as a sync client sees it.

    ``xid`` is the PostgreSQL id of the writing transaction (``pg_current_xact_id()``), 0
    on SQLite. The feed is ordered by ``(xid, id)`` and serves only events of transactions
    older than every transaction still running, so once an event is served nothing can
    later appear before it.
    """

    type = models.CharField(
        max_length=64, help_text="`<object>.<change>`, e.g. `opportunity.updated`."
    )
    object = models.CharField(
        max_length=32, help_text="`account`, `contact`, `product`, `opportunity`."
    )
    object_id = models.BigIntegerField()
    version = models.IntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = JSONDocumentField(encoder=DjangoJSONEncoder)
    xid = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["xid", "id"], name="event_feed_order"),
            models.Index(fields=["occurred_at"], name="event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object}:{self.object_id}"
