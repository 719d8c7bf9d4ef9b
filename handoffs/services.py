"""Every write to the outbox: handoffs, lifecycle events, e-mail and chat messages.
Tasks, the admin and the API are thin callers.

The Handoff table is the outbox (one row per message and destination):

* :func:`handoffs_create_for_approval` writes a row per handoff kind and subscribed
  endpoint, and the commission credit, in the approval's transaction, and publishes
  only after commit; :func:`deliveries_create_for_event` does the same for the
  lifecycle events; :func:`email_enqueue` and :func:`chat_enqueue` for messages to
  people;
* a worker sends a row only while it holds the row's claim (:func:`handoffs_deliver`),
  taken with a conditional UPDATE, so two copies of a task never both POST; one task
  carries an approval's four handoffs and POSTs them at the same time;
* :func:`handoffs_relay` (Celery beat) claims due rows with ``SELECT … FOR UPDATE SKIP
  LOCKED`` and enqueues them, so a lost message, a broker outage or a dead worker only
  delays delivery;
* retries are scheduled in ``next_attempt_at`` (settings.HANDOFF_RETRY_DELAYS), never
  in Celery countdowns.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.db.models.constants import OnConflict
from django.utils import timezone

from core import errors
from core.db import bound_parameters, insert_returning_pks, select_by_pk, update_by_pk
from opportunities.models import Approval, Opportunity
from opportunities.selectors import line_items_loaded

from . import delivery, payloads, targets, urlguard
from .events import EVENT_TYPES, HANDOFF_EVENT_TYPES
from .models import (
    RETRYABLE_STATUSES,
    AttemptOutcome,
    Channel,
    CommissionCredit,
    CommissionPlan,
    Handoff,
    HandoffAttempt,
    HandoffKind,
    HandoffStatus,
    WebhookEndpoint,
    WebhookSecret,
)
from .tasks import deliver_many

logger = logging.getLogger(__name__)

RETRY_PERM = "handoffs.retry_handoff"
COMPLETE_PERM = "handoffs.complete_handoff"
CENT = Decimal("0.01")


# --- creation (inside the approval transaction) -----------------------------------------


def commission_rate_for(rep_id: Any) -> Decimal:
    """The rep's CommissionPlan rate, else settings.COMMISSION_DEFAULT_RATE."""
    rate = (
        CommissionPlan.objects.filter(rep_id=rep_id)
        .order_by()
        .values_list("rate", flat=True)
        .first()
    )
    return rate if rate is not None else Decimal(str(settings.COMMISSION_DEFAULT_RATE))


def commission_credit_amount(amount: Decimal, rate: Decimal) -> Decimal:
    """amount × rate to the cent, half up (how payroll rounds)."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def endpoints_active() -> list[WebhookEndpoint]:
    """The active webhook endpoints, oldest first (``targets.active_endpoints``: one
    query, more only to put back the environment's endpoints if they were removed), for a caller that creates several kinds of rows in one transaction and hands
    them to each (``endpoints=``) instead of each reading them again."""
    return targets.active_endpoints()


def handoffs_create_for_approval(
    *, approval: Approval, endpoints: list[WebhookEndpoint] | None = None
) -> list[Handoff]:
    """Create the handoffs and the commission credit for an approved deal.

    One row per handoff kind and active endpoint subscribed to ``handoff.<kind>`` (the
    ``HANDOFF_<KIND>_URL`` endpoint among them), each with its own webhook-id and frozen
    payload; a kind nobody subscribes to gets one ``skipped`` row, so it is visible.
    ``endpoints``: :func:`targets.active_endpoints` when the caller has read it in the
    same transaction (else it is read here).

    Rule: called by the approve transition inside the approval's transaction, so a
    rolled-back approval leaves no row and sends nothing; the payloads are frozen here;
    the tasks are published only on commit, and a publish failure is logged, never raised
    (the relay delivers those rows).
    """

    opportunity = approval.opportunity
    now = approval.decided_at or timezone.now()
    line_items = line_items_loaded(opportunity)
    booking = opportunity.amount or Decimal("0")
    rate = commission_rate_for(opportunity.owner_id)
    credit = CommissionCredit.objects.create(
        opportunity=opportunity,
        approval=approval,
        rep_id=opportunity.owner_id,
        booking_amount=booking,
        currency=opportunity.currency,
        rate=rate,
        credit_amount=commission_credit_amount(booking, rate),
        created_at=now,
    )
    credit.rep = opportunity.owner
    shared = payloads.shared_data(opportunity=opportunity, approval=approval, line_items=line_items)
    shared_json = payloads.encode_shared(shared)
    active = targets.active_endpoints() if endpoints is None else endpoints
    handoffs = []
    for kind in HandoffKind.values:
        event_type = f"handoff.{kind}"
        event_id = uuid.uuid4()
        receivers: list[WebhookEndpoint | None] = list(targets.subscribers(event_type, active)) or [
            None
        ]
        for endpoint in receivers:
            handoff_id = event_id if endpoint is receivers[0] else uuid.uuid4()
            handoffs.append(
                Handoff(
                    id=handoff_id,
                    approval=approval,
                    opportunity=opportunity,
                    kind=kind,
                    event_type=event_type,
                    event_id=event_id,
                    endpoint=endpoint,
                    status=HandoffStatus.PENDING if endpoint else HandoffStatus.SKIPPED,
                    last_error=""
                    if endpoint
                    else f"No active endpoint subscribes to {event_type}.",
                    payload=payloads.build_payload(
                        handoff_id=handoff_id,
                        kind=kind,
                        created_at=now,
                        shared=shared,
                        approval=approval,
                        credit=credit,
                        shared_json=shared_json,
                    ),
                    next_attempt_at=now if endpoint else None,
                    created_at=now,
                )
            )
    with bound_parameters():
        Handoff.outbox.bulk_create(handoffs)
    for handoff in handoffs:
        # Plain dicts from here on: the encoded text would go stale if a caller changed
        # a payload and saved the row again.
        handoff.payload = dict(handoff.payload)
    _publish_on_commit([h.pk for h in handoffs if h.endpoint_id])
    return handoffs


class _PublishOnCommit:
    """The on-commit publish of the rows one transaction wrote: every outbox write of the
    transaction adds its ids to the same callback, so an approval's handoffs and its
    decision e-mail travel in one Celery message (one task, one claim, one transaction of
    results in the worker) instead of one per service call."""

    __qualname__ = "handoffs_enqueue"  # what Django names in its log if the call fails

    def __init__(self, ids: list[Any]) -> None:
        self.ids = list(ids)

    def __call__(self) -> None:
        handoffs_enqueue(self.ids)


def _publish_on_commit(ids: list[Any]) -> None:
    if not ids:
        return
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        savepoints = set(conn.savepoint_ids)
        for registered_in, callback, _robust in reversed(conn.run_on_commit):
            # Only a callback registered at this very savepoint level: Django drops it with
            # the savepoint if that rolls back, exactly as it would drop ours.
            if isinstance(callback, _PublishOnCommit) and registered_in == savepoints:
                callback.ids.extend(ids)
                return
    transaction.on_commit(_PublishOnCommit(ids), robust=True)


def deliveries_create_for_event(
    *,
    event_type: str,
    data: dict[str, Any],
    opportunity: Opportunity | None = None,
    occurred_at: dt.datetime | None = None,
) -> list[Handoff]:
    """Write one delivery per active endpoint subscribed to ``event_type``, in the
    caller's transaction, and publish them after commit. Returns the rows (none when no
    endpoint subscribes: a lifecycle event nobody listens to leaves no trace here).

    ``event_type``: one of :data:`handoffs.events.EVENT_TYPES` except the four
    ``handoff.<kind>`` ones (those come from :func:`handoffs_create_for_approval`);
    ``ValueError`` otherwise. ``data``: the event's ``data`` object, JSON-serialisable
    (build a ``deal.*`` one with :func:`handoffs.payloads.lifecycle_data`). The payload is
    ``{"id", "type", "version", "created_at", "data"}`` (schemas in docs/handoffs.md);
    every delivery has its own webhook-id and keeps it across retries and replays.

    Rule: call it inside the transaction that makes the change, so a rolled-back change
    sends nothing and a committed one is never lost (the outbox).
    """
    return deliveries_create_for_events(
        event_types=[event_type], data=data, opportunity=opportunity, occurred_at=occurred_at
    )


def deliveries_create_for_events(
    *,
    event_types: Iterable[str],
    data: dict[str, Any],
    opportunity: Opportunity | None = None,
    occurred_at: dt.datetime | None = None,
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[Handoff]:
    """:func:`deliveries_create_for_event` for several event types of the same change
    (``approve``: ``deal.approved`` and ``deal.won``, same ``data``): the subscribed
    endpoints are read once (or taken from ``endpoints``, :func:`targets.active_endpoints`
    read by the caller in the same transaction) and every row is written by one INSERT.
    Each event type gets its own event id, each row its own webhook-id. ``ValueError`` for
    a type that is not a lifecycle event, before anything is written."""
    types = list(event_types)
    for event_type in types:
        if event_type not in EVENT_TYPES or event_type in HANDOFF_EVENT_TYPES:
            raise ValueError(f"not a lifecycle event type: {event_type!r}")
    active = targets.active_endpoints() if endpoints is None else endpoints
    now = occurred_at or timezone.now()
    rows = []
    for event_type in types:
        event_id = uuid.uuid4()
        for endpoint in targets.subscribers(event_type, active):
            row_id = uuid.uuid4()
            rows.append(
                Handoff(
                    id=row_id,
                    opportunity=opportunity,
                    event_type=event_type,
                    event_id=event_id,
                    endpoint=endpoint,
                    payload=payloads.envelope(
                        webhook_id=row_id, event_type=event_type, created_at=now, data=data
                    ),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if not rows:
        return []
    Handoff.outbox.bulk_create(rows)
    _publish_on_commit([r.pk for r in rows])
    return rows


def _message_enqueue(
    *,
    channel: str,
    topic: str,
    dedupe_key: str,
    payload: dict[str, Any],
    opportunity: Opportunity | None,
    skip_reason: str,
) -> Handoff:
    if not dedupe_key:
        raise ValueError("dedupe_key is required")
    now = timezone.now()
    row = Handoff(
        dedupe_key=dedupe_key,
        channel=channel,
        event_type=f"{channel}.{topic}",
        topic=topic,
        opportunity=opportunity,
        payload=payload,
        status=HandoffStatus.SKIPPED if skip_reason else HandoffStatus.PENDING,
        last_error=skip_reason,
        next_attempt_at=None if skip_reason else now,
        created_at=now,
    )
    # One statement, no savepoint (get_or_create costs four): INSERT … ON CONFLICT
    # (dedupe_key) DO UPDATE … RETURNING id answers with the id of the row that holds the
    # key, ours or the earlier one; the no-op update only happens on a repeat.
    # (bulk_create would ignore a returned primary key, hence the queryset's own insert.)
    key = Handoff._meta.get_field("dedupe_key")
    returned = Handoff.outbox._insert(  # type: ignore[attr-defined]
        [row],
        fields=Handoff._meta.concrete_fields,
        returning_fields=[Handoff._meta.pk],
        on_conflict=OnConflict.UPDATE,
        update_fields=[key],
        unique_fields=[key],
    )
    holder = returned[0][0] if returned else None
    if holder is None or str(holder) != str(row.pk):
        return Handoff.outbox.get(dedupe_key=dedupe_key)
    row._state.adding = False
    row._state.db = Handoff.objects.db
    if not skip_reason:
        _publish_on_commit([row.pk])
    return row


def email_enqueue(
    *,
    to: Iterable[str],
    cc: Iterable[str] = (),
    subject: str,
    body: str,
    opportunity: Opportunity | None = None,
    topic: str = "decision",
    dedupe_key: str,
) -> Handoff:
    """Queue an e-mail in the outbox, in the caller's transaction; it is sent after
    commit with Django's e-mail backend by the same claim / attempt / schedule / relay
    machinery as the webhooks (a failed send is retried on HANDOFF_RETRY_DELAYS, then
    ``dead``, and RevOps can re-drive it).

    Idempotent per ``dedupe_key`` (e.g. ``"decision:<stage change id>"``): a second call
    returns the first row and queues nothing. No recipient → a ``skipped`` row.
    Returns the row (``channel="email"``, ``event_type="email.<topic>"``).
    """
    recipients = [a for a in dict.fromkeys(str(x).strip() for x in to) if a]
    copies = [a for a in dict.fromkeys(str(x).strip() for x in cc) if a and a not in recipients]
    return _message_enqueue(
        channel=Channel.EMAIL,
        topic=topic,
        dedupe_key=dedupe_key,
        payload={"to": recipients, "cc": copies, "subject": subject, "body": body},
        opportunity=opportunity,
        skip_reason="" if recipients else "No recipient address.",
    )


def chat_enqueue(
    *,
    text: str,
    url: str | None = None,
    opportunity: Opportunity | None = None,
    topic: str = "approval",
    dedupe_key: str,
) -> Handoff:
    """Queue a chat post: ``POST {"text": text}`` as JSON to a Slack-compatible incoming
    webhook (Slack, Mattermost, Rocket.Chat, Teams workflows). ``url`` defaults to
    settings.CHAT_WEBHOOK_URL (operator-configured, trusted); none → a ``skipped`` row.
    Any other ``url`` (an approver group's) passes ``handoffs.urlguard`` at every send
    (``url_not_allowed`` in the attempt otherwise), like a RevOps webhook endpoint.
    Same outbox, retries and idempotency as :func:`email_enqueue`."""
    target = settings.CHAT_WEBHOOK_URL if url is None else url
    return _message_enqueue(
        channel=Channel.CHAT,
        topic=topic,
        dedupe_key=dedupe_key,
        payload={"url": target, "text": text},
        opportunity=opportunity,
        skip_reason="" if target else "No chat webhook URL (CHAT_WEBHOOK_URL).",
    )


# --- dispatch ------------------------------------------------------------------------------


def handoffs_enqueue(handoff_ids: Iterable[Any], *, claim_token: Any = None) -> int:
    """Publish the delivery tasks; returns how many handoffs were published.

    One task carries up to ``settings.HANDOFF_TASK_BATCH`` rows (default 8: what one
    transaction wrote, e.g. an approval's four handoffs and its decision e-mail, goes out in
    one message and is sent at the same time; 1 gives one task per row). The relay's
    backlog is split the same way across the workers.

    Rule: nothing depends on the broker being up. A publish failure is logged and the
    rest are not tried (each would wait out the same connect timeout): the rows stay in
    the outbox and the relay sends them once the broker is back.
    """
    ids = [str(pk) for pk in handoff_ids]
    size = max(1, settings.HANDOFF_TASK_BATCH)
    kwargs = {"claim_token": str(claim_token)} if claim_token else {}
    published = 0
    try:
        # One producer (one pooled connection) for the whole batch.
        with deliver_many.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                deliver_many.apply_async(
                    args=[batch], kwargs=kwargs, retry=False, producer=producer
                )
                published += len(batch)
    except Exception:
        logger.warning(
            "Could not publish %d handoff task(s); the outbox relay will send them.",
            len(ids) - published,
            exc_info=True,
        )
        if claim_token:
            # Give the unpublished rows back now rather than after the dispatch lease.
            Handoff.outbox.filter(pk__in=ids[published:], claim_token=claim_token).update(
                claim_token=None, claimed_until=None
            )
    return published


@contextmanager
def _bookkeeping() -> Iterator[None]:
    """A transaction for claims and attempt results.

    On PostgreSQL it commits without waiting for the WAL flush (``synchronous_commit``
    off, this transaction only): visibility to other workers is immediate as always, and
    what a database crash could lose — a claim or a "delivered" mark from the last
    moments — only means the handoff is sent again with the same webhook-id, which
    downstream de-duplicates. It saves a disk flush on every send.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _unclaimed(now: dt.datetime) -> Q:
    # The relay's form of the rule; :func:`_claim` writes the same condition in SQL.
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def handoffs_relay(*, limit: int | None = None) -> list[str]:
    """Claim due, unclaimed handoffs and enqueue them (Celery beat, every
    HANDOFF_RELAY_INTERVAL seconds). A pending row is due HANDOFF_RELAY_GRACE after it was
    written (its on-commit message goes first); a retrying one at its next_attempt_at.

    Rule: the outbox drains even when on-commit messages were lost. Rows are taken with
    ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; two relays never take the same row)
    and stamped with a dispatch claim that expires, so a message lost again is re-sent
    later. On SQLite the IMMEDIATE transaction serializes writers and the conditional
    UPDATE re-checks that each row is still claimable.
    """
    now = timezone.now()
    token = uuid.uuid4()
    grace = dt.timedelta(seconds=settings.HANDOFF_RELAY_GRACE)
    due = (
        # A new row's on-commit message gets HANDOFF_RELAY_GRACE to arrive first.
        Q(status=HandoffStatus.PENDING, next_attempt_at__lte=now - grace)
        | Q(status=HandoffStatus.RETRYING, next_attempt_at__lte=now)
    ) & _unclaimed(now)
    with transaction.atomic():
        candidates = list(
            Handoff.outbox.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[: limit or settings.HANDOFF_RELAY_BATCH]
        )
        if not candidates:
            return []
        Handoff.outbox.filter(pk__in=candidates).filter(due).update(
            claim_token=token,
            claimed_until=now + dt.timedelta(seconds=settings.HANDOFF_DISPATCH_LEASE),
            updated_at=now,
        )
        claimed = [
            str(pk)
            for pk in Handoff.outbox.filter(pk__in=candidates, claim_token=token).values_list(
                "pk", flat=True
            )
        ]
    if claimed:
        logger.info("Relay enqueues %d due handoff(s).", len(claimed))
        handoffs_enqueue(claimed, claim_token=token)
    return claimed


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """Where a claimed row goes, resolved inside the claim's transaction so that the
    sending threads touch no database."""

    url: str = ""
    secrets: tuple[str, ...] = ()
    trusted: bool = True
    skip: str = ""  # why it is skipped (no endpoint configured)
    stop: str = ""  # why it cannot be sent at all (dead at once)
    problem: str = ""  # why this try fails (retried on the schedule)


def _target(row: Handoff, now: dt.datetime) -> _Target:

    if row.channel == Channel.EMAIL:
        return _Target(url="mailto:" + ",".join(row.payload.get("to") or []))
    if row.channel == Channel.CHAT:
        url = str(row.payload.get("url") or "")
        # Only the operator's CHAT_WEBHOOK_URL is trusted; an approver group's URL was
        # typed by RevOps, so the address guard runs on it at every send.
        trusted = bool(url) and url == settings.CHAT_WEBHOOK_URL
        return _Target(
            url=url,
            trusted=trusted,
            skip="" if url else "No chat webhook URL (CHAT_WEBHOOK_URL).",
        )
    endpoint = row.endpoint
    if endpoint is None:
        return _Target(stop="The endpoint was deleted.")
    if not endpoint.active:
        return _Target(url=endpoint.url, stop="The endpoint is disabled.")
    secrets = tuple(targets.signing_secrets(endpoint, now))
    if endpoint.environment_kind:
        name = f"HANDOFF_{endpoint.environment_kind.upper()}"
        url = targets.environment_target(endpoint.environment_kind)[0]
        if not url:
            return _Target(skip=f"No endpoint configured ({name}_URL).")
        if not secrets:
            # Never send unsigned: downstream could not tell us from anyone else.
            return _Target(url=url, problem=f"No signing secret configured ({name}_SECRET).")
        return _Target(url=url, secrets=secrets)
    if not secrets:
        return _Target(url=endpoint.url, problem="The endpoint has no live signing secret.")
    return _Target(url=endpoint.url, secrets=secrets, trusted=False)


def _attach_live_secrets(handoffs: list[Handoff], now: dt.datetime) -> None:
    """Prefetch the unexpired secrets of the endpoints that sign with stored ones (an
    environment endpoint's secret is a setting): one query, none when no row needs it.
    Unordered: :func:`targets.signing_secrets` puts them newest first itself."""
    endpoints = [
        h.endpoint for h in handoffs if h.endpoint is not None and not h.endpoint.environment_kind
    ]
    if endpoints:
        prefetch_related_objects(
            endpoints,
            Prefetch(
                "secrets",
                queryset=WebhookSecret.objects.filter(
                    Q(expires_at__isnull=True) | Q(expires_at__gt=now)
                ).order_by(),
            ),
        )


def _claim(handoff_ids: list[uuid.UUID], claim_token: Any) -> list[tuple[Handoff, HandoffAttempt]]:
    """Take the sendable ones of ``handoff_ids`` (one conditional ``UPDATE … RETURNING``)
    and write an in-flight attempt row for each, in one short transaction committed before
    any POST.

    Written without the query compiler (``core.db``): the worker runs these statements for
    every approval, and building them with the ORM cost more CPU than running them."""
    now = timezone.now()
    token = uuid.uuid4()
    # Sendable: pending, or retrying and due. With the relay's token the rows were
    # reserved for this very message; without one, anyone may take them unless someone
    # holds a live claim.
    sendable = "status = %s OR (status = %s AND next_attempt_at <= %s)"
    where_values: list[tuple[str, Any]] = [
        ("status", HandoffStatus.PENDING),
        ("status", HandoffStatus.RETRYING),
        ("next_attempt_at", now),
    ]
    if claim_token:
        mine = "claim_token = %s"
        where_values.append(("claim_token", claim_token))
    else:
        mine = "claimed_until IS NULL OR claimed_until < %s"
        where_values.append(("claimed_until", now))
    with _bookkeeping():
        taken = update_by_pk(
            Handoff,
            handoff_ids,
            {
                "claim_token": token,
                "claimed_until": now + dt.timedelta(seconds=settings.HANDOFF_CLAIM_LEASE),
                "updated_at": now,
            },
            increment=["attempts"],
            where=f"({sendable}) AND ({mine})",
            where_values=where_values,
            returning=True,
        )
        if not taken:
            return []
        order = {pk: index for index, pk in enumerate(handoff_ids)}
        handoffs: list[Handoff] = sorted(taken, key=lambda h: order[h.pk])
        endpoints = select_by_pk(
            WebhookEndpoint, list({h.endpoint_id for h in handoffs if h.endpoint_id})
        )
        for handoff in handoffs:
            handoff.endpoint = endpoints.get(handoff.endpoint_id)  # type: ignore[assignment]
        _attach_live_secrets(handoffs, now)
        for handoff in handoffs:
            handoff.target = _target(handoff, now)  # type: ignore[attr-defined]
        retried = [h.pk for h in handoffs if h.attempts > 1]
        if retried:
            # We hold the claim, so whoever was still "sending" lost theirs: their worker
            # died mid-POST (the receiver may or may not have got it; same webhook-id).
            HandoffAttempt.objects.filter(
                handoff_id__in=retried, outcome=AttemptOutcome.SENDING
            ).update(
                outcome=AttemptOutcome.INTERRUPTED,
                error="The worker stopped before recording a result.",
            )
        attempts = [
            HandoffAttempt(
                handoff=h,
                number=h.attempts,
                at=now,
                url=h.target.url[:500],  # type: ignore[attr-defined]
            )
            for h in handoffs
        ]
        fields = ("handoff_id", "number", "at", "url", "outcome")
        pks = insert_returning_pks(
            HandoffAttempt, [{name: getattr(a, name) for name in fields} for a in attempts]
        )
        for attempt, pk in zip(attempts, pks, strict=True):
            attempt.pk = pk
            attempt._state.adding = False
    return list(zip(handoffs, attempts, strict=True))


def next_delay(attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones; None: no tries left.

    A downstream Retry-After (429/503) is honoured: we never come back sooner than it
    asks, and never sooner than the schedule says.
    """
    delays = settings.HANDOFF_RETRY_DELAYS
    if attempts > len(delays):
        return None
    delay = float(delays[attempts - 1])
    return max(delay, retry_after) if retry_after is not None else delay


def _send_safely(handoff: Handoff) -> tuple[delivery.DeliveryResult, bool]:
    """:func:`_send`, with any unexpected exception turned into a failed attempt: a thread
    that raised would otherwise lose the recorded results of the whole batch and leave
    this row claimed with its attempt ``sending`` until the lease runs out."""
    try:
        return _send(handoff)
    except Exception as exc:
        logger.exception("Sending %s raised; recorded as a failed attempt.", handoff.pk)
        return delivery.DeliveryResult(
            False, None, 0, f"internal error: {type(exc).__name__}"
        ), False


def _send(handoff: Handoff) -> tuple[delivery.DeliveryResult, bool]:
    """Send one claimed row; returns the result and whether it was skipped (nowhere to
    send). Touches no database, so several run at once in threads."""
    target: _Target = handoff.target  # type: ignore[attr-defined]
    if target.skip:
        return delivery.DeliveryResult(False, None, 0, target.skip), True
    if target.stop:
        return delivery.DeliveryResult(False, None, 0, target.stop, final=True), False
    if target.problem:
        return delivery.DeliveryResult(False, None, 0, target.problem), False
    if handoff.channel == Channel.EMAIL:
        return delivery.send_email(handoff.payload), False
    if not target.trusted:
        # Checked again at every send: the name may resolve elsewhere since the save.
        problem = urlguard.url_problem(target.url)
        if problem:
            return delivery.DeliveryResult(False, None, 0, f"url_not_allowed: {problem}"), False
    if handoff.channel == Channel.CHAT:
        return delivery.post_json(url=target.url, payload={"text": handoff.payload["text"]}), False
    result = delivery.post(
        url=target.url,
        secret=list(target.secrets),
        webhook_id=str(handoff.pk),
        payload=handoff.payload,
        now=timezone.now(),
    )
    return result, False


def _outcome(
    handoff: Handoff,
    attempt: HandoffAttempt,
    result: delivery.DeliveryResult,
    *,
    skipped: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    """Fill in ``attempt`` from ``result``; return the changes for the handoff row (as of
    ``now``: one clock reading per recorded batch, so rows with the same outcome get the
    same changes and are written by one UPDATE)."""
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.error = result.error
    attempt.response_excerpt = result.response_excerpt
    attempt.retry_after_s = int(result.retry_after) if result.retry_after is not None else None
    changes: dict[str, Any] = {
        "last_status_code": result.status_code,
        "claim_token": None,
        "claimed_until": None,
        "updated_at": now,
    }
    if skipped:
        attempt.outcome = AttemptOutcome.SKIPPED
        changes.update(status=HandoffStatus.SKIPPED, next_attempt_at=None, last_error=result.error)
    elif result.ok:
        attempt.outcome = AttemptOutcome.DELIVERED
        changes.update(
            status=HandoffStatus.DELIVERED, delivered_at=now, next_attempt_at=None, last_error=""
        )
    else:
        attempt.outcome = AttemptOutcome.FAILED
        # 410 Gone: the endpoint says it no longer exists (Standard Webhooks / Svix treat it
        # as "stop sending"). Retrying for a day would only hide that; dead is visible in
        # the console, and RevOps re-drive it once the endpoint is fixed.
        gone = result.status_code == 410 or result.final
        delay = None if gone else next_delay(handoff.attempts, result.retry_after)
        if delay is None:
            changes.update(status=HandoffStatus.DEAD, next_attempt_at=None)
        else:
            changes.update(
                status=HandoffStatus.RETRYING,
                next_attempt_at=now + dt.timedelta(seconds=delay),
            )
        changes["last_error"] = result.error
    return changes


# How long a batch waits, after its first answer, for the others before recording: four
# answers from healthy endpoints then cost one transaction instead of four.
RESULT_LINGER = 0.025

# At most this many POSTs of one process at the same time; a larger batch queues for them.
SENDER_THREADS = 32

ATTEMPT_RESULT_FIELDS = [
    "outcome",
    "duration_ms",
    "status_code",
    "error",
    "response_excerpt",
    "retry_after_s",
]


def _save_attempt_results(attempts: list[HandoffAttempt]) -> None:
    """Write the result fields of ``attempts``: on PostgreSQL one ``UPDATE … FROM
    (VALUES …)`` for the batch (bulk_update's CASE per field cost more than the separate
    UPDATEs it replaces), elsewhere one UPDATE per row."""
    if connection.vendor != "postgresql" or len(attempts) < 2:
        for attempt in attempts:
            attempt.save(update_fields=ATTEMPT_RESULT_FIELDS)
        return
    table = connection.ops.quote_name(HandoffAttempt._meta.db_table)
    # Typed placeholders: a NULL in the first row must not make a column "text".
    row = "(%s::bigint, %s::text, %s::integer, %s::integer, %s::text, %s::text, %s::integer)"
    params: list[Any] = []
    for attempt in attempts:
        params += [
            attempt.pk,
            attempt.outcome,
            attempt.duration_ms,
            attempt.status_code,
            attempt.error,
            attempt.response_excerpt,
            attempt.retry_after_s,
        ]
    # Only the table name and placeholders are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} AS a SET outcome = v.outcome, duration_ms = v.duration_ms,"  # noqa: S608
        " status_code = v.status_code, error = v.error,"
        " response_excerpt = v.response_excerpt, retry_after_s = v.retry_after_s"
        f" FROM (VALUES {', '.join([row] * len(attempts))})"
        " AS v(id, outcome, duration_ms, status_code, error, response_excerpt,"
        " retry_after_s) WHERE a.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _apply_changes(done: list[tuple[Handoff, HandoffAttempt, dict[str, Any]]]) -> set[Any]:
    """Apply each row's changes where we still hold its claim; returns the pks applied.
    Rows with the same changes and claim (a healthy batch: all delivered) share one
    UPDATE."""
    groups: dict[tuple[Any, ...], list[Handoff]] = {}
    for handoff, _, changes in done:
        key = (handoff.claim_token, tuple(sorted(changes.items())))
        groups.setdefault(key, []).append(handoff)
    kept: set[Any] = set()
    for (token, items), handoffs in groups.items():
        changes = dict(items)
        pks = [h.pk for h in handoffs]
        applied = update_by_pk(
            Handoff, pks, changes, where="claim_token = %s", where_values=[("claim_token", token)]
        )
        if applied == len(pks):
            kept.update(pks)
        elif applied:
            # Some claim expired mid-POST (rare). Ours are the rows that now carry exactly
            # our stamp: the claim we just released and this batch's updated_at.
            kept.update(
                Handoff.outbox.filter(
                    pk__in=pks, claim_token__isnull=True, updated_at=changes["updated_at"]
                ).values_list("pk", flat=True)
            )
    return kept


def _finish(done: list[tuple[Handoff, HandoffAttempt, dict[str, Any]]]) -> list[Handoff]:
    """Record every result in one transaction; a row whose claim we no longer hold keeps
    the other owner's result (ours stays visible as its attempt row)."""
    with _bookkeeping():
        _save_attempt_results([attempt for _, attempt, _ in done])
        kept = _apply_changes(done)
        now = timezone.now()
        succeeded, failed = [], {}
        for handoff, attempt, _ in done:
            if handoff.endpoint_id is None or attempt.outcome == AttemptOutcome.SKIPPED:
                continue
            if attempt.outcome == AttemptOutcome.DELIVERED:
                succeeded.append(handoff.endpoint_id)
            elif not handoff.target.stop:  # type: ignore[attr-defined]
                failed[handoff.endpoint_id] = attempt.error or f"HTTP {attempt.status_code}"
        if succeeded or failed:
            loaded = {h.endpoint_id: h.endpoint for h, _, _ in done if h.endpoint is not None}
            targets.endpoints_record_results(
                succeeded=succeeded, failed=failed, now=now, loaded=loaded
            )
    finished = []
    for handoff, _, changes in done:
        if handoff.pk in kept:
            for name, value in changes.items():
                setattr(handoff, name, value)
        else:
            # Only if a POST outlived HANDOFF_CLAIM_LEASE: someone else owns the row now.
            logger.warning(
                "Handoff %s: claim expired while sending; result not applied.", handoff.pk
            )
            handoff.refresh_from_db()
        finished.append(handoff)
    return finished


_SENDERS: tuple[int, ThreadPoolExecutor] | None = None
_SENDERS_LOCK = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    """The threads that POST a batch's rows at the same time: one pool per process, kept
    between tasks (starting a thread per row per task cost more CPU than the POST). Threads
    start only as a batch needs them and idle ones are reused; built after a fork, never
    inherited from the parent."""
    global _SENDERS
    with _SENDERS_LOCK:
        if _SENDERS is None or _SENDERS[0] != os.getpid():
            _SENDERS = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=SENDER_THREADS, thread_name_prefix="handoff-send"),
            )
        return _SENDERS[1]


def handoffs_deliver(*, handoff_ids: Iterable[Any], claim_token: Any = None) -> list[Handoff]:
    """Send each of ``handoff_ids`` once, if it is due and nobody else is sending it; the
    POSTs of one batch go out at the same time. Returns the handoffs that were sent (or
    skipped), with their new state.

    Rule: claim before send. The conditional UPDATE takes a row only when it is sendable
    and unclaimed (or reserved for ``claim_token`` by the relay), so of two copies of a
    task exactly one POSTs each handoff. The attempt rows are written before the POSTs and
    completed after them; only a 2xx delivers; failures are rescheduled in
    ``next_attempt_at`` or, past the last delay, marked ``dead``; a kind without an
    endpoint is ``skipped``. Each handoff keeps its own claim, attempts and schedule: a
    batch only shares the round trips.
    """
    ids: list[uuid.UUID] = []
    for raw in handoff_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            logger.warning("Ignoring a malformed handoff id %r.", raw)
    try:
        token = uuid.UUID(str(claim_token)) if claim_token else None
    except ValueError:
        logger.warning("Ignoring a handoff task with a malformed claim token %r.", claim_token)
        return []
    claimed = _claim(list(dict.fromkeys(ids)), token) if ids else []
    if not claimed:
        return []
    finished: dict[uuid.UUID, Handoff] = {}
    pool = _senders()
    pending = {
        pool.submit(_send_safely, handoff): (handoff, attempt) for handoff, attempt in claimed
    }
    while pending:
        # Record whatever has answered as soon as it has: a slow endpoint never holds
        # up the others' results (nor their status in the console). Answers that come
        # within RESULT_LINGER of the first are recorded in the same transaction.
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        if len(done) < len(pending):
            done, _ = wait(pending, timeout=RESULT_LINGER)
        batch = []
        now = timezone.now()
        for future in done:
            handoff, attempt = pending.pop(future)
            result, skipped = future.result()
            batch.append(
                (handoff, attempt, _outcome(handoff, attempt, result, skipped=skipped, now=now))
            )
        for handoff in _finish(batch):
            finished[handoff.pk] = handoff
    return [finished[handoff.pk] for handoff, _ in claimed]


def handoff_deliver(*, handoff_id: Any, claim_token: Any = None) -> Handoff | None:
    """:func:`handoffs_deliver` for one handoff; None when there was nothing to send."""
    sent = handoffs_deliver(handoff_ids=[handoff_id], claim_token=claim_token)
    return sent[0] if sent else None


# --- RevOps and downstream -------------------------------------------------------------------


def _require_perm(actor: Any, perm: str, message: str) -> None:
    if not (actor and actor.is_authenticated and actor.is_active and actor.has_perm(perm)):
        raise errors.PermissionDenied(message)


def outbox_requeue(
    rows: Any, *, actor: Any, now: dt.datetime, statuses: Iterable[str]
) -> list[uuid.UUID]:
    """Put the rows of ``rows`` (a queryset the caller has locked) whose status is in
    ``statuses`` back in the outbox, due now, with the same ids and payloads, and publish
    them after commit; a row a worker is sending right now is left to its sender. Returns
    the ids put back (RevOps' retry and replay both come here)."""
    candidates = list(rows.filter(status__in=list(statuses)).values_list("pk", flat=True))
    sending = set(
        Handoff.outbox.filter(
            pk__in=candidates,
            claimed_until__gt=now,
            attempt_rows__outcome=AttemptOutcome.SENDING,
        ).values_list("pk", flat=True)
    )
    ids = [pk for pk in candidates if pk not in sending]
    if ids:
        Handoff.outbox.filter(pk__in=ids).update(
            status=HandoffStatus.RETRYING,
            next_attempt_at=now,
            claim_token=None,
            claimed_until=None,
            retried_by=actor,
            retried_at=now,
            updated_at=now,
        )
        _publish_on_commit(ids)
    return ids


def handoff_retry(*, handoff: Handoff, actor: Any) -> Handoff:
    """Re-drive a ``retrying`` or ``dead`` handoff now.

    Rule: RevOps only (``handoffs.retry_handoff``); only from retrying or dead
    (``transition_not_allowed`` otherwise, and while a worker is sending it). It pulls the
    next attempt forward: the webhook-id and payload stay the same; a dead handoff gets
    one more attempt and is dead again if that fails.
    """
    _require_perm(actor, RETRY_PERM, "Only RevOps can re-drive handoffs.")
    now = timezone.now()
    with transaction.atomic():
        try:
            locked = Handoff.objects.select_for_update().get(pk=handoff.pk)
        except Handoff.DoesNotExist as exc:
            raise errors.NotFound("No such handoff.") from exc
        if locked.status not in RETRYABLE_STATUSES:
            raise errors.TransitionNotAllowed(
                f"Only a retrying or dead handoff can be re-driven; this one is {locked.status}."
            )
        if not outbox_requeue(
            Handoff.outbox.filter(pk=locked.pk), actor=actor, now=now, statuses=RETRYABLE_STATUSES
        ):
            raise errors.TransitionNotAllowed("This handoff is being sent right now.")
    logger.info("Handoff %s re-driven by %s.", locked.pk, actor)
    locked.refresh_from_db()
    return locked


def handoff_complete(*, handoff: Handoff, actor: Any, external_ref: str) -> Handoff:
    """Downstream confirms it acted on a delivered handoff: ``delivered`` → ``completed``.

    Rule: only a delivered handoff completes (``transition_not_allowed`` otherwise), with
    a non-empty ``external_ref``; repeating the same confirmation is a no-op (downstream
    retries too), a different reference for a completed one is refused. Needs
    ``handoffs.complete_handoff`` (RevOps and integration users).
    """
    _require_perm(actor, COMPLETE_PERM, "You may not confirm handoffs.")
    ref = (external_ref or "").strip()
    field_max = Handoff._meta.get_field("external_ref").max_length or 200
    if not ref or len(ref) > field_max:
        raise errors.InvalidInput(
            errors=[
                errors.FieldError(
                    "required" if not ref else "max_length",
                    "external_ref",
                    "Give your system's reference for this handoff"
                    + ("." if not ref else f" (at most {field_max} characters)."),
                )
            ]
        )
    now = timezone.now()
    with transaction.atomic():
        try:
            locked = Handoff.objects.select_for_update().get(pk=handoff.pk)
        except Handoff.DoesNotExist as exc:
            raise errors.NotFound("No such handoff.") from exc
        if locked.status == HandoffStatus.COMPLETED:
            if locked.external_ref == ref:
                return locked
            raise errors.TransitionNotAllowed(
                "This handoff was already completed with another reference."
            )
        if locked.status != HandoffStatus.DELIVERED:
            raise errors.TransitionNotAllowed(
                f"Only a delivered handoff can be completed; this one is {locked.status}."
            )
        locked.status = HandoffStatus.COMPLETED
        locked.completed_at = now
        locked.completed_by = actor
        locked.external_ref = ref
        locked.save(
            update_fields=["status", "completed_at", "completed_by", "external_ref", "updated_at"]
        )
    return locked
