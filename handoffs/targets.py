"""Who receives an event and with which secrets: the environment's endpoint rows, the
active subscribers of an event type, the signing secrets live now, and each endpoint's
health after a send. The outbox (``handoffs.services``) reads these; the RevOps writes to
endpoints (``handoffs.endpoints``) sit above the outbox and never below it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Q

from .models import HandoffKind, WebhookEndpoint

# last_success_at of a healthy endpoint is at most this many seconds old.
SUCCESS_RECORD_INTERVAL = 60


def environment_endpoints_ensure() -> dict[str, WebhookEndpoint]:
    """Upsert the endpoint row of each ``HANDOFF_<KIND>_URL`` variable (idempotent).

    Called after every ``migrate`` (and after a test flush) and by the relay's caller
    when a row is missing, so ``make run`` and existing deployments need no new step.
    The row holds no URL or secret: those are read from the settings at each send. It
    subscribes to its kind's handoff and to that handoff's corrections (``.amended``,
    ``.cancelled``): the system that received a booking hears of every change to it.
    """
    found = {e.environment_kind: e for e in WebhookEndpoint.objects.exclude(environment_kind="")}
    for kind in HandoffKind.values:
        wanted = environment_event_types(kind)
        if kind not in found:
            found[kind], _ = WebhookEndpoint.objects.get_or_create(
                environment_kind=kind,
                defaults={
                    "description": f"HANDOFF_{kind.upper()}_URL (environment)",
                    "event_types": wanted,
                },
            )
        elif found[kind].event_types != wanted:
            # Operator-defined: RevOps cannot edit these types, so an upgrade sets them.
            found[kind].event_types = wanted
            found[kind].save(update_fields=["event_types", "updated_at"])
    return found


def environment_event_types(kind: str) -> list[str]:
    """What the ``HANDOFF_<KIND>_URL`` endpoint receives: the booking's handoff and its
    corrections."""
    return [f"handoff.{kind}", f"handoff.{kind}.amended", f"handoff.{kind}.cancelled"]


def environment_target(kind: str) -> tuple[str, str]:
    """(url, secret) of ``HANDOFF_<KIND>_URL`` / ``_SECRET``; "" where unset."""
    endpoint = settings.HANDOFF_ENDPOINTS.get(kind) or {}
    return endpoint.get("url", ""), endpoint.get("secret", "")


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The secrets that sign a request now, newest first (uses a prefetched
    ``endpoint.secrets`` when there is one)."""
    if endpoint.environment_kind:
        secret = environment_target(endpoint.environment_kind)[1]
        return [secret] if secret else []
    rows = sorted(endpoint.secrets.all(), key=lambda s: (s.created_at, s.pk), reverse=True)
    return [s.secret for s in rows if s.expires_at is None or s.expires_at > now]


def active_endpoints() -> list[WebhookEndpoint]:
    """The active endpoints, oldest first (one query); the environment's rows are upserted
    first if a flush or an operator removed them, so ``HANDOFF_<KIND>_URL`` always has its
    row before anything is written for it."""
    active = list(WebhookEndpoint.objects.filter(active=True).order_by("created_at", "pk"))
    if (
        not any(e.environment_kind for e in active)
        and not WebhookEndpoint.objects.exclude(environment_kind="").exists()
    ):
        environment_endpoints_ensure()
        active = list(WebhookEndpoint.objects.filter(active=True).order_by("created_at", "pk"))
    return active


def subscribers(
    event_type: str, active: list[WebhookEndpoint] | None = None
) -> list[WebhookEndpoint]:
    """The active endpoints subscribed to ``event_type``, oldest first. ``active``: the
    result of :func:`active_endpoints` when the caller routes several event types (a
    handful of rows: filtered here, which works on every database)."""
    rows = active_endpoints() if active is None else active
    return [e for e in rows if event_type in (e.event_types or [])]


def endpoints_record_results(
    *,
    succeeded: Iterable[Any],
    failed: dict[Any, str],
    now: dt.datetime,
    loaded: dict[Any, WebhookEndpoint] | None = None,
) -> None:
    """Keep each endpoint's health: a success ends its run of failures; a failure starts
    one (``failing_since``) unless one is running. Called with the batch's results (pks).

    ``loaded``: the endpoints as the caller read them in this transaction's claim, by pk.
    A success on one of them that is healthy and was recorded less than
    ``SUCCESS_RECORD_INTERVAL`` seconds ago writes nothing at all (not even an UPDATE
    that matches no row)."""
    ok = set(succeeded)
    stale = now - dt.timedelta(seconds=SUCCESS_RECORD_INTERVAL)
    loaded = loaded or {}

    def due(pk: Any) -> bool:
        endpoint = loaded.get(pk)
        return (
            endpoint is None
            or endpoint.failing_since is not None
            or endpoint.last_success_at is None
            or endpoint.last_success_at < stale
        )

    recorded = [pk for pk in ok if due(pk)]
    if recorded:
        # Only rows that need it: a healthy endpoint's success is recorded at most once a
        # minute, so busy workers do not queue on the same endpoint row's lock.
        WebhookEndpoint.objects.filter(pk__in=recorded).filter(
            Q(failing_since__isnull=False)
            | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=stale)
        ).update(failing_since=None, last_success_at=now)
    for pk, error in failed.items():
        if pk in ok:
            continue
        WebhookEndpoint.objects.filter(pk=pk, failing_since__isnull=True).update(failing_since=now)
        WebhookEndpoint.objects.filter(pk=pk).update(last_failure_at=now, last_error=error[:1000])


def revops_recipients() -> list[str]:
    """Where RevOps notices go: settings.REVOPS_NOTIFY_EMAILS, else the e-mail of every
    RevOps member (``opportunities.policies.members_of``: whoever may decide RevOps'
    step), sorted, each once."""
    if settings.REVOPS_NOTIFY_EMAILS:
        return list(settings.REVOPS_NOTIFY_EMAILS)
    from opportunities.policies import REVOPS_GROUP, members_of

    return sorted(set(members_of(REVOPS_GROUP).exclude(email="").values_list("email", flat=True)))
