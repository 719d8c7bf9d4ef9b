"""Handoff completion SLAs: each kind should be confirmed ``completed`` downstream within
``settings.HANDOFF_SLA_HOURS[kind]`` hours of the approval; past that it is overdue, and
RevOps are told once per overdue handoff (through the e-mail outbox).

A skipped handoff (no endpoint for its kind) is not tracked, and one confirmation per
(approval, kind) closes the kind for every endpoint (see ``OpenHandoff``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Handoff, HandoffKind, OpenHandoff
from .services import email_enqueue
from .targets import revops_recipients

logger = logging.getLogger(__name__)


def sla_hours(kind: str) -> float:
    return float(settings.HANDOFF_SLA_HOURS.get(kind, 24))


def due_at(handoff: Handoff) -> dt.datetime:
    """When ``handoff`` should be completed by."""
    return handoff.created_at + dt.timedelta(hours=sla_hours(handoff.kind))


def overdue_q(now: dt.datetime) -> Q:
    """Rows created before their kind's SLA window ends at ``now``."""
    q = Q(pk__in=[])
    for kind in HandoffKind.values:
        q |= Q(kind=kind, created_at__lt=now - dt.timedelta(hours=sla_hours(kind)))
    return q


def open_handoffs(*, kind: str | None = None) -> QuerySet[OpenHandoff]:
    """Won deals not yet billed / provisioned / onboarded / credited: handoffs not
    confirmed downstream, oldest first, with deal and account joined."""
    qs = OpenHandoff.objects.select_related(
        "opportunity", "opportunity__account", "opportunity__owner", "endpoint"
    ).order_by("created_at", "kind")
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def overdue_handoffs(*, now: dt.datetime | None = None) -> QuerySet[OpenHandoff]:
    return open_handoffs().filter(overdue_q(now or timezone.now()))


def handoffs_notify_overdue(*, now: dt.datetime | None = None) -> list[Handoff]:
    """E-mail RevOps about each overdue handoff not yet reported (one message per
    handoff, ever: ``sla_notified_at`` is set in the same transaction as the e-mail row,
    and the e-mail's dedupe key is the handoff id). Beat runs it every 15 minutes."""

    now = now or timezone.now()
    notified: list[Handoff] = []
    with transaction.atomic():
        rows = list(
            overdue_handoffs(now=now)
            .filter(sla_notified_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))[:200]
        )
        recipients = revops_recipients() if rows else []
        for handoff in rows:
            opportunity = handoff.opportunity
            name = opportunity.name if opportunity else "a deal"
            late = now - due_at(handoff)
            email_enqueue(
                to=recipients,
                subject=f"Overdue {handoff.get_kind_display().lower()} handoff: {name}",
                body=(
                    f"The {handoff.get_kind_display().lower()} handoff of {name} was not "
                    f"confirmed within {sla_hours(handoff.kind):g} h of the approval "
                    f"({handoff.created_at:%Y-%m-%d %H:%M} UTC); it is "
                    f"{late.total_seconds() / 3600:.1f} h late and {handoff.status}.\n"
                    f"Last error: {handoff.last_error or '(none)'}\n\n"
                    "See Handoffs → Won deals not yet billed / provisioned / onboarded / "
                    "credited in the admin."
                ),
                opportunity=opportunity,
                topic="handoff_overdue",
                dedupe_key=f"handoff-overdue:{handoff.pk}",
            )
            notified.append(handoff)
        if notified:
            Handoff.outbox.filter(pk__in=[h.pk for h in notified]).update(sla_notified_at=now)
    if notified:
        logger.info("Told RevOps about %d overdue handoff(s).", len(notified))
    return notified
