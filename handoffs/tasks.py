"""Celery tasks: each takes an id and calls a service.

Retry policy lives on the Handoff row (``next_attempt_at``), not here: a task never
sleeps or counts down, and losing one only delays delivery until the relay runs.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs: Any) -> None:
    """Keep the worker's database connection between tasks (settings.CELERY_DB_REUSE_MAX)
    but drop it when it is too old or broken, exactly as Django does around a request.

    Here rather than in closedwon/celery.py only because handoffs is the hot path; it
    applies to every task of the worker."""
    close_old_connections()


@worker_process_init.connect
def _warm_up_sending(**kwargs: Any) -> None:
    """Each worker process builds its HTTP client and TLS context as it starts, not in the
    middle of its first approval's handoffs."""
    from . import delivery

    delivery.warm_up()


@shared_task(name="handoffs.deliver_many", ignore_result=True)
def deliver_many(handoff_ids: list[str], claim_token: str | None = None) -> None:
    """What :func:`services.handoffs_enqueue` publishes: up to HANDOFF_TASK_BATCH ids."""
    if isinstance(handoff_ids, str):  # a hand-made message with one id
        handoff_ids = [handoff_ids]
    from . import services  # the service imports this module at its top

    services.handoffs_deliver(handoff_ids=handoff_ids, claim_token=claim_token)


@shared_task(name="handoffs.relay", ignore_result=True)
def relay() -> None:
    from . import services

    services.handoffs_relay()


@shared_task(name="handoffs.endpoints_health", ignore_result=True)
def endpoints_health() -> None:
    from . import endpoints

    endpoints.webhook_endpoints_check_health()


@shared_task(name="handoffs.sla_check", ignore_result=True)
def sla_check() -> None:
    from . import sla

    sla.handoffs_notify_overdue()
