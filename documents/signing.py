"""Expiring download links that work without a session (for billing and other systems).

The token is Django's signing (HMAC-SHA256 with ``SECRET_KEY``, salted for this use) over
the document id and an absolute expiry time; nothing is stored, and a link cannot be
extended or pointed at another document without the key.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "documents.download"


def default_ttl() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.DOCUMENT_LINK_TTL_HOURS))


def make_token(document_id: int, *, expires_in: dt.timedelta | None = None) -> str:
    expires = int(time.time() + (expires_in or default_ttl()).total_seconds())
    return signing.dumps({"d": int(document_id), "e": expires}, salt=SALT, compress=False)


def read_token(token: str) -> int | None:
    """The document id of a valid, unexpired token; None otherwise (bad or expired)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    document_id, expires = data.get("d"), data.get("e")
    if not isinstance(document_id, int) or not isinstance(expires, int):
        return None
    if time.time() >= expires:
        return None
    return document_id


def signed_download_url(document_id: int, *, expires_in: dt.timedelta | None = None) -> str:
    """A link to the document's bytes valid for ``expires_in`` (default
    ``DOCUMENT_LINK_TTL_HOURS``), no sign-in needed. Absolute (``SITE_URL`` + path) when
    ``SITE_URL`` is set, else the path alone. After expiry it answers 410."""
    path = reverse(
        "documents:signed-download", args=[make_token(document_id, expires_in=expires_in)]
    )
    return f"{settings.SITE_URL}{path}" if settings.SITE_URL else path
