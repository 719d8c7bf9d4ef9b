"""Every write to webhook endpoints: create, change, delete, rotate the secret, replay,
health. The admin and the API are thin callers; RevOps only.

Rules:

* A secret is ``whsec_`` + 24 random bytes in base64 (the Standard Webhooks format),
  generated here and shown once (in the answer to create or rotate).
* Rotating keeps the previous secrets valid for ``settings.WEBHOOK_SECRET_OVERLAP``
  seconds (24 h): until then every request carries one signature per live secret
  (Standard Webhooks allows several, space-separated), so a receiver holding either the
  old or the new secret verifies it.
* A URL entered by RevOps passes :func:`handoffs.urlguard.url_problem` at save
  (``url_not_allowed``) and again at each send.
* The endpoints of the ``HANDOFF_<KIND>_URL`` variables are defined by the operator:
  their URL, secret and event type are not editable here, and they cannot be deleted
  (RevOps can deactivate them).
* An endpoint whose deliveries have failed without a single success for
  ``settings.WEBHOOK_DISABLE_AFTER_DAYS`` days is deactivated and RevOps are e-mailed.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets as random
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import errors

from .errors import UrlNotAllowed
from .events import EVENT_TYPES
from .models import (
    Handoff,
    HandoffStatus,
    WebhookEndpoint,
    WebhookSecret,
)
from .services import email_enqueue, outbox_requeue
from .targets import revops_recipients
from .urlguard import url_problem

logger = logging.getLogger(__name__)

MANAGE_PERM = "handoffs.change_webhookendpoint"
ADD_PERM = "handoffs.add_webhookendpoint"
DELETE_PERM = "handoffs.delete_webhookendpoint"
ROTATE_PERM = "handoffs.rotate_webhookendpoint"
REPLAY_PERM = "handoffs.replay_webhookendpoint"
# Statuses a replay sends again; a completed handoff was confirmed downstream and stays.
REPLAYABLE_STATUSES = (HandoffStatus.DELIVERED, HandoffStatus.RETRYING, HandoffStatus.DEAD)


def new_secret() -> str:
    """A fresh ``whsec_<base64 of 24 random bytes>`` signing secret."""
    return "whsec_" + base64.b64encode(random.token_bytes(24)).decode()


def _require(actor: Any, perm: str) -> None:
    if not (actor and actor.is_authenticated and actor.is_active and actor.has_perm(perm)):
        raise errors.PermissionDenied("Only RevOps can manage webhook endpoints.")


# --- RevOps: create, change, delete, rotate --------------------------------------------


def _clean(
    *, url: str | None, event_types: Iterable[str] | None, description: str | None
) -> dict[str, Any]:
    problems: list[errors.FieldError] = []
    cleaned: dict[str, Any] = {}
    if url is not None:
        url = url.strip()
        max_length = WebhookEndpoint._meta.get_field("url").max_length or 500
        if not url:
            problems.append(errors.FieldError("required", "url", "Give a URL."))
        elif len(url) > max_length:
            problems.append(errors.FieldError("max_length", "url", f"At most {max_length} chars."))
        else:
            problem = url_problem(url)
            if problem:
                raise UrlNotAllowed(problem, errors=[{"field": "url", "message": problem}])
            cleaned["url"] = url
    if event_types is not None:
        types = list(dict.fromkeys(event_types))
        unknown = [t for t in types if t not in EVENT_TYPES]
        if not types or unknown:
            problems.append(
                errors.FieldError(
                    "invalid_choice",
                    "event_types",
                    (
                        f"Unknown event type(s): {', '.join(map(str, unknown))}."
                        if unknown
                        else "Subscribe to at least one event type."
                    ),
                )
            )
        cleaned["event_types"] = types
    if description is not None:
        if len(description) > 200:
            problems.append(errors.FieldError("max_length", "description", "At most 200 chars."))
        cleaned["description"] = description.strip()
    if problems:
        raise errors.InvalidInput(errors=problems)
    return cleaned


def webhook_endpoint_create(
    *,
    actor: Any,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint with a fresh secret; returns it and the secret (shown once).

    Errors: ``permission_denied``; ``url_not_allowed`` (not https outside DEBUG, or a
    private / loopback / link-local address outside WEBHOOK_ALLOWED_NETWORKS);
    ``invalid`` (missing URL, unknown event type).
    """
    _require(actor, ADD_PERM)
    cleaned = _clean(url=url, event_types=event_types, description=description)
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(**cleaned, active=bool(active), created_by=actor)
        WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    return endpoint, secret


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Any,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given. An environment endpoint only takes ``active`` and
    ``description`` (``read_only_field`` otherwise). Re-activating clears the health
    record, so the failure window starts again."""
    _require(actor, MANAGE_PERM)
    if endpoint.environment_kind and (url is not None or event_types is not None):
        raise errors.InvalidInput(
            errors=[
                errors.FieldError(
                    "read_only_field",
                    "url" if url is not None else "event_types",
                    "Set by the HANDOFF_<KIND>_URL variable; change it there.",
                )
            ]
        )
    cleaned = _clean(url=url, event_types=event_types, description=description)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        for name, value in cleaned.items():
            setattr(locked, name, value)
        if active is not None and bool(active) != locked.active:
            locked.active = bool(active)
            if locked.active:
                locked.failing_since = None
                locked.disabled_at = None
                locked.disabled_reason = ""
            else:
                locked.disabled_at = timezone.now()
                locked.disabled_reason = f"Deactivated by {actor}."
        locked.save()
    return locked


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Any) -> None:
    """Delete an endpoint; its deliveries stay (without endpoint) and are not sent again.
    An environment endpoint cannot be deleted (``transition_not_allowed``)."""
    _require(actor, DELETE_PERM)
    if endpoint.environment_kind:
        raise errors.TransitionNotAllowed(
            "This endpoint is defined by the environment; deactivate it instead."
        )
    endpoint.delete()


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any) -> str:
    """Add a new secret and let the current ones expire in settings.WEBHOOK_SECRET_OVERLAP
    seconds (24 h); returns the new secret (shown once). Until then every request is
    signed with each live secret. An environment endpoint rotates in its variables
    (``transition_not_allowed``)."""
    _require(actor, ROTATE_PERM)
    if endpoint.environment_kind:
        raise errors.TransitionNotAllowed(
            "This endpoint's secret is HANDOFF_<KIND>_SECRET: rotate it in the environment."
        )
    now = timezone.now()
    secret = new_secret()
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        expires = now + dt.timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP)
        WebhookSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(
            expires_at=expires
        )
        # A secret already on its way out never outlives the new overlap window.
        WebhookSecret.objects.filter(endpoint=endpoint, expires_at__gt=expires).update(
            expires_at=expires
        )
        WebhookSecret.objects.create(endpoint=endpoint, secret=secret, created_at=now)
    logger.info("Webhook endpoint %s: secret rotated by %s.", endpoint.pk, actor)
    return secret


# --- replay -----------------------------------------------------------------------------


def webhook_endpoint_replay(
    *, endpoint: WebhookEndpoint, actor: Any, since: dt.datetime
) -> list[uuid.UUID]:
    """Send again every delivery of ``endpoint`` created at or after ``since``: delivered,
    retrying or dead ones (a completed handoff was confirmed and stays; one being sent
    right now is left to its sender). Same webhook-ids and payloads, so receivers
    deduplicate. Returns the ids put back in the outbox.

    Errors: ``permission_denied``; ``transition_not_allowed`` for an inactive endpoint.
    """
    _require(actor, REPLAY_PERM)
    if not endpoint.active:
        raise errors.TransitionNotAllowed("Activate the endpoint before replaying to it.")
    now = timezone.now()
    with transaction.atomic():
        rows = Handoff.outbox.select_for_update(skip_locked=True).filter(
            endpoint=endpoint, created_at__gte=since
        )
        ids = outbox_requeue(rows, actor=actor, now=now, statuses=REPLAYABLE_STATUSES)
    logger.info("Webhook endpoint %s: %d deliveries replayed by %s.", endpoint.pk, len(ids), actor)
    return ids


def delivery_replay(*, delivery: Handoff, actor: Any) -> Handoff:
    """Send one delivery again (delivered, retrying or dead), same webhook-id and payload.

    Errors: ``permission_denied``; ``transition_not_allowed`` when it is completed,
    skipped, pending, or being sent right now; ``not_found``.
    """
    _require(actor, REPLAY_PERM)
    now = timezone.now()
    with transaction.atomic():
        try:
            locked = Handoff.outbox.select_for_update().get(pk=delivery.pk)
        except Handoff.DoesNotExist as exc:
            raise errors.NotFound("No such delivery.") from exc
        if locked.status not in REPLAYABLE_STATUSES:
            raise errors.TransitionNotAllowed(
                f"Only a delivered, retrying or dead delivery can be replayed; this one is "
                f"{locked.status}."
            )
        if not outbox_requeue(
            Handoff.outbox.filter(pk=locked.pk), actor=actor, now=now, statuses=REPLAYABLE_STATUSES
        ):
            raise errors.TransitionNotAllowed("This delivery is being sent right now.")
    locked.refresh_from_db()
    return locked


# --- health -----------------------------------------------------------------------------


def webhook_endpoints_check_health(*, now: dt.datetime | None = None) -> list[WebhookEndpoint]:
    """Deactivate every active endpoint failing without a success since at least
    ``settings.WEBHOOK_DISABLE_AFTER_DAYS`` days, and e-mail RevOps (once per disabling,
    through the outbox). Returns the endpoints disabled. Beat runs it hourly."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    disabled = []
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update(skip_locked=True).filter(
            active=True, failing_since__lte=cutoff
        ):
            endpoint.active = False
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"Failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC without a success "
                f"({settings.WEBHOOK_DISABLE_AFTER_DAYS:g} days)."
            )
            endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
            disabled.append(endpoint)
            recipients = revops_recipients()
            name = str(endpoint)
            email_enqueue(
                to=recipients,
                subject=f"Webhook endpoint disabled: {name}",
                body=(
                    f"closedwon disabled the webhook endpoint {name}.\n\n"
                    f"{endpoint.disabled_reason}\n"
                    f"Last error: {endpoint.last_error or '(none recorded)'}\n\n"
                    "Fix the receiver, re-activate the endpoint in the admin (Handoffs → "
                    "Webhook endpoints) and replay its deliveries since it started failing."
                ),
                topic="endpoint_disabled",
                dedupe_key=f"endpoint-disabled:{endpoint.pk}:{now.isoformat()}",
            )
            logger.warning(
                "Webhook endpoint %s disabled: %s", endpoint.pk, endpoint.disabled_reason
            )
    return disabled
