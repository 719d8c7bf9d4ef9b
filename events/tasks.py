from __future__ import annotations

from celery import shared_task

from .services import events_purge


@shared_task(name="events.purge", ignore_result=True)
def purge() -> int:
    """Beat task: drop events past their retention."""
    return events_purge()
