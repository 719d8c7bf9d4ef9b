"""Every write to handoffs. Tasks, the admin and the API are thin callers.

The Handoff table is the outbox:

* :func:`handoffs_create_for_approval` writes the four rows and the commission credit in
  the approval's transaction and publishes only after commit;
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
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import errors
from opportunities.models import Approval
from opportunities.selectors import line_items_loaded

from . import delivery, payloads
from .models import (
    RETRYABLE_STATUSES,
    AttemptOutcome,
    CommissionCredit,
    CommissionPlan,
    Handoff,
    HandoffAttempt,
    HandoffKind,
    HandoffStatus,
)

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


def handoffs_create_for_approval(*, approval: Approval) -> list[Handoff]:
    """Create the four handoffs and the commission credit for an approved deal.

    Rule: called by ``opportunities.services.opportunity_transition``
    inside the approval's transaction, so a rolled-back approval leaves no row and sends
    nothing; the payloads are frozen here; the tasks are published only on commit, and a
    publish failure is logged, never raised (the relay delivers those rows).
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
    handoffs = []
    for kind in HandoffKind.values:
        handoff_id = uuid.uuid4()
        handoffs.append(
            Handoff(
                id=handoff_id,
                approval=approval,
                opportunity=opportunity,
                kind=kind,
                status=HandoffStatus.PENDING,
                payload=payloads.build_payload(
                    handoff_id=handoff_id,
                    kind=kind,
                    created_at=now,
                    shared=shared,
                    opportunity=opportunity,
                    line_items=line_items,
                    credit=credit,
                ),
                next_attempt_at=now,
                created_at=now,
            )
        )
    Handoff.objects.bulk_create(handoffs)
    transaction.on_commit(partial(handoffs_enqueue, [h.pk for h in handoffs]), robust=True)
    return handoffs


# --- dispatch ------------------------------------------------------------------------------


def handoffs_enqueue(handoff_ids: Iterable[Any], *, claim_token: Any = None) -> int:
    """Publish the delivery tasks; returns how many handoffs were published.

    One task carries up to ``settings.HANDOFF_TASK_BATCH`` handoffs (default 4: one
    approval's four go out in one message and are POSTed at the same time; 1 gives one
    task per handoff). The relay's backlog is split the same way across the workers.

    Rule: nothing depends on the broker being up. A publish failure is logged and the
    rest are not tried (each would wait out the same connect timeout): the rows stay in
    the outbox and the relay sends them once the broker is back.
    """
    from .tasks import deliver_many

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
            Handoff.objects.filter(pk__in=ids[published:], claim_token=claim_token).update(
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
            Handoff.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[: limit or settings.HANDOFF_RELAY_BATCH]
        )
        if not candidates:
            return []
        Handoff.objects.filter(pk__in=candidates).filter(due).update(
            claim_token=token,
            claimed_until=now + dt.timedelta(seconds=settings.HANDOFF_DISPATCH_LEASE),
            updated_at=now,
        )
        claimed = [
            str(pk)
            for pk in Handoff.objects.filter(pk__in=candidates, claim_token=token).values_list(
                "pk", flat=True
            )
        ]
    if claimed:
        logger.info("Relay enqueues %d due handoff(s).", len(claimed))
        handoffs_enqueue(claimed, claim_token=token)
    return claimed


# --- delivery ------------------------------------------------------------------------------


def _endpoint(kind: str) -> tuple[str, str]:
    endpoint = settings.HANDOFF_ENDPOINTS.get(kind) or {}
    return endpoint.get("url", ""), endpoint.get("secret", "")


def _claim(handoff_ids: list[uuid.UUID], claim_token: Any) -> list[tuple[Handoff, HandoffAttempt]]:
    """Take the sendable ones of ``handoff_ids`` (one conditional UPDATE) and write an
    in-flight attempt row for each, in one short transaction committed before any POST."""
    now = timezone.now()
    token = uuid.uuid4()
    sendable = Q(status=HandoffStatus.PENDING) | Q(
        status=HandoffStatus.RETRYING, next_attempt_at__lte=now
    )
    # With the relay's token the rows were reserved for this very message; without one,
    # anyone may take them unless someone holds a live claim.
    mine = Q(claim_token=claim_token) if claim_token else _unclaimed(now)
    with _bookkeeping():
        taken = (
            Handoff.objects.filter(pk__in=handoff_ids)
            .filter(sendable & mine)
            .update(
                claim_token=token,
                claimed_until=now + dt.timedelta(seconds=settings.HANDOFF_CLAIM_LEASE),
                attempts=F("attempts") + 1,
                updated_at=now,
            )
        )
        if not taken:
            return []
        order = {pk: index for index, pk in enumerate(handoff_ids)}
        handoffs = sorted(
            Handoff.objects.filter(pk__in=handoff_ids, claim_token=token),
            key=lambda h: order[h.pk],
        )
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
        attempts = HandoffAttempt.objects.bulk_create(
            [
                HandoffAttempt(handoff=h, number=h.attempts, at=now, url=_endpoint(h.kind)[0][:500])
                for h in handoffs
            ]
        )
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


def _send(handoff: Handoff) -> tuple[delivery.DeliveryResult, bool]:
    """POST one claimed handoff; returns the result and whether it was skipped (no
    endpoint). Touches no database, so several run at once in threads."""
    kind = handoff.kind
    url, secret = _endpoint(kind)
    if not url:
        name = f"HANDOFF_{kind.upper()}_URL"
        return delivery.DeliveryResult(False, None, 0, f"No endpoint configured ({name})."), True
    if not secret:
        # Never send unsigned: downstream could not tell us from anyone else.
        name = f"HANDOFF_{kind.upper()}_SECRET"
        result = delivery.DeliveryResult(False, None, 0, f"No signing secret configured ({name}).")
        return result, False
    result = delivery.post(
        url=url,
        secret=secret,
        webhook_id=str(handoff.pk),
        payload=handoff.payload,
        now=timezone.now(),
    )
    return result, False


def _outcome(
    handoff: Handoff, attempt: HandoffAttempt, result: delivery.DeliveryResult, *, skipped: bool
) -> dict[str, Any]:
    """Fill in ``attempt`` from ``result``; return the changes for the handoff row."""
    now = timezone.now()
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
        gone = result.status_code == 410
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

ATTEMPT_RESULT_FIELDS = [
    "outcome",
    "duration_ms",
    "status_code",
    "error",
    "response_excerpt",
    "retry_after_s",
]


def _finish(done: list[tuple[Handoff, HandoffAttempt, dict[str, Any]]]) -> list[Handoff]:
    """Record every result in one transaction; a row whose claim we no longer hold keeps
    the other owner's result (ours stays visible as its attempt row)."""
    with _bookkeeping():
        for _, attempt, _ in done:  # (bulk_update's CASE costs more than these few rows)
            attempt.save(update_fields=ATTEMPT_RESULT_FIELDS)
        kept = [
            Handoff.objects.filter(pk=handoff.pk, claim_token=handoff.claim_token).update(**changes)
            for handoff, _, changes in done
        ]
    finished = []
    for (handoff, _, changes), applied in zip(done, kept, strict=True):
        if applied:
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
    with ThreadPoolExecutor(max_workers=len(claimed)) as pool:
        pending = {pool.submit(_send, handoff): (handoff, attempt) for handoff, attempt in claimed}
        while pending:
            # Record whatever has answered as soon as it has: a slow endpoint never holds
            # up the others' results (nor their status in the console). Answers that come
            # within RESULT_LINGER of the first are recorded in the same transaction.
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            if len(done) < len(pending):
                done, _ = wait(pending, timeout=RESULT_LINGER)
            batch = []
            for future in done:
                handoff, attempt = pending.pop(future)
                result, skipped = future.result()
                batch.append(
                    (handoff, attempt, _outcome(handoff, attempt, result, skipped=skipped))
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
        if (
            locked.claimed_until
            and locked.claimed_until > now
            and locked.attempt_rows.filter(outcome=AttemptOutcome.SENDING).exists()
        ):
            raise errors.TransitionNotAllowed("This handoff is being sent right now.")
        Handoff.objects.filter(pk=locked.pk).update(
            status=HandoffStatus.RETRYING,
            next_attempt_at=now,
            claim_token=None,
            claimed_until=None,
            retried_by=actor,
            retried_at=now,
            updated_at=now,
        )
        transaction.on_commit(partial(handoffs_enqueue, [locked.pk]), robust=True)
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
                {
                    "code": "required" if not ref else "max_length",
                    "field": "external_ref",
                    "message": "Give your system's reference for this handoff"
                    + ("." if not ref else f" (at most {field_max} characters)."),
                }
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
