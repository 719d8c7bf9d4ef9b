"""Celery tasks of the opportunities app: thin wrappers that take an id and call a service.
The retry policy lives here."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from . import notifications


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def send_decision_email(stage_change_id: int) -> None:
    """Email the rep that RevOps approved or rejected their deal."""
    notifications.decision_email_send(stage_change_id=stage_change_id)
