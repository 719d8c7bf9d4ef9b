"""Beat tasks of approvals: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="approvals.sla")
def sla_sweep() -> dict[str, int]:
    """Reminders past the SLA and escalations at twice the SLA (``services.sla_sweep``)."""
    return services.sla_sweep()
