"""``Idempotency-Key`` on every POST, with Stripe's semantics.

* The same user sending the same key with the same request (method, path, JSON body)
  within 24 hours gets the first response replayed — status, body and the headers that
  matter (``Content-Type``, ``ETag``, ``Location``) plus ``Idempotent-Replayed: true`` —
  and the work is not done again.
* The same key with a different request: 422 ``idempotency_key_reused``.
* Two requests with one key at the same moment never both run. The key row is reserved
  first, in its own short transaction, against a unique (user, key) constraint: the loser
  of the INSERT sees the winner's row and gets 409 ``concurrent_update`` (retry later to
  get the replay).
* The work and the stored response commit in **one** transaction, so a crash can never
  leave work done without its response (which a retry would then redo). A reservation
  whose request died is taken over after :data:`LOCK_TIMEOUT`; the final write is a
  compare-and-set on ``locked_at``, so if the original request was merely slow, exactly
  one of the two commits and the other rolls back.
* Outcomes worth retrying (429, 5xx, ``concurrent_update``) are not stored: the key is
  released so the client's retry runs for real.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from core import errors

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[\x21-\x7e][\x20-\x7e]{0,254}$"
_KEY_RE = re.compile(KEY_PATTERN)
# Headers of the first response that a replay repeats.
STORED_HEADERS = ("Content-Type", "ETag", "Location", "Last-Modified")
TRANSIENT_CODES = {"concurrent_update", "throttled", "service_unavailable"}


def ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS)


# Longer than any request may run (gunicorn's timeout), so only a dead request's
# reservation is ever taken over.
LOCK_TIMEOUT = dt.timedelta(seconds=120)


class IdempotencyKeyReused(errors.DomainError):
    code = "idempotency_key_reused"
    status = 422
    title = "This Idempotency-Key was already used for a different request"


class KeyInProgress(errors.ConcurrentUpdate):
    title = "A request with this Idempotency-Key is still in progress"


def key_of(request: Any) -> str | None:
    """The request's key, validated; None when the header is absent."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _KEY_RE.match(raw):
        raise errors.InvalidInput(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            errors=[
                {
                    "code": "invalid",
                    "field": HEADER,
                    "message": "Use 1 to 255 printable ASCII characters, e.g. a UUID.",
                }
            ],
        )
    return raw


def fingerprint(request: Any) -> str:
    """Same method, path and JSON body (keys in any order) → same fingerprint."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict
        data = {k: v for k, v in data.lists()}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256()
    for part in (request.method, request.path, body):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass
class Reservation:
    row: IdempotencyKey | None = None
    replay: HttpResponseBase | None = None


def reserve(request: Any, key: str) -> Reservation:
    """Claim ``key`` for this request, or return the replay of the first response.

    Raises ``idempotency_key_reused`` (422) for a different request, ``concurrent_update``
    (409) while the first request is still running.
    """
    user, fp = request.user, fingerprint(request)
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    fingerprint=fp,
                    method=request.method,
                    path=request.path[:2048],
                    created_at=now,
                    locked_at=now,
                )
            return Reservation(row=row)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:  # expired and purged in between: try again
            continue
        if existing.created_at < now - ttl():
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != fp:
            raise IdempotencyKeyReused(
                f"The key {key!r} was first used for {existing.method} {existing.path} with "
                "another body. Use a new key for a new request.",
                errors=[
                    {
                        "code": "idempotency_key_reused",
                        "field": HEADER,
                        "message": "Use a new Idempotency-Key for a different request.",
                    }
                ],
            )
        if not existing.in_progress:
            return Reservation(replay=replay(existing))
        if existing.locked_at is None or existing.locked_at < now - LOCK_TIMEOUT:
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk, locked_at=existing.locked_at, response_status__isnull=True
            ).update(locked_at=now)
            if taken:
                existing.locked_at = now
                return Reservation(row=existing)
            continue
        raise KeyInProgress(
            "The first request with this Idempotency-Key has not finished; retry shortly "
            "to get its response."
        )
    raise KeyInProgress("This Idempotency-Key is being used by another request right now.")


def replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.response_body), status=row.response_status or 200)
    for name, value in (row.response_headers or {}).items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _problem_code(response: HttpResponseBase) -> str | None:
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        code = data.get("code")
        return code if isinstance(code, str) else None
    return None


def complete(row: IdempotencyKey, response: HttpResponseBase) -> None:
    """Store the response for replays, or release the key if the outcome is transient.

    Runs inside the transaction of the work: if the reservation was taken over meanwhile
    (compare-and-set fails), raise so that the work rolls back.
    """
    mine = IdempotencyKey.objects.filter(
        pk=row.pk, locked_at=row.locked_at, response_status__isnull=True
    )
    if (
        response.status_code >= 500
        or response.status_code == 429
        or (_problem_code(response) in TRANSIENT_CODES)
    ):
        mine.delete()
        return
    render: Callable[[], Any] | None = getattr(response, "render", None)
    if render is not None:
        render()
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    updated = mine.update(
        response_status=response.status_code,
        response_headers=headers,
        response_body=bytes(getattr(response, "content", b"")),
        completed_at=timezone.now(),
    )
    if not updated:
        raise KeyInProgress(
            "Another request took over this Idempotency-Key; retry to get its response."
        )


def purge(*, older_than: dt.timedelta | None = None) -> int:
    """Delete keys past their lifetime (replays are promised for 24 hours only)."""
    cutoff = timezone.now() - (older_than or ttl())
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


__all__ = [
    "HEADER",
    "KEY_PATTERN",
    "REPLAYED_HEADER",
    "IdempotencyKeyReused",
    "Reservation",
    "complete",
    "fingerprint",
    "key_of",
    "purge",
    "replay",
    "reserve",
]
