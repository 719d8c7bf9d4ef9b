"""Signing and sending one webhook: no database here, only HTTP.

Signed per Standard Webhooks with the ``standardwebhooks`` library, so any receiver using
one of its implementations (Python, JS, Go, Ruby, …) verifies it without custom code.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import http.cookiejar
import json
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import certifi
import httpx
from django.conf import settings
from standardwebhooks import Webhook

USER_AGENT = "closedwon-handoffs/1.0"
EXCERPT_CHARS = 500


_BUILD_LOCK = threading.Lock()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds: once per process, not per POST.
    return ssl.create_default_context(cafile=certifi.where())


def _client() -> httpx.Client:
    """The process's client (see :func:`_build_client`). Built under a lock: the first
    batch's sending threads ask for it at the same moment, and each would otherwise load
    the CA bundle itself."""
    with _BUILD_LOCK:
        return _build_client()


def warm_up() -> None:
    """Build the TLS context and the HTTP client now (a worker process calls it when it
    starts), so the first handoff sent does not pay for loading the CA bundle."""
    _client()


@functools.cache
def _build_client() -> httpx.Client:
    """One HTTP client per process, shared by the sending threads (httpx clients are
    thread-safe): building one costs about half a millisecond of CPU, per POST before.

    No keep-alive: every POST opens its own connection and closes it, so a connection the
    receiver closed meanwhile never turns into a spurious failed attempt. No cookies: a
    cookie one receiver sets must never ride along to the next POST. Built lazily, so each
    forked worker process gets its own."""
    return httpx.Client(
        follow_redirects=False,
        verify=_tls_context(),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
        cookies=http.cookiejar.CookieJar(
            policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        ),
    )


@dataclass(frozen=True)
class DeliveryResult:
    """What one POST came to. ``ok`` only for a 2xx answer."""

    ok: bool
    status_code: int | None
    duration_ms: int
    error: str = ""
    response_excerpt: str = ""
    retry_after: float | None = None
    # No point retrying (the endpoint is gone or disabled): dead at once.
    final: bool = False


def encode_body(payload: dict[str, Any]) -> str:
    # Compact and deterministic for a given stored payload: every retry sends the same bytes.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    *, secret: str | list[str], webhook_id: str, body: str, now: dt.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers plus ``Idempotency-Key`` (= webhook-id, stable).

    Several secrets (during a rotation) give several space-separated ``v1,…``
    signatures, which Standard Webhooks verifiers accept when any one matches."""
    keys = [secret] if isinstance(secret, str) else secret
    signature = " ".join(
        Webhook(key).sign(msg_id=webhook_id, timestamp=now, data=body) for key in keys
    )
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "idempotency-key": webhook_id,
    }


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    seconds: float
    # isdigit() alone accepts "²" or "٣", which float() refuses; delta-seconds is ASCII.
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, min(seconds, settings.HANDOFF_MAX_RETRY_AFTER))


def post(
    *,
    url: str,
    secret: str | list[str],
    webhook_id: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> DeliveryResult:
    """POST ``payload`` to ``url`` once, signed with each of ``secret``. Never raises for
    network or HTTP trouble: the caller records every outcome as a HandoffAttempt."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    body = encode_body(payload)
    try:
        headers = signed_headers(secret=secret, webhook_id=webhook_id, body=body, now=now)
    except Exception as exc:  # a malformed secret is a configuration error, not a crash
        return DeliveryResult(False, None, elapsed(), f"cannot sign: {type(exc).__name__}: {exc}")
    return _post(url, body, headers, started, now)


def post_json(*, url: str, payload: dict[str, Any]) -> DeliveryResult:
    """POST ``payload`` as JSON, unsigned (a Slack-compatible incoming webhook: the URL
    itself is the credential)."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    return _post(url, encode_body(payload), headers, time.monotonic(), dt.datetime.now(dt.UTC))


def send_email(message: dict[str, Any]) -> DeliveryResult:
    """Send ``{"to", "cc", "subject", "body"}`` with Django's e-mail backend once; an
    exception (SMTP down, refused recipient) is a failed attempt, never raised."""
    from django.core.mail import EmailMessage

    started = time.monotonic()
    try:
        sent = EmailMessage(
            subject=message.get("subject", ""),
            body=message.get("body", ""),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=list(message.get("to") or []),
            cc=list(message.get("cc") or []),
        ).send()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        return DeliveryResult(False, None, int((time.monotonic() - started) * 1000), error)
    elapsed = int((time.monotonic() - started) * 1000)
    if not sent:
        return DeliveryResult(False, None, elapsed, "The e-mail backend sent nothing.")
    return DeliveryResult(True, None, elapsed)


def _post(
    url: str, body: str, headers: dict[str, str], started: float, now: dt.datetime
) -> DeliveryResult:
    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    timeout = httpx.Timeout(
        settings.HANDOFF_READ_TIMEOUT,
        connect=settings.HANDOFF_CONNECT_TIMEOUT,
        pool=settings.HANDOFF_CONNECT_TIMEOUT,
    )
    try:
        with _client().stream(
            "POST", url, content=body.encode(), headers=headers, timeout=timeout
        ) as response:
            # Read only what the excerpt needs: a huge or endless body must neither fill
            # the worker's memory nor keep it sending past its claim.
            head = b""
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= EXCERPT_CHARS * 4:
                    break
            text = head.decode(response.encoding or "utf-8", errors="replace")[:EXCERPT_CHARS]
    except httpx.TimeoutException as exc:
        return DeliveryResult(False, None, elapsed(), f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return DeliveryResult(False, None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryResult(True, status, elapsed(), "", text)
    retry_after = (
        parse_retry_after(response.headers.get("retry-after"), now=now)
        if status in (429, 503)
        else None
    )
    return DeliveryResult(False, status, elapsed(), f"HTTP {status}", text, retry_after)
