"""Token authentication: django-rest-knox (hashed, revocable, expiring per-user tokens).

knox decodes the key as UTF-8 and sends it to the database as is; a header carrying
bytes that are not UTF-8, or a NUL, would make it raise something other than
``AuthenticationFailed`` (a 500). Keys knox issues are hex, so anything else is refused
here, before a query is made.

A failed authentication counts against the anonymous rate of the caller's address
(``API_THROTTLE_ANON``): DRF authenticates before it throttles, so without this a caller
guessing tokens would never be slowed down. Past the rate the answer is 429 ``throttled``.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

from .throttling import FailedAuthThrottle

_TOKEN_RE = re.compile(rb"^[0-9a-fA-F]{1,256}$")


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request: Any) -> Any:
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle = FailedAuthThrottle()
            if not throttle.allow_request(request, cast(Any, None)):  # no view yet
                raise exceptions.Throttled(throttle.wait()) from None
            raise

    def authenticate_credentials(self, token: bytes) -> Any:
        if not _TOKEN_RE.match(token):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)
