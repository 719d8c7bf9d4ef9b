"""Signed, single-use decision links for e-mails (``django.core.signing``).

A link names one approval, one step, one member and one action, expires after
``settings.APPROVAL_LINK_MAX_AGE`` seconds (72 h) and opens a confirmation page; the
decision is made by the POST of that page through the transition service, and the link's
nonce is stored as used in the same transaction. A GET never changes anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "approvals.decision-link"
ACTIONS = ("approve", "reject")


@dataclass(frozen=True)
class LinkClaim:
    approval_id: int
    step_index: int
    user_id: int
    action: str
    nonce: str


class LinkError(Exception):
    """The link cannot be used: ``code`` is ``link_expired``, ``link_invalid``."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def decision_token(approval: Any, user: Any, action: str) -> str:
    return signing.dumps(
        {
            "a": approval.pk,
            "s": approval.step_index,
            "u": user.pk,
            "d": action,
            "n": secrets.token_urlsafe(16),
        },
        salt=SALT,
        compress=True,
    )


def decision_link(approval: Any, user: Any, action: str) -> str:
    """The path of a decision link (prefix SITE_URL for an e-mail)."""
    return f"/approvals/decide/{decision_token(approval, user, action)}/"


def read_token(token: str) -> LinkClaim:
    """The claim of ``token``. Raises :class:`LinkError` when expired or forged."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.APPROVAL_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkError("link_expired", "This link has expired: open the deal instead.") from exc
    except signing.BadSignature as exc:
        raise LinkError("link_invalid", "This link is not valid.") from exc
    try:
        claim = LinkClaim(
            int(data["a"]), int(data["s"]), int(data["u"]), str(data["d"]), str(data["n"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LinkError("link_invalid", "This link is not valid.") from exc
    if claim.action not in ACTIONS:
        raise LinkError("link_invalid", "This link is not valid.")
    return claim
