"""Token authentication: django-rest-knox (hashed, revocable, per-user tokens).

knox decodes the key as UTF-8 and sends it to the database as is; a header carrying
bytes that are not UTF-8, or a NUL, would make it raise something other than
``AuthenticationFailed`` (a 500). Keys knox issues are hex, so anything else is refused
here, before a query is made.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

_TOKEN_RE = re.compile(rb"^[0-9a-fA-F]{1,256}$")


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> Any:
        if not _TOKEN_RE.match(token):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)
